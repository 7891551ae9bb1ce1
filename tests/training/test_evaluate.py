import numpy as np
import pandas as pd
import pytest

from training.calibration import Calibrator, choose_method
from training.errors import TrainingDataError
from training.evaluate import alerts_per_snapshot, at_capacity, expected_hits_at_k, score_metrics, top_k_flags


def test_alerts_per_snapshot_follows_capacity_grids_and_weeks():
    assert alerts_per_snapshot(1.0, 7, 7) == 7
    assert alerts_per_snapshot(0.5, 400, 30) == round(0.5 * 400 * 30 / 7)
    assert alerts_per_snapshot(0.001, 1, 7) == 1


def test_ties_at_the_cut_are_shared_pro_rata():
    y = np.array([1, 1, 0, 0, 0, 0])
    s = np.zeros(6)  # one big tie: any k has expected precision = base rate
    tp, k = expected_hits_at_k(y, s, 3)
    assert k == 3 and tp == pytest.approx(1.0)


def test_at_capacity_pools_snapshots():
    frame = pd.DataFrame({"as_of": ["a"] * 4 + ["b"] * 4, "label": [1, 0, 0, 0, 0, 1, 0, 0]})
    s = np.array([4, 3, 2, 1, 4, 3, 2, 1], float)
    r = at_capacity(frame, s, "label", 1)
    assert r["alerts"] == 2 and r["precision_at_capacity"] == 0.5 and r["recall_at_capacity"] == 0.5


def test_top_k_flags_per_snapshot():
    frame = pd.DataFrame({"as_of": np.repeat(["a", "b", "c"], 10)})
    f = top_k_flags(frame, np.random.default_rng(0).random(30), 3)
    assert f.reshape(3, 10).sum(axis=1).tolist() == [3, 3, 3]


def test_perfect_scores():
    y = np.array([0, 0, 1, 1])
    m = score_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]), probability=True)
    assert m["roc_auc"] == 1.0 and m["pr_auc"] == 1.0 and m["brier"] < 0.05


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrator_is_monotone_strict_and_calibrated(method):
    rng = np.random.default_rng(1)
    margin = rng.normal(size=20000)
    y = (rng.random(20000) < 1 / (1 + np.exp(-(2 * margin - 3)))).astype(int)
    cal = Calibrator(method).fit(margin, y)
    m = np.sort(margin)
    m = m[np.r_[True, np.diff(m) > 1e-6]]  # distinct margins must keep a strict order (no coin-toss ties)
    p = cal.predict(m)
    assert np.all(np.diff(p) > 0) if method == "isotonic" else np.all(np.diff(p) >= 0)
    assert abs(cal.predict(margin).mean() - y.mean()) < 0.01


def test_calibrator_needs_both_classes():
    with pytest.raises(TrainingDataError, match="both classes"):
        Calibrator("isotonic").fit(np.arange(10.0), np.zeros(10))


def test_auto_calibration_choice():
    assert choose_method("auto", 500, 200) == "isotonic"
    assert choose_method("auto", 50, 200) == "sigmoid"
    assert choose_method("sigmoid", 5000, 200) == "sigmoid"


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=1, max_size=60), st.integers(1, 60))
def test_expected_hits_match_the_mean_over_random_tie_breaks(rows, k):
    y = np.array([r[0] for r in rows], float)
    s = np.array([r[1] for r in rows], float)
    tp, kk = expected_hits_at_k(y, s, k)
    assert kk == min(k, len(y)) and 0 <= tp <= y.sum() + 1e-9
    # Exact expectation = the average over every order of the tied rows; check against many shuffles.
    rng = np.random.default_rng(0)
    sims = [y[np.lexsort((rng.random(len(y)), -s))][:kk].sum() for _ in range(400)]
    assert abs(np.mean(sims) - tp) < 0.35 + 0.05 * kk


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_fast_calibrator_path_matches_sklearn(method):
    rng = np.random.default_rng(3)
    margin = rng.normal(size=5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-(margin - 2)))).astype(int)
    cal = Calibrator(method).fit(margin, y)
    grid = np.linspace(-6, 6, 301)
    ref = (cal.model_.predict(grid) if method == "isotonic" else cal.model_.predict_proba(grid.reshape(-1, 1))[:, 1])
    assert np.allclose(cal.predict(grid), ref, atol=2e-6)
