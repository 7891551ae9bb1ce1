"""The event path: one incoming incident at a time through durable-rules, hits back synchronously.

``EventRuleEngine(ruleset).evaluate(person_id, event, features)`` returns the :class:`~rules.model.Hit`
list that :func:`rules.evaluate_batch` returns for the same row. ``features`` is the person's feature
dict (catalog names) computed **as of just after the event**, so it already counts the new incident
(``calls_7d`` includes this call); ``event`` is the incident record (fields of the incidents contract
plus ``role``, the person's role in it). Effective windows are judged at ``as_of`` (default: the
event's ``event_time``).

How the durable-rules traps (shared/STACK-NOTES.md) are handled:

* **not thread-safe** — every call into durable-rules holds one process-wide lock (the C core has
  global state, so one lock for all engines in the process, not one per engine). The engine drives
  durable-rules' C extension directly (see :class:`_Session`), so durable's ``Host`` never starts its
  background dispatch/timer threads, which would call into the C core every 0.2 s outside our lock.
* **post fires only the first match** — facts are asserted (``assert_fact`` fires every matching
  rule; each fired rule is drained synchronously) and retracted at once, in ``finally``, so no
  state outlives the call. A hit carrying another request's id is treated as a leak: the session is
  reset and the call fails loudly (never a silent wrong answer).
* **1024-sid limit / delete_state segfault** — one shared sid for ever; ``delete_state`` is never called.
* **MessageObservedException / upstream #376** — each fact carries a unique request id, and the
  session (a fresh, uniquely named ruleset) is recycled after ``recycle_after`` facts (default 20k,
  well under the ~46k where #376 shows). If "observed" still appears, the engine recycles and retries
  the fact once on the fresh session, so a caller never loses a hit. Any other engine error recycles
  too (a half-asserted fact must not leak into the next call) and raises :class:`RuleEngineError`.
* **ruleset names are global per process** — every session gets ``weimeng_<n>_<random>``.
* **missing vs null** — None/NaN/NA/±inf fields are dropped from the fact, so a missing value never
  matches (``$neq`` included: durable does not match a comparison on an absent field), exactly like
  NaN in the batch path. Booleans travel as 1.0/0.0, numbers as floats, strings as strings; the loader
  guarantees a rule never compares a text field with a number (durable would happily do so).
* **number syntax** — durable's JSON parser rejects ``1e+16`` / ``5e-05`` (exponent without a decimal
  point); numbers are kept in a domain that never prints that way (``rules._fields.canon_number``).
* **memory (#137)** — measured here: no growth over 100k facts on one session (assert + retract
  leaves nothing behind); each recycle leaves about 0.6 MB of C memory behind (freeing it with
  ``delete_ruleset`` recovered only ~40% and is an untested path, so it is not done), i.e. ~30 MB per
  million events at the default ``recycle_after``. With unique request ids, #376 did not appear in
  100k facts on one session; recycling is kept as the cheap precaution the notes ask for.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Mapping
from typing import cast

from rules._fields import MISSING, NUMBER_MAX, NUMBER_MIN, FieldSpec, canon_number, normalize_scalar
from rules.condition import All, Condition, Leaf
from rules.errors import RuleEngineError, RuleInputError
from rules.model import Hit, RuleSet, to_timestamp

__all__ = ["EventRuleEngine", "compile_condition", "compile_ruleset", "DURABLE_LOCK"]

#: One lock for every call into durable-rules in this process.
DURABLE_LOCK = threading.RLock()
_NAMES = itertools.count(1)
_REQUEST_FIELD = "_wm_rid"
_ASOF_FIELD = "_wm_asof"
_INF = float("inf")


def _leaf(leaf: Leaf) -> dict:
    key = leaf.field.key
    if leaf.op == "==":
        return {key: leaf.value}
    if leaf.op == "in":
        alts = [{key: v} for v in cast(tuple, leaf.value)]
        return alts[0] if len(alts) == 1 else {"$or": alts}
    op = {"!=": "$neq", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}[leaf.op]
    return {op: {key: leaf.value}}


def compile_condition(cond: Condition) -> dict:
    """Compile a condition tree to a durable-rules expression (the inside of ``{"m": ...}``)."""
    if isinstance(cond, Leaf):
        return _leaf(cond)
    parts = [compile_condition(c) for c in cond.children]
    if len(parts) == 1:
        return parts[0]
    return {"$and" if isinstance(cond, All) else "$or": parts}


def _epoch(d) -> float:
    import pandas as pd

    return float(pd.Timestamp(d).value // 10**9)


def compile_ruleset(ruleset: RuleSet) -> dict[str, dict]:
    """durable-rules rule dicts (without actions), keyed ``r<position>``; the effective window is
    part of each condition, judged on the fact's as-of time (epoch seconds)."""
    out = {}
    for i, rule in enumerate(ruleset.rules):
        window = [{"$gte": {_ASOF_FIELD: _epoch(rule.effective_from)}}]
        if rule.effective_until is not None:
            window.append({"$lt": {_ASOF_FIELD: _epoch(rule.effective_until)}})
        out[f"r{i}"] = {"all": [{"m": {"$and": window + [compile_condition(rule.condition)]}}]}
    return out


