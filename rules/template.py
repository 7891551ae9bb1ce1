"""Explanation templates: Chinese text with ``{field}`` placeholders filled from the facts.

``"近7天因同一纠纷报警{max_calls_same_dispute_7d}次，且本次记录中有扬言伤人"`` becomes
``"近7天因同一纠纷报警3次，且本次记录中有扬言伤人"``. A placeholder is a catalog feature or an
``event.`` field; numbers are formatted as the catalog phrases them, event codes as their Chinese
label (``{event.category}`` -> ``家庭纠纷``). Both engines render through :func:`render`, so their
explanations are identical character for character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from common.errors import BadInput
from rules._fields import MISSING, FieldSpec, format_value
from rules.errors import RulesError

__all__ = ["Template", "parse_template", "TemplateSyntaxError"]

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class TemplateSyntaxError(RulesError, BadInput):
    """An explanation template that cannot be parsed (the loader adds file and rule id)."""


@dataclass(frozen=True)
class Template:
    text: str
    parts: tuple[str, ...]          # literal text, alternating with placeholders: lit, var, lit, var, lit
    variables: tuple[str, ...]

    def __str__(self) -> str:
        return self.text

    def render(self, values: dict, specs: dict[str, FieldSpec]) -> str:
        """Fill in normalised ``values`` (field name -> value or MISSING)."""
        out = [self.parts[0]]
        for i, var in enumerate(self.variables):
            out.append(format_value(specs[var], values.get(var, MISSING)))
            out.append(self.parts[2 * i + 2])
        return "".join(out)


def parse_template(text) -> Template:
    """Split a template into literal parts and variable names; unbalanced braces are an error."""
    if not isinstance(text, str) or not text.strip():
        raise TemplateSyntaxError(f"the explanation template must be non-empty Chinese text, got {text!r}.")
    parts: list[str] = []
    variables: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        parts.append(text[pos:m.start()])
        var = m.group(1).strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", var):
            raise TemplateSyntaxError(f"bad placeholder {{{m.group(1)}}}: write a feature name or event.<field>.")
        parts.append(var)
        variables.append(var)
        pos = m.end()
    parts.append(text[pos:])
    literal = "".join(parts[0::2])
    if "{" in literal or "}" in literal:
        raise TemplateSyntaxError(f"unbalanced brace in template {text!r}.")
    return Template(text, tuple(parts), tuple(variables))
