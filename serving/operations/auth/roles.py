"""Roles and what each may do: a policy table, kept as data (a deployment may pass its own).

| role | queue | case page | decide | incident notes | person shown as |
| --- | --- | --- | --- | --- | --- |
| reviewer 审核民警 | yes | yes | yes | yes (police) | pseudonymous id, full address |
| analyst 研判/数据分析 | yes | yes, read-only | no | no | 尾号 label, village only |
| leadership 领导 | yes | yes, read-only | no | no | 尾号 label, village only |
| admin 管理员 | yes | yes, read-only | no | no | 尾号 label, village only |

Only leadership and admin read ``/reports``; only admin reads the audit page. An escalated alert
(已上报复核) is decided by a reviewer above county level (prefecture or province).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.places import Jurisdiction
from serving.operations.auth.errors import InvalidAccount

__all__ = ["RolePolicy", "ROLES", "ROLE_LABELS", "DEFAULT_POLICIES", "policy_for"]

ROLE_LABELS = {"reviewer": "审核民警", "analyst": "研判分析", "leadership": "领导", "admin": "系统管理员"}
ROLES: tuple[str, ...] = tuple(ROLE_LABELS)


@dataclass(frozen=True)
class RolePolicy:
    view_queue: bool = True
    open_case: bool = True
    decide: bool = False
    see_notes: bool = False
    full_identity: bool = False
    read_reports: bool = False
    read_audit: bool = False
    #: minimum jurisdiction rank (:attr:`common.places.Jurisdiction.rank`) needed to decide an escalated alert
    escalated_min_rank: int = Jurisdiction("510100", "prefecture").rank


DEFAULT_POLICIES: dict[str, RolePolicy] = {
    "reviewer": RolePolicy(decide=True, see_notes=True, full_identity=True),
    "analyst": RolePolicy(),
    "leadership": RolePolicy(read_reports=True),
    "admin": RolePolicy(read_reports=True, read_audit=True),
}


def policy_for(role: str, policies: Mapping[str, RolePolicy] | None = None) -> RolePolicy:
    table = policies or DEFAULT_POLICIES
    try:
        return table[role]
    except KeyError:
        raise InvalidAccount(f"角色无效 / role {role!r} is not allowed; use one of: "
                             + ", ".join(f"{r}（{ROLE_LABELS.get(r, r)}）" for r in table) + ".") from None
