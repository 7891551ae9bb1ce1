"""The batch evaluator: every rule over a feature table at once, vectorised with numpy.

It gives exactly the hits of :class:`rules.EventRuleEngine` for the same inputs (a property test
checks it hit for hit): the same value normalisation (``rules._fields``), the same missing-value rule
(a leaf on a missing value is false, ``!=`` included), the same effective windows and the same
explanation renderer.

>>> import pandas as pd, rules
>>> rs = rules.load_ruleset()
>>> frame = pd.DataFrame({"person_id": ["P1"], "as_of": [pd.Timestamp("2026-01-01")],
...                       "kw_retaliation_90d": [3.0]})
>>> evaluate_batch(rs, frame, strict=False)[["rule_id", "level"]].values.tolist()
[['RT003', 'orange']]
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from common.clock import BEIJING
from rules._fields import FieldSpec, canon_array, format_value, is_missing
from rules.condition import All, Condition, Leaf
from rules.errors import RuleInputError
from rules.model import Rule, RuleSet, to_timestamp

__all__ = ["evaluate_batch", "HIT_COLUMNS", "empty_hits"]

HIT_COLUMNS = ["person_id", "as_of", "rule_id", "rule_version", "category", "level", "urgent", "explanation"]

_NUMERIC_INFER = {"integer", "floating", "mixed-integer-float", "boolean", "empty"}


def empty_hits() -> pd.DataFrame:
    return pd.DataFrame({
        "person_id": pd.Series(dtype=object), "as_of": pd.Series(dtype="datetime64[ns]"),
        "rule_id": pd.Series(dtype=object), "rule_version": pd.Series(dtype="int64"),
        "category": pd.Series(dtype=object), "level": pd.Series(dtype=object),
        "urgent": pd.Series(dtype=bool), "explanation": pd.Series(dtype=object),
    })


def _column_values(spec: FieldSpec, s: pd.Series) -> np.ndarray:
    """Normalise one column: float64 with NaN for numbers/booleans, object with None for text.

    Fast paths for the common dtypes; anything unusual goes through the same checks as the event path.
    """
    if spec.kind == "str":
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        if inferred not in ("string", "empty"):
            # Same "missing" as the event path: None, NaN, NA, +-inf (a float column of NaN is no text).
            s = s.astype(object)
            s = s.where(~s.map(is_missing).astype(bool), None)
            inferred = pd.api.types.infer_dtype(s, skipna=True)
            if inferred not in ("string", "empty"):
                raise RuleInputError(f"column {spec.column!r} must hold text, found {inferred} values.")
        arr = s.to_numpy(dtype=object, na_value=None) if s.dtype != object else s.to_numpy(copy=True)
        arr[pd.isna(arr)] = None
        return arr
    dt = s.dtype
    if isinstance(dt, np.dtype) and dt.kind in "fiub":
        arr = s.to_numpy().astype(np.float64, copy=True)
    elif pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt):
        arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        if inferred not in _NUMERIC_INFER:
            raise RuleInputError(f"column {spec.column!r} must hold numbers, found {inferred} values "
                                 f"(e.g. {s.dropna().iloc[0]!r}).")
        arr = np.array([np.nan if v is None or v is pd.NA or v != v else float(v) for v in s.to_numpy(object)],
                       dtype=np.float64)
    arr[~np.isfinite(arr)] = np.nan
    arr = canon_array(arr)
    if spec.kind == "bool":
        bad = ~np.isnan(arr) & (arr != 0.0) & (arr != 1.0)
        if bad.any():
            raise RuleInputError(f"column {spec.column!r} must hold true/false, found {arr[bad][0]!r}.")
    return arr


class _Evaluator:
    def __init__(self, columns: dict[str, np.ndarray], n: int):
        self.columns = columns
        self.n = n
        self.cache: dict[tuple, np.ndarray] = {}

    def leaf(self, leaf: Leaf) -> np.ndarray:
        key = (leaf.field.name, leaf.op, leaf.value)
        if key in self.cache:
            return self.cache[key]
        arr = self.columns[leaf.field.name]
        v = leaf.value
        if leaf.field.kind == "str":
            present = np.not_equal(arr, None)  # type: ignore[call-overload]  # object arrays: None is valid
            if leaf.op == "==":
                m = present & (arr == v)
            elif leaf.op == "!=":
                m = present & (arr != v)
            else:  # in
                m = present & pd.Series(arr).isin(list(cast(tuple, v))).to_numpy()
        else:
            with np.errstate(invalid="ignore"):
                if leaf.op == "==":
                    m = arr == v
                elif leaf.op == "!=":
                    m = (arr != v) & ~np.isnan(arr)
                elif leaf.op == ">":
                    m = arr > v
                elif leaf.op == ">=":
                    m = arr >= v
                elif leaf.op == "<":
                    m = arr < v
                elif leaf.op == "<=":
                    m = arr <= v
                else:  # in
                    m = np.isin(arr, np.asarray(v, dtype=np.float64))
        m = np.asarray(m, dtype=bool)
        self.cache[key] = m
        return m

    def eval(self, cond: Condition) -> np.ndarray:
        if isinstance(cond, Leaf):
            return self.leaf(cond)
        masks = [self.eval(c) for c in cond.children]
        out = masks[0].copy()
        for m in masks[1:]:
            if isinstance(cond, All):
                out &= m
            else:
                out |= m
        return out


def _as_of_array(frame: pd.DataFrame, as_of) -> np.ndarray:
    if as_of is not None:
        return np.full(len(frame), to_timestamp(as_of).to_datetime64().astype("datetime64[ns]"))
    if "as_of" not in frame.columns:
        raise RuleInputError("the frame needs an 'as_of' column (or pass as_of=...).")
    s = frame["as_of"]
    try:
        s = pd.to_datetime(s)
    except (ValueError, TypeError) as exc:
        raise RuleInputError(f"column 'as_of' must hold dates/times: {exc}") from None
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert(BEIJING).dt.tz_localize(None)  # data-contract time (common.clock)
    if s.isna().any():
        raise RuleInputError(f"column 'as_of' has {int(s.isna().sum())} empty values; every row needs a time.")
    return s.to_numpy(dtype="datetime64[ns]")


def evaluate_batch(ruleset: RuleSet, frame: pd.DataFrame, as_of=None, *, strict: bool = True) -> pd.DataFrame:
    """Evaluate every rule in force on every row; one output row per hit (columns :data:`HIT_COLUMNS`).

    ``frame`` has ``person_id``, ``as_of`` (or pass ``as_of`` for all rows) and feature columns named
    as in the catalog, NaN meaning no value; optional incident columns are named ``event.<field>``.
    A rule that needs an event field never fires on a row without it. With ``strict`` (default) a
    feature column the rule set needs but the frame lacks is an error (a typo must not silence a
    rule); with ``strict=False`` it counts as all-missing. Hits are ordered by input row, then by the
    rule's position in the file.
    """
    if not isinstance(frame, pd.DataFrame):
        raise RuleInputError(f"frame must be a pandas DataFrame, got {type(frame).__name__}.")
    if "person_id" not in frame.columns:
        raise RuleInputError("the frame needs a 'person_id' column.")
    n = len(frame)
    as_of_arr = _as_of_array(frame, as_of)
    specs = ruleset.specs
    missing_features = sorted(f for f in ruleset.features_used if f not in frame.columns)
    if strict and missing_features:
        raise RuleInputError(f"the frame lacks feature columns the rule set uses: {missing_features}; "
                             f"compute them (features.store) or pass strict=False to treat them as missing.")
    columns: dict[str, np.ndarray] = {}
    for name, spec in specs.items():
        if name in frame.columns:
            columns[name] = _column_values(spec, frame[name])
        elif spec.kind == "str":
            columns[name] = np.full(n, None, dtype=object)
        else:
            columns[name] = np.full(n, np.nan)
    ev = _Evaluator(columns, n)

    pieces: list[tuple[int, np.ndarray, Rule]] = []
    for order, rule in enumerate(ruleset.rules):
        window = as_of_arr >= np.datetime64(pd.Timestamp(rule.effective_from).to_datetime64(), "ns")
        if rule.effective_until is not None:
            window &= as_of_arr < np.datetime64(pd.Timestamp(rule.effective_until).to_datetime64(), "ns")
        if not window.any():
            continue
        mask = ev.eval(rule.condition) & window
        idx = np.flatnonzero(mask)
        if len(idx):
            pieces.append((order, idx, rule))
    if not pieces:
        return empty_hits()

    rows = np.concatenate([idx for _, idx, _ in pieces])
    orders = np.concatenate([np.full(len(idx), o) for o, idx, _ in pieces])
    expl = np.concatenate([_explanations(rule, idx, columns) for _, idx, rule in pieces])
    by_order = {o: r for o, _, r in pieces}
    n_rules = len(ruleset.rules)

    def attr(name, dtype):
        table = np.empty(n_rules, dtype=dtype)
        for o, r in by_order.items():
            table[o] = getattr(r, name)
        return table[orders]

    sort = np.lexsort((orders, rows))
    rows, orders, expl = rows[sort], orders[sort], expl[sort]
    out = pd.DataFrame({
        "person_id": frame["person_id"].to_numpy()[rows],
        "as_of": as_of_arr[rows],
        "rule_id": attr("id", object),
        "rule_version": attr("version", np.int64),
        "category": attr("category", object),
        "level": attr("level", object),
        "urgent": attr("urgent", bool),
        "explanation": expl,
    })
    return out


def _explanations(rule, idx: np.ndarray, columns: dict[str, np.ndarray]) -> np.ndarray:
    """Render the rule's template for the hit rows, formatting each distinct value once."""
    t = rule.template
    out = np.full(len(idx), t.parts[0], dtype=object)
    for i, var in enumerate(t.variables):
        spec = rule.specs[var]
        vals = columns[var][idx]
        codes, uniq = pd.factorize(vals, use_na_sentinel=False)  # format each distinct value once
        texts = np.array([format_value(spec, u) for u in uniq], dtype=object)
        out = out + texts[codes] + t.parts[2 * i + 2]
    return out
