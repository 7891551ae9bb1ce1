"""The console's routers, one per area; :func:`serving.operations.console.app.create_app` includes them all."""

from serving.operations.console.routers import audit, auth, case, decide, models, queue, reports, watch

ROUTERS = (auth.router, queue.router, case.router, decide.router, reports.router, audit.router, watch.router,
           models.router)

__all__ = ["ROUTERS"]
