"""${VAR} interpolation follows the shell's rules."""

from __future__ import annotations

from redline.config.interpolate import expand, references

VALUES = {"A": "a", "EMPTY": ""}


def run(text: str) -> tuple[str, list[str]]:
    out, problems = expand(text, VALUES.get)
    return out, [p.kind for p in problems]


def test_forms() -> None:
    assert run("${A}/${A}") == ("a/a", [])
    assert run("${EMPTY:-d}|${EMPTY-d}|${NONE-d}|${NONE:-}") == ("d||d|", [])
    assert run("$${A} costs $5") == ("${A} costs $5", [])
    assert run("no vars") == ("no vars", [])


def test_problems() -> None:
    assert run("${NONE}") == ("${NONE}", ["undefined"])
    assert run("${EMPTY:?must be set}")[1] == ["required"]
    assert run("${EMPTY?ok}") == ("", [])
    assert run("${1BAD}")[1] == ["malformed"]
    assert run("${}")[1] == ["malformed"]
    assert run("open ${A")[1] == ["malformed"]


def test_references() -> None:
    assert references("${A}:${B:-x}/$${C}") == ["A", "B"]
