"""Features "as of just after" a new incident: the stored vector plus this incident's own counts.

The rules' event path expects features that already count the incident being reported
(``calls_7d`` includes this call). The service's data directory does not contain the new incident
yet, so :func:`add_incident` takes the exact vector as of the event time (events strictly before it,
from the store's online path) and adds what this one incident contributes to each incident-driven
feature, mirroring the catalog's definitions: call counts in every window, the per-category and
family/marital counts, the flags, note keywords (same patterns and exclusions as
``features.prepare``), role and disposition counts, night calls, days since the last call (0) and
the call trend. For ``max_calls_same_dispute_*`` the new call is added to the current maximum when
it names a dispute: exact when that dispute is the busiest one, an upper bound otherwise. Features
of other sources (mediation, care, outcomes, grid, residence) do not change. The next batch run
recomputes everything from the records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from features.catalog import NOTE_KEYWORDS

__all__ = ["add_incident"]

_WINDOWS = (7, 30, 90, 365)
_FLAG_FEATURES = {
    "flag_violence": ("violence_90d", "violence_365d"),
    "flag_weapon": ("weapon_365d",),
    "flag_alcohol": ("alcohol_90d",),
    "flag_threat": ("threat_30d", "threat_90d", "threat_365d"),
    "flag_minor_present": ("minor_present_365d",),
}
_KW_FEATURES = {"kw_retaliation": ("kw_retaliation_90d", "kw_retaliation_365d"), "kw_society": ("kw_society_365d",),
                "kw_emotion": ("kw_emotion_90d",), "kw_harm": ("kw_harm_365d",)}
_ROLE_FEATURES = {"suspect": "as_suspect_365d", "victim": "as_victim_365d", "caller": "as_caller_90d"}
_DISPOSITION_FEATURES = {"unresolved": "unresolved_90d", "case_filed": "case_filed_365d", "referred": "referred_365d"}
_KW = {name: (re.compile(kw["pattern"]), kw["exclude"]) for name, kw in NOTE_KEYWORDS.items()}


def _keyword_hits(note: str | None) -> set[str]:
    text = note or ""
    hits = set()
    for name, (pattern, exclude) in _KW.items():
        t = text.replace(exclude, "") if exclude else text
        if pattern.search(t):
            hits.add(name)
    return hits


def add_incident(before: Mapping[str, float | None], event: Mapping, hour: int) -> dict[str, float | None]:
    """The feature vector after ``event`` (a dict of incident fields plus ``role``), given ``before``.

    ``hour`` is the local hour of the event (night = 22:00 to 05:00).

    >>> v = add_incident({"calls_7d": 1.0, "calls_30d": 2.0}, {"category": "family", "flag_threat": True}, 23)
    >>> v["calls_7d"], v["threat_30d"], v["night_calls_90d"], v["calls_family_marital_90d"]
    (2.0, 1.0, 1.0, 1.0)
    """
    out: dict[str, float | None] = dict(before)

    def inc(name: str) -> None:
        v = out.get(name)
        out[name] = (0.0 if v is None or v != v else float(v)) + 1.0

    for w in _WINDOWS:
        inc(f"calls_{w}d")
    cat = event.get("category")
    if cat:
        inc(f"calls_{cat}_365d")
        if cat in ("family", "marital"):
            inc("calls_family_marital_90d")
    for flag, names in _FLAG_FEATURES.items():
        if event.get(flag):
            for n in names:
                inc(n)
    for kw in _keyword_hits(event.get("note")):
        for n in _KW_FEATURES[kw]:
            inc(n)
    role = event.get("role")
    if role in _ROLE_FEATURES:
        inc(_ROLE_FEATURES[role])
    disp = event.get("disposition")
    if disp in _DISPOSITION_FEATURES:
        inc(_DISPOSITION_FEATURES[disp])
    if hour >= 22 or hour < 5:
        inc("night_calls_90d")
    out["days_since_last_call"] = 0.0
    if out.get("days_since_first_call") is None or out.get("days_since_first_call") != out.get("days_since_first_call"):
        out["days_since_first_call"] = 0.0
    trend = out.get("call_trend_30d")
    out["call_trend_30d"] = (0.0 if trend is None or trend != trend else float(trend)) + 1.0
    if event.get("dispute_id"):
        inc("max_calls_same_dispute_7d")
        inc("max_calls_same_dispute_30d")
    return out
