"""The alert sink that files scoring's flagged people in the alert store's review queue.

Scoring never imports this module: configuration names it (``alert_sink:
serving.operations.sink:AlertStoreSink`` in ``serving/scoring/config/serving.yaml``) and the scoring
app imports it by name at start-up. It implements :class:`common.records.AlertSink`::

    sink = AlertStoreSink()                         # WEIMENG_DATABASE_URL, else <WEIMENG_HOME>/weimeng.db
    report = sink(scored)                           # SinkReport(filed, unchanged, failed, alert_ids)

* The store must be migrated: construction raises :class:`StoreNotReady` (a ``NotReady``) naming the
  database and the command that fixes it (``weimeng db upgrade``); an unusable URL raises a
  ``ConfigurationError``.
* Only flagged people (level other than ``none``) are filed; the rest count as ``unchanged``. Every
  person handed over also updates the watch list and the county budgets
  (:meth:`AlertStore.record_watch`); a failure there is logged and never costs the alerts.
* Filing goes through the store's public :meth:`AlertStore.ingest` (dedup and cooldown apply):
  ``created``, ``raised`` and ``updated`` count as ``filed``, ``suppressed`` as ``unchanged``.
* One bad record never costs the others: a chunk that fails is filed again one record at a time, and
  the record that still fails is counted as ``failed``. The sink never raises once constructed.
* Logs carry counts, alert ids and error kinds only: never a person id or any note text.
* Thread-safe: the service calls it from several request threads. On SQLite hand-overs are serialised
  (one writer at a time anyway); on PostgreSQL the store's per-person advisory lock serialises ingests
  of the same person.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from common.errors import ConfigurationError, NotReady
from common.records import AuditEvent, ScoredPerson, SinkReport
from common.settings import Settings, normalise_database_url
from serving.operations.alerts.db import make_engine, require_current
from serving.operations.alerts.errors import ConfigurationError as AlertsConfigurationError
from serving.operations.alerts.errors import DatabaseNotMigrated
from serving.operations.alerts.policy import AlertPolicy
from serving.operations.alerts.store import INGEST_CHUNK, AlertStore
from serving.operations.audit.chain import MAX_ACTOR, MAX_SUBJECT, AuditAct
from serving.operations.audit.chain import record_many as audit_record_many

__all__ = ["AlertStoreSink", "AuditLogSink", "StoreNotReady", "FILED_ACTIONS"]

log = logging.getLogger("weimeng.serving.operations.sink")

#: IngestResult actions that put something new in front of a reviewer.
FILED_ACTIONS = frozenset({"created", "raised", "updated"})

#: Errors after which trying the next record is pointless (the database is down or locked).
_DATABASE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


class StoreNotReady(NotReady):
    """The alert store cannot take alerts yet (missing or behind on migrations, or unreachable)."""


def _open_migrated(url: str) -> sa.engine.Engine:
    """An engine on a store migrated to head, or a clear error (the engine is not left open).

    A SQLite file that does not exist is not created (a check must not leave an empty store behind)."""
    try:
        parsed = sa.engine.make_url(normalise_database_url(url))
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(f"告警库地址无效 / invalid alert store URL ({exc}).", field="alert_sink") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).is_file():
        raise StoreNotReady(f"告警库未迁移 / the alert store {parsed.database} does not exist yet; run "
                            f"`weimeng db upgrade` first.", field="alert_sink")
    try:
        engine = make_engine(url)
    except AlertsConfigurationError as exc:
        raise ConfigurationError(f"告警库地址无效 / {exc}", field="alert_sink") from None
    try:
        require_current(engine)
    except DatabaseNotMigrated as exc:
        engine.dispose()
        raise StoreNotReady(str(exc), field="alert_sink") from None
    except _DATABASE_DOWN as exc:
        engine.dispose()
        raise StoreNotReady(f"告警库无法连接 / the alert store at {engine.url.render_as_string(hide_password=True)} "
                            f"cannot be reached ({type(exc).__name__}); check WEIMENG_DATABASE_URL.",
                            field="alert_sink") from None
    return engine


class AlertStoreSink:
    """File flagged :class:`ScoredPerson` records in the alert store (see the module docstring).

    ``url``: the store's database URL (default :attr:`common.settings.Settings.resolved_database_url`,
    i.e. ``WEIMENG_DATABASE_URL`` or SQLite under ``WEIMENG_HOME``). ``store``: an already opened
    :class:`AlertStore` instead (tests, the demo). ``policy``: the alert policy (cooldown, expiry).
    """

    def __init__(self, url: str | None = None, *, store: AlertStore | None = None,
                 policy: AlertPolicy | None = None, chunk: int = INGEST_CHUNK) -> None:
        if store is None:
            store = AlertStore(_open_migrated(url or Settings.from_env().resolved_database_url), policy=policy)
        self.store = store
        self.chunk = max(1, min(int(chunk), INGEST_CHUNK))  # one store.ingest call = one transaction
        self._serial = store.engine.dialect.name == "sqlite"
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """The store's URL with the password hidden (for logs and status pages)."""
        return self.store.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"AlertStoreSink({self.where})"

    # -- the AlertSink protocol ------------------------------------------------------------------
    def __call__(self, scored: Sequence[ScoredPerson]) -> SinkReport:
        people = list(scored)
        flagged = [sp for sp in people if getattr(sp, "level", None) != "none"]
        skipped = len(people) - len(flagged)
        if self._serial:
            with self._lock:
                filed, unchanged, failed, ids = self._file(flagged)
                self._watch(people)
        else:
            filed, unchanged, failed, ids = self._file(flagged)
            self._watch(people)
        if not flagged:
            return SinkReport(unchanged=skipped)
        report = SinkReport(filed=filed, unchanged=unchanged + skipped, failed=failed, alert_ids=tuple(ids))
        if failed:
            log.warning("alert sink: %s (of %d handed over)", report.summary, len(people))
        else:
            log.info("alert sink: %s; alert ids %s", report.summary, list(report.alert_ids))
        return report

    # -- internals -------------------------------------------------------------------------------
    def _watch(self, people: list[ScoredPerson]) -> None:
        """The watch list and county budgets (all people scored): never costs the alerts filed."""
        try:
            report = self.store.record_watch(people)
        except Exception as exc:
            log.warning("alert sink: the watch list was not updated (%s)", type(exc).__name__)
            return
        if report.listed or report.removed:
            log.info("alert sink: watch list %d listed, %d removed", report.listed, report.removed)

    def _file(self, flagged: list[ScoredPerson]) -> tuple[int, int, int, list[int]]:
        filed = unchanged = failed = 0
        ids: list[int] = []
        for start in range(0, len(flagged), self.chunk):
            part = flagged[start:start + self.chunk]
            try:
                results = self.store.ingest(part)
            except Exception as exc:  # one bad record or a database problem: sort it out record by record
                log.warning("alert sink: a hand-over of %d records failed (%s); filing them one by one",
                            len(part), type(exc).__name__)
                if isinstance(exc, _DATABASE_DOWN):
                    failed += len(flagged) - start
                    log.error("alert sink: the alert store is unavailable (%s); %d records not filed",
                              type(exc).__name__, len(flagged) - start)
                    break
                results, n_failed, down = self._one_by_one(part, start)
                failed += n_failed
                if down:
                    failed += len(flagged) - start - len(part)
                    break
            for r in results:
                if r.action in FILED_ACTIONS:
                    filed += 1
                    ids.append(int(r.alert_id))
                else:
                    unchanged += 1
        return filed, unchanged, failed, ids

    def _one_by_one(self, part: list[ScoredPerson], offset: int):
        """Ingest each record on its own; returns (results, failed count, database down?)."""
        results = []
        failed = 0
        for i, sp in enumerate(part):
            try:
                results.extend(self.store.ingest([sp]))
            except Exception as exc:
                failed += 1
                # The position in the hand-over and the error kind only: messages name the person.
                log.warning("alert sink: record %d not filed (%s)", offset + i, type(exc).__name__)
                if isinstance(exc, _DATABASE_DOWN):
                    failed += len(part) - i - 1
                    return results, failed, True
        return results, failed, False


