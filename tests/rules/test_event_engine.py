"""The durable-rules event path: parity with batch, no leaked state, threads, recycling, fuzzing."""

from __future__ import annotations

import math
import random
import threading

import numpy as np
import pandas as pd
import pytest

import rules
from rules.errors import RuleEngineError, RuleInputError
from tests.rules._helpers import AS_OF, batch_tuples, event_tuples, frame_from_cases, minimal_ruleset, random_case

EVENT = {"event_time": "2026-01-05 21:30", "category": "family", "flag_threat": True, "role": "party"}


def test_hits_and_explanations(default_engine):
    hits = default_engine.evaluate("P1", EVENT, {"max_calls_same_dispute_7d": 3, "calls_family_marital_90d": 3,
                                                 "violence_90d": 1})
    assert [(h.rule_id, h.rule_version, h.level, h.urgent) for h in hits] == [
        ("RD001", 1, "red", True), ("RD002", 2, "orange", False), ("FE001", 1, "red", True),
        ("FE003", 1, "orange", False)]
    assert hits[0].explanation == "近7天因同一纠纷报警3次，且最近一次记录中有扬言伤人或自伤"
    assert hits[2].explanation == "本次家庭纠纷警情中，当事人扬言伤人或自伤"


def test_no_event_and_no_hits(default_engine):
    assert default_engine.evaluate("P1", None, {"calls_7d": 0}, as_of="2026-01-01") == []
    assert default_engine.evaluate("P1", {"event_time": "2026-01-01"}, {}) == []
    assert default_engine.stored_facts() == []


def test_no_state_leaks_between_calls(default_ruleset):
    eng = rules.EventRuleEngine(default_ruleset)
    first = eng.evaluate("P1", EVENT, {"max_calls_same_dispute_7d": 3})
    # A second, unrelated call must not see the first fact (no joins, no residue).
    assert eng.evaluate("P2", {"event_time": "2026-01-05"}, {"calls_7d": 1}) == []
    assert eng.stored_facts() == []
    # The identical input again (same content) gives the same hits: no MessageObservedException.
    assert eng.evaluate("P1", EVENT, {"max_calls_same_dispute_7d": 3}) == first


def test_as_of_defaults_to_event_time_and_picks_version(default_engine):
    f = {"max_calls_same_dispute_7d": 3}
    old = default_engine.evaluate("P1", {"event_time": "2025-06-30"}, f)
    new = default_engine.evaluate("P1", {"event_time": "2025-07-01"}, f)
    assert [h.rule_id for h in old] == [] and [(h.rule_id, h.rule_version) for h in new] == [("RD002", 2)]
    assert default_engine.evaluate("P1", {"event_time": "2025-06-30"}, f, as_of="2025-08-01")[0].rule_version == 2
    with pytest.raises(RuleInputError, match="as-of"):
        default_engine.evaluate("P1", {}, f)
    with pytest.raises(RuleInputError, match="not a date"):
        default_engine.evaluate("P1", {"event_time": "yesterday-ish"}, f)


def test_missing_null_nan_inf_never_match():
    rs = minimal_ruleset([{"condition": {"calls_7d": {"!=": 3}}},
                          {"condition": {"event.category": {"!=": "family"}}}])
    eng = rules.EventRuleEngine(rs)
    for v in (None, math.nan, float("inf"), -float("inf"), pd.NA, np.float64("nan")):
        assert eng.evaluate("P", {"category": None}, {"calls_7d": v}, as_of=AS_OF) == []
    hits = eng.evaluate("P", {"category": "debt"}, {"calls_7d": 2}, as_of=AS_OF)
    assert [h.rule_id for h in hits] == ["T000", "T001"]


def test_booleans_numbers_and_strings_normalised():
    rs = minimal_ruleset([{"condition": {"event.flag_weapon": {"==": True}}},
                          {"condition": {"lives_away_from_hukou": {"==": 1}}},
                          {"condition": {"event.role": {"in": ["suspect"]}}, "template": "作为{event.role}"}])
    eng = rules.EventRuleEngine(rs)
    for t in (True, np.bool_(True), 1, 1.0, np.int64(1)):
        assert [h.rule_id for h in eng.evaluate("P", {"flag_weapon": t}, {}, as_of=AS_OF)] == ["T000"]
    for f in (False, 0, np.bool_(False)):
        assert eng.evaluate("P", {"flag_weapon": f}, {}, as_of=AS_OF) == []
    assert [h.rule_id for h in eng.evaluate("P", {}, {"lives_away_from_hukou": True}, as_of=AS_OF)] == ["T001"]
    assert eng.evaluate("P", {"role": "suspect"}, {}, as_of=AS_OF)[0].explanation == "作为嫌疑人"
    with pytest.raises(RuleInputError, match="true/false"):
        eng.evaluate("P", {"flag_weapon": "yes"}, {}, as_of=AS_OF)
    with pytest.raises(RuleInputError, match="text"):
        eng.evaluate("P", {"role": 3}, {}, as_of=AS_OF)
    with pytest.raises(RuleInputError, match="number"):
        eng.evaluate("P", {}, {"lives_away_from_hukou": "1"}, as_of=AS_OF)


