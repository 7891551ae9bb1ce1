"""Subscribe-message template fields: render payload values within WeChat's type and length limits.

A template key's type is its name without the trailing digits (``thing1`` -> ``thing``). Limits
(characters): thing 20, number 32, letter 32, symbol 5, character_string 32, phrase 5, name 10,
phone_number 17, car_number 8; ``time`` is ``2026年11月29日 15:01``, ``date`` ``2026年11月29日``.
Content is checked too (``phrase`` Chinese characters only, ``letter`` letters only, ``symbol``
symbols only, ``amount`` a currency sign and digits, ``phone_number``, ``car_number``, ``time`` and
``date`` their formats), so a value WeChat would refuse with errcode 47003 fails here, before sending.
Values never contain newlines. Over-long ``thing`` text is cut with an ellipsis; any other value
that cannot be expressed in its type raises PayloadError. Aware datetimes are shown in Beijing time.

>>> render_field("thing4", "近30天报警4次\\n有威胁言语且调解失败，需要尽快上门走访")
'近30天报警4次 有威胁言语且调解失败…'
>>> render_field("phrase3", "红色预警")
'红色预警'
"""

from __future__ import annotations

import re
from datetime import datetime

from common.clock import to_beijing
from serving.operations.alerts.errors import PayloadError

__all__ = ["FIELD_LIMITS", "field_type", "render_field", "render_data", "PAYLOAD_SOURCES"]

FIELD_LIMITS: dict[str, int] = {"thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32,
                                "phrase": 5, "name": 10, "phone_number": 17, "car_number": 8, "amount": 32,
                                "time": 32, "date": 32}
_TRUNCATE = {"thing"}          # free text may be cut; the rest must fit
_DATE = r"\d{4}年\d{1,2}月\d{1,2}日"
_TIME = r"\d{1,2}:\d{2}"
_WHEN = rf"(?:{_DATE}(?: {_TIME})?|{_TIME})"
#: What each type may contain, beyond its length (WeChat answers errcode 47003 otherwise).
_CONTENT: dict[str, tuple[re.Pattern[str], str]] = {
    "number": (re.compile(r"-?\d+(\.\d+)?"), "only digits (an optional sign and decimal point)"),
    "letter": (re.compile(r"[A-Za-z]+"), "only letters"),
    "symbol": (re.compile(r"[^\w\s]+"), "only symbols"),
    "character_string": (re.compile(r"[\x21-\x7e]+"), "only ASCII letters, digits and symbols"),
    "phrase": (re.compile(r"[\u4e00-\u9fff]+"), "only Chinese characters"),
    "name": (re.compile(r"[\u4e00-\u9fff·*]{1,10}|[A-Za-z*][A-Za-z .*]{0,19}"),
             "a name: up to 10 Chinese characters, or up to 20 letters (masked with *)"),
    "amount": (re.compile(r"[¥$€£]?\d{1,10}(\.\d{1,2})?元?"), "a currency sign and at most 10 digits"),
    "phone_number": (re.compile(r"\+?[\d\-]{1,17}"), "digits, '+' and '-' only"),
    "car_number": (re.compile(r"[\u4e00-\u9fff][A-Z][A-Z0-9]{4,6}"), "a licence plate such as 川A12345"),
    "time": (re.compile(rf"{_WHEN}(?:~{_WHEN})?"), "a time such as 2026年11月29日 15:01 or 15:01"),
    "date": (re.compile(rf"{_DATE}(?: {_TIME})?(?:~{_DATE}(?: {_TIME})?)?"), "a date such as 2026年11月29日"),
}

#: What a template key can be filled from (see WeChatConfig.fields).
PAYLOAD_SOURCES = ("person", "address", "level", "categories", "reasons", "action", "deadline", "alert_no", "places")


def field_type(key: str) -> str:
    t = re.sub(r"\d+$", "", key)
    if t not in FIELD_LIMITS:
        raise PayloadError(f"template key {key!r} has unknown type {t!r}; known types: {', '.join(FIELD_LIMITS)}.")
    return t


def _one_line(value) -> str:
    return re.sub(r"\s+", " ", str(value)).strip()


def _when(value: datetime, fmt: str) -> str:
    """A datetime as a cadre reads it: Beijing time (an aware value is converted; naive is taken as is)."""
    if value.tzinfo is not None:
        value = to_beijing(value)
    return f"{value.year}年{value.month}月{value.day}日" + (value.strftime(" %H:%M") if fmt == "time" else "")


def render_field(key: str, value) -> str:
    t = field_type(key)
    if t in ("time", "date") and isinstance(value, datetime):
        return _when(value, t)
    text = _one_line(value)
    limit = FIELD_LIMITS[t]
    if t in _CONTENT and len(text) <= limit:
        pattern, allowed = _CONTENT[t]
        if text and not pattern.fullmatch(text):
            raise PayloadError(f"template key {key!r} ({t}) got {text!r}; {allowed} are allowed. "
                               f"Map another source to it in WeChatConfig.fields.")
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
