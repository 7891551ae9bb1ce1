"""Console accounts: users with a role and a jurisdiction, argon2 password hashes, server-side sessions.

>>> # from serving.operations.auth import UserStore, SessionStore
>>> # UserStore(engine).add("wh-reviewer", "武侯区审核员", role="reviewer", jurisdiction="510107", password="...")
"""

from serving.operations.auth.errors import *  # noqa: F403
from serving.operations.auth.errors import __all__ as _errors_all
from serving.operations.auth.passwords import check_password, hash_password
from serving.operations.auth.roles import DEFAULT_POLICIES, ROLE_LABELS, ROLES, RolePolicy, policy_for
from serving.operations.auth.sessions import ActiveSession, SessionStore
from serving.operations.auth.users import User, UserStore

__all__ = ["User", "UserStore", "SessionStore", "ActiveSession", "RolePolicy", "ROLES",
           "ROLE_LABELS", "DEFAULT_POLICIES", "policy_for", "hash_password", "check_password", *_errors_all]
