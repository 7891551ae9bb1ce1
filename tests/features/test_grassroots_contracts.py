"""The field-report and tip contracts: validated like every table (quarantine with Chinese reasons), the same in
pandas and DuckDB, and optional (a world without them opens as before)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from features.contracts import TABLES, validate
from features.validate_sql import validate_parquet

ADDR = "510107001002-0012"


def _report(**kw) -> dict:
    row = {"report_id": "FR1", "time": pd.Timestamp("2025-03-01 10:00"),
           "recorded_at": pd.Timestamp("2025-03-01 10:05"),
           "reporter_id": "W1", "reporter_role": "网格员", "provenance": "inbox", "person_id": "P000001",
           "address_code": ADDR, "category": "邻里纠纷", "urgency": "紧急", "obs_conflict_rising": True,
           "obs_threat": "是", "obs_violence": None, "obs_emotion": False, "obs_harm_risk": None,
           "note": "两户因漏水争吵"}
    row.update(kw)
    return row


def _tip(**kw) -> dict:
    row = {"tip_id": "T1", "time": pd.Timestamp("2025-03-01 21:00"), "recorded_at": pd.Timestamp("2025-03-01 21:00"),
           "address_code": ADDR, "category": "family", "urgency": "routine", "obs_conflict_rising": None,
           "obs_threat": None, "obs_violence": True, "obs_emotion": None, "obs_harm_risk": None, "note": "楼上天天吵架",
           "linked_person_id": None, "verdict": None}
    row.update(kw)
    return row


def test_a_good_report_is_normalised():
    res = validate(pd.DataFrame([_report()]), TABLES["field_reports"])
    assert res.quarantine.empty
    row = res.valid.iloc[0]
    assert (row.reporter_role, row.category, row.urgency, bool(row.obs_threat)) == ("grid_worker", "neighbour",
                                                                                   "urgent", True)


@pytest.mark.parametrize(("table", "row", "field", "reason"), [
    ("field_reports", _report(address_code="成都市武侯区"), "address_code", "格式不符"),
    ("field_reports", _report(reporter_role="保安"), "reporter_role", "取值不在允许范围"),
    ("field_reports", _report(urgency=None), "urgency", "必填字段为空"),
    ("field_reports", _report(recorded_at=pd.Timestamp("2025-02-28")), "recorded_at", "录入时间早于发生时间"),
    ("tips", _tip(address_code=None), "address_code", "必填字段为空"),
    ("tips", _tip(category="吵架"), "category", "取值不在允许范围"),
])
def test_bad_rows_are_quarantined_with_a_chinese_reason(table, row, field, reason):
    res = validate(pd.DataFrame([row]), TABLES[table], source=f"{table}.parquet")
    assert res.valid.empty
    q = res.quarantine.iloc[0]
    assert (q.field, q.action, q.file) == (field, "dropped_row", f"{table}.parquet") and reason in q.reason


def test_a_bad_optional_value_loses_the_value_not_the_tip():
    res = validate(pd.DataFrame([_tip(verdict="不好说", linked_person_id="bad id")]), TABLES["tips"])
    assert len(res.valid) == 1 and res.valid.iloc[0].verdict is pd.NA
    assert set(res.quarantine["field"]) == {"verdict", "linked_person_id"}
    assert set(res.quarantine["action"]) == {"nulled_field"}


def test_duckdb_and_pandas_validate_both_tables_alike(tmp_path):
    for table, rows in (("field_reports", [_report(), _report(), _report(report_id="FR2", urgency="很急"),
                                           _report(report_id="FR3", person_id=None)]),
                        ("tips", [_tip(), _tip(tip_id="T2", verdict="属实"), _tip(tip_id="T3", note=None),
                                  _tip(tip_id="T4", address_code="51-1"), _tip(tip_id="T2")])):
        path = tmp_path / f"{table}.parquet"
        pd.DataFrame(rows).to_parquet(path, index=False)
        new = validate_parquet(duckdb.connect(), path, TABLES[table])
        old = validate(pd.read_parquet(path), TABLES[table], source=path.name)
        pd.testing.assert_frame_equal(new.to_frame(), old.valid)
        assert new.quarantine.to_dict("records") == old.quarantine.to_dict("records")
        assert len(old.quarantine) >= 2


def test_the_tables_are_optional():
    assert TABLES["field_reports"].optional and TABLES["tips"].optional
    # a tip has no column that could hold anything about its sender
    assert not {c.name for c in TABLES["tips"].columns} & {"ip", "client", "user_agent", "device_id", "phone", "openid"}
