"""Turn pydantic's errors into diagnostics with file:line:col, a rule and a hint."""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from redline.config.diagnostics import Diagnostic, closest
from redline.config.source import Mark, Path, SourceMap

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
_TYPE_HINTS = {
    "dict_type": "write key: value pairs indented under this key",
    "model_type": "write key: value pairs indented under this key",
    "model_attributes_type": "write key: value pairs indented under this key",
    "list_type": "write a list: [a, b], or one '- item' per line",
    "string_type": "write text here",
    "int_type": "write a whole number, e.g. 5432",
    "int_parsing": "write a whole number, e.g. 5432",
    "float_type": "write a number, e.g. 0.5",
    "float_parsing": "write a number, e.g. 0.5",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
}
# Hints for the schema's own errors; their messages already say what is wrong.
_CUSTOM_HINTS = {
    "bad_status": "write 200, [200, 204], 2xx or 200-299",
    "bad_date": "write the date as YYYY-MM-DD, e.g. 2025-06-30",
    "bad_var_name": "use letters, digits and _, not starting with a digit",
    "bad_pattern": "fix the regular expression (Python syntax); quote it in single quotes",
    "enum_values": "add `values: [a, b]` listing what the variable may be",
    "bad_range": "make min less than or equal to max",
    "bad_default": "change the default, or the variable's type",
}
_BOOL_TRAP = "YAML reads yes/no/on/off/true/false as booleans"


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
            d = _diagnostic(model, err, data, smap, display, interpolated or set())
            # A union reports once per member; one place, one rule is one problem.
            diags.setdefault((d.path, d.rule), d)
        return None, list(diags.values())


def _diagnostic(
    model: type[BaseModel],
    err: Any,
    data: Any,
    smap: SourceMap,
    display: Callable[[Path], str],
    interpolated: set[Path],
) -> Diagnostic:
    loc: Path = tuple(p for p in err["loc"] if p != "[key]")
    if loc and isinstance(loc[-1], int) and not isinstance(_at(data, loc[:-1]), list):
        loc = loc[:-1]  # a validator made a list of one value (`status: 200`): point at it
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
        close = closest(name, allowed)
        if close:
            hint = f"did you mean '{close}'?"
        elif allowed:
            hint = "allowed here: " + ", ".join(sorted(allowed))
    elif kind == "missing":
        rule = "missing-key"
        mark = smap.key(loc[:-1])
        message = f"missing required key '{loc[-1]}'"
        hint = f"add `{loc[-1]}:` here" if loc[:-1] else f"add `{loc[-1]}:` at the top of the file"
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
            message, hint = _wrong_type(
                kind, err.get("input"), message, smap, mark, loc, loc in interpolated
            )
        else:
            rule = "invalid-value"
            hint = _CUSTOM_HINTS.get(kind, "")
        shown = _describe(err.get("input"), loc in interpolated)
        if kind == "literal_error" and "expected" in ctx:
            message = f"{shown} is not one of the allowed values"
            options = re.findall(r"'([^']*)'", str(ctx["expected"]))
            close = closest(str(err.get("input")), options, cutoff=0.5)
            hint = f"did you mean '{close}'? " if close else ""
            hint += f"use one of {ctx['expected']}"
        elif kind in _LIMITS and ctx:
            # A length limit's context also names the field type ("List"): take the number.
            limit = ctx.get("min_length", next(iter(ctx.values())))
            message = f"{shown} is {_LIMITS[kind]} {limit}"
            hint = "change the value to fit the limit"
        elif kind == "string_pattern_mismatch":
            message = f"{shown} does not match the pattern {ctx.get('pattern', '')}"
            hint = "use letters, digits, '.', '_' and '-'"
        elif rule == "bad-duration":
            hint = "durations read 250ms, 30s, 5m, 2h, 28d; rates 200/s, 12000/m; sizes 10MB, 64KiB"
        if not hint:
            hint = "see docs/configuration.md for what this key accepts"
    if mark is None and smap.lines:
        # Nothing was written at all (an empty file): the top of the file is where to add it.
        mark = Mark(next(iter(smap.lines)), 1, 1)
    return smap.diagnostic(rule, message, mark, display(loc), hint)


def _wrong_type(
    kind: str,
    value: Any,
    message: str,
    smap: SourceMap,
    mark: Mark | None,
    loc: Path,
    interpolated: bool,
) -> tuple[str, str]:
    """The message and hint for a value of the wrong type, naming YAML's implicit types."""
    want = _TYPE_WORDS.get(kind)
    hint = _TYPE_HINTS.get(kind, "see docs/configuration.md for what this key accepts")
    if not want:
        return message, hint
    got = _describe(value, interpolated)
    if interpolated:
        return f"expected {want}, got {got}", f"the variable's value must be {want}"
    if isinstance(value, bool):
        got += f" ({_BOOL_TRAP})"
    if isinstance(value, (dict, list)) and kind not in {"list_type", "dict_type", "model_type"}:
        hint = f"write one value here, not {got}"
    elif value is None:
        hint = f"write a value after `{loc[-1]}:`, or remove the key" if loc else hint
    elif kind == "string_type" and isinstance(value, (bool, dt.date, dt.time, int, float)):
        hint = f"quote it: '{_written(smap, mark, value)}'"
    return f"expected {want}, got {got}", hint


def _written(smap: SourceMap, mark: Mark | None, value: Any) -> str:
    """A plain scalar as it was written (``yes``, ``2024-01-01``), for a quoting hint."""
    line = smap.source_line(mark)[mark.col - 1 :] if mark else ""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    pattern = r"[A-Za-z]+" if isinstance(value, bool) else r"[^\s,\[\]{}#]+(?: [^\s,\[\]{}#]+)*"
    written = re.match(pattern, line)
    return written.group(0) if written else str(value)


def _describe(value: Any, interpolated: bool) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if interpolated:
        return "text from a ${VAR}"  # interpolation always yields text
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dt.datetime):
        return "a date and time"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, bytes):
        return "binary data (!!binary)"
    if not isinstance(value, (str, int, float)):
        return "a value of another type"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _at(data: Any, loc: Path) -> Any:
    """The value at ``loc`` in ``data`` (None where there is none)."""
    for part in loc:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def allowed_keys(model: type[BaseModel], loc: Path) -> list[str]:
    """The keys a mapping at ``loc`` under ``model`` may have (for "did you mean")."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = _written_fields(current).get(str(part))
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
        return list(_written_fields(current))
    return []


def _written_fields(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by the key a YAML author writes (internal fields left out)."""
    out = {}
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        key = alias if isinstance(alias, str) else name
        if not key.startswith("\x00"):
            out[key] = info
    return out


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
