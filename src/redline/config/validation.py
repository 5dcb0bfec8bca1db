"""Turn pydantic's errors into diagnostics with file:line:col, a rule and a hint."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from difflib import get_close_matches
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from redline.config.diagnostics import Diagnostic
from redline.config.source import Path, SourceMap

__all__ = ["allowed_keys", "validate_model"]

M = TypeVar("M", bound=BaseModel)

_WRONG_TYPE_SUFFIXES = ("_type", "_parsing")
_UNIT_RULES = {"bad_duration", "bad_rate", "bad_size"}
_LIMITS = {
    "greater_than": "not more than",
    "greater_than_equal": "less than the minimum",
    "less_than": "not less than",
    "less_than_equal": "more than the maximum",
    "too_short": "shorter than the minimum length",
    "string_too_short": "shorter than the minimum length",
}
_TYPE_WORDS = {
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
}


def validate_model(
    model: type[M],
    data: Any,
    smap: SourceMap,
    display: Callable[[Path], str],
    interpolated: set[Path] | None = None,
) -> tuple[M | None, list[Diagnostic]]:
    """Validate ``data``; on failure, one diagnostic per distinct problem."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        diags: dict[tuple[str, str], Diagnostic] = {}
        for err in exc.errors(include_url=False):
            d = _diagnostic(model, err, smap, display, interpolated or set())
            # A union reports once per member; one place, one rule is one problem.
            diags.setdefault((d.path, d.rule), d)
        return None, list(diags.values())


def _diagnostic(
    model: type[BaseModel],
    err: Any,
    smap: SourceMap,
    display: Callable[[Path], str],
    interpolated: set[Path],
) -> Diagnostic:
    loc: Path = tuple(p for p in err["loc"] if p != "[key]")
    kind: str = err["type"]
    ctx = err.get("ctx") or {}
    message: str = err["msg"]
    hint = ""
    if kind == "extra_forbidden":
        rule = "unknown-key"
        mark = smap.key(loc)
        name = str(loc[-1])
        allowed = allowed_keys(model, loc[:-1])
        message = f"unknown key '{name}'"
        close = get_close_matches(name, allowed, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean '{close[0]}'?"
        elif allowed:
            hint = "allowed here: " + ", ".join(sorted(allowed))
    elif kind == "missing":
        rule = "missing-key"
        mark = smap.key(loc[:-1])
        message = f"missing required key '{loc[-1]}'"
        hint = f"add `{loc[-1]}:` here"
    else:
        mark = smap.value(loc)
        if kind in _UNIT_RULES:
            rule = "bad-duration"
        elif kind == "check_protocol":
            rule = "check-protocol"
            hint = "put the probe under one key, e.g. `http: {url: ...}`"
        elif kind == "bad_var_name" and "n" in ctx:
            rule = "invalid-value"
            loc = (*loc, ctx["n"])
            mark = smap.key(loc)
        elif kind.endswith(_WRONG_TYPE_SUFFIXES):
            rule = "wrong-type"
            want = _TYPE_WORDS.get(kind)
            if want:
                message = f"expected {want}, got {_describe(err.get('input'), loc in interpolated)}"
        else:
            rule = "invalid-value"
        shown = _describe(err.get("input"), loc in interpolated)
        if kind == "literal_error" and "expected" in ctx:
            message = f"{shown} is not one of the allowed values"
            options = re.findall(r"'([^']*)'", str(ctx["expected"]))
            close = get_close_matches(str(err.get("input")), options, n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'? " if close else ""
            hint += f"use one of {ctx['expected']}"
        elif kind in _LIMITS and ctx:
            limit = next(iter(ctx.values()))
            message = f"{shown} is {_LIMITS[kind]} {limit}"
            hint = "change the value to fit the limit"
        elif kind == "string_pattern_mismatch":
            message = f"{shown} does not match the pattern {ctx.get('pattern', '')}"
            hint = "use letters, digits, '.', '_' and '-'"
        elif rule == "bad-duration":
            hint = "durations read 250ms, 30s, 5m, 2h, 28d; rates 200/s, 12000/m; sizes 10MB, 64KiB"
    return smap.diagnostic(rule, message, mark, display(loc), hint)


def _describe(value: Any, interpolated: bool) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if interpolated:
        return f"a {type(value).__name__} from a ${{VAR}}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def allowed_keys(model: type[BaseModel], loc: Path) -> list[str]:
    """The keys a mapping at ``loc`` under ``model`` may have (for "did you mean")."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
            continue
        origin = typing.get_origin(current)
        args = typing.get_args(current)
        if origin in (dict, list) and args:
            current = args[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp
