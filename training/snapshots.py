"""Point-in-time training snapshots: who is scored at each date, and what happened next.

A snapshot at ``as_of`` holds one row per person in the population (anyone with a record in the
``lookback_days`` before ``as_of``), the catalog features as of ``as_of`` (the store guarantees no
look-ahead) and the label: did an escalation outcome happen in ``(as_of, as_of + horizon]``?

People with an earlier outcome are handled explicitly:

* an outcome **more than** ``exclude_recent_outcome_days`` (default 30) before ``as_of`` keeps the
  person in the snapshot; the history is visible to the model through the ``prior_outcomes`` and
  ``days_since_prior_outcome`` features;
* an outcome recorded **within** the last 30 days removes the person from that snapshot. They are
  already in the hands of the case officers (an arrest, an open case, a crisis response): an alert
  would not be prevention, and their near-term "re-outcomes" are mostly the same event recorded
  again, which would inflate every metric. Serving applies the same rule (``days_since_prior_outcome
  < 30`` -> handled by the case process, not by a prevention alert). Only outcomes *recorded* before
  ``as_of`` count, exactly as serving would see them.

Labels use the outcome's event time; snapshots whose label window runs past the end of the data are
never built, so no label is cut short.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.config import TrainConfig
from training.errors import TrainingDataError

__all__ = ["snapshot_dates", "label_snapshots", "recent_outcome_mask", "Split", "time_split", "fraction_split",
           "repeat_gap_days", "hash_fraction"]


def snapshot_dates(start, end, cfg: TrainConfig) -> list[pd.Timestamp]:
    """Monthly (``frequency_days``) snapshot dates whose label window fits inside ``[start, end]``.

    >>> from training.config import load_config
    >>> d = snapshot_dates("2024-01-01", "2025-12-31", load_config(None))
    >>> str(d[0].date()), str(d[-1].date()), len(d)
    ('2024-07-09', '2025-10-02', 16)
    """
    s = cfg.snapshots
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    first = pd.Timestamp(s.first) if s.first else start + pd.Timedelta(days=s.warmup_days)
    last_allowed = end - pd.Timedelta(days=s.horizon_days)
    last = min(pd.Timestamp(s.last), last_allowed) if s.last else last_allowed
    if first > last:
        raise TrainingDataError(
            f"数据时间跨度不足 / the data window {start.date()}..{end.date()} is too short: the first snapshot "
            f"({first.date()}, after {s.warmup_days} warm-up days) is after the last one whose {s.horizon_days}-day "
            f"label window fits ({last.date()}). Use more days of data or lower snapshots.warmup_days."
        )
    # Anchor on the last date so the test period always ends as late as the labels allow.
    n = int((last - first).days // s.frequency_days)
    return [last - pd.Timedelta(days=s.frequency_days * i) for i in range(n, -1, -1)]


def label_snapshots(frame: pd.DataFrame, outcomes: pd.DataFrame, horizon_days: int,
                    id_col: str = "person_id", time_col: str = "as_of") -> pd.Series:
    """1 if the person has an outcome with ``as_of < time <= as_of + horizon``, else 0 (aligned to frame)."""
    if outcomes is None or outcomes.empty:
        return pd.Series(np.zeros(len(frame), dtype=np.int8), index=frame.index, name="label")
    oc = outcomes[["person_id", "time"]].rename(columns={"person_id": id_col})
    keys = frame[[id_col, time_col]].drop_duplicates()
    m = keys.merge(oc, on=id_col, how="inner")
    hit = (m["time"] > m[time_col]) & (m["time"] <= m[time_col] + pd.Timedelta(days=horizon_days))
    pos = m.loc[hit, [id_col, time_col]].drop_duplicates()
    pos["label"] = 1
    out = frame[[id_col, time_col]].merge(pos, on=[id_col, time_col], how="left")["label"].fillna(0)
    return pd.Series(out.to_numpy(dtype=np.int8), index=frame.index, name="label")


def recent_outcome_mask(frame: pd.DataFrame, outcomes: pd.DataFrame, days: int,
                        id_col: str = "person_id", time_col: str = "as_of") -> pd.Series:
    """True where the person had an outcome *recorded before as_of* in the ``days`` before as_of."""
    if days <= 0 or outcomes is None or outcomes.empty:
        return pd.Series(False, index=frame.index)
    oc = outcomes[["person_id", "time", "recorded_at"]].rename(columns={"person_id": id_col})
    keys = frame[[id_col, time_col]].drop_duplicates()
    m = keys.merge(oc, on=id_col, how="inner")
    hit = ((m["recorded_at"] < m[time_col]) & (m["time"] < m[time_col])
           & (m["time"] >= m[time_col] - pd.Timedelta(days=days)))
    rec = m.loc[hit, [id_col, time_col]].drop_duplicates()
    rec["_recent"] = True
    out = frame[[id_col, time_col]].merge(rec, on=[id_col, time_col], how="left")["_recent"]
    return pd.Series(out.notna().to_numpy(), index=frame.index)


@dataclass(frozen=True)
class Split:
    """Snapshot dates of each period. ``gap_days`` separates periods so label windows never overlap."""

    train: tuple[pd.Timestamp, ...]
    validation: tuple[pd.Timestamp, ...]
    test: tuple[pd.Timestamp, ...]
    gap_days: int

    def period_of(self, dates: pd.Series) -> pd.Series:
        out = pd.Series("unused", index=dates.index, dtype=object)
        for name in ("train", "validation", "test"):
            out[dates.isin(list(getattr(self, name)))] = name
        return out

    def describe(self) -> dict:
        def span(d):
            return f"{d[0].date()}..{d[-1].date()} ({len(d)})" if d else "-"
        return {"train": span(self.train), "validation": span(self.validation), "test": span(self.test),
                "gap_days": self.gap_days}


def time_split(dates: Iterable, test_n: int, validation_n: int, gap_days: int) -> Split:
    """Last ``test_n`` dates are test; the ``validation_n`` before them, at least ``gap_days`` earlier,
    are validation; everything at least ``gap_days`` before validation is train.

    >>> ds = pd.date_range("2024-01-01", periods=16, freq="30D")
    >>> s = time_split(ds, 3, 3, 90)
    >>> len(s.train), len(s.validation), len(s.test)
    (6, 3, 3)
    """
    dates = sorted(pd.Timestamp(d) for d in set(pd.to_datetime(list(dates))))
    gap = pd.Timedelta(days=gap_days)
    if len(dates) < test_n + validation_n + 1:
        raise TrainingDataError(
            f"快照数量不足 / only {len(dates)} snapshot dates; need at least {test_n + validation_n + 1} "
            f"(test {test_n} + validation {validation_n} + train >= 1) plus gaps of {gap_days} days. "
            f"Use a longer data window or lower split.test_snapshots / split.validation_snapshots; for daily or "
            f"irregular times set split.test_fraction instead.")
    test = dates[-test_n:]
    val_pool = [d for d in dates if d <= test[0] - gap]
    validation = val_pool[-validation_n:]
    train = [d for d in dates if validation and d <= validation[0] - gap]
    if len(validation) < validation_n or not train:
        raise TrainingDataError(
            f"时间切分失败 / cannot split {len(dates)} snapshots ({dates[0].date()}..{dates[-1].date()}) into "
            f"train / validation ({validation_n}) / test ({test_n}) with {gap_days}-day gaps: "
            f"got train={len(train)}, validation={len(validation)}. Use more data, lower split.test_snapshots / "
            f"split.validation_snapshots, or a higher snapshot frequency; for daily or irregular times set "
            f"split.test_fraction (the gap is then needed only where a person's rows repeat within the horizon).")
    return Split(tuple(train), tuple(validation), tuple(test), gap_days)


def hash_fraction(ids: pd.Series, salt: int = 0) -> np.ndarray:
    """A stable pseudo-random number in [0, 1) per id (same id -> same number in every run)."""
    vals = ids.astype(str).to_numpy()
    return np.fromiter((zlib.crc32(f"{salt}:{v}".encode()) / 2**32 for v in vals), dtype=float, count=len(vals))


def repeat_gap_days(frame: pd.DataFrame, horizon_days: int, id_col: str = "person_id",
                    time_col: str = "as_of") -> int:
    """The gap the periods need: the horizon if some person has two rows within it, else 0.

    Label windows of one person's rows overlap only when the rows are at most ``horizon_days`` apart;
    when every person appears once (or their rows are further apart) no period can see another's labels.
    """
    t = pd.to_datetime(frame[time_col])
    d = pd.DataFrame({"i": frame[id_col].to_numpy(), "t": t.to_numpy()}).sort_values(["i", "t"])
    diff = d.groupby("i")["t"].diff().dropna()
    return int(horizon_days) if (diff <= pd.Timedelta(days=horizon_days)).any() else 0


def _take_latest(counts: pd.Series, share: float) -> list[pd.Timestamp]:
    """The latest time values whose rows first reach ``share`` of ``counts.sum()`` (at least one value)."""
    target = share * float(counts.sum())
    taken, total = [], 0
    for t in counts.index[::-1]:
        taken.append(t)
        total += int(counts[t])
        if total >= target:
            break
    return sorted(taken)


def fraction_split(times: pd.Series, test_fraction: float, validation_fraction: float | None,
                   gap_days: int) -> Split:
    """Latest ~``test_fraction`` of the rows (whole time values) test, the ~``validation_fraction`` before
    them (at least ``gap_days`` earlier) validation, the rest (``gap_days`` before validation) train.

    >>> t = pd.Series(pd.date_range("2024-01-01", periods=100, freq="D"))
    >>> s = fraction_split(t, 0.3, 0.2, 0)
    >>> len(s.train), len(s.validation), len(s.test)
    (50, 20, 30)
    """
    vf = test_fraction if validation_fraction is None else validation_fraction
    t = pd.to_datetime(times)
    counts = t.value_counts().sort_index()
    gap = pd.Timedelta(days=gap_days)
    if len(counts) < 3:
        raise TrainingDataError(
            f"时间值不足 / only {len(counts)} distinct time value(s); a time split needs at least 3 (train, "
            f"validation, test). Add data from more dates.")
    test = _take_latest(counts, test_fraction)
    before = counts[(counts.index <= test[0] - gap) & (counts.index < test[0])]
    validation = _take_latest(before, vf * float(counts.sum()) / max(float(before.sum()), 1.0)) if len(before) else []
    train = (list(counts.index[(counts.index <= validation[0] - gap) & (counts.index < validation[0])])
             if validation else [])
    if not validation or not train:
        raise TrainingDataError(
            f"时间切分失败 / cannot split {len(counts)} time values ({counts.index[0].date()}.."
            f"{counts.index[-1].date()}) into train / validation (~{vf:.0%}) / test (~{test_fraction:.0%}) with "
            f"{gap_days}-day gaps: got train={len(train)}, validation={len(validation)}. Lower split.test_fraction "
            f"or split.validation_fraction, or (if each person's rows are far apart) lower split.gap_days, or use a "
            f"longer data window.")
    return Split(tuple(train), tuple(validation), tuple(test), gap_days)
