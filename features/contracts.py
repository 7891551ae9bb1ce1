"""Data contracts for every input table, and validation at the boundary.

Each table is declared once as a :class:`TableContract` (columns, kinds, allowed values, keys).
:func:`validate` normalises what can be normalised safely (whitespace, case, known synonyms such as
``"邻里纠纷"`` for ``neighbour``), then splits the frame into valid rows and a quarantine frame in which
every rejected row has a reason naming the file, the row and the field. One bad row never sinks a
batch; only a file that is unusable as a whole (wrong columns, unreadable) raises
:class:`~features.errors.ContractError`, with one clear message.

>>> from features.contracts import TABLES, validate
>>> import pandas as pd
>>> df = pd.DataFrame({"person_id": ["P1", None], "birth_year": [1980, 1990], "sex": ["M", "F"],
...     "hukou_address_code": ["510107001001-0001"] * 2, "residence_address_code": ["510107001001-0001"] * 2,
...     "residence_since": pd.to_datetime(["2020-01-01"] * 2)})
>>> res = validate(df, TABLES["persons"], source="persons.parquet")
>>> len(res.valid), res.quarantine.iloc[0]["field"]
(1, 'person_id')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from common.clock import BEIJING
from features.errors import ContractError

__all__ = [
    "Column",
    "TableContract",
    "ValidationResult",
    "TABLES",
    "INCIDENT_CATEGORIES",
    "CATEGORY_LABELS",
    "URGENCY_LABELS",
    "OBSERVATION_LABELS",
    "REPORTER_ROLES",
    "TIP_VERDICTS",
    "validate",
    "read_table",
    "QUARANTINE_COLUMNS",
]

Kind = Literal["str", "int", "float", "bool", "datetime"]

#: Incident / dispute categories (DESIGN.md), code -> Chinese label.
CATEGORY_LABELS: dict[str, str] = {
    "family": "家庭纠纷",
    "marital": "婚恋纠纷",
    "neighbour": "邻里纠纷",
    "labour": "劳资纠纷",
    "land": "土地及征地拆迁纠纷",
    "debt": "债务纠纷",
    "consumer": "消费纠纷",
    "other": "其他纠纷",
}
INCIDENT_CATEGORIES = tuple(CATEGORY_LABELS)

_CATEGORY_SYNONYMS = {
    "家庭": "family", "家庭纠纷": "family", "家事": "family",
    "婚恋": "marital", "婚恋纠纷": "marital", "婚姻": "marital", "情感纠纷": "marital", "romance": "marital",
    "邻里": "neighbour", "邻里纠纷": "neighbour", "neighbor": "neighbour",
    "劳资": "labour", "劳资纠纷": "labour", "欠薪": "labour", "labor": "labour", "wage": "labour",
    "土地": "land", "土地纠纷": "land", "征地拆迁": "land", "拆迁": "land", "demolition": "land",
    "债务": "debt", "债务纠纷": "debt", "经济纠纷": "debt",
    "消费": "consumer", "消费纠纷": "consumer",
    "其他": "other", "其它": "other", "其他纠纷": "other",
}
_DISPOSITION_SYNONYMS = {
    "现场调解": "mediated", "现场调解成功": "mediated", "mediated on site": "mediated",
    "移交": "referred", "移交处理": "referred", "转办": "referred",
    "立案": "case_filed", "已立案": "case_filed", "case filed": "case_filed",
    "未化解": "unresolved", "未解决": "unresolved",
}
_BOOL_SYNONYMS = {"1": True, "0": False, "true": True, "false": False, "是": True, "否": False,
                  "y": True, "n": False, "yes": True, "no": False}

#: Urgency of a field report or a tip (掌上排查上报 / 匿名线索), code -> Chinese label.
URGENCY_LABELS: dict[str, str] = {"routine": "一般", "soon": "较急", "urgent": "紧急"}
_URGENCY_SYNONYMS = {v: k for k, v in URGENCY_LABELS.items()} | {"普通": "routine", "急": "soon", "特急": "urgent"}
#: Structured observations a cadre (or a resident) can tick, column -> Chinese label. Facts seen or heard,
#: never opinions about a person's character.
OBSERVATION_LABELS: dict[str, str] = {
    "obs_conflict_rising": "矛盾有激化迹象",
    "obs_threat": "有扬言伤人或自伤",
    "obs_violence": "发生推搡或肢体冲突",
    "obs_emotion": "当事人情绪激动或消沉",
    "obs_harm_risk": "疑似病情发作或失控",
}
#: Who may file a field report (the staff roles of the ``staff`` table that work on rounds).
REPORTER_ROLES = frozenset({"grid_worker", "cadre", "community_officer"})
#: What the community officer found when handling a tip (its reliability is learned from these).
TIP_VERDICTS: dict[str, str] = {"confirmed": "属实", "unfounded": "不属实", "malicious": "恶意举报",
                                "duplicate": "重复线索"}
_TIP_VERDICT_SYNONYMS = {v: k for k, v in TIP_VERDICTS.items()}

QUARANTINE_COLUMNS = ["file", "row", "field", "value", "reason_code", "reason", "action"]


@dataclass(frozen=True)
class Column:
    """One column of a contract. ``synonyms`` map a normalised raw value to the canonical code."""

    name: str
    kind: Kind
    nullable: bool = False
    allowed: frozenset[str] | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    synonyms: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class TableContract:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str
    optional: bool = False

    @property
    def filename(self) -> str:
        return f"{self.name}.parquet"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass
class ValidationResult:
    """Valid rows (canonical dtypes; index = the row number in the file) and quarantine reasons."""

    table: str
    valid: pd.DataFrame
    quarantine: pd.DataFrame

    @property
    def n_dropped_rows(self) -> int:
        q = self.quarantine
        return int(q.loc[q["action"] == "dropped_row", "row"].nunique()) if len(q) else 0


def _c(name, kind, **kw) -> Column:
    return Column(name, kind, **kw)


_ID = r"^[A-Za-z0-9_\-]{1,40}$"
_ADDRESS = r"^51\d{10}-\d{4}$"          # 12-digit village/community code + house number
_ROLES = frozenset({"caller", "party", "victim", "suspect"})


def _observations() -> tuple[Column, ...]:
    return tuple(Column(name, "bool", nullable=True, description=label) for name, label in OBSERVATION_LABELS.items())

TABLES: dict[str, TableContract] = {
    t.name: t
    for t in [
        TableContract(
            "grids",
            (
                _c("grid_id", "str", pattern=r"^G\d{12}\d{2}$"),
                _c("village_code", "str", pattern=r"^51\d{10}$"),
                _c("village_name", "str"),
                _c("township_code", "str", pattern=r"^51\d{7}$"),
                _c("township_name", "str"),
                _c("county_code", "str", pattern=r"^51\d{4}$"),
                _c("prefecture_code", "str", pattern=r"^51\d{2}00$"),
                _c("is_urban", "bool"),
                _c("station_id", "str", pattern=_ID),
                _c("population", "int", min=1),
            ),
            key=("grid_id",),
            description="网格: a grid inside a village (村) or community (社区), with its police station.",
        ),
        TableContract(
            "stations",
            (
                _c("station_id", "str", pattern=_ID),
                _c("name", "str"),
                _c("township_code", "str", pattern=r"^51\d{7}$"),
                _c("county_code", "str", pattern=r"^51\d{4}$"),
            ),
            key=("station_id",),
            description="派出所: police stations, one per township/subdistrict.",
        ),
        TableContract(
            "staff",
            (
                _c("staff_id", "str", pattern=_ID),
                _c("role", "str",
                   allowed=frozenset({"grid_worker", "cadre", "community_officer", "township_fallback"})),
                _c("grid_id", "str", nullable=True),
                _c("township_code", "str", pattern=r"^51\d{7}$"),
                _c("display_name", "str"),
                _c("inbox_id", "str", nullable=True, description="mini-program openid; null = not reachable"),
                _c("active", "bool"),
            ),
            key=("staff_id", "grid_id"),
            description="网格员/村社干部/社区民警 assignments (one row per staff member and grid they serve), "
                        "each with an inbox identity; township fallback desks have no grid.",
        ),
        TableContract(
            "addresses",
            (
                _c("address_code", "str", pattern=_ADDRESS),
                _c("grid_id", "str", pattern=r"^G\d{14}$"),
                _c("village_code", "str", pattern=r"^51\d{10}$"),
            ),
            key=("address_code",),
            description="标准地址 -> grid.",
        ),
        TableContract(
            "persons",
            (
                _c("person_id", "str", pattern=_ID, description="pseudonymous id, never an ID-card number"),
                _c("birth_year", "int", nullable=True, min=1900, max=2030, description="audit only"),
                _c("sex", "str", nullable=True, allowed=frozenset({"M", "F"}),
                   synonyms={"男": "M", "女": "F", "m": "M", "f": "F"}, description="audit only, never a feature"),
                _c("hukou_address_code", "str", pattern=_ADDRESS),
                _c("residence_address_code", "str", pattern=_ADDRESS),
                _c("residence_since", "datetime"),
            ),
            key=("person_id",),
            description="当事人: pseudonymous persons with household-registration place and residence.",
        ),
        TableContract(
            "incidents",
            (
                _c("incident_id", "str", pattern=_ID),
                _c("event_time", "datetime"),
                _c("recorded_at", "datetime"),
                _c("address_code", "str", nullable=True, pattern=_ADDRESS),
                _c("category", "str", allowed=frozenset(INCIDENT_CATEGORIES), synonyms=_CATEGORY_SYNONYMS),
                _c("disposition", "str", nullable=True,
                   allowed=frozenset({"mediated", "referred", "case_filed", "unresolved"}),
                   synonyms=_DISPOSITION_SYNONYMS),
                _c("flag_violence", "bool", nullable=True),
                _c("flag_weapon", "bool", nullable=True),
                _c("flag_alcohol", "bool", nullable=True),
                _c("flag_minor_present", "bool", nullable=True),
                _c("flag_threat", "bool", nullable=True, description="self-harm or harm-to-others threat recorded"),
                _c("note", "str", nullable=True),
                _c("dispute_id", "str", nullable=True, pattern=_ID),
                _c("station_id", "str", nullable=True, pattern=_ID),
            ),
            key=("incident_id",),
            description="110接处警: police calls with Chinese notes.",
        ),
        TableContract(
            "incident_parties",
            (
                _c("incident_id", "str", pattern=_ID),
                _c("person_id", "str", pattern=_ID),
                _c("role", "str", allowed=_ROLES,
                   synonyms={"报警人": "caller", "当事人": "party", "受害人": "victim", "嫌疑人": "suspect"}),
            ),
            key=("incident_id", "person_id"),
            description="警情当事人: who took part in each incident, in which role.",
        ),
        TableContract(
            "disputes",
            (
                _c("dispute_id", "str", pattern=_ID),
                _c("category", "str", allowed=frozenset(INCIDENT_CATEGORIES), synonyms=_CATEGORY_SYNONYMS),
                _c("opened_at", "datetime"),
                _c("recorded_at", "datetime"),
                _c("status", "str", allowed=frozenset({"open", "mediating", "resolved", "escalated"})),
                _c("grid_id", "str", nullable=True),
            ),
            key=("dispute_id",),
            description="矛盾纠纷台账: dispute register.",
        ),
        TableContract(
            "dispute_parties",
            (
                _c("dispute_id", "str", pattern=_ID),
                _c("person_id", "str", pattern=_ID),
            ),
            key=("dispute_id", "person_id"),
            description="Parties of each dispute.",
        ),
        TableContract(
            "mediations",
            (
                _c("mediation_id", "str", pattern=_ID),
                _c("dispute_id", "str", pattern=_ID),
                _c("time", "datetime"),
                _c("recorded_at", "datetime"),
                _c("result", "str", allowed=frozenset({"success", "partial", "failed"}),
                   synonyms={"成功": "success", "调解成功": "success", "部分": "partial", "失败": "failed",
                             "调解失败": "failed"}),
                _c("mediator", "str", allowed=frozenset({"committee", "police", "judicial", "court", "other"})),
            ),
            key=("mediation_id",),
            description="调解: mediation attempts and their result.",
        ),
        TableContract(
            "care_records",
            (
                _c("record_id", "str", pattern=_ID),
                _c("person_id", "str", pattern=_ID),
                _c("time", "datetime"),
                _c("recorded_at", "datetime"),
                _c("kind", "str", allowed=frozenset({"followup", "missed_followup", "medication_stopped", "crisis"})),
            ),
            key=("record_id",),
            description="关爱/随访记录 (optional, only where the law allows their use).",
            optional=True,
        ),
        TableContract(
            "outcomes",
            (
                _c("outcome_id", "str", pattern=_ID),
                _c("person_id", "str", pattern=_ID),
                _c("time", "datetime"),
                _c("recorded_at", "datetime"),
                _c("kind", "str", allowed=frozenset({"violent_case", "extreme_incident", "self_harm"})),
                _c("source", "str"),
            ),
            key=("outcome_id",),
            description="民转刑/个人极端事件: escalation outcomes (labels, and prior-outcome features).",
        ),
        TableContract(
            "field_reports",
            (
                _c("report_id", "str", pattern=_ID),
                _c("time", "datetime", description="when the cadre filed it (Beijing wall time)"),
                _c("recorded_at", "datetime"),
                _c("reporter_id", "str", pattern=_ID, description="staff_id of the cadre who filed it"),
                _c("reporter_role", "str", allowed=REPORTER_ROLES,
                   synonyms={"网格员": "grid_worker", "村社干部": "cadre", "社区民警": "community_officer"}),
                _c("provenance", "str", allowed=frozenset({"inbox", "import", "simulated"}),
                   description="where the record came from: the inbox form, an import, the simulator"),
                _c("person_id", "str", nullable=True, pattern=_ID, description="the person reported about, if any"),
                _c("address_code", "str", pattern=_ADDRESS, description="where the risk was seen"),
                _c("category", "str", allowed=frozenset(INCIDENT_CATEGORIES), synonyms=_CATEGORY_SYNONYMS),
                _c("urgency", "str", allowed=frozenset(URGENCY_LABELS), synonyms=_URGENCY_SYNONYMS),
                *_observations(),
                _c("note", "str", nullable=True),
            ),
            key=("report_id",),
            description="掌上排查上报: risks cadres and grid workers found on their rounds, with reporter and "
                        "provenance (optional).",
            optional=True,
        ),
        TableContract(
            "tips",
            (
                _c("tip_id", "str", pattern=_ID),
                _c("time", "datetime", description="when the tip arrived (Beijing wall time)"),
                _c("recorded_at", "datetime"),
                _c("address_code", "str", pattern=_ADDRESS, description="the address whose QR code was scanned"),
                _c("category", "str", allowed=frozenset(INCIDENT_CATEGORIES), synonyms=_CATEGORY_SYNONYMS),
                _c("urgency", "str", allowed=frozenset(URGENCY_LABELS), synonyms=_URGENCY_SYNONYMS),
                *_observations(),
                _c("note", "str", nullable=True),
                _c("linked_person_id", "str", nullable=True, pattern=_ID,
                   description="the person the community officer linked the tip to, if any"),
                _c("verdict", "str", nullable=True, allowed=frozenset(TIP_VERDICTS), synonyms=_TIP_VERDICT_SYNONYMS,
                   description="what handling found; null until handled"),
            ),
            key=("tip_id",),
            description="匿名线索 (四川e码): anonymous residents' tips by address code; nothing about the tipper "
                        "(optional).",
            optional=True,
        ),
    ]
}


def _reason(code: str) -> str:
    return {
        "missing": "必填字段为空",
        "type": "类型不符",
        "allowed": "取值不在允许范围",
        "pattern": "格式不符",
        "range": "数值越界",
        "duplicate_key": "主键重复（保留首条）",
        "time_order": "录入时间早于发生时间",
    }[code]


def _normalise_text(s: pd.Series) -> pd.Series:
    out = s.astype("string[pyarrow]").str.strip()
    return out.mask(out == "", pd.NA)


def _coerce(col: Column, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (coerced series, mask of values present but not coercible)."""
    present = raw.notna()
    if col.kind == "str":
        text = _normalise_text(raw)
        if col.synonyms or col.allowed:
            lookup = {k.lower(): v for k, v in col.synonyms.items()}
            if col.allowed:
                lookup.update({a.lower(): a for a in col.allowed})
            mapped = text.str.lower().map(lookup)
            text = mapped.astype("string[pyarrow]").fillna(text)
        return text, pd.Series(False, index=raw.index)
    if col.kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(raw):
            out = pd.to_datetime(raw)
            if getattr(out.dt, "tz", None) is not None:
                out = out.dt.tz_convert(BEIJING).dt.tz_localize(None)  # data-contract time (common.clock)
            return out.astype("datetime64[ns]"), pd.Series(False, index=raw.index)
        out = pd.to_datetime(raw, errors="coerce", format="mixed")
        return out.astype("datetime64[ns]"), present & out.isna()
    if col.kind == "bool":
        if pd.api.types.is_bool_dtype(raw):
            return raw.astype("boolean"), pd.Series(False, index=raw.index)
        text = raw.astype("string").str.strip().str.lower()
        out = text.map(lambda v: _BOOL_SYNONYMS.get(v) if isinstance(v, str) else None)
        return out.astype("boolean"), present & out.isna()
    # int / float
    out = pd.to_numeric(raw, errors="coerce")
    bad = present & out.isna()
    if col.kind == "int":
        frac = out.notna() & (out != np.floor(out.fillna(0)))
        bad = bad | frac
        out = out.where(~frac).astype("Int64")
    else:
        out = out.astype("Float64")
    return out, bad


