"""The one error body on the HTTP surfaces: the scoring service's reshaping of BentoML's own answers, and the
FastAPI handlers of operations (inbox, console API)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from common.errors import validation_body


def _bentoml_like():
    async def shape(_r):  # what BentoML answers for a pydantic validation error
        return JSONResponse({"error": "1 validation error for Input",
                             "detail": [{"type": "string_pattern_mismatch", "loc": ["person_ids", 0],
                                         "msg": "String should match pattern"}]}, status_code=400)

    async def crash(_r):
        return JSONResponse({"error": "An unexpected error has occurred, please check the server log."},
                            status_code=500)

    async def ours(_r):
        return JSONResponse({"error": {"kind": "forbidden", "message": "不在本密钥的管辖范围"}}, status_code=403)

    async def ok(_r):
        return JSONResponse({"ok": True})

    async def probe(_r):
        return PlainTextResponse("not ready", status_code=503)

    return Starlette(routes=[Route("/v1/shape", shape, methods=["POST"]), Route("/v1/crash", crash),
                             Route("/v1/ours", ours), Route("/v1/ok", ok), Route("/readyz", probe)])


@pytest.fixture
def client():
    pytest.importorskip("bentoml")
    from serving.scoring.service import OneErrorShape

    return TestClient(OneErrorShape(_bentoml_like()))


def test_bentoml_validation_errors_get_the_one_body_and_keep_400(client):
    r = client.post("/v1/shape")
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["kind"] == "bad_input" and err["field"] == "person_ids[0]" and "String should match" in err["message"]
    assert int(r.headers["content-length"]) == len(r.content)


def test_bentoml_failures_are_internal_and_ours_and_successes_pass_untouched(client):
    r = client.get("/v1/crash")
    err = r.json()["error"]
    assert r.status_code == 500 and err["kind"] == "internal" and "内部错误" in err["message"]
    r = client.get("/v1/ours")
    assert r.status_code == 403 and r.json() == {"error": {"kind": "forbidden", "message": "不在本密钥的管辖范围"}}
    assert client.get("/v1/ok").json() == {"ok": True}
    r = client.get("/v1/nowhere")
    assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found"
    assert client.get("/readyz").text == "not ready"                       # probes are not ours to reshape


def test_validation_body_names_the_first_field_without_the_location_word():
    body = validation_body([{"loc": ("body", "items", 0, "kind"), "msg": "Field required"},
                            {"loc": ("query", "limit"), "msg": "not an int"}])
    assert body["error"]["field"] == "items[0].kind" and body["error"]["kind"] == "bad_input"
    assert "Field required" in body["error"]["message"] and "(+1 more)" in body["error"]["message"]
    assert "field" not in validation_body([])["error"]


def test_the_fastapi_handlers_answer_every_error_in_the_one_body():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient as FastClient

    from serving.operations.auth.errors import AccountLocked
    from serving.operations.http_errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/locked")
    def locked():
        raise AccountLocked("账号已锁定 / locked until 10:30")

    @app.get("/n/{n}")
    def number(n: int):
        return {"n": n}

    @app.get("/bug")
    def bug():
        raise RuntimeError("db password in here")

    c = FastClient(app, raise_server_exceptions=False)
    r = c.get("/locked")
    assert r.status_code == 429 and r.json() == {"error": {"kind": "too_many_requests",
                                                           "message": "账号已锁定 / locked until 10:30"}}
    r = c.get("/n/x")
    assert r.status_code == 422 and r.json()["error"]["field"] == "n"
    r = c.post("/n/1")
    assert r.status_code == 405 and r.json()["error"]["kind"] == "bad_input"
    r = c.get("/bug")
    assert r.status_code == 500 and r.json()["error"]["kind"] == "internal" and "password" not in r.text
