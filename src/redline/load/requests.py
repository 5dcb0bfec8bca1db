"""Requests as bytes: built once when they never change, per iteration when templated.

Templates in a path, a query or header value, or a body:

- ``{{randint(A,B)}}``: a random integer from A to B inclusive;
- ``{{uuid}}``: a random UUID4;
- ``{{data.COLUMN}}``: that column of the data file's current row (rows in turn,
  wrapping around; each worker starts at its own offset).

>>> t = Target.parse("http://127.0.0.1:8080/api")
>>> p = prepare(RequestSpec(path="/items"), t, None)
>>> p.build()[:32]
b'GET /api/items HTTP/1.1\\r\\nHost: 12'
"""

from __future__ import annotations

import csv
import json as jsonlib
import random
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from redline._errors import UsageError
from redline.load.spec import RequestSpec

__all__ = ["DataRows", "Prepared", "Target", "load_data", "prepare"]

_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_RANDINT = re.compile(r"randint\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)")


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go: scheme, host, port and the base path."""

    scheme: str
    host: str
    port: int
    base_path: str

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @classmethod
    def parse(cls, url: str) -> Target:
        """The target of an ``http://`` or ``https://`` URL; anything else is a UsageError."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"cannot load-test {url!r}: not an http:// or https:// URL",
                hint="give a full URL such as http://127.0.0.1:8080/",
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise UsageError(
                f"cannot load-test {url!r}: the port is not a number",
                hint="write it like http://host:8080/",
            ) from None
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


class DataRows:
    """Rows of a CSV data file, handed out in turn."""

    def __init__(self, rows: Sequence[dict[str, str]], offset: int = 0) -> None:
        self.rows = rows
        self.index = offset % len(rows) if rows else 0

    def next(self) -> dict[str, str]:
        row = self.rows[self.index]
        self.index = (self.index + 1) % len(self.rows)
        return row


def load_data(path: str | None, offset: int = 0) -> DataRows | None:
    """The rows of ``path`` (a CSV with a header row); a UsageError when missing or empty."""
    if path is None:
        return None
    file = Path(path)
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise UsageError(
            f"data file {path} does not exist",
            hint="check data_file: in the scenario (relative paths start at the config's folder)",
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read data file {path}: {exc}") from None
    if not rows:
        raise UsageError(
            f"data file {path} has no rows",
            hint="a data file is a CSV with a header row and at least one row of values",
        )
    return DataRows(rows, offset)


@dataclass(slots=True)
class Prepared:
    """One request of a scenario, ready to send: ``build()`` gives its bytes."""

    label: str
    spec: RequestSpec
    build: Callable[[], bytes]
    needs_body: bool
    fixed: bool = False  # build() always gives the same bytes


def prepare(spec: RequestSpec, target: Target, data: DataRows | None) -> Prepared:
    """Compile ``spec`` for ``target``: fixed bytes when nothing in it is templated."""
    body: str | bytes | None = spec.body
    headers = dict(spec.headers)
    if spec.json is not None:
        body = jsonlib.dumps(spec.json, separators=(",", ":"))
        headers.setdefault("Content-Type", "application/json")
    path = target.base_path + (spec.path if spec.path.startswith("/") else "/" + spec.path)
    if spec.query:
        path += ("&" if "?" in path else "?") + _query(spec.query)
    head = f"{spec.method.upper()} {path} HTTP/1.1\r\nHost: {target.host_header}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if not any(k.lower() == "user-agent" for k in headers):
        head += "User-Agent: redline\r\n"
    payload = body.encode() if isinstance(body, str) else body
    check = spec.check
    needs_body = check is not None and (check.contains is not None or check.json_path is not None)
    templated = _TEMPLATE.search(head) or (
        isinstance(body, str) and _TEMPLATE.search(body) is not None
    )
    if not templated:
        fixed = _assemble(head, payload)
        return Prepared(spec.label, spec, lambda: fixed, needs_body, fixed=True)
    for expression in _TEMPLATE.findall(head + (body if isinstance(body, str) else "")):
        _check_expression(expression, data)
    text_body = body if isinstance(body, str) else None

    def build() -> bytes:
        row = data.next() if data is not None else None
        line, rest = head.split("\r\n", 1)
        rendered = _render(line, row, url=True) + "\r\n" + _render(rest, row, url=False)
        if text_body is not None:
            return _assemble(rendered, _render(text_body, row, url=False).encode())
        return _assemble(rendered, payload)

    return Prepared(spec.label, spec, build, needs_body)


def _query(query: Mapping[str, str]) -> str:
    """``query`` URL-encoded, its templates left whole (they are encoded when rendered)."""

    def encode(text: str) -> str:
        parts = _TEMPLATE.split(text)  # literal, expression, literal, ...
        return "".join(
            quote_plus(part) if i % 2 == 0 else f"{{{{{part}}}}}" for i, part in enumerate(parts)
        )

    return "&".join(f"{encode(str(k))}={encode(str(v))}" for k, v in query.items())


def _assemble(head: str, body: bytes | None) -> bytes:
    if body is None:
        return (head + "\r\n").encode()
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _check_expression(expression: str, data: DataRows | None) -> None:
    if expression == "uuid" or _RANDINT.fullmatch(expression):
        return
    if expression.startswith("data."):
        column = expression[5:]
        if data is None:
            raise UsageError(
                f"template {{{{{expression}}}}} needs a data file",
                hint="add data_file: path/to/rows.csv to the scenario",
            )
        if column not in data.rows[0]:
            raise UsageError(
                f"template {{{{{expression}}}}}: the data file has no column {column!r}",
                hint=f"its columns: {', '.join(data.rows[0])}",
            )
        return
    raise UsageError(
        f"unknown template {{{{{expression}}}}}",
        hint="use {{randint(A,B)}}, {{uuid}} or {{data.COLUMN}}",
    )


def _render(text: str, row: dict[str, str] | None, *, url: bool) -> str:
    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression == "uuid":
            return str(uuid.uuid4())
        if (m := _RANDINT.fullmatch(expression)) is not None:
            return str(random.randint(int(m.group(1)), int(m.group(2))))
        out = (row or {}).get(expression[5:], "")
        return quote(out, safe="") if url else out

    return _TEMPLATE.sub(value, text)


def json_at(document: Any, path: str) -> Any:
    """The value at ``path`` (``$.a.b[0]`` or ``a.b.0``); KeyError when it is not there."""
    steps = re.findall(r"[^.\[\]$]+", path)
    for step in steps:
        if isinstance(document, list):
            document = document[int(step)]
        elif isinstance(document, dict):
            document = document[step]
        else:
            raise KeyError(step)
    return document
