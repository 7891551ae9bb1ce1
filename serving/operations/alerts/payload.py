"""The push payload: the minimum a cadre needs, built once at approval and stored in the outbox.

It holds a masked person label, a masked address (village/community + masked house number), the
level, the categories and up to three reasons in plain words, one suggested action, the response
deadline and a link to the inbox item. It never holds incident notes, police record ids, scores or
model internals; quoted speech is cut out of reasons (a rule explanation might quote a note).

>>> scrub("记录中出现威胁言语“我要同归于尽”，近30天报警4次")
'记录中出现威胁言语，近30天报警4次'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from common.clock import format_beijing, to_utc
from common.levels import LEVEL_LABELS
from common.places import PLACE_LABELS, Place
from common.records import plain_reasons
from serving.operations.alerts.masking import mask_house_number, person_label
from serving.operations.alerts.policy import AlertPolicy
from serving.operations.alerts.routing import Recipient

__all__ = ["Payload", "build_payload", "scrub", "reason_texts", "category_labels", "local_time_text", "MAX_REASONS"]

MAX_REASONS = 3
_MAX_REASON_CHARS = 40
_QUOTED = re.compile(r"[“\"「『‘'][^”\"」』’']*[”\"」』’']")


def scrub(text: str) -> str:
    """Cut quoted speech, collapse whitespace (no newlines), cap the length."""
    out = _QUOTED.sub("", str(text))
    out = re.sub(r"\s+", " ", out).strip()
    out = re.sub(r"[，,]{2,}", "，", out)
    return out[:_MAX_REASON_CHARS]


def category_labels(categories) -> list[str]:
    from features.catalog import RISK_CATEGORIES

    return [RISK_CATEGORIES.get(c, c) for c in categories]


def local_time_text(ts: datetime) -> str:
    """A stored time (aware UTC; naive is read as UTC) as a cadre reads it: ``2026年11月29日 15:01`` Beijing time."""
    return format_beijing(ts, "%Y年%m月%d日 %H:%M")


@dataclass(frozen=True)
class Payload:
    alert_id: int
    person: str                 # masked label
    address: str                # village/community + masked house number
    places: tuple[str, ...]     # 户籍地 / 居住地 labels of the places this recipient covers
    level: str
    level_label: str
    categories: tuple[str, ...]
    reasons: tuple[str, ...]
    action: str
    deadline: str               # ISO 8601, UTC with its offset
    deadline_text: str          # China time, for people
    link: str
    fallback_note: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["places"], d["categories"], d["reasons"] = list(self.places), list(self.categories), list(self.reasons)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Payload:
        return cls(**{**d, "places": tuple(d["places"]), "categories": tuple(d["categories"]),
                      "reasons": tuple(d["reasons"])})


def reason_texts(rule_texts: Sequence[str], factor_phrases: Sequence[str], *, limit: int,
                 fallback: Sequence[str] = (), trim: str = "") -> tuple[str, ...]:
    """The reasons a cadre reads: :func:`common.records.plain_reasons` (rule texts first, then the factors that
    raise the risk), or ``fallback`` when there are none; each scrubbed, ``trim`` characters cut from its end,
    empty ones and repeats dropped, at most ``limit``. Alerts' payloads and the watch list both use it."""
    found = list(plain_reasons(rule_texts, factor_phrases)) or list(fallback)
    seen: dict[str, None] = {}
    for r in found:
        r = scrub(r).rstrip(trim)
        if r:
            seen.setdefault(r, None)
    return tuple(list(seen)[:limit])


def _reasons(explanation: dict | None, categories) -> tuple[str, ...]:
    explanation = explanation or {}
    return reason_texts([h.get("explanation", "") for h in explanation.get("rule_hits", ())],
                        [f.get("phrase", "") for f in explanation.get("factors", ()) if f.get("direction") == "up"],
                        limit=MAX_REASONS, fallback=category_labels(categories))


def build_payload(*, alert, recipient: Recipient, places: tuple[Place, ...], policy: AlertPolicy,
                  name: str | None = None) -> Payload:
    """The payload for one recipient; the address shown is the place this recipient serves."""
    mine = [p for p in places if p.kind in recipient.places] or list(places)
    place = next((p for p in mine if p.kind == "residence"), mine[0])
    village = place.village_name or place.village_code or ""
    address = f"{village}{mask_house_number(place.house_number)}" if place.house_number else village
    actions = (alert.explanation or {}).get("actions") or []
    deadline = alert.deadline_at
    return Payload(
        alert_id=alert.id,
        person=person_label(alert.person_id, name),
        address=address,
        places=tuple(PLACE_LABELS[k] for k in recipient.places),
        level=alert.level,
        level_label=LEVEL_LABELS[alert.level],
        categories=tuple(category_labels(alert.categories)),
        reasons=_reasons(alert.explanation, alert.categories),
        action=scrub(actions[0]) if actions else policy.default_actions[alert.level],
        deadline=to_utc(deadline).isoformat(timespec="seconds"),
        deadline_text=local_time_text(deadline),
        link=policy.link(alert.id),
        fallback_note="本网格暂无可达人员，由乡镇（街道）兜底值班处置" if recipient.fallback else None,
    )
