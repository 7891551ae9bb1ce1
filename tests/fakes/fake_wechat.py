"""A fake of the WeChat API host for tests and local development (127.0.0.1 only).

It speaks the same JSON protocol as the two endpoints we use — ``/cgi-bin/stable_token`` and
``/cgi-bin/message/subscribe/send`` — validates what the real service validates (token, openid,
template id, page, field types and lengths, no newlines) and lets a test inject any errcode.

>>> with FakeWeChat(openids={"o-1"}) as fake:
...     fake.base_url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from serving.operations.push.wechat.fields import FIELD_LIMITS

__all__ = ["FakeWeChat"]

_MSG = {0: "ok", 40001: "invalid credential, access_token is invalid or not latest", 42001: "access_token expired",
        40003: "invalid openid", 40037: "invalid template_id", 47003: "argument invalid! data.{field}.value invalid",
        41030: "invalid page", 43101: "user refuse to accept the msg", 45009: "reach max api daily quota limit",
        45011: "api minute-quota reach limit", -1: "system error", 40013: "invalid appid", 40125: "invalid appsecret"}


@dataclass
class _Injection:
    errcode: int
    times: int
    touser: str | None


@dataclass
class FakeWeChat:
    appid: str = "wx-fake-appid"
    secret: str = "fake-secret-0123456789"
    template_id: str = "TPL-WEIMENG-ALERT"
    openids: set | None = None           # None = accept any openid
    token_lifetime: int = 7200
    sent: list = field(default_factory=list)
    token_requests: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, bool] = {}   # token -> expired?
        self._current: str | None = None
        self._injections: deque[_Injection] = deque()
        self._server: ThreadingHTTPServer | None = None

    # -- control ---------------------------------------------------------------------------------
    def inject(self, errcode: int, times: int = 1, touser: str | None = None) -> None:
        """The next ``times`` sends (to ``touser``, or anyone) answer ``errcode``."""
        with self._lock:
            self._injections.append(_Injection(errcode, times, touser))

    def expire_current_token(self) -> None:
        with self._lock:
            if self._current:
                self._tokens[self._current] = True

    def revoke_all_tokens(self) -> None:
        with self._lock:
            self._tokens = {t: True for t in self._tokens}
            self._current = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeWeChat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                url = urlparse(self.path)
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    return self._reply({"errcode": 47001, "errmsg": "data format error"})
                if url.path == "/cgi-bin/stable_token":
                    return self._reply(fake._stable_token(body))
                if url.path == "/cgi-bin/message/subscribe/send":
                    token = parse_qs(url.query).get("access_token", [""])[0]
                    return self._reply(fake._send(token, body))
                self.send_response(404)
                self.end_headers()

            def _reply(self, obj):
                data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                         name="fake-wechat").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeWeChat:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- protocol --------------------------------------------------------------------------------
    def _stable_token(self, body: dict) -> dict:
        with self._lock:
            self.token_requests.append(dict(body, secret="***"))
            if body.get("grant_type") != "client_credential":
                return {"errcode": 40002, "errmsg": "invalid grant_type"}
            if body.get("appid") != self.appid:
                return {"errcode": 40013, "errmsg": _MSG[40013]}
            if body.get("secret") != self.secret:
                return {"errcode": 40125, "errmsg": _MSG[40125]}
            if body.get("force_refresh") or self._current is None or self._tokens.get(self._current):
                self._current = secrets.token_urlsafe(96)[:512]
                self._tokens[self._current] = False
            return {"access_token": self._current, "expires_in": self.token_lifetime}

    def _send(self, token: str, body: dict) -> dict:
        with self._lock:
            code = self._validate(token, body)
            if code == 0:
                code = self._injected(body.get("touser"))
            if code == 0:
                self.sent.append(body)
            msg = _MSG.get(code, "error")
            if code == 47003:
                msg = msg.format(field=getattr(self, "_bad_field", "thing1"))
            return {"errcode": code, "errmsg": msg}

    def _injected(self, touser) -> int:
        for inj in list(self._injections):
            if inj.touser is None or inj.touser == touser:
                inj.times -= 1
                if inj.times <= 0:
                    self._injections.remove(inj)
                return inj.errcode
        return 0

    def _validate(self, token: str, body: dict) -> int:
        if token not in self._tokens:
            return 40001
        if self._tokens[token]:
            return 42001
        # injected token errors take effect even with a valid token
        if self._injections and self._injections[0].errcode in (40001, 42001):
            return 0
        touser = body.get("touser")
        if not touser or (self.openids is not None and touser not in self.openids):
            return 40003
        if body.get("template_id") != self.template_id:
            return 40037
        page = body.get("page")
        if page is not None and not re.match(r"^pages/[\w/]+(\?.*)?$", str(page)):
            return 41030
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            return 47003
        for key, obj in data.items():
            value = obj.get("value") if isinstance(obj, dict) else None
            kind = re.sub(r"\d+$", "", key)
            if (not isinstance(value, str) or not value or "\n" in value or kind not in FIELD_LIMITS
                    or len(value) > FIELD_LIMITS[kind]
                    or (kind == "time" and not re.match(r"^\d{4}年\d{1,2}月\d{1,2}日( \d{1,2}:\d{2})?$", value))):
                self._bad_field = key
                return 47003
        return 0
