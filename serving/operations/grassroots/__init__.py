"""The grassroots side of the loop: cadres' field reports, anonymous tips by address code, graded escalation.

See docs/grassroots.md. Tables: :mod:`serving.operations.grassroots.models`; the inbox routes:
:mod:`serving.operations.inbox.grassroots`; the public tip page: :mod:`serving.operations.grassroots.tip_page`.
"""

from serving.operations.grassroots.directory import LEVEL_LABELS, LEVELS, GrassrootsDirectory, ladder
from serving.operations.grassroots.escalation import Escalator, escalation_counts, holders
from serving.operations.grassroots.policy import GrassrootsPolicy
from serving.operations.grassroots.service import GrassrootsService
from serving.operations.grassroots.tips import TipIntake

__all__ = ["GrassrootsDirectory", "GrassrootsPolicy", "GrassrootsService", "TipIntake", "Escalator",
           "escalation_counts", "holders", "ladder", "LEVELS", "LEVEL_LABELS"]