def test_text_never_compared_as_number():
    # durable-rules would match {"$gt": {"s": 1}} on a string; the loader never compiles such a rule.
    with pytest.raises(rules.RuleFileError, match="does not apply"):
        minimal_ruleset([{"condition": {"event.category": {">": "a"}}}])


def test_ruleset_names_are_unique_and_engines_independent(default_ruleset):
    a, b = rules.EventRuleEngine(default_ruleset), rules.EventRuleEngine(default_ruleset)
    ha = a.evaluate("P", EVENT, {"kw_retaliation_90d": 2})
    hb = b.evaluate("P", EVENT, {"kw_retaliation_90d": 2})
    assert ha == hb and a.session_name != b.session_name


def test_recycling_keeps_answers_identical(default_ruleset):
    rng = random.Random(7)
    cases = [random_case(rng, default_ruleset, i) for i in range(600)]
    eng = rules.EventRuleEngine(default_ruleset, recycle_after=100)
    got = event_tuples(eng, cases)
    assert eng.recycles == 5 and eng.stored_facts() == []
    want = batch_tuples(rules.evaluate_batch(default_ruleset, frame_from_cases(cases)))
    assert got == want and len(want) > 100


def test_message_observed_is_retried_on_a_fresh_session(default_ruleset, monkeypatch):
    from rules.event_engine import _Session

    eng = rules.EventRuleEngine(default_ruleset)
    real = _Session.assert_fact
    calls = {"n": 0}

    def flaky(self, fact_json):
        calls["n"] += 1
        if calls["n"] == 1:
            return (2, 1)  # the C core's "already observed" code (upstream #376 when spurious)
        return real(self, fact_json)

    monkeypatch.setattr(_Session, "assert_fact", flaky)
    hits = eng.evaluate("P1", EVENT, {"kw_retaliation_90d": 2})
    assert [h.rule_id for h in hits] == ["FE001", "RT001", "RT003"] and eng.recycles == 1

    monkeypatch.setattr(_Session, "assert_fact", lambda self, fact_json: (2, 1))
    with pytest.raises(RuleEngineError, match="already observed"):
        eng.evaluate("P1", EVENT, {"kw_retaliation_90d": 2})


def test_other_engine_errors_recycle_and_raise(default_ruleset, monkeypatch):
    from rules.event_engine import _Session

    eng = rules.EventRuleEngine(default_ruleset)
    eng.evaluate("P0", None, {}, as_of=AS_OF)

    def boom(self, fact_json):
        raise RuntimeError("C core unhappy")

    monkeypatch.setattr(_Session, "assert_fact", boom)
    with pytest.raises(RuleEngineError, match="C core unhappy") as ei:
        eng.evaluate("P1", EVENT, {})
    assert ei.value.http_status == 503 and eng.recycles == 1
    monkeypatch.undo()
    assert [h.rule_id for h in eng.evaluate("P1", EVENT, {})] == ["FE001"]


def test_hit_for_another_request_is_a_loud_error(default_ruleset, monkeypatch):
    from rules.event_engine import _Session

    eng = rules.EventRuleEngine(default_ruleset)
    real = _Session.run
    monkeypatch.setattr(_Session, "run", lambda self, fact_json, rid: real(self, fact_json, "someone-else"))
    with pytest.raises(RuleEngineError, match="another request|for request"):
        eng.evaluate("P1", EVENT, {})
    monkeypatch.undo()
    assert eng.stored_facts() == [] and [h.rule_id for h in eng.evaluate("P1", EVENT, {})] == ["FE001"]


def test_numbers_in_any_magnitude_are_accepted(default_engine):
    for v in (1e308, -1e308, 10**30, 1e20, 1e16, 1e-300, 5e-324, 1e-5):
        default_engine.evaluate("P", {"event_time": AS_OF}, {"kw_emotion_90d": v, "kw_harm_365d": v})
    hits = default_engine.evaluate("P", {"event_time": AS_OF}, {"kw_emotion_90d": 1e300})
    assert [h.rule_id for h in hits] == ["FE005"]
    with pytest.raises(rules.RuleFileError, match="out of range"):
        minimal_ruleset([{"condition": {"calls_7d": {">": 1e-5}}}])


