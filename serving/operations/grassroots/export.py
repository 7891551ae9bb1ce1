"""The store's field reports and tips as data-contract tables, for the next feature run.

``export_tables(engine, out)`` writes ``field_reports.parquet`` and ``tips.parquet`` in the layout of
:mod:`features.contracts` (times as the contracts' Beijing wall time; ids ``FR<n>`` / ``TP<n>``), so that a data
directory with them feeds the features like every other table. A tip's export carries, as in the store, nothing
about its sender; a duplicate keeps ``verdict = duplicate``.

>>> # export_tables(make_engine(url), "world/")      # then EventStore.open("world/") reads them
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.clock import to_data_time
from features.contracts import OBSERVATION_LABELS, TABLES
from serving.operations.grassroots.models import FieldReport, Tip

__all__ = ["export_tables"]


def _obs(items: list) -> dict[str, bool]:
    return {name: name in (items or ()) for name in OBSERVATION_LABELS}


def export_tables(engine: Engine, out: str | Path) -> dict[str, int]:
    """Write both tables into ``out``; returns the row counts."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        reports = [{"report_id": f"FR{r.id}", "time": to_data_time(r.created_at),
                    "recorded_at": to_data_time(r.created_at), "reporter_id": r.reporter_staff_id,
                    "reporter_role": r.reporter_role, "provenance": r.provenance, "person_id": r.person_id,
                    "address_code": r.address_code, "category": r.category, "urgency": r.urgency,
                    **_obs(r.observations), "note": r.note}
                   for r in conn.execute(sa.select(FieldReport).order_by(FieldReport.id))]
        tips = [{"tip_id": f"TP{t.id}", "time": to_data_time(t.created_at), "recorded_at": to_data_time(t.created_at),
                 "address_code": t.address_code, "category": t.category, "urgency": t.urgency, **_obs(t.observations),
                 "note": t.note, "linked_person_id": t.linked_person_id, "verdict": t.verdict}
                for t in conn.execute(sa.select(Tip).order_by(Tip.id))]
    counts = {}
    for name, rows in (("field_reports", reports), ("tips", tips)):
        frame = pd.DataFrame(rows, columns=TABLES[name].column_names)
        frame.to_parquet(out / TABLES[name].filename, index=False)
        counts[name] = len(frame)
    return counts
