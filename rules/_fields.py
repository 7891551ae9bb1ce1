"""What a condition may refer to, and how a raw value becomes the value a condition compares.

Two kinds of fields:

* catalog features, by bare name (``threat_30d``): always numbers (counts, days, rates, 0/1 flags);
* fields of the incoming incident, prefixed ``event.`` (``event.flag_threat``, ``event.category``,
  ``event.role``): the structured incident fields of ``features.contracts`` plus the person's role.

Both evaluation paths (durable-rules and the vectorised batch) normalise values through this module,
so they cannot disagree on what a value *is*: numbers become floats, booleans become 1.0/0.0,
strings stay strings, and None/NaN/NA/±inf mean "no value" — and a missing value never satisfies
any comparison, not even ``!=``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from features.catalog import CATALOG, PROTECTED_ATTRIBUTES
from features.contracts import CATEGORY_LABELS, TABLES

__all__ = [
    "FieldSpec",
    "EVENT_PREFIX",
    "EVENT_FIELDS",
    "resolve_field",
    "normalize_scalar",
    "format_value",
    "MISSING",
    "canon_number",
    "is_missing",
    "canon_array",
    "NUMBER_MAX",
    "NUMBER_MIN",
]

EVENT_PREFIX = "event."
FieldKind = Literal["number", "bool", "str"]


class _Missing:
    """Sentinel for "no value" (distinct from None so that intent is explicit)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING = _Missing()

_ROLE_LABELS = {"caller": "报警人", "party": "当事人", "victim": "受害人", "suspect": "嫌疑人"}
_DISPOSITION_LABELS = {"mediated": "现场调解", "referred": "移交处理", "case_filed": "已立案", "unresolved": "未化解"}


@dataclass(frozen=True)
class FieldSpec:
    """A field a condition may use. ``key`` is the name inside a durable-rules fact."""

    name: str                       # as written in a rule: "threat_30d" or "event.flag_threat"
    kind: FieldKind
    is_event: bool
    allowed: frozenset[str] | None = None
    labels: dict[str, str] | None = None   # str value -> Chinese, for explanations

    @property
    def key(self) -> str:
        return "event__" + self.name[len(EVENT_PREFIX):] if self.is_event else self.name

    @property
    def column(self) -> str:
        """Column name in a batch frame (same as the rule's spelling)."""
        return self.name


def _event_fields() -> dict[str, FieldSpec]:
    inc = TABLES["incidents"]
    roles = TABLES["incident_parties"].column("role").allowed
    out: dict[str, FieldSpec] = {}
    for name in ("flag_violence", "flag_weapon", "flag_alcohol", "flag_minor_present", "flag_threat"):
        out[EVENT_PREFIX + name] = FieldSpec(EVENT_PREFIX + name, "bool", True)
    out[EVENT_PREFIX + "category"] = FieldSpec(EVENT_PREFIX + "category", "str", True,
                                               inc.column("category").allowed, CATEGORY_LABELS)
    out[EVENT_PREFIX + "disposition"] = FieldSpec(EVENT_PREFIX + "disposition", "str", True,
                                                  inc.column("disposition").allowed, _DISPOSITION_LABELS)
    out[EVENT_PREFIX + "role"] = FieldSpec(EVENT_PREFIX + "role", "str", True, roles, _ROLE_LABELS)
    return out


#: Incident fields usable in conditions (free text, ids, times and addresses are not).
EVENT_FIELDS: dict[str, FieldSpec] = _event_fields()


