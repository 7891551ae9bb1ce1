"""Service accounts: API keys hashed at rest, scoped to jurisdictions.

A key looks like ``wm_<key_id>_<secret>``. The key file (JSON, default
``<home>/serving/api_keys.json``) stores for each key its id, name, jurisdictions, admin flag, a
random 16-byte salt and ``scrypt(secret, salt)`` — never the secret. Verifying with scrypt costs
about 20 ms, so a verified key is remembered in memory (keyed by a SHA-256 of the whole key, compared
in constant time) until the key file changes; a revoked key stops working at the next change check.

Jurisdictions are GB/T 2260 codes: ``510000`` (province) covers every code starting ``51``,
``510100`` (prefecture) ``5101``, ``510107`` (county) ``510107``; 9-digit township and 12-digit
village codes cover themselves and everything under them.

>>> scope_prefix("510000"), scope_prefix("510100"), scope_prefix("510107"), scope_prefix("510107001")
('51', '5101', '510107', '510107001')
>>> Account("k1", "push", ("510100",)).allows(["510104001001-0001"])
True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from serving.scoring.errors import AuthenticationError, ScoringInputError

__all__ = ["Account", "KeyStore", "scope_prefix", "ANONYMOUS_ADMIN"]

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_KEY_RE = re.compile(r"^wm_([a-z0-9]{8})_([A-Za-z0-9_\-]{20,})$")
_CODE_RE = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")


def scope_prefix(code: str) -> str:
    """The address-code prefix a jurisdiction code covers (raises ScoringInputError if malformed)."""
    code = str(code).strip()
    if not _CODE_RE.match(code):
        raise ScoringInputError(f"jurisdiction {code!r} is not a GB/T 2260 code (6, 9 or 12 digits, e.g. 510000, "
                                f"510100, 510107).", field="scopes")
    if len(code) > 6:
        return code
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


@dataclass(frozen=True)
class Account:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    admin: bool = False
    prefixes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        if not self.prefixes:
            object.__setattr__(self, "prefixes", tuple(scope_prefix(s) for s in self.scopes))

    def allows(self, address_codes: Iterable[str | None]) -> bool:
        """True if any of the codes (household registration, residence, incident place) is in scope."""
        return any(c and c.startswith(p) for c in address_codes for p in self.prefixes)


#: Used when ``auth_required`` is false (local experiments only): full scope, admin.
ANONYMOUS_ADMIN = Account("anonymous", "本地无鉴权 / auth disabled", ("510000",), admin=True)


def _scrypt(secret: str, salt: bytes, params: dict) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=params["n"], r=params["r"], p=params["p"],
                          dklen=32, maxmem=64 * 1024 * 1024)


class KeyStore:
    """The key file: create, list, revoke, verify."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._entries: dict[str, dict] = {}
        self._verified: dict[bytes, Account] = {}

    # -- file --------------------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime == self._mtime:
            return
        with self._lock:
            entries: dict[str, dict] = {}
            if mtime is not None:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                entries = {e["key_id"]: e for e in data.get("keys", [])}
            self._entries, self._verified, self._mtime = entries, {}, mtime

    def _save(self, entries: dict[str, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": 1, "keys": list(entries.values())}, ensure_ascii=False, indent=1),
                       encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)  # atomic: a reader sees the old or the new file, never half of one

    def create(self, name: str, scopes: Iterable[str], admin: bool = False) -> str:
        """Create a key; return it (the only time the secret is shown)."""
        scopes = tuple(str(s).strip() for s in scopes)
        if not scopes:
            raise ScoringInputError("a key needs at least one jurisdiction (e.g. 510000 for the province).",
                                    field="scopes")
        for s in scopes:
            scope_prefix(s)
        if not name.strip():
            raise ScoringInputError("a key needs a name (who uses it, e.g. 省基层治理平台).", field="name")
        self._load()
        entries = dict(self._entries)
        key_id = secrets.token_hex(4)
        while key_id in entries:
            key_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(30)
        salt = secrets.token_bytes(16)
        entries[key_id] = {
            "key_id": key_id, "name": name.strip(), "scopes": list(scopes), "admin": bool(admin),
            "salt": salt.hex(), "hash": _scrypt(secret, salt, _SCRYPT).hex(), "kdf": {"scrypt": _SCRYPT},
            "created": datetime.now(UTC).isoformat(timespec="seconds"), "revoked": False,
        }
        self._save(entries)
        self._mtime = None
        return f"wm_{key_id}_{secret}"

    def revoke(self, key_id: str) -> None:
        self._load()
        if key_id not in self._entries:
            raise ScoringInputError(f"no key {key_id!r}; `weimeng keys list` shows the ids.", field="key_id")
        entries = {k: dict(v) for k, v in self._entries.items()}
        entries[key_id]["revoked"] = True
        self._save(entries)
        self._mtime = None

    def list(self) -> list[dict]:
        self._load()
        return [{k: v for k, v in e.items() if k not in ("salt", "hash", "kdf")} for e in self._entries.values()]

    # -- verification ------------------------------------------------------------------------------
    def verify(self, key: str | None) -> Account:
        if not key:
            raise AuthenticationError("缺少 API 密钥 / missing API key: send it in the X-API-Key header.",
                                      field="X-API-Key")
        self._load()
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        cached = self._verified.get(digest)
        if cached is not None:
            return cached
        m = _KEY_RE.match(key)
        entry = self._entries.get(m.group(1)) if m else None
        if entry is None or entry.get("revoked"):
            raise AuthenticationError("API 密钥无效或已吊销 / unknown or revoked API key.", field="X-API-Key")
        params = entry.get("kdf", {}).get("scrypt", _SCRYPT)
        expected = bytes.fromhex(entry["hash"])
        if not hmac.compare_digest(_scrypt(m.group(2), bytes.fromhex(entry["salt"]), params), expected):
            raise AuthenticationError("API 密钥无效或已吊销 / unknown or revoked API key.", field="X-API-Key")
        account = Account(entry["key_id"], entry["name"], tuple(entry["scopes"]), bool(entry.get("admin")))
        with self._lock:
            self._verified[digest] = account
        return account
