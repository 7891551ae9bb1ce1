"""Operations: what happens to an alert after scoring, until a cadre reports the outcome.

``alerts`` (store, lifecycle, routing), ``push`` (adapters and worker), ``inbox`` (cadres' API and
page), ``console`` (reviewers), ``auth`` (accounts), ``audit`` (hash-chained log) and ``migrations``
(Alembic). Never imports :mod:`serving.scoring`; scoring reaches the store only through the alert
sink that configuration names (:mod:`serving.operations.sink`).
"""
