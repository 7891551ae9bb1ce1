"""Common random numbers for the closed loop (features/simulate/_crn.py and run_dynamics(crn=...))."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.simulate._crn import STREAMS, KeyedDraws, keyed_uniform
from features.simulate._dynamics import run_dynamics
from features.simulate._geography import build_geography
from features.simulate._intervention import Intervention
from features.simulate._params import SimParams
from features.simulate._people import build_people


def _world(people=3000, days=200, seed=5, **kw):
    P = SimParams(burn_in_days=0)
    rng = np.random.default_rng(seed)
    geo, gp = build_geography(people, P, rng)
    persons = build_people(people, geo, gp, P, rng)
    return run_dynamics(persons, days, P, rng, **kw)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2**40), min_size=1, max_size=30), st.integers(0, 5000), st.integers(0, 3))
def test_a_keyed_draw_depends_only_on_its_own_key_entity_and_day(entities, day, index):
    ents = np.array(entities, dtype=np.int64)
    u = keyed_uniform(9, STREAMS["calls"], ents, day, index)
    assert ((u >= 0) & (u < 1)).all()
    # the same entity-day gives the same number whatever else is drawn beside it
    for i, e in enumerate(ents):
        assert keyed_uniform(9, STREAMS["calls"], np.array([e]), day, index)[0] == u[i]
    # another stream, day or key gives other numbers
    assert not np.array_equal(u, keyed_uniform(9, STREAMS["outcome"], ents, day, index))
    assert not np.array_equal(u, keyed_uniform(9, STREAMS["calls"], ents, day + 1, index))
    assert not np.array_equal(u, keyed_uniform(10, STREAMS["calls"], ents, day, index))


def test_keyed_draws_have_the_distributions_of_the_stream_draws():
    D = KeyedDraws(3)
    ids = np.arange(200_000)
    u = D.random("violence", ids, 4)
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    z = D.normal("h_innovation", ids, 4, 2.0)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 2.0) < 0.02
    lam = np.full(len(ids), 0.7)
    k = D.poisson_capped("calls", ids, 4, lam, 3)
    ref = np.minimum(np.random.default_rng(0).poisson(lam), 3)
    for v in range(4):
        assert abs((k == v).mean() - (ref == v).mean()) < 0.006
    c = D.choice("crisis_outcome_kind", ids, 4, 3, p=[0.3, 0.4, 0.3])
    assert np.allclose(np.bincount(c) / len(c), [0.3, 0.4, 0.3], atol=0.006)
    m = D.integers("mediation_delay", ids, 4, 1, 15)
    assert m.min() == 1 and m.max() == 14


def test_two_runs_without_visits_are_identical_and_the_hook_changes_nothing():
    a = _world(crn=77)
    b = _world(crn=77, intervene=lambda t, s: None)
    for f in fields(a):
        assert np.array_equal(getattr(a, f.name), getattr(b, f.name)), f.name
    c = _world(crn=78)
    assert not np.array_equal(a.c_day, c.c_day) or not np.array_equal(a.c_disp, c.c_disp)


def _component(raw, dispute: int) -> tuple[set[int], set[int]]:
    """The disputes and persons linked to ``dispute`` through shared parties (what a visit can reach)."""
    by_person = pd.DataFrame({"d": raw.p_disp, "p": raw.p_person})
    disputes, persons = {dispute}, set()
    frontier = {dispute}
    while frontier:
        new_p = set(by_person.loc[by_person["d"].isin(frontier), "p"]) - persons
        persons |= new_p
        new_d = set(by_person.loc[by_person["p"].isin(new_p), "d"]) - disputes
        disputes |= new_d
        frontier = new_d
    return disputes, persons


def _rows_outside(raw, disputes: set[int], persons: set[int]) -> dict[str, pd.DataFrame]:
    calls = pd.DataFrame({"d": raw.c_disp, "p": raw.c_person, "t": raw.c_day, "v": raw.c_violence,
                          "k": raw.c_threat_kind, "x": raw.c_disposition})
    calls = calls[~calls["d"].isin(disputes) & ~((calls["d"] < 0) & calls["p"].isin(persons))]
    med = pd.DataFrame({"d": raw.m_disp, "t": raw.m_day, "r": raw.m_success})
    med = med[~med["d"].isin(disputes)]
    out = pd.DataFrame({"p": raw.o_person, "t": raw.o_day, "k": raw.o_kind})
    out = out[~out["p"].isin(persons)]
    care = pd.DataFrame({"p": raw.k_person, "t": raw.k_day, "k": raw.k_kind})
    care = care[~care["p"].isin(persons)]
    ora = pd.DataFrame({"p": raw.z_person, "t": raw.z_day, "h": raw.z_full})
    ora = ora[~ora["p"].isin(persons)]
    return {k: v.sort_values(list(v.columns)).reset_index(drop=True) for k, v in
            {"calls": calls, "mediations": med, "outcomes": out, "care": care, "oracle": ora}.items()}


@pytest.mark.parametrize("crn", [77, None])
def test_one_changed_dispute_changes_only_what_follows_from_it(crn):
    base = _world(crn=crn)
    # the dispute started by day 80 with the most calls after it
    late = (base.c_disp >= 0) & (base.c_day > 80)
    calls = np.bincount(base.c_disp[late], minlength=len(base.d_cat))
    target = int(np.argmax(np.where(base.d_start <= 80, calls, -1)))

    def visit(t, s):
        if t != 80:
            return None
        # a strong change (tension raised: in a world this small a calming visit may change no draw at all)
        return Intervention(np.array([target]), np.array([8.0]), np.array([-3.0 * s.h_sd]), np.zeros(0, np.int64),
                            np.zeros(0, bool), np.zeros(0))

    visited = _world(crn=crn, intervene=visit)
    disputes, persons = _component(base, target)
    assert len(persons) < 0.05 * len(np.unique(base.p_person))     # the visit reaches a few people only
    a, b = _rows_outside(base, disputes, persons), _rows_outside(visited, disputes, persons)
    same = {k: a[k].equals(b[k]) for k in a}
    mine = base.c_disp == target
    after = (base.c_day > 80) & mine
    v_after = (visited.c_day > 80) & (visited.c_disp == target)
    assert after.sum() != v_after.sum() or not np.array_equal(base.c_day[after], visited.c_day[v_after]) \
        or not np.array_equal(base.z_full, visited.z_full)       # the visited dispute itself changed
    if crn is not None:
        assert all(same.values()), same                         # everyone else kept their luck
        assert np.array_equal(base.c_day[base.c_day < 80], visited.c_day[visited.c_day < 80])
    else:
        # the world's single stream: after the visit everyone's draws shift (why the loop uses CRN)
        assert not all(same.values())
