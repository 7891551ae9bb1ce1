"""The single-row fast path (one-person requests) gives exactly what the general path gives."""

from __future__ import annotations

import threading

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from serving.scoring.fastpredict import SingleRow
from serving.scoring.scorer import Scorer
from tests.serving.scoring.conftest import AS_OF

VALUES = st.one_of(st.just(np.nan), st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 400).map(float))


def test_one_person_scores_and_explanations_equal_the_batch_paths(app, population):
    b = app.scorer.bundle
    X = Scorer.matrix(b, population)[:300]
    batch_p = Scorer.probabilities(b, X)
    batch_c = np.asarray(b.model.booster.predict(X, pred_contrib=True, num_threads=1))
    for i in range(len(X)):
        assert Scorer.probabilities(b, X[i:i + 1])[0] == batch_p[i]
        assert np.array_equal(Scorer.treeshap(b, X[i:i + 1])[0], batch_c[i])


def test_a_one_person_request_answers_what_a_large_batch_answers_for_that_person(app, keys, population):
    """One person per request (single-row predict, TreeSHAP, the event engine's rules) against one request
    for 40 people (LightGBM's batch predict, the vectorised rules): the same record, explanation included."""
    scored = app.scorer.score_frame(population, explain="flagged")
    flagged = [s.person_id for s in scored if s.level != "none"][:20]
    pids = flagged + [s.person_id for s in scored if s.level == "none"][:40 - len(flagged)]
    assert len(flagged) >= 5
    _, batch = app.score_ids(keys["province"], pids, AS_OF)
    for pid, item in zip(pids, batch["items"], strict=True):
        _, one = app.score_ids(keys["province"], [pid], AS_OF)
        assert one["items"][0] == item


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_fast_margin_and_treeshap_equal_booster_predict_on_any_row(app, data):
    b = app.scorer.bundle
    booster = b.model.booster
    row = data.draw(arrays(np.float64, (booster.num_feature(),), elements=VALUES))
    fast = b.single_row
    assert fast.raw(row) == booster.predict(row[None], raw_score=True, num_threads=1)[0]
    assert np.array_equal(fast.contrib(row), booster.predict(row[None], pred_contrib=True, num_threads=1)[0])


def test_threads_each_get_their_own_configuration_and_the_same_answers(app, population):
    b = app.scorer.bundle
    X = Scorer.matrix(b, population)[:200]
    want = b.model.booster.predict(X, raw_score=True, num_threads=1)
    fast = SingleRow(b.model.booster)
    errors: list = []

    def run():
        for i in range(len(X)):
            if fast.raw(X[i]) != want[i]:
                errors.append(i)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_row_of_the_wrong_width_is_refused(app):
    import pytest

    with pytest.raises(ValueError, match="features expected"):
        app.scorer.bundle.single_row.raw(np.zeros(3))
