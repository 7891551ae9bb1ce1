"""Errors of the audit log.

Hierarchy (``http_status`` in brackets)::

    AuditError [500]                 base
    ├── AuditWriteError [503]        an entry could not be appended (the caller's action must fail too)
    └── AuditTampered [500]          ``verify(..., strict=True)`` found an edited, inserted or deleted entry
"""

from __future__ import annotations

__all__ = ["AuditError", "AuditWriteError", "AuditTampered"]


class AuditError(Exception):
    http_status = 500
    code = "audit_error"


class AuditWriteError(AuditError):
    http_status = 503
    code = "audit_write_failed"


class AuditTampered(AuditError):
    http_status = 500
    code = "audit_tampered"

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)
