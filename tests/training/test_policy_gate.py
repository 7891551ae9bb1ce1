"""The promotion gate's budget check: recall at the alert budget, and a challenger that lowers it is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.policy_backtest import recall_at_budget


class _Scores:
    def __init__(self, column: str):
        self.column = column

    def predict_risk(self, frame: pd.DataFrame) -> np.ndarray:
        return frame[self.column].to_numpy(float)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "as_of": pd.to_datetime(["2025-01-01"] * 4 + ["2025-02-01"] * 4),
        "label": [1, 0, 0, 1, 0, 1, 0, 0],
        "good": [0.9, 0.1, 0.2, 0.8, 0.1, 0.7, 0.3, 0.2],     # the positives rank first in each month
        "bad": [0.1, 0.9, 0.8, 0.2, 0.9, 0.1, 0.3, 0.2],
    })


def test_recall_at_budget_counts_the_top_of_each_snapshot():
    f = _frame()
    assert recall_at_budget(_Scores("good"), f, 2) == 1.0
    assert recall_at_budget(_Scores("good"), f, 1) == 2 / 3
    assert recall_at_budget(_Scores("bad"), f, 1) == 0.0


def test_a_challenger_that_lowers_recall_at_the_budget_is_refused(monkeypatch):
    import training.promotion as promotion

    class _A:
        flags: list = []

        def __init__(self, m):
            self.metrics = m

    def fake_assess(model, test, k, cfg, **kw):
        return _A({"roc_auc": 0.8, "precision_at_capacity": 0.05})

    monkeypatch.setattr(promotion, "assess", fake_assess)
    from training.config import load_config

    cfg = load_config(None)
    good, bad = _Scores("good"), _Scores("bad")
    for m, v in ((good, "1"), (bad, "2")):
        m.metadata = {"alerts_per_snapshot": 1, "model_version": v}
    rep = promotion.evaluate_gate(bad, good, _frame(), cfg, budget_alerts=1)
    assert not rep.passed and any("recall at the budget" in r for r in rep.reasons)
    assert rep.challenger_metrics["recall_at_budget"] == 0.0
    assert promotion.evaluate_gate(good, bad, _frame(), cfg, budget_alerts=1).passed
    assert promotion.evaluate_gate(bad, good, _frame(), cfg).passed   # no budget known: no budget check