def test_no_background_threads_started(default_ruleset):
    before = {t.ident for t in threading.enumerate()}
    eng = rules.EventRuleEngine(default_ruleset)
    eng.evaluate("P", EVENT, {})
    new = [t for t in threading.enumerate() if t.ident not in before]
    assert new == []


def test_threads_agree_with_batch(default_ruleset):
    """8 threads x 2k events through one shared engine == the batch evaluator, hit for hit."""
    rng = random.Random(42)
    n_threads, per_thread = 8, 2000
    # As-of times on both sides of RD002's version change, so each thread needs its own as-of.
    as_ofs = [pd.Timestamp("2025-06-30"), pd.Timestamp("2025-07-01"), AS_OF, "2025-07-01 12:00"]
    cases = [random_case(rng, default_ruleset, i, as_ofs=as_ofs) for i in range(n_threads * per_thread)]
    want = batch_tuples(rules.evaluate_batch(default_ruleset, frame_from_cases(cases)))
    eng = rules.EventRuleEngine(default_ruleset, recycle_after=5000)  # recycling happens under load too
    results: list[list] = [None] * n_threads
    errors: list[BaseException] = []

    def work(k):
        try:
            results[k] = event_tuples(eng, cases[k * per_thread:(k + 1) * per_thread])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = [h for part in results for h in part]
    assert got == want and len(want) > 1000
    assert eng.recycles >= 2 and eng.stored_facts() == []


_GARBAGE = [None, math.nan, math.inf, -math.inf, 0, -0.0, 1, 2, 3, 7, 2.5, 1e308, -1e308, 10**30, True, False,
            np.int64(3), np.float32(2.0), np.bool_(True), "3", "", "家庭", "family", "suspect", "'\"$or{}",
            "\\u0000", [], {}, {"$gt": 1}, object()]


def test_fuzzed_facts_either_rejected_or_identical_to_batch(default_ruleset, default_engine):
    rng = random.Random(2026)
    fields = sorted(default_ruleset.specs)
    for i in range(700):
        feats, event = {}, {"event_time": AS_OF}
        for f in fields:
            if rng.random() < 0.5:
                continue
            v = rng.choice(_GARBAGE) if rng.random() < 0.4 else rng.choice([0, 1, 2, 3, 4, None])
            if f.startswith("event."):
                event[f[6:]] = v if rng.random() < 0.5 else rng.choice(
                    [True, False, "family", "marital", "party", "suspect", "debt"])
            else:
                feats[f] = v
        # Extra keys (unknown features, protected attributes) are ignored, never used.
        feats["sex"] = "F"
        event["note"] = "他说要同归于尽"
        try:
            got = event_tuples(default_engine, [(f"P{i}", event, feats, AS_OF)])
        except RuleInputError:
            got = "rejected"
        try:
            frame = frame_from_cases([(f"P{i}", event, feats, AS_OF)])
            want = batch_tuples(rules.evaluate_batch(default_ruleset, frame, strict=False))
        except RuleInputError:
            want = "rejected"
        assert got == want, (feats, event)
    assert default_engine.stored_facts() == []


@pytest.mark.slow
def test_long_run_beyond_upstream_376(default_ruleset):
    """70k facts through one engine (past the ~46k where upstream #376 appears), checked against batch."""
    rng = random.Random(376)
    cases = [random_case(rng, default_ruleset, i) for i in range(70_000)]
    eng = rules.EventRuleEngine(default_ruleset)
    got = event_tuples(eng, cases)
    want = batch_tuples(rules.evaluate_batch(default_ruleset, frame_from_cases(cases)))
    assert got == want
    assert eng.recycles == 3 and eng.facts_total == 70_000 and eng.stored_facts() == []


@pytest.mark.slow
def test_long_run_without_scheduled_recycling(default_ruleset):
    """60k facts on one session (scheduled recycling off) still agree with batch. Measured here:
    with assert+retract and unique request ids, upstream #376 did not show in 100k facts; should it
    show, the observed-retry path recycles and retries, so answers stay right either way."""
    rng = random.Random(46)
    cases = [random_case(rng, default_ruleset, i) for i in range(60_000)]
    eng = rules.EventRuleEngine(default_ruleset, recycle_after=10**9)
    got = event_tuples(eng, cases)
    assert got == batch_tuples(rules.evaluate_batch(default_ruleset, frame_from_cases(cases)))
    assert eng.stored_facts() == []
