"""The leadership report counts graded-escalation steps by level and county."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy.orm import Session

from common.clock import UTC
from monitoring.escalation import escalation_section, escalation_table
from monitoring.report import _table
from serving.operations.alerts.db import make_engine
from serving.operations.grassroots.models import EscalationStep
from tests._shared import migrated_sqlite


def test_steps_are_counted_by_level_and_county_within_the_period(tmp_path):
    engine = make_engine(f"sqlite:///{migrated_sqlite(tmp_path / 'w.db')}")
    t = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    rows = [("alert", 1, 1, "township", "510107001", "510107", t), ("alert", 1, 2, "county", "510107", "510107",
                                                                     t + timedelta(days=1)),
            ("report", 2, 1, "township", "510104001", "510104", t), ("tip", 3, 1, "township", "510107002", "510107", t),
            ("alert", 4, 1, "township", "510107001", "510107", datetime(2026, 10, 31, 15, 0, tzinfo=UTC))]
    with Session(engine) as s, s.begin():
        for kind, sid, step, level, code, county, at in rows:
            s.add(EscalationStep(subject_kind=kind, subject_id=sid, step=step, level=level, holder_code=code,
                                 county_code=county, reason="unacknowledged", at=at, recorded_at=at))
    # November in Beijing time: the last row (2026-10-31 23:00 Beijing) is outside
    df = escalation_table(engine, pd.Timestamp("2026-11-01"), pd.Timestamp("2026-12-01"))
    assert df[["county_name", "township", "county", "prefecture", "total"]].to_dict("records") == [
        {"county_name": "武侯区", "township": 2, "county": 1, "prefecture": 0, "total": 3},
        {"county_name": "锦江区", "township": 1, "county": 0, "prefecture": 0, "total": 1}]
    html = escalation_section(engine, pd.Timestamp("2026-11-01"), pd.Timestamp("2026-12-01"), _table)
    assert "逐级上升 4 次" in html and "升至区县 1 次" in html and "武侯区" in html
    assert "无逾期升级" in escalation_section(engine, pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"), _table)
