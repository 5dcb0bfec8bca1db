"""Plain box-drawn tables for the CLI, without importing Rich (~50 ms a command).

>>> print(render("latency", ["", "ms"], [["p50", "3.6"], ["p99", "25.6"]], width=80))
latency
┏━━━━━┳━━━━━━┓
┃     ┃ ms   ┃
┡━━━━━╇━━━━━━┩
│ p50 │ 3.6  │
│ p99 │ 25.6 │
└─────┴──────┘

Cells wrap at word boundaries when the table is wider than ``width``: the widest
column gives way first, as Rich's tables do.
"""

from __future__ import annotations

import textwrap
import unicodedata

__all__ = ["render"]

_MIN_COLUMN = 6


def _width(text: str) -> int:
    """Terminal cells ``text`` takes (East Asian wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fit(widths: list[int], available: int) -> list[int]:
    widths = list(widths)
    # Each column costs its text plus a space either side and one border.
    while sum(widths) + 3 * len(widths) + 1 > available:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        if widths[widest] <= _MIN_COLUMN:
            break
        widths[widest] -= 1
    return widths


def _lines(cell: str, width: int) -> list[str]:
    out: list[str] = []
    for paragraph in cell.splitlines() or [""]:
        out += textwrap.wrap(paragraph, width, break_long_words=True) or [""]
    return out


def render(title: str, columns: list[str], rows: list[list[str]], *, width: int) -> str:
    """The table as text, at most ``width`` cells wide where the cells allow."""
    natural = [
        max([_width(col), *(_width(line) for r in rows for line in str(r[i]).splitlines())])
        for i, col in enumerate(columns)
    ]
    widths = _fit(natural, width)

    def border(left: str, fill: str, cross: str, right: str) -> str:
        return left + cross.join(fill * (w + 2) for w in widths) + right

    def row(cells: list[str], edge: str) -> list[str]:
        wrapped = [_lines(str(c), w) for c, w in zip(cells, widths, strict=True)]
        height = max(len(w) for w in wrapped)
        out = []
        for n in range(height):
            parts = []
            for lines, w in zip(wrapped, widths, strict=True):
                text = lines[n] if n < len(lines) else ""
                parts.append(f" {text}{' ' * (w - _width(text))} ")
            out.append(edge + edge.join(parts) + edge)
        return out

    lines = [title] if title else []
    lines.append(border("┏", "━", "┳", "┓"))
    lines += row(columns, "┃")
    lines.append(border("┡", "━", "╇", "┩"))
    for r in rows:
        lines += row(r, "│")
    lines.append(border("└", "─", "┴", "┘"))
    return "\n".join(lines)
