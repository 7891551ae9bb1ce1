"""A signed-webhook receiver for tests (127.0.0.1): verifies signatures, deduplicates by key."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from serving.operations.alerts.errors import SignatureError
from serving.operations.push.webhook import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, verify_signature


class FakeWebhook:
    def __init__(self, secret: str):
        self.secret = secret
        self.received: dict[str, dict] = {}
        self.rejected: list[str] = []
        self.responses: deque[int] = deque()
        self.calls = 0
        self._server = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def __enter__(self):
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.calls += 1
                try:
                    verify_signature(hook.secret, self.headers.get(HEADER_TIMESTAMP), body,
                                     self.headers.get(HEADER_SIGNATURE))
                except SignatureError as exc:
                    hook.rejected.append(str(exc))
                    return self._send(401)
                if hook.responses:
                    code = hook.responses.popleft()
                    return self._send(code, retry_after="7" if code == 429 else None)
                key = self.headers.get(HEADER_KEY)
                if key in hook.received:
                    return self._send(409)
                hook.received[key] = json.loads(body)
                self._send(200)

            def _send(self, code, retry_after=None):
                self.send_response(code)
                if retry_after:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
