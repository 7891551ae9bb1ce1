"""Bring your own data: train from one table and a YAML spec, with the same evaluation, card and registry.

The table (Parquet or CSV) has one row per (id, snapshot time) with features and a 0/1 label that
the data owner computed (outcome within the horizon after the snapshot). The spec names the columns::

    id: person_id
    time: as_of
    label: escalated_90d
    features: [calls_30d, threat_90d, failed_mediations_90d]
    audit_groups: [sex, age_band, county]
    never_features: [name_hash]
    protected: [sex, race]                    # protected columns (audit only); sex, ethnicity/race, religion
                                              # and political affiliation are always protected by name
    age_policy: audit_only                    # audit_only (default) | not_used; recorded in the model card
    horizon_days: 90
    capacity: {alerts_per_snapshot: 200}      # or {top_fraction: 0.01}
    baseline: rules_score                     # optional: a column with an existing score to beat

Protected attributes (``features.catalog.PROTECTED_ATTRIBUTES`` and ``training.guard.ALWAYS_PROTECTED``),
declared ``protected`` columns, audit-group columns and ``never_features`` can never be features: the
spec is refused if it asks for one by name, and the table is refused if a feature equals or nearly
predicts a protected column by content (``training.guard.check_proxies``). See docs/byod.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training.config import TrainConfig, load_config
from training.dataset import BASELINE_COL, Progress, TrainingSet
from training.errors import ProtectedFeatureError, TrainingConfigError, TrainingDataError
from training.guard import AGE_NAMES, AGE_POLICIES, ALWAYS_PROTECTED, check_feature_names, check_proxies

__all__ = ["TableSpec", "load_spec", "protected_columns", "table_training_set", "train_from_table"]


@dataclass(frozen=True)
class TableSpec:
    id: str
    time: str
    label: str
    features: tuple[str, ...]
    audit_groups: tuple[str, ...] = ()
    never_features: tuple[str, ...] = ()
    horizon_days: int = 90
    capacity: dict = field(default_factory=lambda: {"top_fraction": 0.01})
    baseline: str | None = None
    description: str = ""
    protected: tuple[str, ...] = ()
    age_policy: str = "audit_only"
    population: str = ""
    label_definition: str = ""


_KEYS = {f for f in TableSpec.__dataclass_fields__}


def load_spec(spec: str | Path | dict) -> TableSpec:
    import yaml

    if isinstance(spec, (str, Path)):
        p = Path(spec)
        if not p.exists():
            raise TrainingConfigError(f"规格文件不存在 / spec file not found: {p}. See docs/byod.md for an example.")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise TrainingConfigError(f"{p}: 不是有效的 YAML / not valid YAML: {exc}") from None
        source = str(p)
    else:
        raw, source = spec, "spec"
    if not isinstance(raw, dict):
        raise TrainingConfigError(f"{source}: the spec must be a YAML mapping; see docs/byod.md.")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise TrainingConfigError(f"{source}: 未知规格项 / unknown key(s) {unknown}; allowed keys: {sorted(_KEYS)}.")
    missing = [k for k in ("id", "time", "label", "features") if not raw.get(k)]
    if missing:
        raise TrainingConfigError(f"{source}: 缺少必填项 / missing required key(s) {missing}; see docs/byod.md.")
    feats = raw["features"]
    if isinstance(feats, str) or not all(isinstance(x, str) for x in feats):
        raise TrainingConfigError(f"{source}: features must be a list of column names, got {feats!r}.")
    cap = raw.get("capacity") or {"top_fraction": 0.01}
    if not (isinstance(cap, dict) and len(cap) == 1 and set(cap) <= {"alerts_per_snapshot", "top_fraction"}):
        raise TrainingConfigError(f"{source}: capacity={cap!r}; give exactly one of "
                                  f"{{alerts_per_snapshot: N}} or {{top_fraction: 0.01}}.")
    age_policy = str(raw.get("age_policy", "audit_only"))
    if age_policy not in AGE_POLICIES:
        raise TrainingConfigError(f"{source}: age_policy={age_policy!r}; allowed: {list(AGE_POLICIES)}. Age is never a "
                                  f"model feature; audit_only audits it, not_used leaves it out of the audit too.")
    protected = raw.get("protected") or ()
    if isinstance(protected, str) or not all(isinstance(x, str) for x in protected):
        raise TrainingConfigError(f"{source}: protected must be a list of column names, got {protected!r}.")
    spec_obj = TableSpec(
        id=str(raw["id"]), time=str(raw["time"]), label=str(raw["label"]), features=tuple(feats),
        audit_groups=tuple(raw.get("audit_groups") or ()), never_features=tuple(raw.get("never_features") or ()),
        horizon_days=int(raw.get("horizon_days", 90)), capacity=dict(cap), baseline=raw.get("baseline"),
        description=str(raw.get("description", "")), protected=tuple(protected), age_policy=age_policy,
        population=str(raw.get("population", "")), label_definition=str(raw.get("label_definition", "")),
    )
    clash = sorted(set(spec_obj.features) & (set(spec_obj.audit_groups) | {spec_obj.id, spec_obj.time, spec_obj.label}))
    if clash:
        raise ProtectedFeatureError(
            f"{source}: column(s) {clash} are listed as features and as id/time/label/audit group; an audit group is "
            f"never a feature. Remove them from features.")
    check_feature_names(spec_obj.features, (*spec_obj.never_features, *spec_obj.protected))
    return spec_obj


def protected_columns(sp: TableSpec, columns) -> list[str]:
    """Declared protected columns plus any table column named like an always-protected or age attribute."""
    by_name = ALWAYS_PROTECTED | AGE_NAMES
    found = [c for c in columns if str(c).lower() in by_name
             or any(str(c).lower().startswith(p + "_") for p in by_name)]
    return list(dict.fromkeys([*sp.protected, *(c for c in found if c not in sp.features)]))


def _is_age(name: str) -> bool:
    n = name.lower()
    return n in AGE_NAMES or any(n.startswith(p + "_") for p in AGE_NAMES)


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise TrainingDataError(f"数据表不存在 / table not found: {path}.")
    try:
        return pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except Exception as exc:
        raise TrainingDataError(f"{path}: 无法读取 / cannot be read ({type(exc).__name__}: {str(exc)[:200]}). "
                                f"Give a Parquet or CSV file.") from None


def _audit_values(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) and s.nunique() > 12:
        return pd.qcut(s.rank(method="first"), 5, labels=False).map(lambda b: f"q{int(b) + 1}").astype("string")
    return s.astype("string").fillna("未知 unknown")


def table_training_set(table: str | Path | pd.DataFrame, spec: str | Path | dict | TableSpec,
                       cfg: TrainConfig) -> TrainingSet:
    sp = spec if isinstance(spec, TableSpec) else load_spec(spec)
    path = None
    if isinstance(table, pd.DataFrame):
        df = table.copy()
    else:
        path = Path(table)
        df = _read(path)
    cols = [sp.id, sp.time, sp.label, *sp.features, *sp.audit_groups, *sp.protected,
            *([sp.baseline] if sp.baseline else [])]
    missing = [c for c in dict.fromkeys(cols) if c not in df.columns]
    if missing:
        raise TrainingDataError(f"表中缺少规格列 / the table lacks column(s) {missing} named in the spec; "
                                f"the table has {list(df.columns)[:30]}.")
    out = pd.DataFrame({"person_id": df[sp.id].astype(str)})
    out["as_of"] = pd.to_datetime(df[sp.time], errors="coerce")
    if out["as_of"].isna().any():
        bad = df.loc[out["as_of"].isna(), sp.time].head(3).tolist()
        raise TrainingDataError(f"时间列无法解析 / column {sp.time!r} has unparseable times, e.g. {bad}.")
    y = pd.to_numeric(df[sp.label], errors="coerce")
    if y.isna().any() or not set(y.unique()) <= {0, 1}:
        raise TrainingDataError(f"标签须为 0/1 / label column {sp.label!r} must hold 0 or 1; found values "
                                f"{sorted(map(str, pd.Series(df[sp.label]).drop_duplicates().head(5)))}.")
    out["label"] = y.astype(np.int8)
    for f in sp.features:
        col = df[f]
        if pd.api.types.is_bool_dtype(col):
            col = col.astype(float)
        num = pd.to_numeric(col, errors="coerce")
        if (num.isna() & col.notna()).any():
            raise TrainingDataError(f"特征须为数值 / feature {f!r} has non-numeric values (e.g. "
                                    f"{col[num.isna() & col.notna()].head(3).tolist()}); encode it or drop it.")
        out[f] = num.astype(float)
    prot = protected_columns(sp, df.columns)
    proxies = check_proxies(df, sp.features, [*prot, *sp.audit_groups])
    audit = [g for g in dict.fromkeys([*sp.audit_groups, *prot])
             if not (sp.age_policy == "not_used" and _is_age(g))]
    for g in audit:
        out[g] = _audit_values(df[g]).to_numpy()
    if sp.baseline:
        out[BASELINE_COL] = pd.to_numeric(df[sp.baseline], errors="coerce")
    dups = out.duplicated(["person_id", "as_of"])
    if dups.any():
        raise TrainingDataError(f"主键重复 / {int(dups.sum())} duplicate ({sp.id}, {sp.time}) rows; one row per id and "
                                f"snapshot is required.")
    per = out.groupby("as_of").size()
    if "alerts_per_snapshot" in sp.capacity:
        k = int(sp.capacity["alerts_per_snapshot"])
    else:
        k = max(1, int(round(float(sp.capacity["top_fraction"]) * float(per.median()))))
    source = {"kind": "table", "path": str(path.resolve()) if path else "<frame>",
              "data_start": str(out["as_of"].min().date()), "data_end": str(out["as_of"].max().date()),
              "catalog_version": "byod", "ruleset_version": None, "capacity": sp.capacity,
              "capacity_per_grid_per_week": f"{sp.capacity} (BYOD)", "description": sp.description,
              "population": sp.population, "label_definition": sp.label_definition, "label_column": sp.label,
              "horizon_days": sp.horizon_days, "protected_columns": prot, "age_policy": sp.age_policy,
              "proxy_check": {f: {p: {k: v for k, v in m.items()} for p, m in d.items()} for f, d in proxies.items()},
              "limits": ["Trained from a user table: labels, exclusions and point-in-time correctness are the data "
                         "owner's responsibility (see docs/byod.md)."]}
    never = tuple(dict.fromkeys((*sp.never_features, *sp.audit_groups, *prot)))
    return TrainingSet(out, list(sp.features), k, audit_columns=audit,
                       never_features=never, source=source)


def train_from_table(table_path: str | Path | pd.DataFrame, spec_path: str | Path | dict, *,
                     config: str | Path | TrainConfig | None = None, tracking_uri: str | None = None,
                     progress: Progress | None = None, register: bool = True, out_dir: str | Path | None = None):
    """Train, evaluate, write the card and register from a BYOD table (see module docstring)."""
    from training.pipeline import train_on_set

    sp = load_spec(spec_path)
    if isinstance(config, TrainConfig):
        cfg = config
    else:
        cfg = load_config(config, overrides={"snapshots": {"horizon_days": sp.horizon_days}})
    ts = table_training_set(table_path, sp, cfg)
    return train_on_set(ts, cfg, tracking_uri=tracking_uri, progress=progress, register=register, out_dir=out_dir)
