"""Records passed from scoring to operations (plain, JSON-friendly dataclasses), and the alert sink.

The scoring side produces :class:`ScoredPerson`; an :class:`AlertSink` takes the flagged ones into the
alert store's review queue. Keep this module free of heavy imports: every part of ``serving`` imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from common.clock import UTC, from_data_time, to_utc

__all__ = ["Source", "RuleHitView", "Factor", "Explanation", "ScoredPerson", "AlertSink", "SinkReport", "plain_reasons",
           "RISK_UP", "RISK_DOWN", "AuditEvent", "AuditSink"]

Source = Literal["batch", "event", "api"]


@dataclass(frozen=True)
class RuleHitView:
    rule_id: str
    rule_version: str
    category: str          # one of features.catalog.RISK_CATEGORIES
    level: str
    urgent: bool
    explanation: str       # filled Chinese template


@dataclass(frozen=True)
class Factor:
    feature: str           # catalog name
    label: str             # Chinese label
    value: float | None
    contribution: float    # LightGBM pred_contrib (log-odds)
    direction: Literal["up", "down"]
    phrase: str            # e.g. "近30天报警4次，风险上升"


@dataclass(frozen=True)
class Explanation:
    summary: str                                   # one Chinese sentence for the cadre
    rule_hits: tuple[RuleHitView, ...] = ()
    factors: tuple[Factor, ...] = ()
    actions: tuple[str, ...] = ()                  # suggested actions, per category


def _aware_utc(value: Any) -> datetime:
    if type(value) is datetime and value.tzinfo is UTC:
        return value
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp: a plain datetime, so JSON and the store see one type
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return to_utc(value)
    return from_data_time(value)


@dataclass(frozen=True)
class ScoredPerson:
    person_id: str
    as_of: datetime                                # aware UTC (a naive value is read as Beijing data time)
    probability: float | None                      # calibrated, None when no model is loaded
    level: str                                     # one of LEVELS
    categories: tuple[str, ...]
    explanation: Explanation | None
    ruleset_version: str
    model_version: str | None
    catalog_version: str
    snapshot_time: datetime                        # when the data behind the score was read, aware UTC
    source: str = "batch"                          # batch | event | api
    urgent: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Both times are aware UTC once built. A naive value is a data-contract time (Beijing wall
        # time, what the feature engine works in) and is converted here, so no caller can hand the
        # store a naive time by mistake.
        object.__setattr__(self, "as_of", _aware_utc(self.as_of))
        object.__setattr__(self, "snapshot_time", _aware_utc(self.snapshot_time))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly; times as ISO 8601 with their offset (``2025-05-31T16:00:00+00:00``)."""
        d = asdict(self)
        d["as_of"] = self.as_of.isoformat()
        d["snapshot_time"] = self.snapshot_time.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoredPerson:
        e = d.get("explanation")
        expl = None
        if e is not None:
            expl = Explanation(
                summary=e["summary"],
                rule_hits=tuple(RuleHitView(**h) for h in e.get("rule_hits", ())),
                factors=tuple(Factor(**f) for f in e.get("factors", ())),
                actions=tuple(e.get("actions", ())),
            )
        return cls(
            person_id=d["person_id"], as_of=datetime.fromisoformat(d["as_of"]), probability=d.get("probability"),
            level=d["level"], categories=tuple(d.get("categories", ())), explanation=expl,
            ruleset_version=d["ruleset_version"], model_version=d.get("model_version"),
            catalog_version=d["catalog_version"], snapshot_time=datetime.fromisoformat(d["snapshot_time"]),
            source=d.get("source", "batch"), urgent=bool(d.get("urgent", False)), extra=dict(d.get("extra", {})),
        )


@dataclass(frozen=True)
class SinkReport:
    """What a sink did with one hand-over: how many it filed (new or updated alerts), how many it
    left alone (a duplicate within the cooldown, level ``none``), and how many it could not take."""

    filed: int = 0
    unchanged: int = 0
    failed: int = 0
    alert_ids: tuple[int, ...] = ()

    @property
    def summary(self) -> str:
        return f"filed {self.filed}, unchanged {self.unchanged}, failed {self.failed}"


@runtime_checkable
class AlertSink(Protocol):
    """Where scoring hands its flagged people: the alert store's review queue in every real
    configuration (``serving.operations.sink:AlertStoreSink``). A sink must be safe to call from
    several threads and must not raise for one bad record: it counts it as failed."""

    def __call__(self, scored: Sequence[ScoredPerson]) -> SinkReport: ...


@dataclass(frozen=True)
class AuditEvent:
    """One audited act of a service that cannot reach the audit log itself (the scoring API).

    ``actor`` names who acted (an API key's name and id), ``action`` is a dotted stable name
    (``api.explain``, ``api.event``, ``api.score``, ``api.refused``), ``subject`` what it concerned
    (``person:<id>``). ``detail`` is small and JSON-friendly: never note text or feature values. ``at`` is when
    the act happened (aware UTC); a sink that writes later keeps it (None: the time of writing)."""

    actor: str
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@runtime_checkable
class AuditSink(Protocol):
    """Where scoring sends its audit events: the hash-chained audit log in every real configuration
    (``serving.operations.sink:AuditLogSink``). Safe to call from several threads; it may raise when
    the log cannot be written (the caller logs that and answers anyway)."""

    def __call__(self, events: Sequence[AuditEvent]) -> None: ...


def sink_details(report: SinkReport) -> dict[str, Any]:
    return {"filed": report.filed, "unchanged": report.unchanged, "failed": report.failed}


#: How a model factor's phrase ends: the catalog phrase plus the direction of its contribution.
RISK_UP, RISK_DOWN = "，风险上升", "，风险下降"


def plain_reasons(rule_texts: Sequence[str], factor_phrases: Sequence[str],
                  limit: int | None = None) -> tuple[str, ...]:
    """The reasons a person reads, without repeats: rule explanations first, then the model factors that
    raise the risk, skipping a factor that only restates a rule (``近一年…2次…`` and ``近一年…2次…，风险上升``).

    >>> plain_reasons(["近一年警情记录中2次提到病情发作或失控"], ["近一年警情记录中2次提到病情发作或失控，风险上升",
    ...                                                        "近30天报警4次，风险上升"])
    ('近一年警情记录中2次提到病情发作或失控', '近30天报警4次，风险上升')
    """
    out: list[str] = []
    for text in rule_texts:
        text = text.strip()
        if text and text not in out:
            out.append(text)
    said = list(out)
    for phrase in factor_phrases:
        base = phrase.removesuffix(RISK_UP).removesuffix(RISK_DOWN).strip()
        if not base or any(base in s or s in base for s in said):
            continue
        out.append(phrase)
        said.append(base)
    return tuple(out[:limit] if limit is not None else out)