def resolve_field(name: str) -> FieldSpec:
    """Return the spec of ``name`` or raise ``KeyError`` with a message that says what is allowed.

    >>> resolve_field("event.flag_threat").kind
    'bool'
    """
    import difflib

    if not isinstance(name, str):
        raise KeyError(f"field name must be text, got {name!r}")
    bare = name[len(EVENT_PREFIX):] if name.startswith(EVENT_PREFIX) else name
    if name in PROTECTED_ATTRIBUTES or bare in PROTECTED_ATTRIBUTES:
        raise KeyError(
            f"'{name}' is a protected attribute (受保护属性: used only for fairness audits) and may never "
            f"appear in a rule condition. Remove it."
        )
    if name.startswith(EVENT_PREFIX):
        if name in EVENT_FIELDS:
            return EVENT_FIELDS[name]
        close = difflib.get_close_matches(name, list(EVENT_FIELDS), n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise KeyError(f"unknown event field {name!r}; usable event fields: {sorted(EVENT_FIELDS)}.{hint}")
    if name in CATALOG:
        return FieldSpec(name, "number", False)
    from features.catalog import get_feature  # its did-you-mean is the catalog's own

    try:
        get_feature(name)
    except KeyError as exc:
        msg = str(exc.args[0]) if exc.args else str(exc)
        close = difflib.get_close_matches(EVENT_PREFIX + name, list(EVENT_FIELDS), n=1)
        extra = f" (event fields are written with the prefix 'event.', e.g. {close[0]!r})" if close else ""
        raise KeyError(msg + extra) from None
    raise AssertionError("unreachable")  # pragma: no cover


def is_missing(value) -> bool:
    """None, NaN, pd.NA, NaT and +-inf mean "no value" for every field kind."""
    if value is None or value is MISSING:
        return True
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, (float, np.floating)):
        return not math.isfinite(float(value))
    return False


def normalize_scalar(spec: FieldSpec, value):
    """The value a condition compares, or MISSING. Raises ``TypeError`` for a value of the wrong type.

    >>> normalize_scalar(resolve_field("calls_30d"), 3)
    3.0
    >>> normalize_scalar(resolve_field("event.flag_threat"), True)
    1.0
    >>> normalize_scalar(resolve_field("calls_30d"), float("nan"))
    MISSING
    """
    if is_missing(value):
        return MISSING
    if spec.kind == "str":
        if isinstance(value, (str, np.str_)):
            return str(value)
        raise TypeError(f"{spec.name}: expected text, got {type(value).__name__} {value!r}")
    if spec.kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return 1.0 if value else 0.0
        if isinstance(value, (int, float, np.integer, np.floating)) and float(value) in (0.0, 1.0):
            return float(value)
        raise TypeError(f"{spec.name}: expected true/false, got {type(value).__name__} {value!r}")
    # number
    if isinstance(value, (bool, np.bool_)):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float, np.integer, np.floating)):
        return canon_number(float(value))
    raise TypeError(f"{spec.name}: expected a number, got {type(value).__name__} {value!r}")


#: The number domain both engines compare in. durable-rules' JSON parser rejects floats written in
#: exponent form without a decimal point ("1e+16", "5e-05"), which is how Python writes numbers of
#: magnitude >= 1e16 or below 1e-4. Condition constants are therefore limited to 0 or
#: NUMBER_MIN <= |c| < NUMBER_MAX (the loader checks), and values beyond that range are mapped to a
#: representative that compares identically with every allowed constant: huge values saturate at
#: ±NUMBER_MAX, tiny non-zero values become ±TINY. Counts, days and rates never come near either end.
NUMBER_MAX = 1e15
NUMBER_MIN = 1e-4
TINY = 1.5e-05  # below NUMBER_MIN, above 0, and written "1.5e-05" (a form the parser accepts)


def canon_number(x: float) -> float:
    """Map a finite float into the compared domain (see NUMBER_MAX / NUMBER_MIN)."""
    a = abs(x)
    if a >= NUMBER_MAX:
        return math.copysign(NUMBER_MAX, x)
    if 0.0 < a < NUMBER_MIN:
        return math.copysign(TINY, x)
    return x


def canon_array(arr: np.ndarray) -> np.ndarray:
    """Vectorised :func:`canon_number` (NaN stays NaN)."""
    a = np.abs(arr)
    with np.errstate(invalid="ignore"):
        out = np.where(a >= NUMBER_MAX, np.copysign(NUMBER_MAX, arr), arr)
        out = np.where((a > 0.0) & (a < NUMBER_MIN), np.copysign(TINY, arr), out)
    return out


def format_value(spec: FieldSpec, value) -> str:
    """Format a normalised value for an explanation, as the catalog phrases it.

    Counts, days and flags without decimals, rates with one; event codes as their Chinese label.
    """
    if value is MISSING:
        return "无记录"
    if spec.kind == "str":
        return (spec.labels or {}).get(value, value)
    if spec.kind == "bool":
        return "是" if value else "否"
    kind = CATALOG[spec.name].kind
    if kind == "rate":
        return f"{float(value):.1f}"
    return f"{int(round(float(value)))}"