class AuditLogSink:
    """Write scoring's :class:`common.records.AuditEvent` records to the hash-chained audit log
    (``audit_sink: serving.operations.sink:AuditLogSink`` in ``serving/scoring/config/serving.yaml``);
    implements :class:`common.records.AuditSink`.

    ``url``: the operational store (default: as :class:`AlertStoreSink`); ``engine``: an open engine
    instead (tests). The store must be migrated (:class:`StoreNotReady` otherwise). One call is one
    transaction: the events of a request are appended together or not at all; an error is raised
    to the caller (the scoring app logs it without personal data).
    """

    def __init__(self, url: str | None = None, *, engine: sa.engine.Engine | None = None) -> None:
        self.engine = engine if engine is not None else _open_migrated(
            url or Settings.from_env().resolved_database_url)
        self._lock = threading.Lock() if self.engine.dialect.name == "sqlite" else None

    def __repr__(self) -> str:
        return f"AuditLogSink({self.engine.url.render_as_string(hide_password=True)})"

    def __call__(self, events: Sequence[AuditEvent]) -> None:
        batch = list(events)
        if not batch:
            return
        if self._lock is not None:
            with self._lock:
                self._write(batch)
        else:
            self._write(batch)

    def _write(self, batch: list[AuditEvent]) -> None:
        with self.engine.begin() as conn:
            # one head lock, one insert, one head update for the whole batch; each entry keeps its act's time
            audit_record_many(conn, [AuditAct(ev.actor[:MAX_ACTOR], ev.action, ev.subject[:MAX_SUBJECT],
                                              dict(ev.detail), ev.at) for ev in batch])
