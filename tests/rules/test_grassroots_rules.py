"""The default rule set reads the grassroots features: a cadre's report of a threat plus a recent call, and
repeated reports of a rising conflict with a resident's tip; both engines agree."""

from __future__ import annotations

import pandas as pd

import rules
from rules.batch import evaluate_batch
from rules.event_engine import EventRuleEngine

AS_OF = pd.Timestamp("2026-12-10")


def _frame(rows):
    from features.catalog import FEATURE_NAMES

    out = []
    for pid, feats in rows:
        base = dict.fromkeys(FEATURE_NAMES, 0.0)
        base.update(feats)
        out.append({"person_id": pid, "as_of": AS_OF, **base})
    return pd.DataFrame(out)


def test_grassroots_rules_fire_with_chinese_explanations():
    rs = rules.load_ruleset()
    frame = _frame([("P1", {"reports_threat_90d": 1, "calls_90d": 2}),
                    ("P2", {"reports_rising_90d": 2, "tips_90d": 3}),
                    ("P3", {"reports_threat_90d": 1, "calls_90d": 0, "reports_rising_90d": 1, "tips_90d": 5})])
    hits = evaluate_batch(rs, frame, AS_OF)
    got = {(h.person_id, h.rule_id): h.explanation for h in hits.itertuples() if h.rule_id.startswith("GR")}
    assert got == {("P1", "GR001"): "近90天网格员排查1次发现扬言伤人或自伤，且近90天报警2次",
                   ("P2", "GR002"): "近90天网格员排查2次发现矛盾有激化迹象，居民匿名反映3次"}
    before = evaluate_batch(rs, frame.assign(as_of=pd.Timestamp("2026-11-30")), pd.Timestamp("2026-11-30"))
    assert not any(r.startswith("GR") for r in before["rule_id"])          # effective from the change date
    engine = EventRuleEngine(rs)
    for pid, feats in (("P1", frame.iloc[0]), ("P2", frame.iloc[1])):
        ev = {r.rule_id for r in engine.evaluate(pid, None, feats.drop(["person_id", "as_of"]).to_dict(), as_of=AS_OF)}
        assert {k[1] for k in got if k[0] == pid} <= ev
