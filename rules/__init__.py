"""Rules: versioned rule sets as YAML data, two engines that give the same answers, and backtests.

* :func:`load_ruleset` reads and validates a rule file (``None``: the packaged default);
* :func:`evaluate_batch` evaluates a feature table, vectorised (one row per hit);
* :class:`EventRuleEngine` evaluates one incoming incident on durable-rules, thread-safe;
* :func:`rules_baseline_score` is the rules-only ranking baseline the model must beat;
* :func:`backtest` replays the rules over monthly snapshots against later outcomes.

>>> import rules
>>> rs = rules.load_ruleset()
>>> rules.level_rank("red")
3
"""

from __future__ import annotations

from common.levels import ALERT_LEVELS as LEVELS
from common.levels import level_rank
from rules.errors import BacktestError, RuleEngineError, RuleFileError, RuleInputError, RuleProblem, RulesError
from rules.loader import default_ruleset_path, load_ruleset, parse_ruleset
from rules.model import Hit, Rule, RuleSet

__all__ = [
    "load_ruleset",
    "parse_ruleset",
    "default_ruleset_path",
    "RuleSet",
    "Rule",
    "Hit",
    "LEVELS",
    "level_rank",
    "evaluate_batch",
    "HIT_COLUMNS",
    "EventRuleEngine",
    "rules_baseline_score",
    "backtest",
    "BacktestResult",
    "RulesError",
    "RuleFileError",
    "RuleProblem",
    "RuleInputError",
    "RuleEngineError",
    "BacktestError",
]

_LAZY = {
    "evaluate_batch": "rules.batch",
    "HIT_COLUMNS": "rules.batch",
    "EventRuleEngine": "rules.event_engine",   # imports durable-rules (C core) only when asked for
    "rules_baseline_score": "rules.baseline",
    "backtest": "rules.backtesting",
    "BacktestResult": "rules.backtesting",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rules' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
