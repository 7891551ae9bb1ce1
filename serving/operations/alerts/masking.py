"""Masking helpers: what leaves the police side names a person and a place only as far as needed.

Our data has no names (persons are pseudonymous ids), so the label a cadre sees is
``当事人（尾号XXXX）`` built from the last four characters of the pseudonymous id; a deployment
that does hold names passes one and gets the surname only (``张**``).

>>> mask_name("张三丰")
'张**'
>>> mask_name("欧阳娜娜")
'欧阳**'
>>> person_label("PC82FF8CB")
'当事人（尾号F8CB）'
>>> person_label("PC82FF8CB", name="李四")
'李*'
>>> mask_house_number("0008")
'**08号'
"""

from __future__ import annotations

__all__ = ["mask_name", "person_label", "mask_house_number", "COMPOUND_SURNAMES"]

#: Common two-character surnames: the surname stays, the given name is masked.
COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
    "令狐", "端木", "轩辕", "西门", "南宫", "独孤", "呼延",
})


def mask_name(name: str) -> str:
    """Keep the surname, replace every other character with ``*`` (at least one)."""
    name = "".join(str(name).split())
    if not name:
        return "**"
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:keep] + "*" * max(1, len(name) - keep)


def person_label(person_id: str, name: str | None = None) -> str:
    """The cadre-facing label of a person: a masked name if we hold one, else the id's last four."""
    if name:
        return mask_name(name)
    return f"当事人（尾号{str(person_id)[-4:]}）"


def mask_house_number(number: str) -> str:
    """Show only the last two digits of a house number (``0008`` -> ``**08号``)."""
    digits = str(number).strip()
    if len(digits) <= 2:
        return f"*{digits}号"
    return "*" * (len(digits) - 2) + digits[-2:] + "号"