_OK, _NOT_HANDLED, _OBSERVED = 0, 1, 2


class _ObservedError(Exception):
    """The C core reported the fact as already observed (upstream #376 when spurious)."""


class _Session:
    """One durable-rules ruleset (uniquely named) and its single shared sid, driven synchronously.

    Uses durable-rules' own C extension (``durable_rules_engine``) directly rather than
    ``durable.engine.Host``: the Host starts background dispatch/timer threads that call into the C
    core outside any lock of ours, and round-trips the session state through JSON for every action
    (about 60 µs per hit). The protocol is the Host's own (assert -> start_action_for_state ->
    complete_and_start_action ... -> retract), without the parts we do not use (timers, state).
    Callers hold DURABLE_LOCK.
    """

    def __init__(self, definitions: dict):
        import durable_rules_engine as dre

        self._dre = dre
        self.name = f"weimeng_{next(_NAMES)}_{uuid.uuid4().hex[:10]}"
        self.handle = dre.create_ruleset(self.name, json.dumps(definitions, ensure_ascii=False))
        self.facts = 0

    def run(self, fact_json: str, rid: str) -> list[str]:
        """Assert, collect every fired rule for this request id, retract. Returns rule keys."""
        dre = self._dre
        self.facts += 1
        code, state = self.assert_fact(fact_json)
        fired: list[str] = []
        try:
            if code == _OBSERVED:
                raise _ObservedError()
            if code == _OK:
                msg = dre.start_action_for_state(self.handle, state)
                payload = msg[1] if msg else None
                while payload:
                    for rule_key, match in json.loads(payload).items():
                        got = match.get("m", {}).get(_REQUEST_FIELD)
                        if got != rid:  # a hit for another request would be a state leak
                            raise RuleEngineError(f"durable-rules returned a hit for request {got!r} while "
                                                  f"evaluating {rid!r}; the session was reset.")
                        fired.append(rule_key)
                    payload = dre.complete_and_start_action(self.handle, state)
        finally:
            if code in (_OK, _NOT_HANDLED):
                self.retract_fact(fact_json)
        return fired

    # Thin wrappers (one place to intercept in tests).
    def assert_fact(self, fact_json: str):
        return self._dre.assert_fact(self.handle, fact_json)

    def retract_fact(self, fact_json: str):
        return self._dre.retract_fact(self.handle, fact_json)

    def stored_facts(self) -> list:
        if self.facts == 0:  # the shared sid's state does not exist until the first fact
            return []
        return json.loads(self._dre.get_facts(self.handle, None))


