"""Feature and prediction drift with Evidently's current Report API.

Verdicts come from Evidently's tests (``include_tests=True``, status FAIL), never from raw scores:
Evidently picks the method by sample size (K-S p-values below 5k rows, Wasserstein/Jensen-Shannon
distances above), so a raw value means different things in different runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["DriftResult", "run_drift"]


@dataclass
class DriftResult:
    columns: pd.DataFrame          # column, method, score, drifted
    share_drifted: float
    html: Path | None
    snapshot: Any = field(default=None, repr=False, compare=False)   # the Evidently snapshot (for a workspace)

    @property
    def drifted(self) -> list[str]:
        return self.columns.loc[self.columns["drifted"], "column"].tolist()


def _sample(df: pd.DataFrame, n: int) -> pd.DataFrame:
    return df.sample(n, random_state=0) if len(df) > n else df


def run_drift(reference: pd.DataFrame, current: pd.DataFrame, numerical: list[str],
              categorical: list[str] | None = None, max_rows: int = 20000,
              html: str | Path | None = None, timestamp=None, tags: list[str] | None = None) -> DriftResult:
    """Drift of each column between ``reference`` and ``current`` (Evidently DataDriftPreset + tests).

    Columns constant in both windows carry no information and are reported as not drifted. ``timestamp``
    and ``tags`` stamp the snapshot (for :mod:`monitoring.workspace`: the window's end, the kind of run).
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    categorical = list(categorical or [])
    ref, cur = _sample(reference, max_rows), _sample(current, max_rows)
    informative = [c for c in numerical if pd.concat([ref[c], cur[c]]).nunique(dropna=True) > 1]
    informative += [c for c in categorical if pd.concat([ref[c], cur[c]]).nunique(dropna=True) > 1]
    constant = [c for c in numerical + categorical if c not in informative]
    cols = informative
    num = [c for c in cols if c in numerical]
    cat = [c for c in cols if c in categorical]
    definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
    report = Report([DataDriftPreset(columns=cols)], include_tests=True)
    snapshot = report.run(current_data=Dataset.from_pandas(cur[cols], data_definition=definition),
                          reference_data=Dataset.from_pandas(ref[cols], data_definition=definition),
                          timestamp=None if timestamp is None else pd.Timestamp(timestamp).to_pydatetime(),
                          tags=list(tags or []))
    if html is not None:
        html = Path(html)
        html.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(html))

    data = snapshot.dict()
    scores, methods = {}, {}
    for m in data.get("metrics", []):
        cfg = m.get("config") or {}
        params = cfg.get("params", cfg) if isinstance(cfg, dict) else {}
        name = str(m.get("metric_name") or m.get("metric_id") or "")
        col = params.get("column") if isinstance(params, dict) else None
        if col is None and name.startswith("ValueDrift(column="):
            col = name.split("column=", 1)[1].split(",", 1)[0]
        if col is not None and "method=" in name:
            methods[col] = name.split("method=", 1)[1].split(",threshold", 1)[0]
        if col is not None and not isinstance(m.get("value"), dict):
            scores[col] = m.get("value")
    failed = set()
    for t in data.get("tests", []):
        mc = t.get("metric_config") or {}
        params = mc.get("params", {}) if isinstance(mc, dict) else {}
        col = params.get("column") if isinstance(params, dict) else None
        if col is None and str(t.get("name", "")).startswith("Value Drift for column "):
            col = str(t["name"]).removeprefix("Value Drift for column ")
        if col is not None and str(t.get("status", "")).endswith("FAIL"):
            failed.add(col)
    rows = [{"column": c, "method": methods.get(c, ""), "score": scores.get(c), "drifted": c in failed} for c in cols]
    rows += [{"column": c, "method": "constant", "score": 0.0, "drifted": False} for c in constant]
    table = pd.DataFrame(rows, columns=["column", "method", "score", "drifted"])
    share = float(table["drifted"].mean()) if len(table) else 0.0
    return DriftResult(table, share, html, snapshot)
