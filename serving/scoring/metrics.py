"""Prometheus metrics of the scoring service, exported at BentoML's ``/metrics``.

``prometheus_client`` is imported on first use, inside the worker, after BentoML has set
``PROMETHEUS_MULTIPROC_DIR`` (importing it earlier would hide these metrics from ``/metrics``).
Metric objects are process-wide singletons, so building several apps in one process (tests) is safe.

=========================================  ==========================================================
weimeng_requests_total{endpoint,status}    requests by endpoint and HTTP status
weimeng_request_seconds{endpoint}          latency histogram (our handler; BentoML adds its own)
weimeng_levels_total{level,source}         levels issued (per person scored)
weimeng_rule_hits_total{rule_id}           rule hits
weimeng_refusals_total{endpoint,reason}    refused requests or items (scope, auth, input)
weimeng_bundle_loads_total{model_version,ruleset_version}  model / rule-set (re)loads
=========================================  ==========================================================
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["Metrics", "metrics"]

_LOCK = threading.Lock()
_INSTANCE: Metrics | None = None


class Metrics:
    def __init__(self):
        from prometheus_client import Counter, Histogram

        self.requests = Counter("weimeng_requests_total", "Requests by endpoint and status", ["endpoint", "status"])
        self.latency = Histogram("weimeng_request_seconds", "Handler latency in seconds", ["endpoint"],
                                 buckets=(.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10))
        self.levels = Counter("weimeng_levels_total", "Risk levels issued", ["level", "source"])
        self.rule_hits = Counter("weimeng_rule_hits_total", "Rule hits", ["rule_id"])
        self.refusals = Counter("weimeng_refusals_total", "Refused requests or items", ["endpoint", "reason"])
        self.loads = Counter("weimeng_bundle_loads_total", "Model and rule-set loads",
                             ["model_version", "ruleset_version"])

        # labelled children, remembered: ``labels()`` takes a lock and builds its key on every call, and a
        # one-person request counts a level and its hits (the same child each time for the same labels)
        self._level_of: dict[tuple[str, str], Any] = {}
        self._hit_of: dict[str, Any] = {}

    def observe_scores(self, scored, source: str) -> None:
        level_of, hit_of = self._level_of, self._hit_of
        for s in scored:
            child = level_of.get((s.level, source))
            if child is None:
                child = level_of[(s.level, source)] = self.levels.labels(s.level, source)
            child.inc()
            for rule_id in s.extra.get("rule_ids", ()):
                hit = hit_of.get(rule_id)
                if hit is None:
                    hit = hit_of[rule_id] = self.rule_hits.labels(rule_id)
                hit.inc()


def metrics() -> Metrics:
    global _INSTANCE
    if _INSTANCE is None:
        with _LOCK:
            if _INSTANCE is None:
                _INSTANCE = Metrics()
    return _INSTANCE
