"""What a role sees of a person: the masking policy of the case page and the queue.

Police reviewers see the pseudonymous id and full address codes (they act on the police record);
everyone else sees the cadre-facing label (``当事人（尾号F8CB）``) and only the village or community.
Incident notes are shown to police roles only (``RolePolicy.see_notes``).

>>> from serving.operations.auth.roles import DEFAULT_POLICIES
>>> person_text("PC82FF8CB", DEFAULT_POLICIES["analyst"])
'当事人（尾号F8CB）'
>>> person_text("PC82FF8CB", DEFAULT_POLICIES["reviewer"])
'PC82FF8CB'

Every time the console shows goes through :func:`time_text` (the template filter ``beijing``): the
store and the APIs keep aware UTC, a person reads Beijing time.

>>> from datetime import UTC, datetime
>>> time_text(datetime(2026, 10, 31, 15, 0, tzinfo=UTC))
'2026-10-31 23:00'
"""

from __future__ import annotations

from common.clock import format_beijing
from serving.operations.alerts.masking import mask_house_number, person_label
from serving.operations.auth.roles import RolePolicy

__all__ = ["person_text", "place_text", "time_text", "KIND_LABELS", "ROLE_IN_INCIDENT"]

KIND_LABELS = {"hukou": "户籍地", "residence": "居住地", "unknown": "地址未知"}
ROLE_IN_INCIDENT = {"caller": "报警人", "party": "当事人", "victim": "受害人", "suspect": "嫌疑人"}


def person_text(person_id: str, policy: RolePolicy) -> str:
    return str(person_id) if policy.full_identity else person_label(person_id)


def place_text(place: dict, policy: RolePolicy, county_name: str = "") -> str:
    village = place.get("village_name") or ""
    town = place.get("township_name") or ""
    code = place.get("address_code") or ""
    if not code:
        return "地址未知（不在人员目录中）"
    where = f"{county_name}{town}{village}" or code.split("-", 1)[0]
    if policy.full_identity:
        return f"{where}（{code}）"
    house = code.split("-", 1)[1] if "-" in code else ""
    return f"{where}{mask_house_number(house)}" if house else where


def time_text(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored or API time (aware, or an ISO string with an offset; naive is read as UTC) as Beijing
    wall time; empty for a missing value. Data-contract times (naive Beijing) are converted with
    :func:`common.clock.from_data_time` before they reach a template."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    return format_beijing(value, fmt)
