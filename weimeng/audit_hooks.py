"""Write model promotions into the operational audit log (serving.operations.audit) from the thin layer.

``training`` cannot import ``serving`` (packages depend one way), so the CLI and the demo, which
sit above both, record each promotion and rollback here after the registry has moved.
"""

from __future__ import annotations

__all__ = ["audit_promotion"]


def audit_promotion(*, version, by: str | None, reason: str | None, forced: bool, previous=None,
                    database_url: str | None = None) -> str:
    """Record the promotion; return a one-line Chinese status for the console (never raises)."""
    import getpass

    try:
        from serving.operations.alerts import database_url_from_env, make_engine, require_current
        from serving.operations.audit import record_promotion

        engine = make_engine(database_url or database_url_from_env())
        require_current(engine)
        record_promotion(engine, version=str(version), by=by or getpass.getuser(), reason=reason, forced=forced,
                         previous=None if previous is None else str(previous))
        return "已写入审计日志 / recorded in the audit log"
    except Exception as exc:  # the registry already moved: say loudly that the audit entry is missing
        return f"[red]审计日志未记录 / NOT recorded in the audit log[/]: {type(exc).__name__}: {str(exc)[:200]}"
