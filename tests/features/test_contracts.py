"""Data contracts: bad rows are quarantined with file/row/field; a wrong file is one clear error."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contracts import TABLES, read_table, validate
from features.errors import ContractError
from tests.features.factories import base_tables, incident

INC = TABLES["incidents"]


def _incidents(rows):
    return pd.DataFrame(rows)


def test_valid_rows_pass_and_keep_their_file_row_numbers():
    df = _incidents([incident("J1", "2024-03-01 10:00"), incident("J2", "2024-03-02 11:00")])
    res = validate(df, INC, source="incidents.parquet")
    assert list(res.valid["incident_id"]) == ["J1", "J2"]
    assert list(res.valid.index) == [1, 2]
    assert res.quarantine.empty


def test_missing_required_field_drops_row_with_file_row_and_field():
    rows = [incident("J1", "2024-03-01 10:00"), incident("J2", "2024-03-02 11:00")]
    rows[1]["category"] = None
    res = validate(_incidents(rows), INC, source="incidents.parquet")
    assert list(res.valid["incident_id"]) == ["J1"]
    q = res.quarantine.iloc[0]
    assert (q["file"], q["row"], q["field"], q["reason_code"], q["action"]) == (
        "incidents.parquet", 2, "category", "missing", "dropped_row")
    assert "必填" in q["reason"]


def test_bad_optional_field_is_nulled_not_dropped():
    row = incident("J1", "2024-03-01 10:00")
    row["address_code"] = "5101070010-1"  # malformed standard address
    res = validate(_incidents([row]), INC)
    assert len(res.valid) == 1 and pd.isna(res.valid["address_code"].iloc[0])
    assert res.quarantine.iloc[0]["action"] == "nulled_field"
    assert res.quarantine.iloc[0]["reason_code"] == "pattern"


@pytest.mark.parametrize("raw, code", [("邻里纠纷 ", "neighbour"), ("Neighbor", "neighbour"), ("欠薪", "labour"),
                                       ("FAMILY", "family")])
def test_category_synonyms_are_normalised(raw, code):
    row = incident("J1", "2024-03-01 10:00", category=raw)
    res = validate(_incidents([row]), INC)
    assert res.valid["category"].iloc[0] == code


def test_unknown_category_and_recorded_before_event_are_quarantined():
    a = incident("J1", "2024-03-01 10:00", category="？？")
    b = incident("J2", "2024-03-01 10:00", recorded="2024-02-01")
    res = validate(_incidents([a, b]), INC)
    assert res.valid.empty
    assert set(res.quarantine["reason_code"]) == {"allowed", "time_order"}


def test_duplicate_primary_key_keeps_first():
    res = validate(_incidents([incident("J1", "2024-03-01 10:00"), incident("J1", "2024-03-05 10:00")]), INC)
    assert len(res.valid) == 1 and res.valid["event_time"].iloc[0] == pd.Timestamp("2024-03-01 10:00")
    assert res.quarantine.iloc[0]["reason_code"] == "duplicate_key"


def test_wrong_file_is_one_clear_error(tmp_path):
    persons = base_tables()["persons"]
    path = tmp_path / "incidents.parquet"
    persons.to_parquet(path)
    with pytest.raises(ContractError, match=r"incidents\.parquet.*missing columns \['incident_id'"):
        read_table(path, INC)


def test_unreadable_file_is_one_clear_error(tmp_path):
    path = tmp_path / "incidents.parquet"
    path.write_text("this is not parquet")
    with pytest.raises(ContractError, match="cannot be read as Parquet"):
        read_table(path, INC)


def test_csv_strings_are_coerced(tmp_path):
    df = _incidents([incident("J1", "2024-03-01 10:00")])
    df["flag_violence"] = "是"
    path = tmp_path / "incidents.csv"
    df.to_csv(path, index=False)
    res = read_table(path, INC)
    assert bool(res.valid["flag_violence"].iloc[0]) is True
    assert res.valid["event_time"].iloc[0] == pd.Timestamp("2024-03-01 10:00")


_field_breakers = {
    "incident_id": None, "category": "bogus", "event_time": "not a time", "flag_threat": "maybe",
    "address_code": "x", "disposition": "lost",
}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([None, *_field_breakers]), min_size=1, max_size=30))
def test_every_row_is_either_kept_or_explained(breaks):
    rows = []
    for i, field in enumerate(breaks):
        row = incident(f"J{i}", "2024-03-01 10:00")
        if field is not None:
            row[field] = _field_breakers[field]
        rows.append(row)
    res = validate(_incidents(rows), INC, source="f.parquet")
    dropped = set(res.quarantine.loc[res.quarantine["action"] == "dropped_row", "row"])
    kept = set(res.valid.index)
    assert kept | dropped == set(range(1, len(rows) + 1)) and not kept & dropped
    required_breaks = {i + 1 for i, f in enumerate(breaks) if f in ("incident_id", "category", "event_time")}
    assert required_breaks == dropped
