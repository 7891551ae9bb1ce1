"""Service accounts: API keys hashed at rest, scoped to jurisdictions.

A key looks like ``wm_<key_id>_<secret>``. The key file (JSON, default
``<home>/serving/api_keys.json``) stores for each key its id, name, jurisdictions, admin flag, a
random 16-byte salt and ``scrypt(secret, salt)`` — never the secret. Verifying with scrypt costs
about 20 ms, so a verified key is remembered in memory (keyed by a SHA-256 of the whole key, compared
in constant time) until the key file changes; a revoked key stops working at the next change check.

A key's scopes are :class:`common.places.Jurisdiction` values of any kind: province ``510000``,
prefecture ``510100``, county ``510107``, township (9 digits), village (12 digits) or police station
(``S510107001``). Whether a key may see a person is decided by :func:`permits`, which is
:func:`common.places.allows` on the person's own places (household registration and residence) as the
service's data knows them, never on an address the caller puts in a request.

>>> from common.places import Place
>>> acct = Account("k1", "push", parse_scopes(["510100"]))
>>> permits(acct, [Place("residence", "510104001001-0001")]), permits(acct, [Place("hukou", "510704001001-0001")])
(True, False)
>>> permits(Account("k2", "所", parse_scopes(["S510104001"])), [Place("hukou", "510104001001-0001", "S510104001")])
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common.errors import BadInput
from common.places import PROVINCE, Jurisdiction, Place, allows
from serving.scoring.errors import AuthenticationError, ScoringInputError

__all__ = ["Account", "KeyStore", "parse_scopes", "permits", "stated_places", "ANONYMOUS_ADMIN"]

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_KEY_RE = re.compile(r"^wm_([a-z0-9]{8})_([A-Za-z0-9_\-]{20,})$")


def parse_scopes(codes: Iterable[object]) -> tuple[Jurisdiction, ...]:
    """Jurisdictions from codes; an invalid code is refused with the common Chinese-first message."""
    try:
        return tuple(Jurisdiction.parse(c) for c in codes)
    except BadInput as exc:
        raise ScoringInputError(exc.message, field="scopes") from None


@dataclass(frozen=True)
class Account:
    key_id: str
    name: str
    scopes: tuple[Jurisdiction, ...]
    admin: bool = False


def permits(account: Account, places: Iterable[Place]) -> bool:
    """The scoring API's one jurisdiction check: is any of the person's own places in the key's scopes?"""
    return allows(account.scopes, places)


def stated_places(*, hukou: str | None = None, residence: str | None = None,
                  other: str | None = None) -> tuple[Place, ...]:
    """Places for a person the service's data does not know, from what the caller states about them.

    Only for unknown people: there is no record of ours to read, and these places are all there is to
    place them. For a known person the data's own places decide and anything stated is ignored.
    """
    out = [Place("hukou", hukou)] if hukou else []
    out += [Place("residence", residence)] if residence else []
    out += [Place("unknown", other)] if other else []
    return tuple(out)


#: Used when ``auth_required`` is false (local experiments only): full scope, admin.
ANONYMOUS_ADMIN = Account("anonymous", "本地无鉴权 / auth disabled", (Jurisdiction.parse(PROVINCE),), admin=True)


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
        parsed = parse_scopes(scopes)
        if not parsed:
            raise ScoringInputError("密钥至少需要一个辖区 / a key needs at least one jurisdiction (e.g. 510000 for "
                                    "the province).", field="scopes")
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
            "key_id": key_id, "name": name.strip(), "scopes": [j.code for j in parsed], "admin": bool(admin),
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
        if m is None or entry is None or entry.get("revoked"):
            raise AuthenticationError("API 密钥无效或已吊销 / unknown or revoked API key.", field="X-API-Key")
        params = entry.get("kdf", {}).get("scrypt", _SCRYPT)
        expected = bytes.fromhex(entry["hash"])
        if not hmac.compare_digest(_scrypt(m.group(2), bytes.fromhex(entry["salt"]), params), expected):
            raise AuthenticationError("API 密钥无效或已吊销 / unknown or revoked API key.", field="X-API-Key")
        account = Account(entry["key_id"], entry["name"], parse_scopes(entry["scopes"]), bool(entry.get("admin")))
        with self._lock:
            self._verified[digest] = account
        return account
