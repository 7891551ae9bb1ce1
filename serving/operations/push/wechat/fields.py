"""Subscribe-message template fields: render payload values within WeChat's type and length limits.

A template key's type is its name without the trailing digits (``thing1`` -> ``thing``). Limits
(characters): thing 20, number 32, letter 32, symbol 5, character_string 32, phrase 5, name 10,
phone_number 17, car_number 8; ``time`` is ``2026年11月29日 15:01``, ``date`` ``2026年11月29日``.
Values never contain newlines. Over-long text is cut with an ellipsis; a value that cannot be
expressed in its type (e.g. a ``phrase`` longer than 5, a ``number`` with letters) raises PayloadError.

>>> render_field("thing4", "近30天报警4次\\n有威胁言语且调解失败，需要尽快上门走访")
'近30天报警4次 有威胁言语且调解失败…'
>>> render_field("phrase3", "红色预警")
'红色预警'
"""

from __future__ import annotations

import re
from datetime import datetime

from serving.operations.alerts.errors import PayloadError

__all__ = ["FIELD_LIMITS", "field_type", "render_field", "render_data", "PAYLOAD_SOURCES"]

FIELD_LIMITS: dict[str, int] = {"thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32,
                                "phrase": 5, "name": 10, "phone_number": 17, "car_number": 8, "amount": 32,
                                "time": 32, "date": 32}
_TRUNCATE = {"thing"}          # free text may be cut; the rest must fit
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_CHAR_STRING = re.compile(r"^[\x21-\x7e]+$")

#: What a template key can be filled from (see WeChatConfig.fields).
PAYLOAD_SOURCES = ("person", "address", "level", "categories", "reasons", "action", "deadline", "alert_no", "places")


def field_type(key: str) -> str:
    t = re.sub(r"\d+$", "", key)
    if t not in FIELD_LIMITS:
        raise PayloadError(f"template key {key!r} has unknown type {t!r}; known types: {', '.join(FIELD_LIMITS)}.")
    return t


def _one_line(value) -> str:
    return re.sub(r"\s+", " ", str(value)).strip()


def render_field(key: str, value) -> str:
    t = field_type(key)
    if t == "time":
        return value.strftime("%Y年%m月%d日 %H:%M") if isinstance(value, datetime) else _one_line(value)
    if t == "date":
        return value.strftime("%Y年%m月%d日") if isinstance(value, datetime) else _one_line(value)
    text = _one_line(value)
    limit = FIELD_LIMITS[t]
    if t == "number" and not _NUMBER.match(text):
        raise PayloadError(f"template key {key!r} (number) got {text!r}; only digits are allowed.")
    if t == "character_string" and not _CHAR_STRING.match(text):
        raise PayloadError(f"template key {key!r} (character_string) got {text!r}; only ASCII letters, digits "
                           f"and symbols are allowed.")
    if len(text) > limit:
        if t not in _TRUNCATE:
            raise PayloadError(f"template key {key!r} ({t}) got {len(text)} characters {text!r}; at most {limit}. "
                               f"Map a shorter source to it in WeChatConfig.fields.")
        text = text[: limit - 1] + "…"
    if not text:
        raise PayloadError(f"template key {key!r} would be empty; WeChat rejects empty values.")
    return text


def _source(payload: dict, source: str):
    if source == "person":
        return payload["person"]
    if source == "address":
        return payload["address"]
    if source == "level":
        return payload["level_label"]
    if source == "categories":
        return "、".join(payload["categories"])
    if source == "reasons":
        return "；".join(payload["reasons"]) or "、".join(payload["categories"])
    if source == "action":
        return payload["action"]
    if source == "deadline":
        return payload["deadline_text"]
    if source == "alert_no":
        return str(payload["alert_id"])
    if source == "places":
        return "、".join(payload["places"])
    raise PayloadError(f"unknown payload source {source!r}; known: {', '.join(PAYLOAD_SOURCES)}.")


def render_data(fields: dict[str, str], payload: dict) -> dict:
    """``{"thing1": "person", ...}`` + payload -> the ``data`` object of subscribeMessage.send."""
    return {key: {"value": render_field(key, _source(payload, src))} for key, src in fields.items()}
