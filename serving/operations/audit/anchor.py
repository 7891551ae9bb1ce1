"""Checkpoints of the audit head, kept outside the database, so truncation and wipes are caught.

A hash chain inside one database cannot prove that nothing was cut from its end: delete the last N
entries and rewind ``audit_head``, or wipe everything and reset the head to genesis, and the chain
that is left is consistent. A checkpoint records ``(seq, hash, time)`` of the head in a file outside
the database, signed with HMAC-SHA256 under a key that also lives outside it. :func:`verify_against`
then requires the newest checkpoint's entry to be still in the chain with the same hash.

* ``<home>/audit/checkpoints.jsonl`` — one signed checkpoint per line, per database (the database is
  named by a fingerprint of its URL without the password);
* ``<home>/audit/checkpoint.key`` — the signing key, created (mode 0600) on first use.

``weimeng audit verify`` compares against the newest checkpoint and, when the chain is intact, appends
a new one; ``weimeng audit checkpoint`` appends one (run it on a schedule: cron or a systemd timer);
the monthly leadership report prints the newest. Copy the checkpoint file somewhere the database
administrators cannot write (a WORM bucket, the report archive) for the strongest anchor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.clock import format_beijing, to_utc, utcnow
from common.settings import Settings
from serving.operations.audit.models import audit_log
from serving.operations.audit.verify import VerifyResult, head, verify

__all__ = ["Checkpoint", "CheckpointStore", "database_fingerprint", "verify_against"]


def database_fingerprint(engine: Engine) -> str:
    """A stable name for the database behind ``engine`` (its URL without the password, hashed)."""
    url = engine.url.set(password=None).render_as_string(hide_password=False)
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Checkpoint:
    database: str
    seq: int
    hash: str
    at: str            # ISO 8601, aware UTC
    signature: str = ""

    def body(self) -> bytes:
        return json.dumps([self.database, self.seq, self.hash, self.at], separators=(",", ":")).encode("utf-8")

    def line(self) -> str:
        """One line for a person (the leadership report, the console)."""
        return f"#{self.seq} {self.hash[:16]}…（{format_beijing(self.at)}）"


class CheckpointStore:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / "checkpoints.jsonl"
        self.key_path = self.folder / "checkpoint.key"

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> CheckpointStore:
        return cls((settings or Settings.from_env()).home / "audit")

    def _key(self, create: bool) -> bytes | None:
        if self.key_path.is_file():
            return bytes.fromhex(self.key_path.read_text(encoding="ascii").strip())
        if not create:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex())
        return key

    def _sign(self, cp: Checkpoint, key: bytes) -> str:
        return hmac.new(key, cp.body(), hashlib.sha256).hexdigest()

    def append(self, engine: Engine) -> Checkpoint | None:
        """Checkpoint the current head of ``engine``'s chain (None when the chain is empty)."""
        h = head(engine)
        if h is None or h[0] == 0:
            return None
        key = self._key(create=True)
        assert key is not None
        cp = Checkpoint(database_fingerprint(engine), h[0], h[1], utcnow().isoformat())
        cp = Checkpoint(**{**asdict(cp), "signature": self._sign(cp, key)})
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(cp), ensure_ascii=False) + "\n")
        return cp

    def newest(self, engine: Engine) -> tuple[Checkpoint | None, list[str]]:
        """The newest validly signed checkpoint of this database, and problems with the file."""
        if not self.path.is_file():
            return None, []
        key = self._key(create=False)
        if key is None:
            return None, [f"anchor: 签名密钥缺失 / the checkpoint key {self.key_path} is missing"]
        db = database_fingerprint(engine)
        best: Checkpoint | None = None
        problems: list[str] = []
        for n, raw in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                cp = Checkpoint(**json.loads(raw))
            except (ValueError, TypeError):
                problems.append(f"anchor: 检查点第 {n} 行无法读取 / checkpoint line {n} is unreadable")
                continue
            if cp.database != db:
                continue
            if not hmac.compare_digest(cp.signature, self._sign(cp, key)):
                problems.append(f"anchor: 检查点第 {n} 行签名无效 / checkpoint line {n} has a bad signature")
                continue
            if best is None or cp.seq > best.seq or (cp.seq == best.seq and to_utc(cp.at) > to_utc(best.at)):
                best = cp
        return best, problems


def verify_against(engine: Engine, store: CheckpointStore, *, expected_head: str | None = None,
                   checkpoint: bool = True) -> tuple[VerifyResult, Checkpoint | None]:
    """Verify the chain and compare it with the newest checkpoint; append a new one when intact.

    Returns the result and the checkpoint compared against (None when there was none yet).
    """
    result = verify(engine, expected_head=expected_head)
    anchor, problems = store.newest(engine)
    if anchor is not None:
        with engine.connect() as conn:
            found = conn.execute(sa.select(audit_log.c.hash).where(audit_log.c.seq == anchor.seq)).scalar()
        if found is None:
            problems.append(
                f"anchor: 检查点 #{anchor.seq}（{format_beijing(anchor.at)}）之后的条目被删除 / the chain ends at "
                f"#{result.head_seq or 0}, before the checkpoint #{anchor.seq}: entries were cut from the end or "
                f"the log was wiped")
        elif found != anchor.hash:
            problems.append(f"anchor: 条目 #{anchor.seq} 与检查点不符 / entry #{anchor.seq} differs from the "
                            f"checkpoint (the chain was rewritten)")
    if problems:
        result.problems.extend(problems)
        result.ok = False
    elif checkpoint:
        store.append(engine)
    return result, anchor
