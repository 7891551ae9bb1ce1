import numpy as np
import pandas as pd
import pytest

from training.config import FairnessConfig
from training.fairness import audit_groups_from_attributes, fairness_audit, fairness_flags


def _frame():
    # group A: 1000 rows, 100 positives; group B: 1000 rows, 100 positives; tiny group C: 20 rows.
    rng = np.random.default_rng(0)
    g = np.array(["A"] * 1000 + ["B"] * 1000 + ["C"] * 20)
    y = np.zeros(len(g), int)
    y[:100] = 1
    y[1000:1100] = 1
    y[2000:2002] = 1
    flagged = np.zeros(len(g), bool)
    flagged[:80] = True          # A: 80 TP, 0 FP
    flagged[1000:1040] = True    # B: 40 TP
    flagged[1100:1140] = True    # B: 40 FP
    prob = np.where(y == 1, 0.3, 0.05) + rng.normal(scale=0.001, size=len(g))
    return pd.DataFrame({"grp": g, "label": y}), prob, flagged


def test_group_rates_ratios_and_named_flags():
    frame, prob, flagged = _frame()
    cfg = FairnessConfig(min_rows=300, min_expected_events=20, alpha=0.05)
    audit = fairness_audit(frame, ["grp"], "label", prob, flagged, cfg)
    a = audit.set_index("group")
    assert a.loc["A", "fnr"] == pytest.approx(0.2) and a.loc["A", "fpr"] == 0
    assert a.loc["B", "fnr"] == pytest.approx(0.6) and a.loc["B", "precision"] == pytest.approx(0.5)
    assert a.loc["C", "status"] == "too_small"
    assert "fnr" in a.loc["B", "judged"] and "fpr" not in a.loc["A", "judged"]  # 20 expected FPs needed
    flags = fairness_flags(audit)
    assert "grp=B:fnr" in flags and "grp=A:fnr" in flags
    assert not any(f.startswith("grp=C") for f in flags)


def test_audit_groups_mark_autonomous_prefectures():
    attrs = pd.DataFrame({"person_id": ["a", "b"], "sex": ["M", "F"], "age_band": ["30-44", "60+"],
                          "prefecture_code": ["513200", "510100"], "prefecture_name": ["阿坝藏族羌族自治州", "成都市"],
                          "is_autonomous_prefecture": [True, False], "is_urban": [False, True]})
    out = audit_groups_from_attributes(attrs)
    assert out.loc[0, "prefecture"].endswith("(自治州 autonomous)") and out.loc[1, "prefecture"] == "成都市"
    assert out["urban_rural"].tolist() == ["乡村 rural", "城镇 urban"]
    assert out["sex"].tolist() == ["男 M", "女 F"]


def test_a_small_deviation_on_few_events_is_outside_but_within_noise():
    # A: 8,000 rows, 400 positives, 80 missed (FNR .20); B: 2,000 rows, 100 positives, 28 missed (FNR .28).
    # Overall FNR .216, B's ratio 1.30 is outside the bounds, but 28 misses against 21.6 expected is noise.
    y = np.zeros(10000, int)
    y[:400] = 1
    y[8000:8100] = 1
    f = np.zeros(10000, bool)
    f[:320] = True
    f[8000:8072] = True
    frame = pd.DataFrame({"grp": ["A"] * 8000 + ["B"] * 2000, "label": y})
    audit = fairness_audit(frame, ["grp"], "label", np.full(10000, 0.05), f,
                           FairnessConfig(min_rows=300, min_expected_events=20, alpha=0.05)).set_index("group")
    assert "fnr" in audit.loc["B", "outside"] and audit.loc["B", "status"] == "outside_within_noise"
    assert fairness_flags(audit.reset_index()) == []
