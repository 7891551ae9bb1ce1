"""The BentoML service: HTTP in front of :class:`serving.scoring.app.ScoringApp`.

Start it with ``weimeng serve`` (embedded defaults) or::

    bentoml serve serving.scoring.service:WeimengScoring -p 3000 --arg config=serving.yaml

Bento arguments (``--arg``): ``config`` (a settings YAML), and any single setting to override it
(``data_dir``, ``tracking_uri``, ``home``, ``auth_required``, ...; see ``serving/scoring/config/serving.yaml``).

Endpoints (all JSON; the API key goes in the ``X-API-Key`` header):

=============================  =========================================================================
POST /v1/score                 score people by id as of a time (features from the service's data)
POST /v1/score/records         score supplied feature records
POST /v1/event                 ingest one incident for one party (rules' event path; urgent -> alert)
POST /v1/explain               one person in full: every factor, every rule hit, monthly score history
GET  /v1/status                model, rule-set, catalog and fusion versions; thresholds; data window
POST /v1/reload                (admin key) load the current champion and rule set, swap atomically
GET  /healthz /livez /readyz   BentoML's probes (readyz: a model and rule set are loaded)
GET  /metrics                  Prometheus metrics (BentoML's plus ``weimeng_*``)
=============================  =========================================================================

Every error under ``/v1/`` answers with the one body of ``common.errors.error_body``:
``{"error": {"kind", "message", "field"}}``. The service's own errors carry the status of their kind; a
request of the wrong shape (BentoML's validation: a missing field, a wrong type) keeps BentoML's 400 and
is reshaped to ``bad_input`` naming the field (:class:`OneErrorShape`).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal

import anyio.to_thread
import bentoml
from pydantic import Field
from starlette.responses import Response

from common.errors import INTERNAL_MESSAGE, ErrorKind, error_body, kind_for_status, validation_body
from serving.scoring.schemas import EXAMPLE_IDS, EXAMPLE_RECORD, PERSON_ID, FeatureRecord, IncidentEvent

__all__ = ["WeimengScoring", "OneErrorShape", "OpenAPIErrors", "RefusalLogFilter", "document_errors"]

_OVERRIDABLE = ("home", "data_dir", "tracking_uri", "model_name", "model_alias", "require_model", "ruleset", "fusion",
                "keys_file", "auth_required", "default_as_of", "max_batch", "history_snapshots", "watch_seconds",
                "registry_poll_seconds", "alert_sink", "sink_on_score", "audit_sink")

PersonId = Annotated[str, Field(pattern=PERSON_ID)]
ExplainMode = Literal["flagged", "all", "none"]


def _respond(status: int, body: dict, ctx=None) -> Any:
    """The JSON answer (a starlette Response). Typed ``Any``: each endpoint declares ``dict``, which is what
    BentoML's OpenAPI shows as its 200 body."""
    if ctx is not None:  # BentoML copies ctx.response.status_code onto the response when an API takes ctx
        ctx.response.status_code = status
    return Response(json.dumps(body, ensure_ascii=False, allow_nan=False, default=str).encode("utf-8"),
                    status_code=status, media_type="application/json")


def reshape_error(status: int, raw: bytes) -> bytes:
    """An error body written by BentoML itself (``{"error": "...", "detail": [...]}``) in the one shape;
    a body that already has it is returned as it is."""
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        data = raw.decode("utf-8", "replace").strip()
    if isinstance(data, dict) and isinstance(data.get("error"), dict) and "kind" in data["error"]:
        return raw
    if isinstance(data, dict) and isinstance(data.get("detail"), list) and status < 500:
        body = validation_body(data["detail"])
    else:
        kind = kind_for_status(status)
        if kind is ErrorKind.INTERNAL:
            message = INTERNAL_MESSAGE.format(name="server")
        else:
            fields = data if isinstance(data, dict) else {"error": data}
            message = str(fields.get("error") or fields.get("detail") or "")
        body = error_body(kind, message or f"HTTP {status}")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


#: The statuses an endpoint under ``/v1/`` can answer with besides 200, each with the one error body.
ERROR_STATUSES = {400: "请求格式无效 / the request is malformed (wrong type, missing or unknown field)",
                  401: "未认证 / no API key, or an unknown or revoked one",
                  403: "无权访问 / outside the key's jurisdictions, or an admin key is needed",
                  404: "未找到 / the person is not in the service's data",
                  409: "冲突 / the registered model does not fit the feature catalog",
                  415: "不支持的内容类型 / send the request body as application/json",
                  422: "输入无效 / a field is well-formed but its value is not allowed",
                  500: "内部错误 / internal error",
                  503: "未就绪 / no model, rule set or data is loaded yet; retry later"}

