"""The reviewer's terms beside the probability (multiple of the average, place in the county): fixed with the
model version's thresholds, attached by the scorer, the same in the batch run and the service."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from common.riskterms import RiskReference, risk_short, risk_text
from tests.serving.scoring.conftest import AS_OF
from tests.serving.scoring.test_budget import _start, bapp, batch, budget_uri  # noqa: F401  (fixtures)


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=60, max_size=400), st.floats(0, 1), st.floats(0, 1))
def test_percentile_is_monotone_and_the_multiple_is_the_ratio_to_the_average(probs, p, q):
    ref = RiskReference.fit(probs, ["510107"] * len(probs))
    lo, hi = sorted((p, q))
    assert ref.percentile(lo, "510107") <= ref.percentile(hi, "510107")
    assert 0 <= ref.percentile(hi, "510107") <= 100
    if ref.base_rate > 0:
        assert math.isclose(ref.multiple(hi), round(hi / ref.base_rate, 1))
    assert RiskReference.from_dict(ref.to_dict()) == ref
    # an unknown county reads the overall distribution
    assert ref.percentile(hi, "519999") == RiskReference(ref.base_rate, {}, ref.overall).percentile(hi, None)


def test_the_terms_read_as_plain_chinese():
    assert risk_text({"multiple": 5.3, "percentile": 98.4}) == "约为平均水平的 5 倍，高于本区县 98% 的有记录人员"
    assert risk_text({"multiple": 0.5, "percentile": 20.0}) == "低于平均水平，高于本区县 20% 的有记录人员"
    assert risk_short({"multiple": 12.0, "percentile": 99.7}) == "平均的 12 倍 · 县内前 0.3%"
    assert risk_text(None) == "" and risk_short({}) == ""


def test_the_reference_is_fixed_with_the_thresholds_and_every_alert_carries_its_terms(batch, budget_uri):  # noqa: F811
    _, scored = batch
    th = budget_uri[2]
    ref = RiskReference.from_dict(th.detail["risk_reference"])
    assert 0 < ref.base_rate < 1 and len(ref.overall) > 100  # small counties read the overall
    flagged = [s for s in scored if s.level != "none" and s.probability is not None]
    assert flagged
    for s in flagged:
        assert s.extra["risk"] == ref.describe(s.probability, s.extra["county"])
    # people the model levels stand higher in their county than the people it leaves alone
    by_model = [s.extra["risk"]["percentile"] for s in scored if s.extra.get("model_level") not in (None, "none")]
    quiet = [s.extra["risk"]["percentile"] for s in scored if s.level == "none" and "risk" in s.extra]
    assert by_model and quiet and sum(by_model) / len(by_model) > sum(quiet) / len(quiet)


def test_batch_and_service_state_the_same_terms(tmp_path_factory, small_world, budget_uri, batch):  # noqa: F811
    _, scored = batch
    flagged = {s.person_id: s.extra["risk"] for s in scored if s.level != "none" and "risk" in s.extra}
    svc = _start(tmp_path_factory.mktemp("risk_home"), small_world, budget_uri[0])
    try:
        ids = sorted(flagged)[:40]
        _, body = svc.score_ids(None, ids, AS_OF, explain="flagged")
    finally:
        svc.close()
    assert {it["person_id"]: it["result"]["extra"]["risk"] for it in body["items"]} == {i: flagged[i] for i in ids}
