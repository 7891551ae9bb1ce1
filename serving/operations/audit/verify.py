"""Checking the audit chain: every edit, insertion or deletion shows up as a broken link.

* an edited entry no longer matches its own hash;
* a deleted entry leaves a gap in ``seq`` and a ``prev_hash`` that points at nothing;
* a deleted tail leaves ``audit_head`` pointing past the last entry;
* a rewritten chain (every hash recomputed) is caught only against a head recorded elsewhere:
  pass ``expected_head`` (e.g. the hash printed in yesterday's report) to anchor it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from serving.operations.audit.chain import entry_hash
from serving.operations.audit.errors import AuditTampered
from serving.operations.audit.models import GENESIS_HASH, audit_head, audit_log

__all__ = ["verify", "head", "VerifyResult"]

_PAGE = 5000


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    head_seq: int | None
    head_hash: str | None
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return f"审计日志完整 / audit log intact: {self.entries} entries, head #{self.head_seq} {self.head_hash}"
        return (f"审计日志被篡改 / audit log TAMPERED: {len(self.problems)} problem(s); first: {self.problems[0]}")


def head(engine: Engine) -> tuple[int, str] | None:
    """The newest ``(seq, hash)``; publish it somewhere else to anchor the chain."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    return (int(row.seq), row.hash) if row else None


def verify(engine: Engine, *, expected_head: str | None = None, strict: bool = False,
           max_problems: int = 50) -> VerifyResult:
    """Walk the whole chain in ``seq`` order; ``strict`` raises :class:`AuditTampered` instead of returning."""
    problems: list[str] = []
    expected_seq, prev, n = 1, GENESIS_HASH, 0
    last_seq = None
    with engine.connect() as conn:
        after = 0
        while True:
            rows = conn.execute(sa.select(audit_log).where(audit_log.c.seq > after)
                                .order_by(audit_log.c.seq).limit(_PAGE)).all()
            if not rows:
                break
            for r in rows:
                n += 1
                if r.seq != expected_seq:
                    problems.append(f"#{expected_seq}..#{r.seq - 1}: 条目缺失 / entries missing (deleted?) "
                                    f"before #{r.seq}")
                if r.prev_hash != prev:
                    problems.append(f"#{r.seq}: 前序哈希不符 / prev_hash does not match the previous entry's hash")
                digest = entry_hash(r.seq, r.at, r.actor, r.action, r.subject, r.detail, r.prev_hash)
                if digest != r.hash:
                    problems.append(f"#{r.seq}: 内容与哈希不符 / content was edited (hash mismatch; "
                                    f"actor={r.actor!r}, action={r.action!r}, subject={r.subject!r})")
                expected_seq, prev, last_seq = r.seq + 1, r.hash, r.seq
                if len(problems) >= max_problems:
                    break
            after = rows[-1].seq
            if len(problems) >= max_problems:
                break
        h = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    if h is None:
        problems.append("audit_head: 头记录缺失 / the head row is missing (deleted?)")
        head_seq = head_hash = None
    else:
        head_seq, head_hash = int(h.seq), h.hash
        if head_seq != (last_seq or 0) or head_hash != (prev if last_seq else GENESIS_HASH):
            problems.append(f"audit_head: 头记录指向 #{head_seq}，但最后一条是 #{last_seq or 0} / the head does "
                            f"not match "
                            f"the last entry (entries deleted from the end, or the head edited)")
    if expected_head and head_hash != expected_head:  # a published hash must still be the head or in the chain
        with engine.connect() as conn:
            found = conn.execute(sa.select(audit_log.c.seq).where(audit_log.c.hash == expected_head)).first()
        if found is None:
            problems.append(f"anchor: 外部记录的哈希 {expected_head[:16]}… 不在链上 / the published head hash "
                            f"is not in "
                            f"the chain (the chain was rewritten)")
    result = VerifyResult(ok=not problems, entries=n, head_seq=head_seq, head_hash=head_hash, problems=problems)
    if strict and problems:
        raise AuditTampered(result.summary(), problems)
    return result
