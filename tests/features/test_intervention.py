"""The simulator's intervention hook and efficacy model (features/simulate/_intervention.py)."""

from __future__ import annotations

import hashlib
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.simulate._dynamics import run_dynamics
from features.simulate._geography import build_geography
from features.simulate._intervention import (
    PARAM_RANGES,
    DayState,
    Intervention,
    InterventionModel,
    InterventionParams,
    Visit,
)
from features.simulate._params import SimParams
from features.simulate._people import build_people

#: RawWorld digest of (3000 people, 200 days, seed 5, no burn-in) computed with the simulator before the hook.
GOLDEN = "5423a9734bfc0d16"


def _world(people=3000, days=200, seed=5, **kw):
    P = SimParams(burn_in_days=0)
    rng = np.random.default_rng(seed)
    geo, gp = build_geography(people, P, rng)
    persons = build_people(people, geo, gp, P, rng)
    return run_dynamics(persons, days, P, rng, **kw), rng


def _digest(raw, rng) -> str:
    h = hashlib.sha256()
    for f in fields(raw):
        h.update(np.ascontiguousarray(getattr(raw, f.name)).tobytes())
    h.update(rng.random(4).tobytes())
    return h.hexdigest()[:16]


def test_no_interventions_is_bit_identical_to_the_simulator_before_the_hook():
    assert _digest(*_world()) == GOLDEN
    calls = []

    def noop(t, state):
        calls.append(t)
        return None

    assert _digest(*_world(intervene=noop)) == GOLDEN
    assert calls == list(range(200))
    # an intervention that changes nothing (factor 1, shift 0) also leaves the world as it was
    assert _digest(*_world(intervene=lambda t, s: Intervention(
        s.active, np.ones(len(s.active)), np.zeros(len(s.active)), np.zeros(0, np.int64), np.zeros(0, bool),
        np.zeros(0)))) == GOLDEN


def test_calming_every_dispute_prevents_outcomes():
    base, _ = _world(people=6000, days=300, seed=21)

    def calm(t, s):
        a = s.active
        return Intervention(a, np.full(len(a), 0.2), np.full(len(a), 0.5), np.arange(len(s.mi)),
                            np.ones(len(s.mi), bool), np.full(len(s.mi), 0.3))

    calmed, _ = _world(people=6000, days=300, seed=21, intervene=calm)
    assert calmed.z_full.sum() < 0.5 * base.z_full.sum()
    assert len(calmed.o_day) < len(base.o_day)


@given(st.floats(0, 400), st.floats(0, 400))
def test_efficacy_falls_with_the_delay(d1, d2):
    p = InterventionParams()
    e1, e2 = p.efficacy(min(d1, d2)), p.efficacy(max(d1, d2))
    assert 0 <= e2 <= e1 <= p.efficacy_max


def test_params_draw_within_their_documented_ranges_and_reject_nonsense():
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = InterventionParams.draw(rng)
        for k, (lo, hi) in PARAM_RANGES.items():
            assert lo <= getattr(p, k) <= hi
    with pytest.raises(ValueError):
        InterventionParams(efficacy_max=1.5)
    with pytest.raises(ValueError):
        InterventionParams(timeliness_days=-1)


def _state(t=10):
    # two disputes: 0 between persons 0 and 1, 1 between persons 2 and 3; person 4 is mentally ill
    R = np.array([2.0, 2.0])
    H = np.array([0.5, -0.2])
    out = {"calls": {}, "mediations": {}, "care": {}, "outcomes": {}, "oracle": {"person": [], "day": [], "full": [],
                                                                                 "rec": []}}
    return DayState(t, R, H, np.zeros(2, np.int8), np.array([0, 1]), np.zeros(0, np.int64), np.array([0, 2]),
                    np.array([2, 2]), np.array([0, 1, 2, 3]), np.array([4]), np.array([1.0]), np.array([True]),
                    1.0, 0.5, out, np.zeros(2, np.int64), np.zeros(2, np.int64), np.zeros(2, np.int64),
                    np.array([0, 0, 1, 1]), np.zeros(4, bool))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 60))
def test_a_visit_lowers_only_the_visited_persons_disputes_and_wears_off(delay):
    p = InterventionParams()
    m = InterventionModel(p, np.random.default_rng(0))
    s = _state(t=10)
    m.schedule([Visit(person=1, alert_day=10 - delay, visit_day=10)])
    iv = m(10, s)
    e0 = float(p.efficacy(delay))
    assert iv.disputes.tolist() == [0]                       # person 1's dispute only, not persons 2-3's
    assert iv.r_factor[0] == pytest.approx(1 - e0)
    assert iv.h_shift[0] == pytest.approx(e0 * (0.5 + p.h_shift_sd * 1.0))
    assert m.done[0]["efficacy"] == pytest.approx(e0)
    # aftercare: the same dispute keeps a smaller, decaying effect on the following days
    effects = []
    for t in range(11, 40):
        s.t = t
        nxt = m(t, s)
        effects.append(0.0 if nxt is None else float(1 - nxt.r_factor[0]))
    first = p.aftercare_share * e0 * p.efficacy_decay
    assert effects[0] == (pytest.approx(first, rel=1e-9) if first >= p.aftercare_floor else 0.0)
    assert effects[-1] < max(first, p.aftercare_floor)
    assert all(a >= b for a, b in zip(effects, effects[1:], strict=False))


def test_a_visit_to_a_mentally_ill_person_can_restart_medication():
    p = InterventionParams(efficacy_max=1.0, crisis_resume=1.0)
    m = InterventionModel(p, np.random.default_rng(0))
    s = _state()
    m.schedule([Visit(person=4, alert_day=10, visit_day=10)])
    iv = m(10, s)
    assert iv.crisis.tolist() == [0] and iv.resume.tolist() == [True]
    assert iv.c_shift[0] == pytest.approx(0.5)
    assert len(iv.disputes) == 0


def test_raw_so_far_holds_only_the_past():
    seen = {}

    def grab(t, s):
        if t == 120:
            seen["raw"] = s.raw_so_far()
        return None

    raw, _ = _world(intervene=grab)
    part = seen["raw"]
    assert len(part.c_day) and part.c_day.max() < 120
    assert len(part.c_day) == int((raw.c_day < 120).sum())
    assert np.array_equal(part.c_person, raw.c_person[raw.c_day < 120])
