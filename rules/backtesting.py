"""Backtest a rule set: replay it on monthly snapshots and score it against later outcomes.

For each snapshot ``s`` (``start``, ``start`` + 1 month, ... up to ``end``) whose outcome horizon
``[s, s + horizon_days)`` fits inside the data, the features as of ``s`` are evaluated with
:func:`rules.evaluate_batch`; a person-snapshot is *positive* when the person has an outcome
(violent case, extreme incident, self-harm) in the horizon. Reported per rule and overall: hits,
people flagged, precision and recall, lift over the base rate; the Jaccard overlap of rules' flagged
person-snapshots; and the alert load per grid per week (one alert = one flagged person at one
snapshot; a snapshot's alerts spread over the month until the next snapshot; person -> residence
address -> grid).

The store only needs ``features(as_of_list)`` and ``table(name)`` for ``outcomes``, ``persons``,
``addresses`` and ``grids`` (``features.store.EventStore`` has them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from common.levels import level_rank
from rules.batch import evaluate_batch
from rules.errors import BacktestError
from rules.model import RuleSet, to_timestamp

__all__ = ["backtest", "BacktestResult", "monthly_snapshots"]


def monthly_snapshots(start, end) -> list[pd.Timestamp]:
    """``start``, ``start`` + 1 month, ... while <= ``end``."""
    s, e = to_timestamp(start).normalize(), to_timestamp(end).normalize()
    if e < s:
        raise BacktestError(f"--to {e.date()} is before --from {s.date()}; give a window with from <= to.")
    out, k = [], 0
    while (t := s + pd.DateOffset(months=k)) <= e:
        out.append(pd.Timestamp(t))
        k += 1
    return out


def _data_end(store, data_end) -> pd.Timestamp:
    """Where the data ends: explicit, else the store's ``data_end``, else world.json's end date, else
    the latest incident or outcome time."""
    if data_end is not None:
        return to_timestamp(data_end)
    for attr in ("data_end", "end"):
        v = getattr(store, attr, None)
        if v is not None and not callable(v):
            return to_timestamp(v)
    data_dir = getattr(store, "data_dir", None)
    if data_dir is not None and (Path(data_dir) / "world.json").is_file():
        import json

        meta = json.loads((Path(data_dir) / "world.json").read_text(encoding="utf-8"))
        if meta.get("end_date"):  # the last simulated day, inclusive
            return to_timestamp(meta["end_date"]) + pd.Timedelta(days=1)
    ends = []
    for table, col in (("incidents", "event_time"), ("outcomes", "time")):
        try:
            t = store.table(table)
        except Exception:  # a store without that table (e.g. a test double)
            continue
        if col in t and len(t):
            ends.append(pd.to_datetime(t[col]).max())
    if not ends:
        raise BacktestError("cannot tell where the data ends; pass data_end=...")
    return to_timestamp(max(ends))


@dataclass
class BacktestResult:
    ruleset_name: str
    ruleset_version: str
    start: pd.Timestamp
    end: pd.Timestamp
    horizon_days: int
    data_end: pd.Timestamp
    snapshots: list[pd.Timestamp]
    skipped_snapshots: list[pd.Timestamp]
    n_person_snapshots: int
    n_positive: int
    per_rule: pd.DataFrame          # one row per rule id
    overall: pd.DataFrame           # any rule; red; red+orange
    per_snapshot: pd.DataFrame
    overlap: pd.DataFrame           # rule x rule Jaccard of flagged person-snapshots
    grid_load: pd.DataFrame         # grid_id, alerts, alerts_per_week (all grids, busiest first)
    grid_load_summary: dict = field(default_factory=dict)
    latest: bool = False            # True: newest rule versions replayed over the whole window

    @property
    def base_rate(self) -> float:
        return self.n_positive / self.n_person_snapshots if self.n_person_snapshots else float("nan")

    # Rendering lives in rules.report; these are conveniences.
    def to_markdown(self) -> str:
        from rules.report import to_markdown

        return to_markdown(self)

    def to_html(self) -> str:
        from rules.report import to_html

        return to_html(self)

    def print(self, console=None) -> None:
        from rules.report import print_rich

        print_rich(self, console)

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write Markdown and HTML reports (and the per-rule CSV); returns the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"rules_backtest_{self.ruleset_version}_{self.start:%Y%m%d}_{self.end:%Y%m%d}"
        paths = [out / f"{stem}.md", out / f"{stem}.html", out / f"{stem}_per_rule.csv"]
        paths[0].write_text(self.to_markdown(), encoding="utf-8")
        paths[1].write_text(self.to_html(), encoding="utf-8")
        self.per_rule.to_csv(paths[2], index=False, encoding="utf-8")
        return paths


def _metrics(flag: np.ndarray, label: np.ndarray, persons: np.ndarray, n_pos: int, base: float) -> dict:
    hits = int(flag.sum())
    tp = int((flag & label).sum())
    prec = tp / hits if hits else float("nan")
    return {
        "hits": hits,
        "people": int(pd.unique(persons[flag]).size),
        "true_positives": tp,
        "precision": prec,
        "recall": tp / n_pos if n_pos else float("nan"),
        "lift": prec / base if hits and base > 0 else float("nan"),
    }


def backtest(store, ruleset: RuleSet, start, end, horizon_days: int = 90, *, data_end=None,
             latest: bool = False) -> BacktestResult:
    """Replay ``ruleset`` on monthly snapshots from ``start`` to ``end`` (see module docstring).

    By default each snapshot uses the rule versions in force on that day (what would have fired);
    ``latest=True`` replays the newest version of every rule over the whole window (how today's
    rules would have done, e.g. for a rule whose effective_from is after the history).

    Snapshots whose horizon does not fit inside the data (``s + horizon_days > data_end``) are
    skipped and listed in the result; if none is left a :class:`BacktestError` says which window works.
    """
    if horizon_days < 1:
        raise BacktestError(f"horizon_days must be >= 1, got {horizon_days}.")
    start_ts, end_ts = to_timestamp(start), to_timestamp(end)
    all_snaps = monthly_snapshots(start_ts, end_ts)
    d_end = _data_end(store, data_end)
    horizon = pd.Timedelta(days=horizon_days)
    snaps = [s for s in all_snaps if s + horizon <= d_end]
    skipped = [s for s in all_snaps if s + horizon > d_end]
    if not snaps:
        raise BacktestError(
            f"no snapshot between {start_ts.date()} and {end_ts.date()} has its {horizon_days}-day outcome "
            f"horizon inside the data (data ends {d_end.date()}); choose --to {(d_end - horizon).date()} or earlier.")

    if latest:
        ruleset = ruleset.latest()
    frame = store.features(snaps)
    frame = frame.reset_index(drop=True)
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    # Evaluate with the row number as the person id, so each hit points at its frame row.
    hits = evaluate_batch(ruleset, frame.assign(person_id=np.arange(len(frame))))
    hits = hits.rename(columns={"person_id": "_row"})

    # Labels: any outcome in [as_of, as_of + horizon).
    outcomes = store.table("outcomes")[["person_id", "time"]].copy()
    outcomes["time"] = pd.to_datetime(outcomes["time"])
    key = frame[["person_id", "as_of"]]
    pos_pairs = []
    for s in snaps:
        o = outcomes[(outcomes["time"] >= s) & (outcomes["time"] < s + horizon)]
        pos_pairs.append(pd.DataFrame({"person_id": o["person_id"].unique(), "as_of": s}))
    pos = pd.concat(pos_pairs, ignore_index=True) if pos_pairs else pd.DataFrame(columns=["person_id", "as_of"])
    pos["as_of"] = pd.to_datetime(pos["as_of"])
    label = key.merge(pos.assign(_y=1), on=["person_id", "as_of"], how="left")["_y"].notna().to_numpy(bool)
    n = len(frame)
    n_pos = int(label.sum())
    base = n_pos / n if n else float("nan")
    persons = frame["person_id"].to_numpy()

    hits["_row"] = hits["_row"].astype(np.int64)
    rule_flags: dict[str, np.ndarray] = {}
    rows = []
    for rid in ruleset.rule_ids:
        flag = np.zeros(n, dtype=bool)
        flag[hits.loc[hits["rule_id"] == rid, "_row"].to_numpy(dtype=np.int64)] = True
        rule_flags[rid] = flag
        newest = ruleset.get(rid)
        rows.append({"rule_id": rid, "title": newest.title, "category": newest.category, "level": newest.level,
                     "urgent": newest.urgent, "needs_event": newest.needs_event,
                     **_metrics(flag, label, persons, n_pos, base)})
    per_rule = pd.DataFrame(rows)

    max_rank = np.zeros(n, dtype=np.int64)
    if len(hits):
        r = hits.assign(_rank=hits["level"].map(level_rank)).groupby("_row")["_rank"].max()
        max_rank[r.index.to_numpy(dtype=np.int64)] = r.to_numpy(dtype=np.int64)
    overall = pd.DataFrame([
        {"scope": "任一规则 any rule", **_metrics(max_rank >= 1, label, persons, n_pos, base)},
        {"scope": "红+橙 red or orange", **_metrics(max_rank >= 2, label, persons, n_pos, base)},
        {"scope": "红 red", **_metrics(max_rank >= 3, label, persons, n_pos, base)},
    ])

    snap_idx = frame["as_of"].to_numpy()
    per_snapshot = pd.DataFrame([
        {"snapshot": s, "population": int(m.sum()), "positives": int((label & m).sum()),
         "flagged": int(((max_rank >= 1) & m).sum()), "true_positives": int(((max_rank >= 1) & label & m).sum())}
        for s in snaps for m in [snap_idx == np.datetime64(s)]
    ])

    ids = ruleset.rule_ids
    ov = np.full((len(ids), len(ids)), np.nan)
    for i, a in enumerate(ids):
        for j, b in enumerate(ids):
            union = int((rule_flags[a] | rule_flags[b]).sum())
            ov[i, j] = (rule_flags[a] & rule_flags[b]).sum() / union if union else np.nan
    overlap = pd.DataFrame(ov, index=ids, columns=ids)

    grid_load, summary = _grid_load(store, frame, max_rank >= 1, snaps)
    return BacktestResult(
        ruleset_name=ruleset.name, ruleset_version=ruleset.version, start=start_ts, end=end_ts,
        horizon_days=horizon_days, data_end=d_end, snapshots=snaps, skipped_snapshots=skipped,
        n_person_snapshots=n, n_positive=n_pos, per_rule=per_rule, overall=overall, per_snapshot=per_snapshot,
        overlap=overlap, grid_load=grid_load, grid_load_summary=summary, latest=latest,
    )


def _grid_load(store, frame: pd.DataFrame, flagged: np.ndarray, snaps: list[pd.Timestamp]):
    persons = store.table("persons")[["person_id", "residence_address_code"]]
    addresses = store.table("addresses")[["address_code", "grid_id"]]
    grids = store.table("grids")[["grid_id"]].drop_duplicates()
    alerts = frame.loc[flagged, ["person_id", "as_of"]]
    alerts = alerts.merge(persons, on="person_id", how="left").merge(
        addresses, left_on="residence_address_code", right_on="address_code", how="left")
    weeks = ((snaps[-1] + pd.DateOffset(months=1)) - snaps[0]).days / 7.0
    counts = alerts.groupby("grid_id").size()
    load = grids.assign(alerts=grids["grid_id"].map(counts).fillna(0).astype(np.int64))
    unknown = int(alerts["grid_id"].isna().sum())
    load["alerts_per_week"] = load["alerts"] / weeks
    load = load.sort_values(["alerts_per_week", "grid_id"], ascending=[False, True]).reset_index(drop=True)
    apw = load["alerts_per_week"].to_numpy()
    summary = {
        "weeks": weeks,
        "grids": int(len(load)),
        "grids_with_alerts": int((load["alerts"] > 0).sum()),
        "alerts_without_grid": unknown,
        "mean_per_week": float(apw.mean()) if len(apw) else float("nan"),
        "median_per_week": float(np.median(apw)) if len(apw) else float("nan"),
        "p95_per_week": float(np.quantile(apw, 0.95)) if len(apw) else float("nan"),
        "max_per_week": float(apw.max()) if len(apw) else float("nan"),
    }
    return load, summary