class EventRuleEngine:
    """Evaluate incidents one at a time on durable-rules; safe to share between threads.

    >>> import rules
    >>> eng = rules.EventRuleEngine(rules.load_ruleset())
    >>> [h.rule_id for h in eng.evaluate("P1", {"event_time": "2026-01-05", "category": "family",
    ...      "flag_threat": True, "role": "party"}, {"calls_family_marital_90d": 1})]
    ['FE001']
    """

    def __init__(self, ruleset: RuleSet, *, recycle_after: int = 20_000):
        if recycle_after < 1:
            raise ValueError(f"recycle_after must be >= 1, got {recycle_after}")
        self.ruleset = ruleset
        self.recycle_after = recycle_after
        self._definitions = compile_ruleset(ruleset)
        self._specs: dict[str, FieldSpec] = ruleset.specs
        # (name, spec, key in the input dict, key in the fact, plain number?) per field used.
        self._plan = [(n, sp.is_event, n[len("event."):] if sp.is_event else n, sp.key, sp.kind, sp)
                      for n, sp in self._specs.items()]
        self._last_as_of: tuple = (object(), 0.0)  # (as given, epoch seconds): one parse per distinct as-of
        self._rule_index = {f"r{i}": r for i, r in enumerate(ruleset.rules)}
        self._order = {f"r{i}": i for i in range(len(ruleset.rules))}
        self._token = uuid.uuid4().hex[:8]
        self._seq = itertools.count(1)
        self._session: _Session | None = None
        #: How many times the host was recycled (for tests and monitoring).
        self.recycles = 0
        self.facts_total = 0

    # -- durable-rules plumbing (always under DURABLE_LOCK) ------------------------------------
    def _recycle(self) -> None:
        # Never delete_state; the old ruleset is simply abandoned (see module docstring).
        self._session = _Session(self._definitions)
        self.recycles += 1

    def _run_fact(self, fact: dict) -> list[str]:
        rid = fact[_REQUEST_FIELD]
        fact_json = json.dumps(fact, ensure_ascii=False, allow_nan=False)
        for attempt in (1, 2):
            try:
                if self._session is None:
                    self._session = _Session(self._definitions)
                elif self._session.facts >= self.recycle_after:
                    self._recycle()
                return self._session.run(fact_json, rid)
            except _ObservedError:
                self._recycle()
                if attempt == 2:
                    raise RuleEngineError("durable-rules reported the fact as already observed twice, "
                                          "even on a fresh session; the request can be retried.") from None
            except RuleEngineError:
                self._session = None
                self.recycles += 1
                raise
            except Exception as exc:
                self._session = None  # start afresh on the next call
                self.recycles += 1
                raise RuleEngineError(f"durable-rules failed: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # -- public --------------------------------------------------------------------------------
    def build_fact(self, event: Mapping | None, features: Mapping | None, as_of=None) -> tuple[dict, dict]:
        """The durable fact (without request id) and the normalised values, from raw inputs.

        Raises :class:`RuleInputError` for a value of the wrong type (text where a number belongs ...).
        """
        event = {} if event is None else event
        features = {} if features is None else features
        if not isinstance(event, Mapping) or not isinstance(features, Mapping):
            raise RuleInputError("event and features must be dicts.")
        if as_of is None:
            as_of = event.get("event_time")
        if as_of is None:
            raise RuleInputError("no as-of time: pass as_of=... or give the event an 'event_time'.")
        cached = self._last_as_of  # read once: other threads may replace it
        if as_of is cached[0]:
            epoch = cached[1]
        else:
            try:
                ts = to_timestamp(as_of)
            except (ValueError, TypeError) as exc:
                raise RuleInputError(f"as_of {as_of!r} is not a date/time: {exc}") from None
            if ts is None or ts != ts:
                raise RuleInputError(f"as_of {as_of!r} is not a date/time.")
            epoch = float(ts.value // 10**9)
            self._last_as_of = (as_of, epoch)
        values: dict = {}
        fact: dict = {_ASOF_FIELD: epoch}
        for name, is_event, source_key, fact_key, kind, spec in self._plan:
            raw = (event if is_event else features).get(source_key)
            if raw is None:
                continue
            t = type(raw)
            # Fast paths for the common types; everything else through normalize_scalar (same result).
            if kind == "number" and (t is float or t is int):
                v = float(raw)
                if v != v:
                    continue
                if not (-NUMBER_MAX < v < NUMBER_MAX) or (-NUMBER_MIN < v < NUMBER_MIN and v != 0.0):
                    if v in (_INF, -_INF):
                        continue
                    v = canon_number(v)
            elif kind == "bool" and t is bool:
                v = 1.0 if raw else 0.0
            elif kind == "str" and t is str:
                v = raw
            else:
                try:
                    v = normalize_scalar(spec, raw)
                except TypeError as exc:
                    raise RuleInputError(str(exc)) from None
                if v is MISSING:
                    continue
            values[name] = v
            fact[fact_key] = v
        return fact, values

    def evaluate(self, person_id, event: Mapping | None, features: Mapping | None, *, as_of=None) -> list[Hit]:
        """Hits for one person at one incident, in the rule file's order, with explanations.

        ``person_id`` only labels error messages: rules judge facts, never identities.
        """
        try:
            fact, values = self.build_fact(event, features, as_of)
        except RuleInputError as exc:
            raise RuleInputError(f"person {person_id!r}: {exc}") from None
        with DURABLE_LOCK:
            fact[_REQUEST_FIELD] = f"{self._token}-{next(self._seq)}"
            fired = self._run_fact(fact)
            self.facts_total += 1
        hits = []
        for key in sorted(set(fired), key=self._order.__getitem__):
            rule = self._rule_index[key]
            hits.append(Hit(rule.id, rule.version, rule.category, rule.level, rule.urgent, rule.explain(values)))
        return hits

    def stored_facts(self) -> list:
        """Facts currently held by the engine's session (always empty between calls)."""
        with DURABLE_LOCK:
            return [] if self._session is None else self._session.stored_facts()

    @property
    def session_name(self) -> str:
        """The current durable-rules ruleset name (unique in the process)."""
        return "" if self._session is None else self._session.name