#: The one error body ``{"error": {"kind", "message", "field"}}`` as an OpenAPI schema.
ERROR_SCHEMA = {
    "title": "ErrorBody", "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["kind", "message"], "additionalProperties": False,
        "properties": {"kind": {"type": "string", "enum": [str(k) for k in ErrorKind]},
                       "message": {"type": "string"},
                       "field": {"type": "string", "nullable": True}}}},
}


def document_errors(spec: dict, prefix: str = "/v1/") -> dict:
    """The OpenAPI document with every error status of every endpoint under ``prefix`` declared with the
    one error body (BentoML declares its own shapes, which the service never sends)."""
    spec.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, item in spec.get("paths", {}).items():
        if not path.startswith(prefix):
            continue
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            ok = {k: v for k, v in op["responses"].items() if str(k).startswith("2")}
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("required"):  # a body with required fields cannot be left out
                op["requestBody"]["required"] = True
            for name, prop in schema.get("properties", {}).items():
                # BentoML keeps only the first type of `str | None`: an optional field also takes null
                if name not in schema.get("required", ()) and "default" in prop and prop["default"] is None:
                    prop["nullable"] = True
            op["responses"] = {**ok, **{str(code): {"description": text, "content": {"application/json": {
                "schema": ref}}} for code, text in ERROR_STATUSES.items()}}
    return spec


class OpenAPIErrors:
    """ASGI middleware: ``/docs.json`` leaves with the error responses of :func:`document_errors`."""

    def __init__(self, app, path: str = "/docs.json") -> None:
        self.app, self.path = app, path

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        chunks: list[bytes] = []

        async def _send(message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(chunks)
                if start["status"] == 200:
                    body = json.dumps(document_errors(json.loads(body)), ensure_ascii=False).encode("utf-8")
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, _send)


