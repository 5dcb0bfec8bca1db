"""Diagnostics: one problem in a file, where it is, its stable rule code and how to fix it.

Every rule has a code that never changes meaning (``RL103``) and a slug
(``duplicate-key``); docs/configuration.md lists them all. Three renderings:
human (with the offending source line), JSON, and GitHub workflow annotations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

__all__ = ["RULES", "Diagnostic", "Rule", "closest", "render_github", "render_human", "render_json"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    code: str
    slug: str
    summary: str


RULES: dict[str, Rule] = {
    r.slug: r
    for r in (
        Rule("RL100", "file-unreadable", "the file cannot be read or decoded as UTF-8"),
        Rule("RL101", "yaml-syntax", "the file is not valid YAML"),
        Rule("RL102", "tab-indent", "a tab is used for indentation"),
        Rule("RL103", "duplicate-key", "a key appears twice in one mapping"),
        Rule("RL104", "unknown-key", "a key that the schema does not know"),
        Rule("RL105", "wrong-type", "a value of the wrong type"),
        Rule("RL106", "missing-key", "a required key is missing"),
        Rule("RL107", "invalid-value", "a value outside what the key accepts"),
        Rule("RL108", "bad-duration", "a duration, rate or size that does not parse"),
        Rule("RL109", "undefined-variable", "a ${VAR} that no source defines"),
        Rule("RL110", "unknown-dependency", "depends_on names a service that does not exist"),
        Rule("RL111", "dependency-cycle", "depends_on forms a cycle"),
        Rule("RL112", "check-protocol", "a check must name exactly one protocol"),
        Rule("RL113", "unknown-environment", "a name that is not a declared environment"),
        Rule("RL114", "bad-interpolation", "a ${...} expression that is malformed"),
        Rule("RL115", "not-a-mapping", "the document is not a mapping of keys"),
        Rule("RL116", "duplicate-name", "two items in a list share a name"),
        Rule("RL117", "unknown-service", "a name that is not a declared service"),
        Rule("RL118", "missing-file", "a file the config names does not exist"),
        Rule("RL119", "executor-option", "a scenario key that its executor does not use"),
        Rule("RL120", "requests-or-flow", "a scenario needs exactly one of requests or flow"),
        Rule("RL121", "bad-threshold", "a threshold key or expression that does not parse"),
        Rule("RL122", "unknown-scenario", "a name that is not a declared scenario"),
        Rule("RL123", "unknown-placeholder", "a deploy command uses a {name} no deploy fills"),
        Rule("RL124", "unknown-check", "a name that is not one of the service's checks"),
        # .env files and the variable contract (EnvironmentManager)
        Rule("RL201", "env-duplicate-key", "a key is set twice in a .env file"),
        Rule("RL202", "env-no-value", "a .env line has a key without '='"),
        Rule("RL203", "env-bad-quoting", "a .env value has an unterminated or stray quote"),
        Rule("RL204", "env-bad-line", "a .env line is not KEY=VALUE"),
        Rule("RL210", "var-missing", "a required variable has no value"),
        Rule("RL211", "var-empty", "a variable is set but empty"),
        Rule("RL212", "var-wrong-type", "a variable's value does not parse as its type"),
        Rule("RL213", "var-out-of-range", "a variable's value is outside min/max or its pattern"),
        Rule("RL214", "var-unknown", "an undeclared variable under a declared prefix"),
        Rule("RL220", "drift-missing", "a variable present in one environment and not the other"),
        Rule(
            "RL221",
            "drift-type",
            "a variable whose value has a different type between environments",
        ),
        Rule("RL222", "drift-shared-secret", "the same secret value is used in two environments"),
        Rule("RL230", "secrets-unreadable", "the secrets file cannot be read with the key at hand"),
        Rule("RL300", "check-failed", "a check failed or could not measure (redline validate)"),
    )
}


def closest(value: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice ``value`` most likely meant (for "did you mean"), or None."""
    from difflib import get_close_matches

    found = get_close_matches(value, list(choices), n=1, cutoff=cutoff)
    return found[0] if found else None


@dataclass(frozen=True)
class Diagnostic:
    """One problem: what, where (file:line:col and logical path), rule and hint.

    ``line`` and ``col`` are 1-based; 0 means the position is unknown.
    """

    rule: str
    message: str
    file: str = ""
    line: int = 0
    col: int = 0
    path: str = ""
    hint: str = ""
    severity: Severity = "error"
    source_line: str = field(default="", compare=False)

    @property
    def code(self) -> str:
        return RULES[self.rule].code

    @property
    def location(self) -> str:
        if not self.file:
            return ""
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.col or 1}"

    def one_line(self) -> str:
        where = f"{self.location}: " if self.location else ""
        at = f" at {self.path}" if self.path else ""
        return f"{where}{self.severity} {self.code} [{self.rule}]{at}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("source_line")
        data["code"] = self.code
        return data


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.file, d.line, d.col, d.code)


def render_human(diagnostics: Sequence[Diagnostic], *, color: bool = False) -> str:
    """Each problem on its own line, then the source line with a caret, then the hint."""
    out: list[str] = []
    for d in diagnostics:
        head = d.one_line()
        if color:
            sev = "[bold red]error[/]" if d.severity == "error" else "[bold yellow]warning[/]"
            head = head.replace(d.severity, sev, 1)
        out.append(head)
        if d.source_line and d.line:
            gutter = f"{d.line:>5} | "
            out.append(f"{gutter}{d.source_line.rstrip()}")
            out.append(" " * (len(gutter) + max(d.col - 1, 0)) + "^")
        if d.hint:
            out.append(f"      hint: {d.hint}")
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    out.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(out)


def render_json(diagnostics: Sequence[Diagnostic], **extra: object) -> str:
    errors = sum(d.severity == "error" for d in diagnostics)
    doc = {
        "schema_version": 1,
        "ok": errors == 0,
        "errors": errors,
        "warnings": len(diagnostics) - errors,
        "diagnostics": [d.to_dict() for d in diagnostics],
        **extra,
    }
    return json.dumps(doc, indent=2)


def gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(diagnostics: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands: ``::error file=F,line=L,col=C,title=T::message``."""
    lines = []
    for d in diagnostics:
        props = []
        if d.file:
            props.append(f"file={gh_escape(d.file, prop=True)}")
        if d.line:
            props.append(f"line={d.line}")
        if d.col:
            props.append(f"col={d.col}")
        props.append(f"title={gh_escape(f'{d.code} {d.rule}', prop=True)}")
        at = f"{d.path}: " if d.path else ""
        hint = f" (hint: {d.hint})" if d.hint else ""
        lines.append(f"::{d.severity} {','.join(props)}::{gh_escape(at + d.message + hint)}")
    return "\n".join(lines)
