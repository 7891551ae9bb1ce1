"""Serving, in two wings that never import each other.

* :mod:`serving.scoring` — the BentoML service: features for a request, rules, model, fusion,
  explanations. It hands every alert it produces to an alert sink (:class:`common.records.AlertSink`).
* :mod:`serving.operations` — alert store, routing, push, inbox, console, accounts, audit and the
  store's migrations. :mod:`serving.operations.sink` is the sink the configuration wires in.
"""
