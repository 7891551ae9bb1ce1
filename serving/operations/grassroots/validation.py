"""A report or a tip from a form, checked against its data contract (:mod:`features.contracts`).

The form's values become one row of the contract's table and go through the same
:func:`features.contracts.validate` as every file: a value the contract would quarantine (or null) is refused
here with the contract's Chinese reason and the field's name, so what is stored can always be exported as
a valid table.

>>> observations(["obs_threat", "矛盾有激化迹象"])
('obs_conflict_rising', 'obs_threat')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd

from common.clock import to_data_time
from features.contracts import (
    CATEGORY_LABELS,
    OBSERVATION_LABELS,
    TABLES,
    URGENCY_LABELS,
    validate,
)
from serving.operations.grassroots.errors import InvalidInput

__all__ = ["observations", "check_row", "FORM_LABELS"]

#: Chinese names of the form's fields, for messages.
FORM_LABELS = {"category": "类别", "urgency": "紧急程度", "address_code": "地址码", "person_id": "人员编号",
               "note": "情况说明", "observations": "所见情况", "linked_person_id": "关联人员编号",
               "verdict": "核查结论"}


def observations(values: Iterable[str] | None) -> tuple[str, ...]:
    """Observation codes from codes or Chinese labels, sorted and unique; an unknown one is refused."""
    by_label = {v: k for k, v in OBSERVATION_LABELS.items()}
    out = set()
    for v in values or ():
        text = str(v).strip()
        code = text if text in OBSERVATION_LABELS else by_label.get(text)
        if code is None:
            allowed = "、".join(OBSERVATION_LABELS.values())
            raise InvalidInput(f"所见情况无效 / observation {text!r} is not allowed; choose from: {allowed}.",
                               field="observations")
        out.add(code)
    return tuple(sorted(out))


def check_row(table: str, values: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """Validate one form row against ``table``'s contract; return its canonical values.

    ``values`` holds the form's fields; the times are filled from ``now`` (aware UTC -> the contracts'
    Beijing wall time) and the observation flags from ``values["observations"]``.
    """
    contract = TABLES[table]
    obs = set(values.get("observations") or ())
    row: dict[str, Any] = {c.name: values.get(c.name) for c in contract.columns}
    row.update({"time": to_data_time(now), "recorded_at": to_data_time(now)})
    for name in OBSERVATION_LABELS:
        row[name] = name in obs
    key = contract.key[0]
    row[key] = row.get(key) or "NEW"
    frame = pd.DataFrame([row], columns=contract.column_names).astype(object)
    result = validate(frame, contract, source="表单")
    if len(result.quarantine):
        first = result.quarantine.iloc[0]
        field = str(first["field"])
        label = FORM_LABELS.get(field, field)
        hint = ""
        if field == "category":
            hint = "；可选：" + "、".join(CATEGORY_LABELS.values())
        elif field == "urgency":
            hint = "；可选：" + "、".join(URGENCY_LABELS.values())
        raise InvalidInput(f"{label}：{first['reason']}{hint} / field {field!r} was refused by the "
                           f"{table} contract ({first['reason_code']}).", field=field)
    clean = result.valid.iloc[0].to_dict()
    return {k: (None if v is pd.NA or (isinstance(v, float) and v != v) else v) for k, v in clean.items()}
