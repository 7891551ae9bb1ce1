"""The payload is minimal: masked person and address, plain reasons, no raw records."""

from __future__ import annotations

import json

import pytest

from serving.operations.alerts.masking import mask_house_number, mask_name, person_label
from serving.operations.alerts.payload import Payload

from .helpers import person_with_one_place, scored

ALLOWED_KEYS = {"alert_id", "person", "address", "places", "level", "level_label", "categories", "reasons", "action",
                "deadline", "deadline_text", "link", "fallback_note"}


@pytest.mark.parametrize("name,masked", [("张三", "张*"), ("张三丰", "张**"), ("欧阳娜娜", "欧阳**"), ("李", "李*"),
                                         (" 王 五 ", "王*")])
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_person_label_without_names_uses_the_pseudonymous_tail():
    assert person_label("P269A5598") == "当事人（尾号5598）"
    assert mask_house_number("0123") == "**23号"


def test_payload_holds_only_what_the_cadre_needs(store, world_tables, directory):
    pid = person_with_one_place(world_tables, directory)
    [r] = store.ingest([scored(pid, level="red", note_quote=True)])
    store.approve(r.alert_id, by="r", reason="x")
    d = store.deliveries(r.alert_id)[0]
    p = d.payload
    assert set(p) == ALLOWED_KEYS
    Payload.from_dict(p)
    assert p["person"] == person_label(pid) and pid not in json.dumps(p, ensure_ascii=False)
    house = world_tables["persons"].set_index("person_id").loc[pid, "residence_address_code"].split("-")[1]
    assert p["address"].endswith(mask_house_number(house)) and house not in p["address"]
    assert p["level_label"] == "红色预警"
    text = json.dumps(p, ensure_ascii=False)
    assert "同归于尽" not in text and "“" not in text            # quoted note text never leaves
    assert "0.3" not in text and "rules-2026" not in text        # no score, no versions
    assert all("\n" not in s and len(s) <= 40 for s in p["reasons"]) and 1 <= len(p["reasons"]) <= 3
    assert p["action"] == "3日内上门走访，组织调解"
    assert p["link"] == f"pages/inbox/detail?alert={r.alert_id}"
    assert p["deadline_text"].endswith(":00") and "年" in p["deadline_text"]
