"""A lazily built console for hosts that need an ASGI app object at import time (BentoML).

``@bentoml.asgi_app(lazy_app(), path="/console")`` costs nothing at import; the real app (database
engine, schema check, world) is built on the first request, from ``ConsoleSettings.from_env()`` unless
a factory is given. A start-up failure is raised on that first request, with the same message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["lazy_app"]


def lazy_app(factory: Callable[[], object] | None = None):
    lock = threading.Lock()
    state: dict = {}

    def build():
        with lock:
            if "app" not in state:
                if factory is not None:
                    state["app"] = factory()
                else:
                    from serving.operations.console.app import create_app

                    state["app"] = create_app()
            return state["app"]

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":  # nothing to start eagerly; acknowledge the host's lifespan events
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await build()(scope, receive, send)

    return app
