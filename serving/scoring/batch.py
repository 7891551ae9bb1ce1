"""The periodic batch run: everyone with recent records, scored, levelled, categorised, explained.

Levels come from the bars registered with the model version and the per-county budget, exactly as
the service gives them (the same Scorer over the same as-of population). People above the watch bar
but outside the budget are not alerts: they are on the watch list (关注名单: ``watch`` true, level
``none``), listed by :func:`watch_list`. Given the previous run's table, someone who was on its watch
list and is now an alert carries the reason "风险上升".

>>> # from serving.scoring.batch import score_population
>>> # table, scored = score_population(app, "2025-06-01", previous="scores-2025-05-01.parquet")
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from common.clock import to_data_time
from common.records import ScoredPerson
from serving.scoring.datasource import normalise_as_of
from serving.scoring.records import explanation_to_dict, scored_to_dict

__all__ = ["score_population", "scored_table", "write_outputs", "watch_list", "mark_risen", "RISEN_REASON",
           "budget_summary"]

RISEN_REASON = "风险上升"


def score_population(app, as_of, *, explain: str = "flagged", chunk: int = 20_000,
                     previous=None) -> tuple[pd.DataFrame, list[ScoredPerson]]:
    """Score the population at ``as_of`` (people with an incident, mediation or care record in the
    look-back year) with the app's current bundle. ``previous``: the previous run's table (a frame or
    a Parquet path) whose watch list marks risen risks."""
    source = app._need_source()
    ts = source.check_as_of(normalise_as_of(as_of, "as_of"), "as_of")
    frame = source.population_frame(ts)
    b = app.scorer.bundle
    scored: list[ScoredPerson] = []
    for start in range(0, len(frame), chunk):
        scored += app.scorer.score_frame(frame.iloc[start:start + chunk], explain=explain, source="batch", bundle=b,
                                         snapshot_time=source.opened_at.to_pydatetime())
    if previous is not None:
        prev = previous if isinstance(previous, pd.DataFrame) else pd.read_parquet(previous)
        scored = mark_risen(scored, watch_list(prev)["person_id"].astype(str))
    return scored_table(scored), scored


def mark_risen(scored: Sequence[ScoredPerson], watched: Iterable[str]) -> list[ScoredPerson]:
    """Alerts whose person was on the previous watch list get the reason "风险上升" (in ``extra["reasons"]``
    and at the head of the explanation's summary)."""
    watched = set(watched)
    out = []
    for s in scored:
        if s.level != "none" and s.person_id in watched:
            reasons = [*s.extra.get("reasons", []), RISEN_REASON]
            e = s.explanation
            if e is not None and not e.summary.startswith(RISEN_REASON):
                e = replace(e, summary=f"{RISEN_REASON}（上期在关注名单）：{e.summary}")
            s = replace(s, explanation=e, extra={**s.extra, "reasons": reasons, "risen_from_watch": True})
        out.append(s)
    return out


def watch_list(table: pd.DataFrame) -> pd.DataFrame:
    """The watch list (关注名单) of a run's table: people marked ``watch``, highest risk first."""
    if "watch" not in table:
        return table.iloc[0:0]
    w = table[table["watch"].fillna(False).astype(bool)]
    cols = [c for c in ("person_id", "as_of", "county", "probability", "categories", "rule_ids", "over_budget",
                        "thresholds_version") if c in w]
    return w.sort_values(["probability", "person_id"], ascending=[False, True])[cols].reset_index(drop=True)


def budget_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per county: non-urgent alerts against the budget, urgent alerts (outside it), watch list size."""
    if "county" not in table or table.empty:
        return pd.DataFrame(columns=["county", "alerts", "budget", "urgent", "watch"])
    alert = (table["level"] != "none") & ~table["urgent"].astype(bool)
    g = pd.DataFrame({"county": table["county"].fillna(""), "alerts": alert, "urgent": table["urgent"].astype(bool),
                      "watch": table["watch"].fillna(False).astype(bool), "budget": table["budget_per_run"]})
    return g.groupby("county").agg(alerts=("alerts", "sum"), budget=("budget", "max"), urgent=("urgent", "sum"),
                                   watch=("watch", "sum")).reset_index()


def scored_table(scored: Sequence[ScoredPerson]) -> pd.DataFrame:
    """One row per person: scores, levels, categories, rule ids, summary and the explanation (JSON)."""
    rows = []
    for s in scored:
        e = s.explanation
        rows.append({
            "person_id": s.person_id, "as_of": pd.Timestamp(to_data_time(s.as_of)), "probability": s.probability,
            "level": s.level, "categories": list(s.categories), "urgent": s.urgent,
            "rule_ids": list(s.extra.get("rule_ids", [])), "model_level": s.extra.get("model_level"),
            "summary": e.summary if e is not None else None,
            "explanation_json": json.dumps(explanation_to_dict(e), ensure_ascii=False) if e is not None else None,
            "model_version": s.model_version, "ruleset_version": s.ruleset_version,
            "catalog_version": s.catalog_version, "fusion_version": s.extra.get("fusion_version"),
            "snapshot_time": pd.Timestamp(s.snapshot_time), "source": s.source,
            "county": s.extra.get("county"), "watch": bool(s.extra.get("watch", False)),
            "over_budget": bool(s.extra.get("over_budget", False)),
            "thresholds_version": (s.extra.get("thresholds") or {}).get("version"),
            "budget_per_run": (s.extra.get("thresholds") or {}).get("budget_per_run"),
            "reasons": list(s.extra.get("reasons", [])),
        })
    return pd.DataFrame(rows)


def write_outputs(table: pd.DataFrame, scored: Sequence[ScoredPerson], out: str | Path,
                  jsonl: str | Path | None = None) -> None:
    """Parquet (atomically: a temp file then a rename, so no half-written file) and optionally JSONL."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    table.to_parquet(tmp, index=False)
    tmp.replace(out)
    if jsonl is not None:
        jpath = Path(jsonl)
        jpath.parent.mkdir(parents=True, exist_ok=True)
        jtmp = jpath.with_name(jpath.name + ".tmp")
        with jtmp.open("w", encoding="utf-8") as fh:
            for s in scored:
                fh.write(json.dumps(scored_to_dict(s), ensure_ascii=False) + "\n")
        jtmp.replace(jpath)
