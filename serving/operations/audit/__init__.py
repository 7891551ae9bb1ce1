"""The append-only, hash-chained audit log: every view of a case, every decision, every login, every
model promotion and rule-set change.

>>> # from serving.operations import audit
>>> # audit.record(engine_or_session, "reviewer01", "case.view", "alert:42", {"person_id": "P000123"})
>>> # audit.verify(engine).ok          # False after any edited or deleted entry

Tables live in the operational store (migration ``c7a0d17e5b21``); ``weimeng audit verify`` runs
:func:`verify`. See docs/console.md.
"""

from serving.operations.audit.chain import AuditAct, AuditEntry, canonical_detail, entry_hash, record, record_many
from serving.operations.audit.errors import AuditError, AuditTampered, AuditWriteError
from serving.operations.audit.query import entries
from serving.operations.audit.verify import VerifyResult, head, verify
from serving.operations.audit.versions import observe_versions, record_promotion, record_ruleset_change

__all__ = ["record", "record_many", "AuditAct", "verify", "head", "entries", "AuditEntry", "VerifyResult", "entry_hash",
           "canonical_detail",
           "observe_versions", "record_promotion", "record_ruleset_change",
           "AuditError", "AuditTampered", "AuditWriteError"]
