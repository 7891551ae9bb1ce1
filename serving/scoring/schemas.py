"""Request bodies of the scoring API (pydantic), with the examples shown in BentoML's OpenAPI.

Shape errors (a missing field, a wrong type, a malformed id) are rejected by BentoML before our code
runs, with HTTP 400 and ``detail[].loc`` naming the field; meaning errors (an unknown feature name, a
date outside the data) are rejected by the service with HTTP 422 and ``error.field``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PERSON_ID", "FeatureRecord", "IncidentEvent", "EXAMPLE_IDS", "EXAMPLE_EVENT", "EXAMPLE_RECORD"]

PERSON_ID = r"^[A-Za-z0-9_\-]{1,40}$"
EXAMPLE_IDS = ["PA9668ED6", "P9B103731"]
EXAMPLE_RECORD = {"person_id": "PA9668ED6", "as_of": "2025-06-01",
                  "features": {"calls_30d": 4, "calls_90d": 7, "max_calls_same_dispute_7d": 3, "threat_30d": 1,
                               "failed_mediations_90d": 2, "days_since_last_call": 2}}
EXAMPLE_EVENT = {"incident_id": "I20250601-0001", "person_id": "PA9668ED6", "role": "party",
                 "event_time": "2025-06-01T21:40:00+08:00", "category": "marital", "disposition": "unresolved",
                 "flag_threat": True, "flag_violence": False, "address_code": "511921101200-0005",
                 "note": "当事人与前妻争吵，扬言要同归于尽。", "dispute_id": "D000123"}


class FeatureRecord(BaseModel):
    """Feature values supplied by the caller (catalog names; a missing feature means no value)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    person_id: str = Field(pattern=PERSON_ID, description="假名化人员编号 pseudonymous person id",
                           examples=["PA9668ED6"])
    as_of: str = Field(description="特征时点 as-of date or date-time (ISO 8601)", examples=["2025-06-01"])
    features: dict[str, float | None] = Field(description="特征值 catalog feature name -> value",
                                                 examples=[EXAMPLE_RECORD["features"]])
    hukou_address_code: str | None = Field(default=None, description="户籍地址编码 (when the service's data "
                                              "does not know the person; used for the jurisdiction check)")
    residence_address_code: str | None = Field(default=None, description="居住地址编码 (same)")


class IncidentEvent(BaseModel):
    """A new incident (警情) for one party, in the incidents contract's fields plus the party's role."""

    model_config = ConfigDict(extra="forbid", strict=True)

    incident_id: str = Field(pattern=PERSON_ID, description="警情编号", examples=["I20250601-0001"])
    person_id: str = Field(pattern=PERSON_ID, description="当事人编号", examples=["PA9668ED6"])
    role: Literal["caller", "party", "victim", "suspect"] = Field(description="当事人角色", examples=["party"])
    event_time: str = Field(description="发生时间 ISO 8601", examples=["2025-06-01T21:40:00+08:00"])
    recorded_at: str | None = Field(default=None, description="录入时间 (default: event_time)")
    category: Literal["family", "marital", "neighbour", "labour", "land", "debt", "consumer", "other"] = Field(
        description="警情类别", examples=["marital"])
    disposition: Literal["mediated", "referred", "case_filed", "unresolved"] | None = Field(
        default=None, examples=["unresolved"])
    flag_violence: bool | None = None
    flag_weapon: bool | None = None
    flag_alcohol: bool | None = None
    flag_minor_present: bool | None = None
    flag_threat: bool | None = Field(default=None, description="扬言伤人或自伤", examples=[True])
    note: str | None = Field(default=None, max_length=4000, description="警情简要（中文）",
                                examples=["当事人与前妻争吵，扬言要同归于尽。"])
    address_code: str | None = Field(default=None, pattern=r"^51\d{10}-\d{4}$", examples=["511921101200-0005"])
    dispute_id: str | None = Field(default=None, pattern=PERSON_ID)
    station_id: str | None = Field(default=None, pattern=PERSON_ID)
    features: dict[str, float | None] | None = Field(
        default=None, description="可选：事件后的特征值 features as of just after the event; default: computed "
                                  "from the service's data plus this incident")
