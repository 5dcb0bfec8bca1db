"""A strict ``.env`` reader that says where each problem is.

Accepts what docker compose and python-dotenv accept (``KEY=value``,
``export KEY=value``, ``'single'`` literal and ``"double"`` quoted values with
escapes and several lines, ``# comments``) and reports, with ``file:line``, what
they silently let through: a key set twice, a key without ``=``, a quote that
is never closed or text after a closing quote. A leading byte-order mark is
skipped; lines end with LF, CRLF or CR (as in python-dotenv), so a value may
hold any other character, U+2028 included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redline.config.diagnostics import Diagnostic

__all__ = ["EnvEntry", "parse_dotenv"]

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


@dataclass(frozen=True)
class EnvEntry:
    key: str
    value: str
    line: int
    col: int


def parse_dotenv(text: str, file: str) -> tuple[dict[str, EnvEntry], list[Diagnostic]]:
    """Entries by key (the last one wins, as in every .env reader) and the problems found."""
    entries: dict[str, EnvEntry] = {}
    diags: list[Diagnostic] = []
    lines = _LINE_BREAK.split(text.removeprefix("\ufeff"))
    i = 0
    while i < len(lines):
        lineno = i + 1
        raw = lines[i]
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        body = raw.lstrip()
        indent = len(raw) - len(body)
        if body.startswith("export "):
            body = body[7:].lstrip()
            indent = len(raw) - len(body)

        def diag(
            rule: str,
            msg: str,
            hint: str,
            col: int = indent + 1,
            line: int = lineno,
            src: str = raw,
        ) -> None:
            diags.append(Diagnostic(rule, msg, file, line, col, "", hint, source_line=src))

        match = _KEY.match(body)
        if not match:
            diag(
                "env-bad-line",
                "this line is not KEY=VALUE",
                "write KEY=value; keys are letters, digits and _",
            )
            continue
        key = match.group(0)
        rest = body[match.end() :].lstrip(" ")
        if not rest.startswith("="):
            if not rest or rest.startswith("#"):
                diag(
                    "env-no-value",
                    f"key '{key}' has no '=' and no value",
                    f"write {key}= for an empty value, or {key}=value",
                )
            else:
                diag(
                    "env-bad-line",
                    f"expected '=' after key '{key}'",
                    "write KEY=value with no spaces in the key",
                )
            continue
        value_text = rest[1:].lstrip(" ")
        value_col = len(raw) - len(value_text) + 1
        quote = value_text[:1]
        if quote in {"'", '"'}:
            value, end_line, after = _quoted(value_text, quote, lines, i)
            if value is None:
                diag(
                    "env-bad-quoting",
                    f"the {quote} quote opened here is never closed",
                    f"close the value with {quote}, or escape a quote inside it",
                    value_col,
                )
                continue
            i = end_line
            if after.strip() and not after.lstrip().startswith("#"):
                # The closing quote may be lines below the opening one: point there.
                last = lines[end_line - 1]
                diag(
                    "env-bad-quoting",
                    f"text after the closing {quote} quote",
                    "put the whole value inside the quotes, or start a comment with ' #'",
                    len(last) - len(after.lstrip()) + 1,
                    end_line,
                    last,
                )
                continue
        else:
            value = re.split(r"\s+#", value_text, maxsplit=1)[0].rstrip()
            if '"' in value or "'" in value[:1]:
                diag(
                    "env-bad-quoting",
                    "a quote inside an unquoted value",
                    'quote the whole value, e.g. KEY="a \\"b\\" c"',
                    value_col,
                )
                continue
        if key in entries:
            diag(
                "env-duplicate-key",
                f"key '{key}' is set again (first at line {entries[key].line}); the last one wins",
                "remove one of the two lines",
                indent + 1,
            )
        entries[key] = EnvEntry(key, value, lineno, value_col)
    return entries, diags


def _quoted(
    text: str, quote: str, lines: list[str], next_index: int
) -> tuple[str | None, int, str]:
    """The value inside quotes (``None`` if never closed), the next line index, and what follows."""
    buf: list[str] = []
    chunk = text[1:]
    idx = next_index
    while True:
        pos = 0
        while pos < len(chunk):
            ch = chunk[pos]
            if quote == '"' and ch == "\\" and pos + 1 < len(chunk):
                nxt = chunk[pos + 1]
                buf.append(_ESCAPES.get(nxt, "\\" + nxt))
                pos += 2
                continue
            if ch == quote:
                return "".join(buf), idx, chunk[pos + 1 :]
            buf.append(ch)
            pos += 1
        # Double quotes may span lines; single quotes may too (docker compose allows both).
        if idx >= len(lines):
            return None, idx, ""
        buf.append("\n")
        chunk = lines[idx]
        idx += 1
