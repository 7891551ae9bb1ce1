"""The leadership report's escalation section: steps of graded escalation (逐级督办) by level and county.

The counts come from the operational store (:func:`serving.operations.grassroots.escalation_counts`); this
module only turns them into a table with county names, one column per level.
"""

from __future__ import annotations

import pandas as pd

from common.clock import from_data_time

__all__ = ["escalation_table", "escalation_section"]


def escalation_table(engine, start, end) -> pd.DataFrame:
    """Rows (county_code, county_name, township, county, prefecture, total) for steps whose deadline fell in
    ``[start, end)`` (naive Beijing dates, as the report's period)."""
    from features.divisions import load_divisions
    from serving.operations.grassroots.directory import LEVELS
    from serving.operations.grassroots.escalation import escalation_counts

    counts = escalation_counts(engine, from_data_time(pd.Timestamp(start)), from_data_time(pd.Timestamp(end)))
    levels = [lv for lv in LEVELS if lv != "village"]
    if not counts:
        return pd.DataFrame(columns=["county_code", "county_name", *levels, "total"])
    df = pd.DataFrame(counts).pivot_table(index="county_code", columns="level", values="n", aggfunc="sum",
                                          fill_value=0)
    df = df.reindex(columns=levels, fill_value=0).reset_index()
    names = load_divisions().set_index("code")["name"]
    df.insert(1, "county_name", df["county_code"].map(names).fillna(df["county_code"]))
    df["total"] = df[levels].sum(axis=1)
    return df.sort_values(["total", "county_code"], ascending=[False, True]).reset_index(drop=True)


def escalation_section(engine, start, end, table_html) -> str:
    """The section's HTML; ``table_html`` is the report's own table renderer (one look for every table)."""
    df = escalation_table(engine, start, end)
    if df.empty:
        return "<p class='muted'>本期无逾期升级事项。</p>"
    total = int(df["total"].sum())
    lead = (f"<p>本期逾期未签收或未办结、逐级上升 {total} 次：升至乡镇（街道）{int(df['township'].sum())} 次，"
            f"升至区县 {int(df['county'].sum())} 次，升至市州 {int(df['prefecture'].sum())} 次。</p>")
    return lead + table_html(df, {"county_name": "区县", "township": "升至乡镇（街道）", "county": "升至区县",
                                  "prefecture": "升至市州", "total": "合计"})
