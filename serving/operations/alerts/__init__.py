"""The alert store: ingest scored people, review, route, queue for push, expire and withdraw.

Entry point for the scoring side::

    from serving.operations.alerts import AlertStore, Directory, ingest
    store = AlertStore.open(directory=Directory.from_event_store(event_store))   # URL from the environment
    results = ingest(store, [p for p in scored if p.level != "none"])            # list[IngestResult]

See docs/alerts.md for the lifecycle, dedup/cooldown rules, routing, the outbox and the tables.
"""

from serving.operations.alerts.db import database_url_from_env, make_engine, require_current, upgrade
from serving.operations.alerts.errors import *  # noqa: F403
from serving.operations.alerts.errors import __all__ as _errors_all
from serving.operations.alerts.ingest import ingest, reason_key
from serving.operations.alerts.lifecycle import STATE_LABELS, STATES, TRANSITIONS, check_transition
from serving.operations.alerts.masking import mask_name, person_label
from serving.operations.alerts.payload import Payload
from serving.operations.alerts.policy import AlertPolicy
from serving.operations.alerts.routing import Directory, Route
from serving.operations.alerts.store import AlertStore
from serving.operations.alerts.views import AlertView, DeliveryView, GapView, IngestResult

__all__ = [
    "ingest", "reason_key", "AlertStore", "AlertPolicy", "Directory", "Route", "Payload",
    "AlertView", "DeliveryView", "GapView", "IngestResult",
    "STATES", "STATE_LABELS", "TRANSITIONS", "check_transition", "mask_name", "person_label",
    "database_url_from_env", "make_engine", "upgrade", "require_current",
    *_errors_all,
]
