"""Tiny hand-made tables that satisfy the contracts, for exact and property tests."""

from __future__ import annotations

import pandas as pd

VILLAGE = "510107001001"
GRID = f"G{VILLAGE}01"


def addr(n: int) -> str:
    return f"{VILLAGE}-{n:04d}"


def base_tables(persons=("P1", "P2", "P3")) -> dict[str, pd.DataFrame]:
    ts = pd.Timestamp
    return {
        "grids": pd.DataFrame({"grid_id": [GRID], "village_code": [VILLAGE], "village_name": ["红牌楼社区"],
                               "township_code": ["510107001"], "township_name": ["红牌楼街道"],
                               "county_code": ["510107"], "prefecture_code": ["510100"], "is_urban": [True],
                               "station_id": ["S510107001"], "population": [500]}),
        "stations": pd.DataFrame({"station_id": ["S510107001"], "name": ["红牌楼派出所"],
                                  "township_code": ["510107001"], "county_code": ["510107"]}),
        "staff": pd.DataFrame({"staff_id": ["W1"], "role": ["grid_worker"], "grid_id": [GRID],
                               "township_code": ["510107001"], "display_name": ["王某（网格员）"],
                               "inbox_id": ["oABC"], "active": [True]}),
        "addresses": pd.DataFrame({"address_code": [addr(i + 1) for i in range(len(persons))],
                                   "grid_id": [GRID] * len(persons), "village_code": [VILLAGE] * len(persons)}),
        "persons": pd.DataFrame({"person_id": list(persons), "birth_year": [1980] * len(persons),
                                 "sex": ["M", "F", "M"][: len(persons)] + ["F"] * max(0, len(persons) - 3),
                                 "hukou_address_code": [addr(i + 1) for i in range(len(persons))],
                                 "residence_address_code": [addr(i + 1) for i in range(len(persons))],
                                 "residence_since": [ts("2015-01-01")] * len(persons)}),
        "incidents": pd.DataFrame(columns=["incident_id", "event_time", "recorded_at", "address_code", "category",
                                           "disposition", "flag_violence", "flag_weapon", "flag_alcohol",
                                           "flag_minor_present", "flag_threat", "note", "dispute_id",
                                           "station_id"]),
        "incident_parties": pd.DataFrame(columns=["incident_id", "person_id", "role"]),
        "disputes": pd.DataFrame({"dispute_id": ["D1"], "category": ["neighbour"],
                                  "opened_at": [ts("2024-01-01")], "recorded_at": [ts("2024-01-02")],
                                  "status": ["open"], "grid_id": [GRID]}),
        "dispute_parties": pd.DataFrame({"dispute_id": ["D1", "D1"], "person_id": list(persons[:2])}),
        "mediations": pd.DataFrame(columns=["mediation_id", "dispute_id", "time", "recorded_at", "result", "mediator"]),
        "care_records": pd.DataFrame(columns=["record_id", "person_id", "time", "recorded_at", "kind"]),
        "outcomes": pd.DataFrame(columns=["outcome_id", "person_id", "time", "recorded_at", "kind", "source"]),
    }


def incident(iid: str, when: str | pd.Timestamp, recorded: str | pd.Timestamp | None = None, *,
             category="neighbour", disposition="unresolved", violence=False, weapon=False, alcohol=False,
             minor=False, threat=False, note="报警称与邻居因噪音扰民发生纠纷", dispute_id="D1") -> dict:
    when = pd.Timestamp(when)
    return {"incident_id": iid, "event_time": when,
            "recorded_at": pd.Timestamp(recorded) if recorded is not None else when + pd.Timedelta(minutes=30),
            "address_code": addr(1), "category": category, "disposition": disposition,
            "flag_violence": violence, "flag_weapon": weapon, "flag_alcohol": alcohol,
            "flag_minor_present": minor, "flag_threat": threat, "note": note, "dispute_id": dispute_id,
            "station_id": "S510107001"}


def with_rows(tables: dict[str, pd.DataFrame], name: str, rows: list[dict]) -> dict[str, pd.DataFrame]:
    out = dict(tables)
    if rows:
        new = pd.DataFrame(rows)
        out[name] = new if tables[name].empty else pd.concat([tables[name], new], ignore_index=True)
    return out
