"""The scoring application: everything the HTTP service does, without HTTP.

:class:`ScoringApp` loads the rule set, the champion model, the fusion policy and the data at
start-up (:meth:`ScoringApp.start`), then answers score / event / explain / status / reload calls.
Each public call takes the caller's API key and returns ``(http_status, body)``; the BentoML class
in :mod:`serving.scoring.service` only translates HTTP to these calls, so tests and the batch CLI use
the same code in-process.

Jurisdiction refusals (documented in docs/serving.md):

* batch scoring: per item. An out-of-scope person gets ``status: out_of_scope`` (``http_status: 403``)
  and no score; the other items are scored; the request returns 200.
* one-person calls (explain, event): the whole request is refused with 403.
* every refusal is logged (logger ``weimeng.serving.operations.audit`` and
  ``<home>/serving/operations/audit.jsonl``) with the key id, the endpoint and the person id, and
  counted in ``weimeng_refusals_total``.

Alerts leave through the alert sink (:class:`common.records.AlertSink`) that ``alert_sink`` in the
settings names as ``"module:attribute"``; it is imported by name at start-up (scoring never imports
the operations wing) and opened on first use, or at start-up with ``open_sink=True`` (the service).
The default files alerts in the alert store's review queue (``serving.operations.sink:AlertStoreSink``);
``null`` means no sink (rules-only experiments). Every flagged person of the event path, of the score
APIs when ``sink_on_score`` is on, and of ``weimeng score --send-alerts`` (:meth:`ScoringApp.send_alerts`)
takes that one road. A sink that cannot be opened or fails is logged and reported in the answer
(``"sink": "failed"``), never fatal; opening is retried on a later hand-over.
"""

from __future__ import annotations

import functools
import gc
import importlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.clock import from_data_time, to_data_time, utcnow
from common.errors import error_body, error_response, kind_for_status
from common.records import AlertSink, AuditEvent, AuditSink, ScoredPerson, SinkReport, sink_details
from features.catalog import CATALOG, CATALOG_VERSION, FEATURE_NAMES
from serving.scoring.auth import ANONYMOUS_ADMIN, Account, KeyStore, permits, stated_places
from serving.scoring.datasource import FeatureSource, normalise_as_of, records_frame
from serving.scoring.errors import (
    AdminRequiredError,
    NotReadyError,
    ScopeError,
    ScoringError,
    ScoringInputError,
    ServingConfigError,
    UnknownPersonError,
)
from serving.scoring.fusion import FusionPolicy, load_policy, thresholds_for
from serving.scoring.overlay import add_incident
from serving.scoring.records import scored_to_dict
from serving.scoring.scorer import Bundle, Explain, Scorer, build_bundle
from serving.scoring.settings import ServingSettings
from serving.scoring.writebehind import WriteBehind

__all__ = ["ScoringApp", "AlertSink", "SinkFactory", "import_sink"]

log = logging.getLogger("weimeng.serving")
audit_log = logging.getLogger("weimeng.serving.operations.audit")

#: Builds the sink on first use (a class named by ``alert_sink``, called without arguments).
SinkFactory = Callable[[], AlertSink]

#: After a sink failed to open, hand-overs within this many seconds fail at once instead of retrying.
SINK_RETRY_SECONDS = 5.0


def import_sink(spec: str | None, field: str = "alert_sink") -> Callable[[], Any] | None:
    """Resolve ``alert_sink`` (``"package.module:attribute"``) to a factory; ``None``/empty: no sink.

    The attribute is a class (an :class:`AlertSink` built without arguments on first use, e.g.
    ``serving.operations.sink:AlertStoreSink``) or a ready sink (a function or object taking a
    sequence of ScoredPerson and returning a SinkReport). Import errors are configuration errors.
    """
    if not spec:
        return None
    module, sep, name = str(spec).partition(":")
    if not sep or not module or not name:
        raise ServingConfigError(f"{field} {spec!r} is not 'package.module:attribute'.", field=field)
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ServingConfigError(f"{field} {spec!r} cannot be imported ({exc}); write "
                                 "'package.module:attribute'.", field=field) from None
    if not callable(obj):
        raise ServingConfigError(f"{field} {spec!r} is not callable.", field=field)
    if isinstance(obj, type):
        return obj
    return lambda: obj


