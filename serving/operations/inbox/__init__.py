"""The cadre inbox: the mini-program's API (per-cadre bearer tokens) and a mobile web page."""

from serving.operations.inbox.app import create_app
from serving.operations.inbox.service import ITEM_STATUS_LABELS, OUTCOME_KINDS, InboxService, outcome_kind
from serving.operations.inbox.tokens import Identity, hash_token, issue_inbox_token, revoke_inbox_tokens

__all__ = ["create_app", "InboxService", "Identity", "OUTCOME_KINDS", "ITEM_STATUS_LABELS", "outcome_kind",
           "hash_token", "issue_inbox_token", "revoke_inbox_tokens"]
