"""CSRF tokens.

Logged in: every form carries the session's own random token (synchronizer pattern, checked with
``ActiveSession.check_csrf``); JSON calls send it in ``X-CSRF-Token``. Before login there is no
session, so the login form carries ``HMAC(app secret, nonce)`` where the nonce sits in a short-lived
HttpOnly cookie; a cross-site page can neither read the cookie nor forge the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from serving.operations.auth.errors import CsrfFailed

__all__ = ["LoginCsrf", "LOGIN_COOKIE"]

LOGIN_COOKIE = "wm_login_nonce"


class LoginCsrf:
    def __init__(self, secret: bytes | None = None):
        self.secret = secret or secrets.token_bytes(32)

    def new_nonce(self) -> str:
        return secrets.token_urlsafe(24)

    def token(self, nonce: str) -> str:
        return hmac.new(self.secret, f"login:{nonce}".encode(), hashlib.sha256).hexdigest()

    def check(self, nonce: str | None, given: str | None) -> None:
        if not nonce or not given or not hmac.compare_digest(self.token(nonce), str(given)):
            raise CsrfFailed("登录表单已失效，请刷新后重试 / the login form expired or was not ours; "
                             "reload and try again.")
