"""Errors of the audit log.

Hierarchy (the kind from :mod:`common.errors` in brackets; it sets the HTTP status)::

    AuditError [internal]            base
    ├── AuditWriteError [not ready]  an entry could not be appended (the caller's action must fail too)
    └── AuditTampered [internal]     ``verify(..., strict=True)`` found an edited, inserted or deleted entry
"""

from __future__ import annotations

from typing import ClassVar

from common import errors as _common

__all__ = ["AuditError", "AuditWriteError", "AuditTampered"]


class AuditError(_common.WeimengError):
    code: ClassVar[str] = "audit_error"


class AuditWriteError(AuditError, _common.NotReady):
    code = "audit_write_failed"


class AuditTampered(AuditError):
    code = "audit_tampered"

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)
