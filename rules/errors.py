"""Errors raised by the rules package.

Hierarchy (the kind from :mod:`common.errors` in brackets; it sets the HTTP status and the CLI exit code)::

    RulesError                    base of everything raised here [internal]
    ├── RuleFileError             a rule file is unreadable or invalid; ``.problems`` lists every
    │                             problem, each naming the file, the rule id and the field [bad input]
    ├── RuleInputError            evaluate inputs are malformed: a frame without person_id/as_of, a
    │                             value of the wrong type for its field [bad input]
    ├── RuleEngineError           durable-rules failed in a way the adapter could not recover from
    │                             [not ready: the request may be retried]
    ├── BacktestError             a backtest was asked for something it cannot compute, e.g. no
    │                             snapshot whose outcome horizon fits inside the data [bad input]
    ├── ConditionSyntaxError      (rules.condition) a rule condition that cannot be parsed [bad input]
    └── TemplateSyntaxError       (rules.template) an explanation template that cannot be parsed [bad input]
"""

from __future__ import annotations

from dataclasses import dataclass

from common.errors import BadInput, NotReady, WeimengError

__all__ = [
    "RulesError",
    "RuleFileError",
    "RuleProblem",
    "RuleInputError",
    "RuleEngineError",
    "BacktestError",
]


class RulesError(WeimengError):
    pass


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


class RuleFileError(RulesError, BadInput):
    """A rule file cannot be used. The message lists every problem found, one per line."""

    def __init__(self, problems: list[RuleProblem] | RuleProblem):
        if isinstance(problems, RuleProblem):
            problems = [problems]
        self.problems: list[RuleProblem] = list(problems)
        n = len(self.problems)
        head = f"规则文件无效 / invalid rule file ({n} problem{'s' if n != 1 else ''}):"
        field = self.problems[0].field if n == 1 else None
        super().__init__("\n".join([head] + [f"  - {p}" for p in self.problems]), field=field)


class RuleInputError(RulesError, BadInput):
    pass


class RuleEngineError(RulesError, NotReady):
    pass


class BacktestError(RulesError, BadInput):
    pass