class ScoringApp:
    """See the module docstring. Build with :meth:`start`; construction itself does no I/O."""

    def __init__(self, settings: ServingSettings, *, policy: FusionPolicy, scorer: Scorer,
                 source: FeatureSource | None, keys: KeyStore | None, sink: AlertSink | None = None,
                 sink_factory: SinkFactory | None = None, audit: AuditSink | None = None,
                 audit_factory: Callable[[], AuditSink] | None = None):
        self.settings = settings
        self.policy = policy
        self.scorer = scorer
        self.source = source
        self.keys = keys
        self.sink: AlertSink | None = sink
        self._sink_factory = sink_factory
        self._sink_lock = threading.Lock()
        self._sink_error: str | None = None
        self._sink_failed_at: float | None = None
        self._reload_lock = threading.Lock()
        self._token_seen: str | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._audit_lock = threading.Lock()
        self.audit_sink: AuditSink | None = audit
        self._audit_factory = audit_factory
        self._audit_failed_at: float | None = None
        self._audit_open_lock = threading.Lock()
        self._audit_queue: WriteBehind | None = None   # started with the first audit event
        # The audit writer and the alert sink write the same operational store: one at a time (SQLite)
        self._store_lock = threading.Lock()
        self.started_at = utcnow().replace(microsecond=0)
        self._prepare = False   # prepare explanations after every model load (the service)
        self._as_of_ok: dict[str, pd.Timestamp] = {}   # as-of text -> its checked time (the hot path's)
        self._counted: dict[tuple[str, str], tuple] = {}  # (endpoint, status) -> its metric children
        from serving.scoring.metrics import metrics

        self.metrics = metrics()

    # -- start-up ----------------------------------------------------------------------------------
    @classmethod
    def start(cls, settings: ServingSettings | None = None, *, sink: AlertSink | None = None,
              watch: bool = True, open_sink: bool = False, audit: AuditSink | None = None,
              prepare: bool = False) -> ScoringApp:
        """Load everything; raise a ScoringError subclass (never a half-started app) if anything is wrong.

        ``sink`` replaces the configured ``alert_sink``. The configured sink is imported here (a bad
        name fails start-up) and opened on first use; ``open_sink=True`` opens it now and logs why
        if it cannot (the service: an unmigrated alert store must not stop scoring). ``audit``
        replaces the configured ``audit_sink`` the same way. ``prepare``: compute, on a background thread,
        the explanations of the people flagged at the default as-of (:meth:`prepare_explanations`)."""
        s = (settings or ServingSettings.load(None)).resolve()
        policy = load_policy(s.fusion)
        data_dir = str(s.data_dir)  # resolve() fills every path
        source = FeatureSource.open(data_dir) if Path(data_dir).is_dir() else None
        if source is None:
            log.warning("data dir %s does not exist: scoring by id is unavailable (supply feature records).",
                        s.data_dir)
        keys = KeyStore(str(s.keys_file)) if s.auth_required else None
        app = cls(s, policy=policy, scorer=Scorer.__new__(Scorer), source=source, keys=keys,
                  sink=sink, sink_factory=None if sink is not None else import_sink(s.alert_sink),
                  audit=audit, audit_factory=None if audit is not None else import_sink(s.audit_sink, "audit_sink"))
        app.scorer = Scorer(app._build_bundle(s.model_alias))
        if source is not None:  # the per-county budget is decided over each as-of's whole population
            app.scorer.attach(source)
        app._token_seen = app._read_token()
        # Everything loaded so far (the data tables: millions of objects) lives as long as the process;
        # moving it out of the collector's sight keeps full collections from stalling requests (a batch
        # of 10k scores otherwise spends half its time in gc). Cost: cycles among these objects are
        # never collected, e.g. a replaced bundle's; reloads are rare.
        gc.collect()
        gc.freeze()
        if open_sink:
            app.open_sink()
            app.open_audit()
        if watch:
            app._watcher = threading.Thread(target=app._watch, name="weimeng-reload-watcher", daemon=True)
            app._watcher.start()
        app._prepare = prepare
        if prepare:
            app._prepare_in_background()
        return app

    def prepare_explanations(self, as_of=None) -> int:
        """Score the whole population at ``as_of`` (default: the default as-of) with explanations for the
        flagged, so the current bundle's contribution cache holds their exact TreeSHAP rows: the first
        request for a flagged person then costs what any other does. Returns the rows cached."""
        b = self.scorer.bundle
        if self.source is None or b.model is None:
            return 0
        ts = self.default_as_of() if as_of is None else normalise_as_of(as_of)
        frame = self.source.population_frame(ts)
        self.scorer.score_frame(frame, explain="flagged", source="api", bundle=b)
        return len(b.contribution_cache)

    def _prepare_in_background(self) -> None:
        def run() -> None:
            try:
                t0 = time.perf_counter()
                n = self.prepare_explanations()
                log.info("explanations prepared for %d flagged people at the default as-of (%.1f s)", n,
                         time.perf_counter() - t0)
            except Exception:  # never fatal: requests compute what is not prepared
                log.exception("preparing explanations failed")

        threading.Thread(target=run, name="weimeng-prepare-explanations", daemon=True).start()

    def _load_ruleset(self):
        # Submodule imports (not `import rules`): they work even where the editable install exposes the
        # package as a namespace package (its __init__ not run).
        from rules.errors import RuleFileError
        from rules.loader import load_ruleset

        try:
            return load_ruleset(self.settings.ruleset)
        except RuleFileError as exc:
            raise ServingConfigError(str(exc), field="ruleset") from None

    def _load_model(self, alias: str):
        from training.errors import RegistryError
        from training.registry import load_registered_model

        try:
            return load_registered_model(alias, tracking_uri=self.settings.tracking_uri,
                                                  model_name=self.settings.model_name)
        except RegistryError as exc:
            if self.settings.require_model:
                raise NotReadyError(str(exc), field="model_alias") from None
            log.warning("no model: %s -- serving rules only", exc)
            return None

    def _build_bundle(self, alias: str) -> Bundle:
        ruleset = self._load_ruleset()
        model = self._load_model(alias)
        reference: Any = None  # the probabilities of a reference batch (an array), for capacity thresholds
        n_grids = None
        probe = build_bundle(model, ruleset, self.policy, thresholds_for(_probability_policy(self.policy)),
                             with_engine=False)
        if self.policy.mode == "capacity" and model is not None:
            if self.source is None:
                raise ServingConfigError("thresholds.mode is capacity, which needs a reference batch from the data "
                                         f"dir, but {self.settings.data_dir} does not exist; set thresholds.mode: "
                                         "probability or configure data_dir.", field="thresholds.mode")
            frame = self.source.population_frame(self.default_as_of())
            reference = Scorer.probabilities(probe, Scorer.matrix(probe, frame))
            n_grids = self.source.n_grids
        if model is None:
            th = thresholds_for(_probability_policy(self.policy))
        else:
            th = thresholds_for(self.policy, reference, n_grids)
        bundle = build_bundle(model, ruleset, self.policy, th)
        self.metrics.loads.labels(str(bundle.model_version), bundle.ruleset_version).inc()
        log.info("loaded model %s, rule set %s, thresholds %s", bundle.model_version, bundle.ruleset_version,
                 th.as_dict())
        return bundle

    def default_as_of(self) -> pd.Timestamp:
        if self.settings.default_as_of:
            return normalise_as_of(self.settings.default_as_of, "default_as_of")
        if self.source is not None:
            return self.source.default_as_of
        return pd.Timestamp(to_data_time(utcnow())).normalize()

    def close(self) -> None:
        self._stop.set()
        if self._audit_queue is not None:
            self._audit_queue.close()

    # -- reload ------------------------------------------------------------------------------------
    @property
    def _token_path(self) -> Path:
        return Path(str(self.settings.home)) / "serving" / "reload.token"

    def _read_token(self) -> str | None:
        try:
            return self._token_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def _reload(self, alias: str, broadcast: bool) -> dict:
        with self._reload_lock:
            old = self.scorer.bundle
            bundle = self._build_bundle(alias)
            self.scorer.swap(bundle)
            if self._prepare:
                self._prepare_in_background()
            if broadcast:
                token = json.dumps({"alias": alias, "model_version": bundle.model_version, "nonce": uuid.uuid4().hex})
                self._token_path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self._token_path.with_suffix(".tmp")
                tmp.write_text(token, encoding="utf-8")
                tmp.replace(self._token_path)
                self._token_seen = token
        return {"previous": {"model_version": old.model_version, "ruleset_version": old.ruleset_version},
                "current": bundle.describe()}

    def _watch(self) -> None:
        """Follow reloads done by other workers (token file) and champion moves in the registry."""
        last_poll = time.monotonic()
        while not self._stop.wait(self.settings.watch_seconds):
            try:
                token = self._read_token()
                if token is not None and token != self._token_seen:
                    self._token_seen = token
                    alias = json.loads(token).get("alias", self.settings.model_alias)
                    self._reload(alias, broadcast=False)
                poll = self.settings.registry_poll_seconds
                if poll > 0 and time.monotonic() - last_poll >= poll:
                    last_poll = time.monotonic()
                    current = self._registry_version(self.settings.model_alias)
                    if current is not None and current != self.scorer.bundle.model_version:
                        log.info("champion moved to version %s; reloading", current)
                        self._reload(self.settings.model_alias, broadcast=False)
            except Exception:  # the watcher must never die; the current bundle keeps serving
                log.exception("reload watcher: reload failed; still serving %s", self.scorer.bundle.model_version)

    def _registry_version(self, alias: str) -> str | None:
        from training.registry import client_for

        try:
            mv = client_for(self.settings.tracking_uri).get_model_version_by_alias(self.settings.model_name, alias)
            return str(mv.version)
        except Exception:
            return None

    # -- request plumbing --------------------------------------------------------------------------
    def call(self, endpoint: str, api_key: str | None, fn: Callable[[Account], dict], *,
             admin: bool = False) -> tuple[int, dict]:
        """Authenticate, run ``fn(account)``, map errors by type, count and time: ``(status, body)``."""
        t0 = time.perf_counter()
        status = 200
        account = None
        try:
            account = self.authenticate(api_key)
            if admin and not account.admin:
                raise AdminRequiredError("此操作需要管理员密钥 / this endpoint needs an admin key.", field="X-API-Key")
            body = fn(account)
        except ScoringError as exc:
            status, body = error_response(exc)
            if status in (401, 403):  # a ScopeError was audited with its person where it was raised
                self.refused(endpoint, account, None, exc.code, exc.reason, audit=not isinstance(exc, ScopeError))
        except Exception as exc:  # a bug: log it, answer 500 without internals
            log.exception("%s failed", endpoint)
            status, body = error_response(exc)
        children = self._counted.get((endpoint, str(status)))
        if children is None:
            children = (self.metrics.requests.labels(endpoint, str(status)), self.metrics.latency.labels(endpoint))
            self._counted[(endpoint, str(status))] = children
        children[0].inc()
        children[1].observe(time.perf_counter() - t0)
        return status, body

    def authenticate(self, api_key: str | None) -> Account:
        if self.keys is None:
            return ANONYMOUS_ADMIN
        return self.keys.verify(api_key)

    def refused(self, endpoint: str, account: Account | None, person_id: str | None, code: str, reason: str, *,
                audit: bool = True) -> None:
        self.metrics.refusals.labels(endpoint, code).inc()
        entry = {"time": utcnow().isoformat(timespec="seconds"), "event": "refused", "endpoint": endpoint,
                 "code": code, "key_id": account.key_id if account else None,
                 "account": account.name if account else None, "person_id": person_id, "reason": reason}
        # the service log gets no person id (it is in the audit file and the audit log)
        audit_log.warning(json.dumps({k: v for k, v in entry.items() if k != "person_id"}, ensure_ascii=False))
        if audit:
            self.audit(account, "api.refused", [person_id] if person_id else [], endpoint=endpoint, code=code)
        try:
            path = Path(str(self.settings.home)) / "serving" / "audit.jsonl"
            with self._audit_lock:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        except OSError:
            log.exception("cannot write the audit file")

    # -- audit sink --------------------------------------------------------------------------------
    def open_audit(self) -> AuditSink | None:
        """The audit sink, built now if it is not yet; ``None`` when none is configured or it cannot be
        opened (logged; retried after :data:`SINK_RETRY_SECONDS`)."""
        if self.audit_sink is not None or self._audit_factory is None:
            return self.audit_sink
        with self._audit_open_lock:
            if self.audit_sink is not None:
                return self.audit_sink
            if self._audit_failed_at is not None and time.monotonic() - self._audit_failed_at < SINK_RETRY_SECONDS:
                return None
            try:
                self.audit_sink = self._audit_factory()
            except Exception as exc:
                self._audit_failed_at = time.monotonic()
                log.error("audit sink %s cannot be opened (%s): %s; API reads are not in the audit log until it can",
                          self.settings.audit_sink, type(exc).__name__, getattr(exc, "message", "") or exc)
                return None
            self._audit_failed_at = None
            log.info("audit sink %s opened: %r", self.settings.audit_sink, self.audit_sink)
            return self.audit_sink

    def audit(self, account: Account | None, action: str, person_ids: Sequence[str], **detail) -> None:
        """Queue one audit event per person (``subject`` ``person:<id>``; one ``request:<endpoint>`` event
        when there is no person) for the audit sink; never raises, logs no personal data. The events are
        written off the request path, in order, by :class:`serving.scoring.writebehind.WriteBehind` (one
        transaction for everything queued meanwhile; retried, not dropped, while the sink is down);
        :meth:`flush_audit` waits until they are written."""
        if self.audit_sink is None and self._audit_factory is None:
            return
        actor = f"apikey:{account.key_id} {account.name}" if account is not None else "apikey:none"
        info = {"key_id": account.key_id if account is not None else None, **detail}
        subjects = [f"person:{pid}" for pid in person_ids] or [f"request:{detail.get('endpoint', action)}"]
        now = utcnow()   # the time of the act, not of the write behind it
        self._audit_writer().put([AuditEvent(actor, action, subject, info, at=now) for subject in subjects])

    def _audit_writer(self) -> WriteBehind:
        w = self._audit_queue
        if w is None:
            with self._audit_open_lock:
                w = self._audit_queue
                if w is None:
                    w = self._audit_queue = WriteBehind(self.open_audit, name="audit",
                                                        retry_seconds=SINK_RETRY_SECONDS, lock=self._store_lock)
        return w

    def flush_audit(self, timeout: float = 10.0, *, retry: bool = False) -> bool:
        """Wait until every audit event queued so far is written; False on timeout or while the sink fails
        (``retry``: try a failed hand-over again now)."""
        return True if self._audit_queue is None else self._audit_queue.flush(timeout, retry=retry)

    def _versions(self, b: Bundle) -> dict:
        return {"model_version": b.model_version, "ruleset_version": b.ruleset_version,
                "catalog_version": CATALOG_VERSION, "fusion_version": b.policy.version}

    def _need_source(self) -> FeatureSource:
        if self.source is None:
            raise NotReadyError("服务未配置数据目录 / no data dir is loaded: score by "
                                "supplied feature records instead (POST /v1/score/records).", field="person_ids")
        return self.source

    def _as_of(self, value, field: str = "as_of") -> pd.Timestamp:
        cached = self._as_of_ok.get(value) if isinstance(value, str) and field == "as_of" else None
        if cached is not None:  # parsed and inside the data window before (both fixed for the process)
            return cached
        ts = self.default_as_of() if value in (None, "") else normalise_as_of(value, field)
        if self.source is not None:
            self.source.check_as_of(ts, field)
        if isinstance(value, str) and field == "as_of" and len(self._as_of_ok) < 1024:
            self._as_of_ok[value] = ts
        return ts

    def _check_batch(self, n: int, field: str) -> None:
        if n == 0:
            raise ScoringInputError("列表为空 / the list is empty; send at least one item.", field=field)
        if n > self.settings.max_batch:
            raise ScoringInputError(f"{n} items exceed max_batch={self.settings.max_batch}; split the request.",
                                    field=field)

    # -- alert sink --------------------------------------------------------------------------------
    @property
    def sink_configured(self) -> bool:
        return self.sink is not None or self._sink_factory is not None

    def open_sink(self, *, raise_errors: bool = False) -> AlertSink | None:
        """The sink, built now if it is not yet; ``None`` when none is configured or it cannot be opened
        (the reason is logged and kept for :meth:`status`; ``raise_errors`` raises it instead)."""
        if self.sink is not None or self._sink_factory is None:
            return self.sink
        with self._sink_lock:
            if self.sink is not None:
                return self.sink
            if (not raise_errors and self._sink_failed_at is not None
                    and time.monotonic() - self._sink_failed_at < SINK_RETRY_SECONDS):
                return None
            try:
                self.sink = self._sink_factory()
            except Exception as exc:
                self._sink_failed_at = time.monotonic()
                self._sink_error = str(getattr(exc, "message", "") or exc) or type(exc).__name__
                log.error("alert sink %s cannot be opened (%s): %s; flagged people are not filed until it can",
                          self.settings.alert_sink, type(exc).__name__, self._sink_error)
                if raise_errors:
                    raise
                return None
            self._sink_error = self._sink_failed_at = None
            log.info("alert sink %s opened: %r", self.settings.alert_sink, self.sink)
            return self.sink

    def send_alerts(self, scored: Sequence[ScoredPerson]) -> SinkReport:
        """Hand the flagged people of ``scored`` to the alert sink (everyone, under a budget); never raises.

        Returns the sink's :class:`SinkReport` (an empty one when nobody is flagged or no sink is
        configured). A sink that cannot be opened, raises, or answers something else than a SinkReport
        counts every flagged person as failed (logged without personal data).
        """
        flagged = [s for s in scored if s.level != "none"]
        # Under a budget everyone scored goes along (the sink keeps the watch list current: listed, or
        # taken off once scored below the bar); otherwise the flagged people only.
        budgeted = any("watch" in s.extra for s in scored)
        if not (flagged or budgeted) or not self.sink_configured:
            return SinkReport()
        sink = self.open_sink()
        if sink is None:
            return SinkReport(failed=len(flagged))
        try:
            with self._store_lock:
                report = sink(list(scored) if budgeted else flagged)
        except Exception as exc:
            log.error("alert sink failed for a hand-over of %d (%s)", len(flagged), type(exc).__name__)
            return SinkReport(failed=len(flagged))
        if not isinstance(report, SinkReport):
            log.error("alert sink returned %s, not a SinkReport; counting %d as failed", type(report).__name__,
                      len(flagged))
            return SinkReport(failed=len(flagged))
        return report

    def _sink_body(self, scored: Sequence[ScoredPerson], send: bool = True) -> dict:
        """``sink`` ("none" | "ok" | "failed") and ``sink_report`` for an answer."""
        if not send or not self.sink_configured or not any(s.level != "none" for s in scored):
            return {"sink": "none", "sink_report": None}
        report = self.send_alerts(scored)
        return {"sink": "failed" if report.failed else "ok",
                "sink_report": {**sink_details(report), "alert_ids": list(report.alert_ids)}}

    # -- endpoints ---------------------------------------------------------------------------------
    def score_ids(self, api_key: str | None, person_ids: Sequence[str], as_of=None,
                  explain: Explain = "flagged") -> tuple[int, dict]:
        def run(account: Account) -> dict:
            self._check_batch(len(person_ids), "person_ids")
            source = self._need_source()
            ts = self._as_of(as_of)
            items: list[dict | None] = [None] * len(person_ids)
            ok_ids, ok_pos = [], []
            for i, pid in enumerate(person_ids):
                places = source.places(pid)
                if places is None:
                    items[i] = _item(pid, "unknown_person", 404, "数据中没有此人 / not in the service's data.")
                elif not permits(account, places):
                    self.refused("score", account, pid, "out_of_scope", "person outside the key's jurisdictions")
                    items[i] = _item(pid, "out_of_scope", 403,
                                     "不在本密钥的管辖范围 / outside this key's jurisdictions.")
                else:
                    ok_ids.append(pid)
                    ok_pos.append(i)
            scored = []
            b = self.scorer.bundle  # one bundle for the whole request (atomic reload)
            if ok_ids:
                found, F = source.rows_for(ok_ids, ts)  # known ids always yield a row, in order
                t = ts.to_pydatetime()
                scored = self.scorer.score_matrix(found, [t] * len(found), F, explain=explain, source="api",
                                                  bundle=b, snapshot_time=source.opened_at.to_pydatetime())
                for pos, s in zip(ok_pos, scored, strict=False):
                    items[pos] = {"person_id": s.person_id, "status": "ok", "http_status": 200,
                                  "result": scored_to_dict(s)}
                self.metrics.observe_scores(scored, "api")
                self.audit(account, "api.score", ok_ids, endpoint="score")
            sink = self._sink_body(scored, send=self.settings.sink_on_score)
            return _batch_body(items, b, self, ts, sink)

        return self.call("score", api_key, run)

    def score_records(self, api_key: str | None, records: Sequence[dict],
                      explain: Explain = "flagged") -> tuple[int, dict]:
        def run(account: Account) -> dict:
            self._check_batch(len(records), "records")
            for i, r in enumerate(records):
                for name in r["features"]:
                    if name not in CATALOG:
                        import difflib

                        close = difflib.get_close_matches(name, FEATURE_NAMES, n=2)
                        raise ScoringInputError(
                            f"未知特征 / unknown feature {name!r} (catalog {CATALOG_VERSION})"
                            + (f"; did you mean {close}?" if close else "; `weimeng catalog` lists the names."),
                            field=f"records[{i}].features.{name}")
                    _check_value(r["features"][name], f"records[{i}].features.{name}")
                normalise_as_of(r["as_of"], f"records[{i}].as_of")
            items: list[dict | None] = [None] * len(records)
            keep, keep_pos = [], []
            for i, r in enumerate(records):
                pid = r["person_id"]
                places = self.source.places(pid) if self.source is not None else None
                if places is None:  # unknown to the data: only what the caller states can place the person
                    places = stated_places(hukou=r.get("hukou_address_code"), residence=r.get("residence_address_code"))
                if not places:
                    items[i] = _item(pid, "unknown_person", 404, "无法确定管辖地 / the service does not know this "
                                     "person: supply hukou_address_code or residence_address_code.")
                elif not permits(account, places):
                    self.refused("score_records", account, pid, "out_of_scope",
                                 "person outside the key's jurisdictions")
                    items[i] = _item(pid, "out_of_scope", 403,
                                     "不在本密钥的管辖范围 / outside this key's jurisdictions.")
                else:
                    keep.append(r)
                    keep_pos.append(i)
            scored = []
            b = self.scorer.bundle
            if keep:
                frame = records_frame(keep)
                scored = self.scorer.score_frame(frame, explain=explain, source="api", bundle=b)
                for pos, s in zip(keep_pos, scored, strict=False):
                    items[pos] = {"person_id": s.person_id, "status": "ok", "http_status": 200,
                                  "result": scored_to_dict(s)}
                self.metrics.observe_scores(scored, "api")
                self.audit(account, "api.score", [r["person_id"] for r in keep], endpoint="score_records")
            sink = self._sink_body(scored, send=self.settings.sink_on_score)
            return _batch_body(items, b, self, None, sink)

        return self.call("score_records", api_key, run)

    def ingest_event(self, api_key: str | None, event: dict) -> tuple[int, dict]:
        def run(account: Account) -> dict:
            pid = event["person_id"]
            t_event = normalise_as_of(event["event_time"], "event_time")
            if event.get("recorded_at"):
                t_rec = normalise_as_of(event["recorded_at"], "recorded_at")
                if t_rec < t_event:
                    raise ScoringInputError("录入时间早于发生时间 / recorded_at is before event_time.",
                                            field="recorded_at")
            own = self.source.places(pid) if self.source is not None else None
            # scope is the person's own places; the incident's address places only a person the data lacks
            places = own if own is not None else stated_places(other=event.get("address_code"))
            if not places:
                raise UnknownPersonError("无法确定管辖地 / unknown person and no address_code on the event.",
                                         field="person_id")
            if not permits(account, places):
                self.refused("event", account, pid, "out_of_scope", "event outside the key's jurisdictions")
                raise ScopeError("不在本密钥的管辖范围 / this person is outside this key's jurisdictions.",
                                 field="person_id")
            incident = {k: v for k, v in event.items() if k != "features"}
            if event.get("features") is not None:
                for name in event["features"]:
                    if name not in CATALOG:
                        raise ScoringInputError(f"未知特征 / unknown feature {name!r}.", field=f"features.{name}")
                    _check_value(event["features"][name], f"features.{name}")
                features = dict(event["features"])
                feature_source = "supplied"
            elif own is not None and self.source is not None:  # `own` comes from the source
                self.source.check_as_of(t_event.normalize(), "event_time")
                before = self.source.vector_at(pid, t_event)
                features = add_incident(before, incident, t_event.hour)
                feature_source = "store+incident"
            else:
                features = add_incident({}, incident, t_event.hour)
                feature_source = "incident_only"
            snapshot = utcnow().replace(microsecond=0)
            scored, hits = self.scorer.score_event(pid, incident, features, t_event, snapshot_time=snapshot)
            scored = _with_extra(scored, feature_source=feature_source, incident_id=event["incident_id"])
            self.metrics.observe_scores([scored], "event")
            self.audit(account, "api.event", [pid], endpoint="event", incident_id=event["incident_id"])
            sink = self._sink_body([scored])  # the event path always hands over: urgent hits reach review at once
            body = {"person_id": pid, "urgent": scored.urgent, "level": scored.level,
                    "alert": scored_to_dict(scored) if scored.level != "none" else None,
                    "scored": scored_to_dict(scored) if scored.level == "none" else None,
                    **sink, **self._versions(self.scorer.bundle)}
            return body

        return self.call("event", api_key, run)

    def explain_person(self, api_key: str | None, person_id: str, as_of=None,
                       history: int | None = None) -> tuple[int, dict]:
        def run(account: Account) -> dict:
            source = self._need_source()
            ts = self._as_of(as_of)
            places = source.places(person_id)
            if places is None:
                raise UnknownPersonError("数据中没有此人 / not in the service's data.", field="person_id")
            if not permits(account, places):
                self.refused("explain", account, person_id, "out_of_scope", "person outside the key's jurisdictions")
                raise ScopeError("不在本密钥的管辖范围 / outside this key's jurisdictions.", field="person_id")
            n_hist = history if history is not None else self.settings.history_snapshots
            if not 1 <= n_hist <= 36:
                raise ScoringInputError(f"history={n_hist}; allowed 1..36 monthly snapshots.", field="history")
            b = self.scorer.bundle
            frame = source.frame_for([person_id], ts)
            full = self.scorer.score_frame(frame, full=True, source="api", bundle=b,
                                           snapshot_time=source.opened_at.to_pydatetime())[0]
            dates = [ts - pd.DateOffset(months=k) for k in range(n_hist - 1, -1, -1)]
            dates = [d for d in dates if d >= source.start]
            hist_frame = source.history(person_id, dates)
            hist = self.scorer.score_frame(hist_frame, explain="none", source="api", bundle=b)
            history_rows = [{"as_of": to_data_time(h.as_of).date().isoformat(),  # the data day, as asked for
                             "probability": h.probability, "level": h.level,
                             "categories": list(h.categories), "rule_ids": h.extra.get("rule_ids", [])} for h in hist]
            self.audit(account, "api.explain", [person_id], endpoint="explain")
            return {"person": scored_to_dict(full), "history": history_rows, **self._versions(b)}

        return self.call("explain", api_key, run)

    def inline_ok(self, n: int, as_of) -> bool:
        """True when a score request is small and its date is cached: cheap enough (about a millisecond)
        to run on the event loop instead of hopping to a worker thread."""
        if self.source is None or n > 16:
            return False
        ts = self._as_of_ok.get(as_of) if isinstance(as_of, str) else None
        if ts is None:
            try:
                ts = self.default_as_of() if as_of in (None, "") else normalise_as_of(as_of)
            except ScoringError:
                return True  # the answer is a 4xx, also cheap
        return self.source.is_cached(ts)

    def status(self) -> dict:
        b = self.scorer.bundle
        out = {"service": "weimeng-scoring", "started_at": self.started_at.isoformat(), **b.describe(),
               "default_as_of": self.default_as_of().date().isoformat(), "auth_required": self.settings.auth_required,
               "alert_sink": {"configured": self.sink_configured, "open": self.sink is not None,
                              "error": None if self._sink_error is None else
                              "预警通道未就绪 / the alert sink cannot be opened; see the service log."}}
        if self.source is not None:
            out["data"] = {"start": self.source.start.date().isoformat(),
                           "end": self.source.end.date().isoformat(), "grids": self.source.n_grids,
                           "opened_at": self.source.opened_at.isoformat()}
        return out

    def ready(self) -> bool:
        return self.scorer.bundle is not None

    def reload(self, api_key: str | None, alias: str | None = None) -> tuple[int, dict]:
        def run(account: Account) -> dict:
            name = alias or self.settings.model_alias
            try:
                return self._reload(name, broadcast=True)
            except NotReadyError as exc:  # the registry's message names the tracking URI: log it, do not answer it
                log.warning("reload of alias %r failed: %s", name, exc)
                raise NotReadyError(f"别名 {name!r} 下没有可用模型 / no model can be loaded under this alias; "
                                    "see the service log.", field="alias") from None

        return self.call("reload", api_key, run, admin=True)


