"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

from __future__ import annotations

from functools import lru_cache

from serving.operations.auth.errors import InvalidAccount

__all__ = ["hash_password", "check_password", "needs_rehash", "check_strength", "MIN_LENGTH"]

MIN_LENGTH = 10


@lru_cache(maxsize=1)
def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def check_strength(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise InvalidAccount(f"密码至少 {MIN_LENGTH} 个字符 / the password has {len(password or '')} characters; "
                             f"use at least {MIN_LENGTH}.")


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher().hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)
