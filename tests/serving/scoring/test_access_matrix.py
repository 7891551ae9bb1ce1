"""The scoring API's access matrix: every endpoint that reads a person x every key scope x a person inside
and outside the key's jurisdiction, asserting the answer and its audit entry (issue 13)."""

from __future__ import annotations

import pytest

from tests.serving.scoring.conftest import AS_OF
from tests.serving.scoring.test_security import _event

KEYS = ("province", "chengdu", "admin", "forged")
WHO = ("inside", "outside")
#: key -> may it read someone outside 成都市?  (the province key and the admin key see the whole province)
SEES_OUTSIDE = {"province": True, "chengdu": False, "admin": True}


def _call(app, endpoint: str, key: str | None, pid: str) -> int:
    """The HTTP status for this person: the request's, or the person's own item in a batch answer."""
    if endpoint == "explain":
        return app.explain_person(key, pid, AS_OF)[0]
    if endpoint == "event":
        return app.ingest_event(key, _event(pid))[0]
    status, body = app.score_ids(key, [pid], AS_OF, explain="none")
    return status if status != 200 else int(body["items"][0]["http_status"])


@pytest.mark.parametrize("endpoint", ["score", "explain", "event"])
@pytest.mark.parametrize("key_name", KEYS)
@pytest.mark.parametrize("who", WHO)
def test_each_endpoint_answers_each_scope_and_audits_it(app, keys, split_ids, audit_calls, endpoint, key_name,
                                                        who):
    pid = split_ids[0][3] if who == "inside" else split_ids[1][3]
    key = keys.get(key_name, "wm_forged00_" + "x" * 30)
    assert app.flush_audit()  # earlier reads' entries are in before counting
    n = len(audit_calls)
    status = _call(app, endpoint, key, pid)
    assert app.flush_audit()  # audit events are written off the request path
    entries = audit_calls[n:]
    if key_name == "forged":
        assert status == 401
        assert [(e.action, e.subject) for e in entries] == [("api.refused", f"request:{endpoint}")]
        return
    allowed = who == "inside" or SEES_OUTSIDE[key_name]
    assert status == (200 if allowed else 403), (endpoint, key_name, who, status)
    action = f"api.{endpoint}" if allowed else "api.refused"
    assert [(e.action, e.subject) for e in entries] == [(action, f"person:{pid}")]
    key_id = app.keys.verify(key).key_id
    assert all(key_id in e.actor for e in entries)


@pytest.mark.parametrize("key_name", ["province", "chengdu", "forged"])
def test_reload_is_for_admin_keys_only_and_refusals_are_audited(app, keys, audit_calls, key_name):
    key = keys.get(key_name, "wm_forged00_" + "x" * 30)
    assert app.flush_audit()  # earlier reads' entries are in before counting
    n = len(audit_calls)
    assert app.reload(key)[0] == (401 if key_name == "forged" else 403)
    assert app.flush_audit()
    assert [(e.action, e.subject) for e in audit_calls[n:]] == [("api.refused", "request:reload")]
