"""Errors raised by the rules package.

Hierarchy::

    RulesError                    base of everything raised here (http 500)
    ├── RuleFileError             a rule file is unreadable or invalid; ``.problems`` lists every
    │                             problem, each naming the file, the rule id and the field (http 422)
    ├── RuleInputError            evaluate inputs are malformed: a frame without person_id/as_of, a
    │                             value of the wrong type for its field (http 422)
    ├── RuleEngineError           durable-rules failed in a way the adapter could not recover from
    │                             (http 503: the request may be retried)
    └── BacktestError             a backtest was asked for something it cannot compute, e.g. no
                                  snapshot whose outcome horizon fits inside the data (http 400)

Each error carries ``http_status`` so a service maps errors by type, not by string matching.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "RulesError",
    "RuleFileError",
    "RuleProblem",
    "RuleInputError",
    "RuleEngineError",
    "BacktestError",
]


class RulesError(Exception):
    http_status = 500


@dataclass(frozen=True)
class RuleProblem:
    """One problem in a rule file: where (file, rule id, field) and what (message, with the fix)."""

    file: str
    rule_id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        rule = f"规则 rule {self.rule_id}" if self.rule_id else "规则集 ruleset"
        return f"{self.file}: {rule}, 字段 field '{self.field}': {self.message}"


class RuleFileError(RulesError, ValueError):
    """A rule file cannot be used. The message lists every problem found, one per line."""

    http_status = 422

    def __init__(self, problems: list[RuleProblem] | RuleProblem):
        if isinstance(problems, RuleProblem):
            problems = [problems]
        self.problems: list[RuleProblem] = list(problems)
        n = len(self.problems)
        head = f"规则文件无效 / invalid rule file ({n} problem{'s' if n != 1 else ''}):"
        super().__init__("\n".join([head] + [f"  - {p}" for p in self.problems]))


class RuleInputError(RulesError, ValueError):
    http_status = 422


class RuleEngineError(RulesError):
    http_status = 503


class BacktestError(RulesError, ValueError):
    http_status = 400
