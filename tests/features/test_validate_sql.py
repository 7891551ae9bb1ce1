"""The DuckDB validator against the pandas one: identical quarantine and identical accepted rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contracts import TABLES, read_table
from features.errors import ContractError
from features.simulate import simulate
from features.store import EventStore
from features.validate_sql import validate_parquet
from tests.features.factories import incident

MESS = dict(p_bad_row=0.04, p_category_label=0.3, p_duplicate_call=0.1, p_missing_address=0.2,
            p_missing_disposition=0.2, p_missing_flag=0.2)


def _same(path: Path, name: str, con=None):
    contract = TABLES[name]
    old = read_table(path, contract)
    new = validate_parquet(con or duckdb.connect(), path, contract)
    pd.testing.assert_frame_equal(new.to_frame(), old.valid)
    assert new.quarantine.to_dict("records") == old.quarantine.to_dict("records")
    assert new.n_dropped_rows == old.n_dropped_rows
    return old, new


@pytest.fixture(scope="module")
def messy_world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("messy")
    simulate(people=2500, days=150, seed=11, out=out, progress=False, **MESS)
    # More mess than the simulator makes: whitespace, case, synonyms, duplicate keys, orphans, bad types.
    inc = pd.read_parquet(out / "incidents.parquet")
    rng = np.random.default_rng(4)
    n = len(inc)
    pick = rng.random(n)
    inc["category"] = inc["category"].astype(object)
    inc.loc[pick < 0.05, "category"] = "  Neighbor\u3000"
    inc.loc[(pick >= 0.05) & (pick < 0.08), "category"] = "   "
    inc.loc[(pick >= 0.08) & (pick < 0.1), "disposition"] = "lost"
    inc.loc[(pick >= 0.1) & (pick < 0.12), "address_code"] = "5101-x"
    inc.loc[(pick >= 0.12) & (pick < 0.14), "incident_id"] = inc["incident_id"].iloc[0]
    inc.loc[(pick >= 0.14) & (pick < 0.15), "recorded_at"] = pd.NaT
    inc.loc[(pick >= 0.15) & (pick < 0.16), "incident_id"] = "bad id with spaces"
    inc.to_parquet(out / "incidents.parquet", index=False)
    par = pd.read_parquet(out / "incident_parties.parquet")
    par.loc[par.index[:5], "person_id"] = "NOBODY"
    par.loc[par.index[5:8], "role"] = " 报警人 "
    par.to_parquet(out / "incident_parties.parquet", index=False)
    persons = pd.read_parquet(out / "persons.parquet")
    by = persons["birth_year"].astype("float64")
    by.iloc[:4] = [1980.5, np.nan, 1850.0, 2100.0]
    persons["birth_year"] = by
    persons.loc[persons.index[4:8], "sex"] = ["男", "f", "x", None]
    persons["residence_since"] = persons["residence_since"].dt.tz_localize("UTC")
    persons.to_parquet(out / "persons.parquet", index=False)
    return out


@pytest.mark.parametrize("name", list(TABLES))
def test_messy_world_tables_validate_identically(messy_world, name):
    path = messy_world / TABLES[name].filename
    if not path.exists():
        pytest.skip("optional table absent")
    old, _ = _same(path, name)
    if name in ("incidents", "persons", "incident_parties"):
        assert len(old.quarantine), "the messy world should have quarantine entries in this table"


def test_messy_world_store_report_identical(messy_world):
    old = EventStore.open(messy_world, quarantine_dir=messy_world / "q_old", progress=False, engine="pandas")
    new = EventStore.open(messy_world, quarantine_dir=messy_world / "q_new", progress=False)
    assert new.report.quarantine.to_dict("records") == old.report.quarantine.to_dict("records")
    assert set(new.report.quarantine["reason_code"]) >= {"orphan", "duplicate_key", "missing", "time_order"}
    assert new.report.rows_read == old.report.rows_read and new.report.rows_kept == old.report.rows_kept
    for name in TABLES:
        pd.testing.assert_frame_equal(new.table(name), old.table(name))
    pd.testing.assert_frame_equal(pd.read_parquet(messy_world / "q_new" / "quarantine.parquet"),
                                  pd.read_parquet(messy_world / "q_old" / "quarantine.parquet"))
    assert old.n_events == new.n_events
    pd.testing.assert_frame_equal(new.features("2024-04-01"), old.features("2024-04-01"))


_TEXT = st.sampled_from(["neighbour", " Neighbor ", "邻里纠纷 ", "FAMILY", "欠薪", "？？", "", "  ", "\u3000labour\t",
                         "lost", "已立案", "Case Filed", "mediated", None])
_ID = st.sampled_from(["J1", "J2", "J3", " J1 ", "bad id", "", None, "J-4_x"])
_TIME = st.sampled_from([pd.Timestamp("2024-03-01 10:00"), pd.Timestamp("2024-03-01 09:55"),
                         pd.Timestamp("2024-03-01 09:49:59.999999"), pd.Timestamp("2024-03-01"),
                         pd.Timestamp("2024-02-01 00:00"), pd.NaT])
_FLAG = st.sampled_from([True, False, None])
_ADDR = st.sampled_from(["510107001001-0001", "5101-x", " 510107001001-0002", None, "51010700100１-0001"])


@st.composite
def _incident_rows(draw):
    rows = []
    for i in range(draw(st.integers(1, 25))):
        row = incident(f"J{i}", "2024-03-01 10:00")
        row.update(incident_id=draw(_ID), event_time=draw(_TIME), recorded_at=draw(_TIME), category=draw(_TEXT),
                   disposition=draw(_TEXT), flag_threat=draw(_FLAG), address_code=draw(_ADDR))
        rows.append(row)
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_incident_rows(), st.booleans())
def test_generated_bad_rows_validate_identically(tmp_path, rows, aware):
    df = pd.DataFrame(rows)
    df["flag_threat"] = df["flag_threat"].astype("boolean")
    if aware:
        df["event_time"] = df["event_time"].dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
    path = tmp_path / "incidents.parquet"
    df.to_parquet(path, index=False)
    _same(path, "incidents")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["P1", "P2", " P1", None, "x y"]),
                          st.sampled_from([1980.0, 1980.5, np.nan, 1899.0, 2031.0, 2030.0]),
                          st.sampled_from(["M", "男", "女", "f", "?", None])), min_size=1, max_size=15))
def test_generated_person_rows_validate_identically(tmp_path, rows):
    df = pd.DataFrame({"person_id": [r[0] for r in rows], "birth_year": [r[1] for r in rows],
                       "sex": [r[2] for r in rows], "hukou_address_code": "510107001001-0001",
                       "residence_address_code": "510107001001-0001",
                       "residence_since": pd.Timestamp("2020-01-01")})
    path = tmp_path / "persons.parquet"
    df.to_parquet(path, index=False)
    _same(path, "persons")


def test_unsupported_column_type_falls_back_to_the_same_result(tmp_path):
    df = pd.DataFrame([incident("J1", "2024-03-01 10:00"), incident("J2", "2024-03-01 10:00", category="？？")])
    df["category"] = df["category"].astype("category")  # dictionary-encoded in Parquet
    df["event_time"] = df["event_time"].astype(str)  # text times
    path = tmp_path / "incidents.parquet"
    df.to_parquet(path, index=False)
    old, new = _same(path, "incidents")
    assert list(new.quarantine["reason_code"]) == ["allowed"]


def test_wrong_and_unreadable_files_are_one_clear_error(tmp_path):
    path = tmp_path / "incidents.parquet"
    pd.DataFrame({"person_id": ["P1"]}).to_parquet(path)
    with pytest.raises(ContractError, match=r"incidents\.parquet.*missing columns \['incident_id'"):
        validate_parquet(duckdb.connect(), path, TABLES["incidents"])
    path.write_text("this is not parquet")
    with pytest.raises(ContractError, match="cannot be read as Parquet"):
        validate_parquet(duckdb.connect(), path, TABLES["incidents"])


def test_extra_columns_are_ignored_even_with_our_internal_names(tmp_path):
    df = pd.DataFrame([incident("J1", "2024-03-01 10:00"), incident("J1", "2024-03-01 11:00")])
    df["row"] = [7, 8]
    df["v0"] = ["x", "y"]
    path = tmp_path / "incidents.parquet"
    df.to_parquet(path)  # with the pandas index stored as a column too
    old, new = _same(path, "incidents")
    assert list(new.quarantine["row"]) == [2] and "row" not in new.to_frame().columns