def validate(df: pd.DataFrame, contract: TableContract, source: str | None = None) -> ValidationResult:
    """Split ``df`` into canonical valid rows and quarantined rows with reasons.

    Raises :class:`ContractError` only when the frame as a whole does not fit (missing columns).
    Extra columns are dropped (they may carry data nobody approved for use).
    """
    source = source or contract.filename
    missing = [c for c in contract.column_names if c not in df.columns]
    if missing:
        raise ContractError(
            f"{source}: 不是有效的 {contract.name} 表 / not a valid '{contract.name}' table: "
            f"missing columns {missing}; expected columns {contract.column_names}. "
            f"Check that the right file was given."
        )
    df = df.reset_index(drop=True)
    out = {}
    problems: list[pd.DataFrame] = []
    drop = np.zeros(len(df), dtype=bool)

    def flag(mask: pd.Series, col: str, values: pd.Series, code: str, action: str) -> None:
        mask_arr = mask.to_numpy(dtype=bool)
        if not mask_arr.any():
            return
        idx = np.flatnonzero(mask_arr)
        problems.append(pd.DataFrame({
            "file": source,
            "row": idx + 1,
            "field": col,
            "value": values.iloc[idx].astype("string").fillna("<空>").str.slice(0, 80).to_numpy(),
            "reason_code": code,
            "reason": f"{_reason(code)}（{col}）",
            "action": action,
        }))

    kinds = ("type", "allowed", "pattern", "range")
    for col in contract.columns:
        raw = df[col.name]
        values, invalid = _coerce(col, raw)
        code = np.where(invalid.to_numpy(dtype=bool), 1, 0).astype(np.int8)
        ok_val = (values.notna() & ~invalid).to_numpy(dtype=bool)
        if col.allowed is not None:
            bad = ok_val & ~values.isin(col.allowed).fillna(False).to_numpy(dtype=bool)
            code[bad & (code == 0)] = 2
        if col.pattern is not None:
            matches = values.str.fullmatch(col.pattern).fillna(True).to_numpy(dtype=bool)
            code[ok_val & ~matches & (code == 0)] = 3
        if col.min is not None or col.max is not None:
            lo = -np.inf if col.min is None else col.min
            hi = np.inf if col.max is None else col.max
            inside = values.astype("Float64").between(lo, hi).fillna(True).to_numpy(dtype=bool)
            code[ok_val & ~inside & (code == 0)] = 4
        bad_any = code > 0
        action = "nulled_field" if col.nullable else "dropped_row"
        for i, name in enumerate(kinds, start=1):
            if (code == i).any():
                flag(pd.Series(code == i), col.name, raw, name, action)
        if col.nullable:
            # An optional field with a bad value loses the value, not the row.
            values = values.mask(pd.Series(bad_any, index=values.index))
        else:
            missing = values.isna().to_numpy(dtype=bool) & ~bad_any
            flag(pd.Series(missing), col.name, raw, "missing", "dropped_row")
            drop |= bad_any | missing
        out[col.name] = values

    clean = pd.DataFrame(out)
    if "recorded_at" in clean and ("event_time" in clean or "time" in clean):
        t = clean["event_time"] if "event_time" in clean else clean["time"]
        # Recording before the event is a data-entry error; a few minutes of clock skew is tolerated.
        early = (clean["recorded_at"] < t - pd.Timedelta(minutes=10)).fillna(False).astype(bool) & ~drop
        flag(early, "recorded_at", df["recorded_at"], "time_order", "dropped_row")
        drop |= early.to_numpy(dtype=bool)

    keep = ~drop
    dup = clean.duplicated(list(contract.key), keep="first").to_numpy() & keep
    if dup.any():
        flag(pd.Series(dup), ",".join(contract.key), clean[contract.key[0]], "duplicate_key", "dropped_row")
        keep &= ~dup

    quarantine = (pd.concat(problems, ignore_index=True) if problems
                  else pd.DataFrame({c: pd.Series(dtype="object") for c in QUARANTINE_COLUMNS}))
    quarantine = quarantine.sort_values(["row", "field"], kind="stable").reset_index(drop=True)
    valid = clean.loc[keep]
    valid.index = pd.RangeIndex(len(clean))[keep] + 1  # the file's row number, for later messages
    valid.index.name = "source_row"
    return ValidationResult(contract.name, valid, quarantine)


def read_table(path: str | Path, contract: TableContract) -> ValidationResult:
    """Read a Parquet (or CSV) file and validate it; an unusable file raises one ContractError."""
    path = Path(path)
    if not path.exists():
        raise ContractError(f"{path}: 文件不存在 / file not found (expected the '{contract.name}' table).")
    try:
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        else:
            df = pd.read_parquet(path)
    except Exception as exc:  # any reader failure is one clear message, not a traceback
        raise ContractError(
            f"{path}: 无法读取 / cannot be read as {'CSV' if path.suffix.lower() == '.csv' else 'Parquet'} "
            f"({type(exc).__name__}: {str(exc)[:200]}). Expected the '{contract.name}' table."
        ) from None
    return validate(df, contract, source=path.name)