#: The largest feature value accepted (counts and days; anything larger is a mistake or an attack).
MAX_FEATURE_VALUE = 1e9


def _check_value(v, field: str) -> None:
    """A supplied feature value: null, or a finite number no larger than :data:`MAX_FEATURE_VALUE`."""
    if v is None:
        return
    if not np.isfinite(v):
        raise ScoringInputError(f"value {v!r} is not a finite number (use null for no value).", field=field)
    if abs(v) > MAX_FEATURE_VALUE:
        raise ScoringInputError(f"特征值过大 / value {v!r} is out of range (at most {MAX_FEATURE_VALUE:g} in size).",
                                field=field)


def _probability_policy(policy: FusionPolicy) -> FusionPolicy:
    from dataclasses import replace

    return replace(policy, mode="probability")


def _item(pid: str, status: str, http_status: int, reason: str) -> dict:
    return {"person_id": pid, "status": status, "http_status": http_status,
            **error_body(kind_for_status(http_status), reason, field="person_id")}


def _batch_body(items, bundle: Bundle, app: ScoringApp, ts, sink: dict) -> dict:
    counts: dict[str, int] = {}
    levels: dict[str, int] = {}
    for it in items:
        counts[it["status"]] = counts.get(it["status"], 0) + 1
        if it["status"] == "ok":
            lv = it["result"]["level"]
            levels[lv] = levels.get(lv, 0) + 1
    body = {"items": items, "counts": counts, "levels": levels, **sink, **app._versions(bundle),
            "thresholds": {k: bundle.thresholds.as_dict()[k] for k in ("red", "orange", "yellow", "mode")}}
    if ts is not None:
        body["as_of"] = _utc_text(ts)
    return body


@functools.lru_cache(maxsize=256)
def _utc_text(ts: pd.Timestamp) -> str:
    return from_data_time(ts).isoformat()


def _with_extra(s: ScoredPerson, **extra) -> ScoredPerson:
    from dataclasses import replace

    return replace(s, extra={**s.extra, **extra})
