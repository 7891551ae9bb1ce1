"""Preparation details: note keyword flags in SQL against a plain Python reference, and ``ev``'s types."""

from __future__ import annotations

import re

import duckdb
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.catalog import NOTE_KEYWORDS
from features.prepare import _keyword_sql

# Fragments that build every case of the excluded phrase: whole, split, or joining two words once removed
# ("弄" + "报复社会" + "死" reads "弄死" after the removal).
_FRAGMENTS = st.sampled_from(["报复", "社会", "报复社会", "弄", "死", "同归于尽", "不想活", "精神", "病", "发作",
                              "人多的地方闹事", "民警到场。", " ", "x"])
_NOTES = st.lists(st.one_of(st.none(), st.lists(_FRAGMENTS, max_size=6).map("".join)), min_size=1, max_size=30)


def _reference(note: str | None) -> dict[str, int]:
    out = {}
    for name, kw in NOTE_KEYWORDS.items():
        text = note or ""
        if kw["exclude"]:
            text = text.replace(kw["exclude"], "")
        out[name] = int(re.search(kw["pattern"], text) is not None)
    return out


@settings(max_examples=80, deadline=None)
@given(_NOTES)
def test_keyword_flags_equal_the_python_reference(notes):
    con = duckdb.connect()
    con.register("notes_df", pd.DataFrame({"i": range(len(notes)), "note": pd.Series(notes, dtype=object)}))
    got = con.execute(f"SELECT {_keyword_sql('note')} FROM notes_df ORDER BY i").df()
    assert got.astype(int).to_dict("records") == [_reference(n) for n in notes]


def test_keyword_flags_exclusion_can_join_two_words():
    con = duckdb.connect()
    row = con.execute(f"SELECT {_keyword_sql('note')} FROM (SELECT '弄报复社会死' AS note)").df().iloc[0]
    assert row["kw_retaliation"] == 1 and row["kw_society"] == 1  # "弄死" once "报复社会" is removed


def test_ev_low_cardinality_columns_are_enums(tmp_path):
    from features.simulate import simulate
    from features.store import EventStore

    simulate(people=600, days=60, seed=83, out=tmp_path, progress=False)
    store = EventStore.open(tmp_path, progress=False)
    types = {c: t for c, t, *_ in store._con.execute("DESCRIBE ev").fetchall()}
    for col in ("src", "cat", "role", "disp", "med_result", "care_kind"):
        assert str(types[col]).startswith("ENUM"), (col, types[col])
    srcs = {r[0] for r in store._con.execute("SELECT DISTINCT CAST(src AS VARCHAR) FROM ev").fetchall()}
    assert {"incident", "contact"} <= srcs
