"""The one check that keeps protected attributes out of every model.

Sex, age, region and urban/rural audit fairness; they never score (DESIGN.md, Safeguards). The
trainer calls :func:`check_feature_names` before fitting, and the loader calls it again before
serving a model, so a spec, a config or a hand-edited artifact cannot slip one in.

>>> check_feature_names(["calls_30d", "threat_90d"])
>>> check_feature_names(["calls_30d", "sex"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
training.errors.ProtectedFeatureError: 受保护属性不得作为模型特征 / protected attribute(s) ['sex'] ...
"""

from __future__ import annotations

from collections.abc import Iterable

from training.errors import ProtectedFeatureError

__all__ = ["protected_names", "check_feature_names"]


def protected_names(extra: Iterable[str] = ()) -> frozenset[str]:
    """The catalog's PROTECTED_ATTRIBUTES plus any extra never-feature names (e.g. from a BYOD spec)."""
    from features.catalog import PROTECTED_ATTRIBUTES

    return frozenset(str(x).lower() for x in PROTECTED_ATTRIBUTES) | frozenset(str(x).lower() for x in extra)


def _is_protected(name: str, protected: frozenset[str]) -> bool:
    n = name.lower()
    # An exact match, or a one-hot / derived encoding of one ("sex_M", "age_band=30-39").
    return n in protected or any(n.startswith(p + "_") or n.startswith(p + "=") for p in protected)


def check_feature_names(names: Iterable[str], never: Iterable[str] = ()) -> None:
    """Raise :class:`ProtectedFeatureError` if any name is (an encoding of) a protected attribute."""
    protected = protected_names(never)
    bad = [n for n in names if _is_protected(str(n), protected)]
    if bad:
        raise ProtectedFeatureError(
            f"受保护属性不得作为模型特征 / protected attribute(s) {bad} requested as model features; "
            f"protected and never-feature columns are {sorted(protected)}. They may be used only as "
            f"audit groups: remove them from the feature list (BYOD: move them to audit_groups).")
