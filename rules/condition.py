"""The condition language: small enough to compile to durable-rules and to vectorised pandas.

A condition is a tree. Inner nodes are ``all`` (and) / ``any`` (or) with one or more children; a leaf
compares one field with a constant. In YAML::

    condition:
      all:
        - max_calls_same_dispute_7d: {">=": 3}
        - event.flag_threat: {"==": true}
        - any:
            - event.category: {in: [family, marital]}
            - failed_mediations_90d: {">=": 1}

A leaf mapping may hold several operators (``calls_30d: {">=": 3, "<": 10}``), meaning all of them.
Operators: ``==, !=, >, >=, <, <=, in``. A leaf on a missing value is false, whatever the operator
(``!=`` included), so a rule never fires on a value it does not have; there is no ``not``, which keeps
that rule simple and identical on both engines.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.errors import BadInput
from rules._fields import NUMBER_MAX, NUMBER_MIN, FieldSpec, resolve_field
from rules.errors import RulesError

__all__ = ["OPS", "Leaf", "All", "Any_", "Condition", "parse_condition", "ConditionSyntaxError"]

#: Operator as written -> durable-rules operator (None: equality is written as a bare field).
OPS: dict[str, str | None] = {"==": None, "!=": "$neq", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte",
                              "in": None}
_ORDER_OPS = {">", ">=", "<", "<="}


class ConditionSyntaxError(RulesError, BadInput):
    """A problem at ``path`` inside a condition (the loader adds file and rule id)."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(message, field=path)


@dataclass(frozen=True)
class Leaf:
    field: FieldSpec
    op: str
    value: float | str | tuple  # normalised: numbers as float, booleans as 1.0/0.0, `in` as a tuple

    def fields(self) -> set[str]:
        return {self.field.name}

    def guaranteed(self) -> set[str]:
        return {self.field.name}

    def __str__(self) -> str:
        def fmt(v):
            if self.field.kind == "bool":
                return "true" if v else "false"
            return f"{v:g}" if isinstance(v, float) else v
        if self.op == "in" and isinstance(self.value, tuple):
            shown = "[" + ", ".join(map(str, map(fmt, self.value))) + "]"
        else:
            shown = fmt(self.value)
        return f"{self.field.name} {self.op} {shown}"


@dataclass(frozen=True)
class All:
    children: tuple[Condition, ...]

    def fields(self) -> set[str]:
        return set().union(*(c.fields() for c in self.children))

    def guaranteed(self) -> set[str]:
        """Fields certain to have a value whenever the condition holds."""
        return set().union(*(c.guaranteed() for c in self.children))

    def __str__(self) -> str:
        return "(" + " 且 ".join(map(str, self.children)) + ")"


@dataclass(frozen=True)
class Any_:
    children: tuple[Condition, ...]

    def fields(self) -> set[str]:
        return set().union(*(c.fields() for c in self.children))

    def guaranteed(self) -> set[str]:
        sets = [c.guaranteed() for c in self.children]
        return set.intersection(*sets) if sets else set()

    def __str__(self) -> str:
        return "(" + " 或 ".join(map(str, self.children)) + ")"


Condition = Leaf | All | Any_


def _norm_literal(spec: FieldSpec, op: str, raw, path: str):
    def one(v):
        if spec.kind == "number":
            if isinstance(v, bool):
                return 1.0 if v else 0.0
            if isinstance(v, (int, float)) and v == v and abs(v) != float("inf"):
                if v != 0 and not (NUMBER_MIN <= abs(v) < NUMBER_MAX):
                    raise ConditionSyntaxError(path, f"{v!r} is out of range: constants are 0 or between "
                                                     f"{NUMBER_MIN:g} and {NUMBER_MAX:g} in magnitude.")
                return float(v)
            raise ConditionSyntaxError(path, f"{spec.name} is a number; got {v!r}. Write a number, e.g. 3.")
        if spec.kind == "bool":
            if isinstance(v, bool):
                return 1.0 if v else 0.0
            raise ConditionSyntaxError(path, f"{spec.name} is true/false; got {v!r}. Write true or false.")
        if not isinstance(v, str):
            raise ConditionSyntaxError(path, f"{spec.name} is text; got {v!r}. "
                                             f"Write one of {sorted(spec.allowed or [])}.")
        if spec.allowed is not None and v not in spec.allowed:
            import difflib

            close = difflib.get_close_matches(v, sorted(spec.allowed), n=2)
            hint = f" Did you mean {close}?" if close else ""
            raise ConditionSyntaxError(path, f"{v!r} is not a value of {spec.name}; "
                                             f"allowed: {sorted(spec.allowed)}.{hint}")
        return v

    if op == "in":
        if not isinstance(raw, list) or not raw:
            raise ConditionSyntaxError(path, f"'in' needs a non-empty list, got {raw!r}, "
                                             f"e.g. in: [family, marital].")
        return tuple(dict.fromkeys(one(v) for v in raw))
    if spec.kind in ("bool", "str") and op in _ORDER_OPS:
        raise ConditionSyntaxError(path, f"operator {op!r} does not apply to {spec.kind} field {spec.name}; "
                                         f"use ==, != or in.")
    return one(raw)


def parse_condition(node, path: str = "condition") -> Condition:
    """Parse the YAML form into a tree; raises :class:`ConditionSyntaxError` naming the path."""
    if not isinstance(node, dict) or not node:
        raise ConditionSyntaxError(path, f"expected a mapping (all/any or field: {{op: value}}), got {node!r}.")
    if set(node) & {"all", "any"}:
        if len(node) != 1:
            raise ConditionSyntaxError(path, f"'all'/'any' must be the only key of its mapping, got keys {list(node)}.")
        kind = next(iter(node))
        items = node[kind]
        if not isinstance(items, list) or not items:
            raise ConditionSyntaxError(f"{path}.{kind}",
                                       f"'{kind}' needs a non-empty list of conditions, got {items!r}.")
        children = tuple(parse_condition(c, f"{path}.{kind}[{i}]") for i, c in enumerate(items))
        return All(children) if kind == "all" else Any_(children)
    leaves: list[Condition] = []
    for fname, ops in node.items():
        fpath = f"{path}.{fname}"
        try:
            spec = resolve_field(fname)
        except KeyError as exc:
            raise ConditionSyntaxError(fpath, str(exc.args[0]) if exc.args else str(exc)) from None
        if not isinstance(ops, dict) or not ops:
            raise ConditionSyntaxError(fpath, f"expected {{operator: value}}, e.g. {{'>=': 3}}, got {ops!r}.")
        for op, raw in ops.items():
            if op not in OPS:
                raise ConditionSyntaxError(f"{fpath}.{op}", f"unknown operator {op!r}; allowed: {list(OPS)}.")
            leaves.append(Leaf(spec, op, _norm_literal(spec, op, raw, f"{fpath}.{op}")))
    return leaves[0] if len(leaves) == 1 else All(tuple(leaves))
