"""Audit groups in words: the attributes a fairness audit groups people by, and their groups' labels in Chinese.

Training labels groups bilingually (``男 M``, ``城镇 urban``, ``阿坝藏族羌族自治州 (自治州 autonomous)``); what a
reviewer or leader reads shows the Chinese only. The model card, the leadership report and the console's model
page all word them here.

>>> zh_group("城镇 urban"), zh_group("阿坝藏族羌族自治州 (自治州 autonomous)"), zh_group("45-54")
('城镇', '阿坝藏族羌族自治州（自治州）', '45-54')
"""

from __future__ import annotations

import re

__all__ = ["ATTRIBUTE_LABELS", "zh_group"]

#: Audit attributes of the built-in world, in words.
ATTRIBUTE_LABELS: dict[str, str] = {"overall": "全体", "sex": "性别", "age_band": "年龄段", "prefecture": "市州",
                                    "urban_rural": "城乡"}

_LATIN = re.compile(r"\s*\b[A-Za-z][A-Za-z_ ]*\b")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def zh_group(text: object) -> str:
    """A bilingual group label in Chinese only, brackets made full-width. A label with no Chinese at all (a
    bring-your-own-data group such as ``Black``) is kept as it is."""
    s = str(text)
    if _CJK.search(s):
        s = _LATIN.sub("", s).strip()
    return re.sub(r"\s*\(\s*([^)]*?)\s*\)", r"（\1）", s) or str(text)
