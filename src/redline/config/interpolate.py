"""``${VAR}`` interpolation, shell style.

``${VAR}`` the value; ``${VAR:-word}`` word if VAR is unset or empty;
``${VAR-word}`` word if VAR is unset; ``${VAR:?message}`` / ``${VAR?message}``
an error with that message; ``$$`` a literal ``$``.

>>> expand("http://${HOST:-localhost}:${PORT}", {"PORT": "80"}.get)
('http://localhost:80', [])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Problem", "expand", "references"]

_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_EXPR = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])(.*))?$", re.DOTALL)


@dataclass(frozen=True)
class Problem:
    """A reference that could not be expanded: ``kind`` is undefined, required or malformed."""

    kind: str
    name: str
    message: str
    offset: int


def expand(text: str, lookup: Callable[[str], str | None]) -> tuple[str, list[Problem]]:
    """``text`` with every reference replaced through ``lookup``, and the problems met."""
    if "$" not in text:
        return text, []
    problems: list[Problem] = []

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$$":
            return "$"
        inner = match.group(1)
        if inner is None:
            problems.append(
                Problem("malformed", "", "'${' is never closed with '}'", match.start())
            )
            return whole
        parsed = _EXPR.match(inner)
        if parsed is None:
            problems.append(
                Problem(
                    "malformed", inner, f"'${{{inner}}}' is not a variable reference", match.start()
                )
            )
            return whole
        name, op, word = parsed.group(1), parsed.group(2), parsed.group(3) or ""
        value = lookup(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return word
            return value
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                problems.append(
                    Problem("required", name, word or f"{name} is required", match.start())
                )
                return whole
            return value
        if value is None:
            problems.append(
                Problem("undefined", name, f"variable {name} is not defined", match.start())
            )
            return whole
        return value

    return _TOKEN.sub(replace, text), problems


def references(text: str) -> list[str]:
    """Names of the variables ``text`` refers to, in order."""
    out = []
    for match in _TOKEN.finditer(text):
        inner = match.group(1)
        if inner and (parsed := _EXPR.match(inner)):
            out.append(parsed.group(1))
    return out
