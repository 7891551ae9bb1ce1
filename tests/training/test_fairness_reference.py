"""Issue 14: the reference-group audit (fairlearn MetricFrame, bootstrap intervals, interval-based flags)."""

import numpy as np
import pandas as pd
import pytest

from training.config import FairnessConfig
from training.fairness import high_risk_flags, reference_audit, reference_flags


def _two_groups(fpr_a, fpr_b, n=700, pos_rate=0.15, seed=0, exact=True):
    """Two groups of ``n`` people; exactly the given FPRs (random people among the negatives), TPR 0.6 in both.

    ``exact=False`` draws every flag independently instead (binomial noise around the given rates).
    """
    rng = np.random.default_rng(seed)
    g = np.array(["A"] * n + ["B"] * n)
    y = (rng.random(2 * n) < pos_rate).astype(int)
    flagged = np.zeros(2 * n, bool)
    if not exact:
        flagged = np.where(y == 1, rng.random(2 * n) < 0.6, rng.random(2 * n) < np.where(g == "A", fpr_a, fpr_b))
    for k, rate in (("A", fpr_a), ("B", fpr_b)) if exact else ():
        for cls, share in ((0, rate), (1, 0.6)):
            ix = rng.permutation(np.flatnonzero((g == k) & (y == cls)))
            flagged[ix[:round(share * len(ix))]] = True
    prob = np.clip(np.where(flagged, 0.3, 0.08) + rng.normal(scale=0.01, size=2 * n), 0.001, 0.999)
    # calibrated by construction: rescale so that each group's mean prediction equals its observed rate
    for k in ("A", "B"):
        m = g == k
        prob[m] *= y[m].mean() / prob[m].mean()
    return pd.DataFrame({"grp": g, "label": y}), prob, flagged


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_one_and_a_half_fold_fpr_gap_is_flagged_against_the_reference(seed):
    frame, prob, flagged = _two_groups(0.30, 0.45, seed=seed)
    audit = reference_audit(frame, ["grp"], "label", prob, flagged, FairnessConfig(n_boot=300), seed=seed)
    row = audit[(audit["group"] != audit["reference"]) & (audit["attribute"] == "grp")].iloc[0]
    ratio = row["fpr_ratio"]
    assert (ratio == pytest.approx(1.5, rel=0.02)) or (ratio == pytest.approx(1 / 1.5, rel=0.02))
    assert row["fpr_ratio_lo"] < ratio < row["fpr_ratio_hi"]
    flags = reference_flags(audit)
    assert any(f.endswith(":fpr") for f in flags), audit.T
    assert not any("calibration" in f for f in flags)


def test_declared_reference_group_is_used():
    frame, prob, flagged = _two_groups(0.30, 0.45)
    audit = reference_audit(frame, ["grp"], "label", prob, flagged,
                            FairnessConfig(n_boot=100, reference_groups={"grp": "B"}))
    a = audit.set_index("group").loc["A"]
    assert a["reference"] == "B" and a["fpr_ratio"] == pytest.approx(1 / 1.5, rel=0.02)
    assert "fpr" in a["flags"]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_noise_only_differences_are_not_flagged(seed):
    frame, prob, flagged = _two_groups(0.30, 0.30, seed=seed, exact=False)
    audit = reference_audit(frame, ["grp"], "label", prob, flagged, FairnessConfig(n_boot=200), seed=seed)
    assert reference_flags(audit) == []


def test_overall_calibration_is_judged_against_the_observed_rate():
    frame, prob, flagged = _two_groups(0.30, 0.30)
    shifted = prob * 0.6          # label shift: predictions well below what was observed
    audit = reference_audit(frame, ["grp"], "label", shifted, flagged, FairnessConfig(n_boot=200))
    flags = reference_flags(audit)
    assert "capacity:overall=全体 overall:calibration" in flags
    assert "capacity:grp=A:calibration" in flags and "capacity:grp=B:calibration" in flags


def test_high_risk_share_flags_the_top_share():
    f = high_risk_flags(np.arange(100.0), 0.1)
    assert f.sum() == 10 and f[-10:].all()


def test_matches_fairlearn_metric_frame():
    from fairlearn.metrics import MetricFrame, false_positive_rate

    frame, prob, flagged = _two_groups(0.2, 0.4, n=300)
    audit = reference_audit(frame, ["grp"], "label", prob, flagged, FairnessConfig(n_boot=50))
    mf = MetricFrame(metrics=false_positive_rate, y_true=frame["label"], y_pred=flagged.astype(int),
                     sensitive_features=frame["grp"])
    got = audit[audit["attribute"] == "grp"].set_index("group")["fpr"]
    assert got.to_dict() == pytest.approx(mf.by_group.to_dict())