class OneErrorShape:
    """ASGI middleware: any error answer under ``/v1/`` leaves in the one error shape (BentoML's own
    validation and failure answers included); successful answers and the probes pass untouched."""

    def __init__(self, app, prefix: str = "/v1/") -> None:
        self.app, self.prefix = app, prefix

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        ctype = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip().lower()
        if ctype.startswith(b"multipart/"):  # no endpoint takes files; the framework fails on a bad boundary
            body = json.dumps(error_body(ErrorKind.BAD_INPUT, "不支持的内容类型 / send the request body as "
                                         "application/json.", field="Content-Type"), ensure_ascii=False).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 415, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        held: dict | None = None
        chunks: list[bytes] = []

        async def _send(message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] >= 400:
                held = message
                return
            if message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = reshape_error(held["status"], b"".join(chunks))
                headers = [(k, v) for k, v in held.get("headers", []) if k.lower() not in (b"content-length",
                                                                                          b"content-type")]
                headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send({**held, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                held = None
                return
            await send(message)

        await self.app(scope, receive, _send)


class RefusalLogFilter(logging.Filter):
    """BentoML logs every refused request (a validation error, a 4xx of its own) at ERROR with the
    traceback, and pydantic's text repeats the input values: person ids and note text would land in
    the service log. This filter turns such a record into one INFO line naming the status, the
    top-level fields at fault (only names the API defines) and the error types, never a value.
    Unexpected errors (5xx) keep their level and traceback."""

    def __init__(self, known_fields: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.known_fields = known_fields

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        summary = self.summary(exc)
        if summary is None:
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        record.msg = "refused request on %s [%s]: %s"
        record.args = (*(str(a) for a in args[:2]), summary) if len(args) >= 2 else ("?", "?", summary)
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True

    def summary(self, exc: BaseException) -> str | None:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            parts = []
            for err in exc.errors(include_url=False, include_context=False, include_input=False):
                loc = err.get("loc") or ()
                where = str(loc[0]) if loc and str(loc[0]) in self.known_fields else "-"
                parts.append(f"{where} ({err.get('type', 'invalid')})")
            return f"HTTP 400, {exc.error_count()} validation error(s): " + ", ".join(parts[:10])
        from bentoml.exceptions import BentoMLException

        if isinstance(exc, BentoMLException) and exc.error_code.value < 500:
            return f"HTTP {exc.error_code.value} ({type(exc).__name__})"
        return None


def install_log_filter(service) -> RefusalLogFilter:
    """Attach :class:`RefusalLogFilter` to BentoML's request logger (idempotent)."""
    target = logging.getLogger("bentoml._internal.server.http_app")
    for f in target.filters:
        if isinstance(f, RefusalLogFilter):
            return f
    names = frozenset(n for api in service.apis.values() for n in api.input_spec.model_fields)
    flt = RefusalLogFilter(names)
    target.addFilter(flt)
    return flt


def _key(ctx) -> str | None:
    if ctx is None:
        return None
    h = ctx.request.headers
    key = h.get("x-api-key")
    if not key:
        auth = h.get("authorization", "")
        if auth.lower().startswith("bearer "):
            key = auth[7:].strip()
    return key or None


@bentoml.service(name="weimeng_scoring", workers=1, threads=4, traffic={"timeout": 300, "concurrency": 256})
class WeimengScoring:
    """未萌 scoring service: rules + calibrated LightGBM, fused, explained, scoped by jurisdiction."""

    def __init__(self) -> None:
        from serving.scoring.app import ScoringApp
        from serving.scoring.settings import ServingSettings

        args = vars(bentoml.use_arguments())
        overrides = {k: args[k] for k in _OVERRIDABLE if k in args}
        unknown = sorted(set(args) - set(_OVERRIDABLE) - {"config"})
        if unknown:
            from serving.scoring.errors import ServingConfigError

            raise ServingConfigError(f"unknown --arg {unknown}; allowed: config, {', '.join(_OVERRIDABLE)}.",
                                     field=unknown[0])
        install_log_filter(WeimengScoring)
        self.app = ScoringApp.start(ServingSettings.load(args.get("config"), overrides), open_sink=True, prepare=True)

    def __is_ready__(self) -> bool:
        return self.app.ready()

    @bentoml.api(route="/v1/score")
    async def score(
        self,
        person_ids: Annotated[list[PersonId], Field(min_length=1, examples=[EXAMPLE_IDS],
                                                    description="人员编号 person ids (each gets its own status)")],
        as_of: Annotated[str | None, Field(
            examples=["2025-06-01"], description="时点 as-of date; default: the day after the data ends")] = None,
        explain: Annotated[ExplainMode, Field(description="flagged: explanations for flagged people; all; none")]
        = "flagged",
        ctx: bentoml.Context = None,  # type: ignore[assignment]  # BentoML finds ctx by this exact annotation
    ) -> dict:
        """按编号批量评分 / Score people by id as of a time; one status per item."""
        key = _key(ctx)
        if self.app.inline_ok(len(person_ids), as_of):  # small and cached: no thread hop
            return _respond(*self.app.score_ids(key, person_ids, as_of, explain), ctx)
        return _respond(*await anyio.to_thread.run_sync(self.app.score_ids, key, person_ids, as_of, explain), ctx)

    @bentoml.api(route="/v1/score/records")
    def score_records(
        self,
        records: Annotated[list[FeatureRecord], Field(min_length=1, examples=[[EXAMPLE_RECORD]])],
        explain: ExplainMode = "flagged",
        ctx: bentoml.Context = None,  # type: ignore[assignment]  # BentoML finds ctx by this exact annotation
    ) -> dict:
        """按特征记录评分 / Score supplied feature records (catalog names)."""
        return _respond(*self.app.score_records(_key(ctx), [r.model_dump() for r in records], explain), ctx)

    @bentoml.api(route="/v1/event")
    def event(self, event: IncidentEvent, ctx: bentoml.Context = None) -> dict:  # type: ignore[assignment]
        """接收新警情 / Ingest one incident for one party; an urgent rule hit returns the alert at once."""
        return _respond(*self.app.ingest_event(_key(ctx), event.model_dump()), ctx)

    @bentoml.api(route="/v1/explain")
    def explain(
        self,
        person_id: Annotated[PersonId, Field(examples=["PA9668ED6"])],
        as_of: Annotated[str | None, Field(examples=["2025-06-01"])] = None,
        history: Annotated[int | None, Field(ge=1, le=36, description="monthly snapshots of score history")]
        = None,
        ctx: bentoml.Context = None,  # type: ignore[assignment]  # BentoML finds ctx by this exact annotation
    ) -> dict:
        """完整解释 / One person in full: every factor, every rule hit, score history."""
        return _respond(*self.app.explain_person(_key(ctx), person_id, as_of, history), ctx)

    @bentoml.api(route="/v1/status")
    def status(self) -> dict:
        """版本与阈值 / Model, rule-set, catalog and fusion versions, thresholds in force, data window."""
        return _respond(200, self.app.status())

    @bentoml.api(route="/v1/reload")
    def reload(self, alias: Annotated[str | None, Field(pattern=PERSON_ID, examples=["champion"])] = None,
               ctx: bentoml.Context = None) -> dict:  # type: ignore[assignment]
        """重新加载 / (admin) Load the champion and the rule set again; swap atomically; other workers follow."""
        return _respond(*self.app.reload(_key(ctx), alias), ctx)


def _strict_inputs(service) -> None:
    """Request bodies refuse unknown top-level fields and read no value as another type (``true`` is not
    1, ``"3"`` is not 3): BentoML builds each endpoint's input model from its signature; tighten it."""
    for api in service.apis.values():
        spec = api.input_spec
        spec.model_config.update(extra="forbid", strict=True)
        spec.model_rebuild(force=True)


_strict_inputs(WeimengScoring)
# the decorator made WeimengScoring a bentoml Service; mypy still sees the class
WeimengScoring.add_asgi_middleware(OneErrorShape)  # type: ignore[attr-defined]
WeimengScoring.add_asgi_middleware(OpenAPIErrors)  # type: ignore[attr-defined]
