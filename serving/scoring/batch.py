"""The periodic batch run: everyone with recent records, scored, levelled, categorised, explained.

>>> # from serving.scoring.batch import score_population
>>> # table, scored = score_population(app, "2025-06-01")
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from common.clock import to_data_time
from common.records import ScoredPerson
from serving.scoring.datasource import normalise_as_of
from serving.scoring.records import explanation_to_dict, scored_to_dict

__all__ = ["score_population", "scored_table", "write_outputs"]


def score_population(app, as_of, *, explain: str = "flagged", chunk: int = 20_000) -> tuple[pd.DataFrame, list[ScoredPerson]]:
    """Score the population at ``as_of`` (people with an incident, mediation or care record in the
    look-back year) with the app's current bundle."""
    source = app._need_source()
    ts = source.check_as_of(normalise_as_of(as_of, "as_of"), "as_of")
    frame = source.population_frame(ts)
    b = app.scorer.bundle
    scored: list[ScoredPerson] = []
    for start in range(0, len(frame), chunk):
        scored += app.scorer.score_frame(frame.iloc[start:start + chunk], explain=explain, source="batch", bundle=b,
                                         snapshot_time=source.opened_at.to_pydatetime())
    return scored_table(scored), scored


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
