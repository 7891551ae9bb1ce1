"""The grassroots side of the loop: cadres' field reports, anonymous tips by address code, graded escalation.

See docs/grassroots.md. Tables: :mod:`serving.operations.grassroots.models`; the inbox routes:
:mod:`serving.operations.inbox.grassroots`.
"""

from serving.operations.grassroots.directory import LEVEL_LABELS, LEVELS, GrassrootsDirectory, ladder
from serving.operations.grassroots.policy import GrassrootsPolicy
from serving.operations.grassroots.service import GrassrootsService

__all__ = ["GrassrootsDirectory", "GrassrootsPolicy", "GrassrootsService", "ladder", "LEVELS", "LEVEL_LABELS"]
