"""Read a series from a file: Apache Otava's CSV layout, or a plain column of numbers.

Otava's layout is a header and one row per run: a time column, attribute columns (commit,
branch, version, ...) and metric columns::

    time,commit,branch,p99_ms,throughput
    2026-01-05T10:00:00Z,a1b2c3d,main,12.5,2100
    2026-01-06T10:00:00Z,e4f5a6b,main,12.7,2080

A plain file is one number a line, with or without a header. ``,``, ``;`` and tab separate
cells. Decisions (also in docs/regressions.md):

- **Time column**: ``time_column`` if given, else the first column named time, timestamp,
  date, datetime or ts, else the first column whose every cell is a date. ISO 8601 (``Z`` or an
  offset; naive times are taken as UTC), ``YYYY.MM.DD HH:MM:SS +0000``, or epoch seconds
  (milliseconds when above 1e11).
- **Metric or attribute**: a column is a metric when its cells are numbers; one whose cells
  are mostly numbers but not all is a metric with a bad cell (an error at file:line:column, not
  silently an attribute); commit, branch, version, tag, host and similar names are attributes
  even when they look numeric.
- **Missing**: an empty cell, ``nan``, ``null``, ``NA``, ``N/A`` or ``-`` is NaN (analysis
  skips it; indexes keep counting rows).
- **Units**: durations written with a unit (``12ms``, ``1.2s``, ``350us``) are converted with
  :func:`redline.units.parse_duration` to the unit most cells of the column use, so ``12ms`` and
  ``1.2s`` become 12 and 1200 (ms); ``%`` is dropped. A column mixing numbers with and without a
  unit is rejected: ``15`` next to ``12ms`` could be anything.
- **Duplicate timestamps** are kept in file order with a note (several runs of one commit
  often share a time); rows are never reordered.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from redline._errors import DataError

__all__ = ["SeriesTable", "read_series_file", "require_points"]

_TIME_NAMES = ("time", "timestamp", "date", "datetime", "ts")
_ATTRIBUTE_NAMES = {
    "commit", "sha", "hash", "revision", "rev", "branch", "version", "tag", "build", "run",
    "run_id", "host", "hostname", "machine", "env", "environment", "scenario", "benchmark",
    "test", "name", "job", "pipeline", "author", "message",
}  # fmt: skip
_MISSING = {"", "nan", "null", "none", "na", "n/a", "-"}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_WITH_UNIT = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(us|µs|ms|s|m|h|%)$")
_UNIT_SECONDS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TIME_FORMATS = ("%Y.%m.%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S %z", "%Y/%m/%d %H:%M:%S", "%Y.%m.%d")


@dataclass(frozen=True)
class SeriesTable:
    """The columns of one series file, row-aligned: ``time[i]``, ``attributes[name][i]``,
    ``metrics[name][i]`` and ``lines[i]`` (its 1-based line in the file) describe row ``i``."""

    path: Path
    time: list[datetime] | None
    attributes: dict[str, list[str]]
    metrics: dict[str, list[float]]
    lines: list[int]
    units: dict[str, str] = field(default_factory=dict)  # metric -> unit cells were written in
    notes: list[str] = field(default_factory=list)  # warnings worth showing (duplicate times)

    def column(self, name: str) -> list[float]:
        """The values of metric ``name``; a DataError naming the file and its metrics if none."""
        if name in self.metrics:
            return self.metrics[name]
        have = ", ".join(self.metrics) or "none"
        hint = f"use --column with one of: {have}"
        if name in self.attributes:
            hint = f"'{name}' holds text (an attribute), not numbers; " + hint
        raise DataError(f"{self.path}: no metric column '{name}' (metrics: {have})", hint=hint)


def read_series_file(
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    time_column: str | None = None,
) -> SeriesTable:
    """Read ``path`` (Otava's CSV layout or a plain column); only ``columns`` as metrics if
    given. Every problem is a :class:`DataError` naming file:line (and column) and the fix."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{p}: no such file", hint="check the path") from None
    except IsADirectoryError:
        raise DataError(f"{p}: is a directory, not a file", hint="give a CSV file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: cannot be read ({exc})", hint="give a UTF-8 CSV file") from None
    raw = [(n, row) for n, row in _rows(text) if any(cell.strip() for cell in row)]
    if not raw:
        raise DataError(
            f"{p}: the file is empty",
            hint="write a header line (e.g. time,commit,p99_ms) and one row per run",
        )
    first_line, first = raw[0]
    has_header = not all(_is_number(c) or c.strip().lower() in _MISSING for c in first)
    if has_header:
        header = [c.strip() for c in first]
        body = raw[1:]
    else:
        header = ["value"] if len(first) == 1 else [f"column{i + 1}" for i in range(len(first))]
        body = raw
    _check_header(p, first_line, header)
    if not body:
        raise DataError(
            f"{p}:{first_line}: only a header, no rows",
            hint="add one row per run below the header",
        )
    width = len(header)
    for line, row in body:
        if len(row) != width:
            raise DataError(
                f"{p}:{line}: {len(row)} cells, the header has {width}",
                hint="give every row one cell per column (leave a cell empty for a missing value)",
            )
    cells = {name: [row[i].strip() for _, row in body] for i, name in enumerate(header)}
    lines = [line for line, _ in body]
    tcol = _time_column(p, header, cells, time_column, first_line)
    notes: list[str] = []
    times = None
    if tcol is not None:
        times = [_parse_time(p, line, tcol, c) for line, c in zip(lines, cells[tcol], strict=True)]
        dupes = [t for t, k in Counter(times).items() if k > 1]
        if dupes:
            first_dupe = lines[times.index(dupes[0])]
            notes.append(
                f"{p}:{first_dupe}: {len(dupes)} timestamp(s) appear more than once "
                f"(first {dupes[0].isoformat()}); rows kept in file order"
            )
    wanted = list(columns) if columns else None
    if wanted:
        missing = [c for c in wanted if c not in header]
        if missing:
            have = ", ".join(h for h in header if h != tcol)
            raise DataError(
                f"{p}: no column {', '.join(repr(c) for c in missing)} (columns: {have})",
                hint="use --column with one of the columns listed",
            )
    metrics: dict[str, list[float]] = {}
    units: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    for col, name in enumerate(header):
        if name == tcol:
            continue
        values = cells[name]
        forced = wanted is not None and name in wanted
        if not forced and (name.lower() in _ATTRIBUTE_NAMES or not _looks_numeric(values)):
            attributes[name] = values
            continue
        if wanted is not None and not forced:
            continue
        metrics[name], unit = _parse_metric(p, lines, col, name, values)
        if unit:
            units[name] = unit
    return SeriesTable(p, times, attributes, metrics, lines, units, notes)


def require_points(table: SeriesTable, name: str, minimum: int = 2) -> list[float]:
    """The finite values of metric ``name``, or a DataError when fewer than ``minimum``."""
    values = table.column(name)
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < minimum:
        where = f"{table.path}:{table.lines[0]}" if table.lines else str(table.path)
        got = "no value" if not finite else f"{len(finite)} value"
        raise DataError(
            f"{where}: column '{name}' has {got}{'s' if len(finite) > 1 else ''}; "
            f"at least {minimum} are needed",
            hint="add more runs to the file (a change needs points before and after it)",
        )
    return values


def _rows(text: str) -> list[tuple[int, list[str]]]:
    head = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=head.count) if any(d in head for d in ",;\t") else ","
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    out = []
    for row in reader:
        out.append((reader.line_num, row))
    return out


def _check_header(p: Path, line: int, header: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name:
            raise DataError(
                f"{p}:{line}: column {i + 1} has no name", hint="name every column in the header"
            )
        if name in seen:
            raise DataError(
                f"{p}:{line}: column '{name}' appears twice", hint="give each column its own name"
            )
        seen.add(name)


def _is_number(cell: str) -> bool:
    return bool(_NUMBER.match(cell.strip()))


def _looks_numeric(values: list[str]) -> bool:
    present = [v for v in values if v.lower() not in _MISSING]
    if not present:
        return False
    numeric = sum(1 for v in present if _NUMBER.match(v) or _WITH_UNIT.match(v))
    return numeric * 2 >= len(present)  # mostly numbers: a metric (with bad cells to report)


def _time_column(
    p: Path, header: list[str], cells: dict[str, list[str]], given: str | None, line: int
) -> str | None:
    if given is not None:
        if given not in header:
            raise DataError(
                f"{p}:{line}: no time column '{given}' (columns: {', '.join(header)})",
                hint="use --time-column with one of the columns listed",
            )
        return given
    for name in header:
        if name.lower() in _TIME_NAMES:
            return name
    for name in header:
        values = [v for v in cells[name] if v]
        if (
            values
            and not any(_NUMBER.match(v) for v in values)
            and all(_as_date(v) for v in values)
        ):
            return name
    return None


def _as_date(cell: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(cell)
    except ValueError:
        t = None
        for fmt in _TIME_FORMATS:
            try:
                t = datetime.strptime(cell, fmt)
                break
            except ValueError:
                continue
    if t is not None and t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t


def _parse_time(p: Path, line: int, column: str, cell: str) -> datetime:
    if _NUMBER.match(cell):
        seconds = float(cell)
        return datetime.fromtimestamp(seconds / 1000.0 if seconds > 1e11 else seconds, tz=UTC)
    t = _as_date(cell) if cell else None
    if t is None:
        raise DataError(
            f"{p}:{line}: column '{column}': {cell!r} is not a time",
            hint="write times as ISO 8601 (2026-01-05T10:00:00Z) or epoch seconds",
        )
    return t


def _parse_metric(
    p: Path, lines: list[int], col: int, name: str, values: list[str]
) -> tuple[list[float], str | None]:
    out: list[float] = []
    units: list[str | None] = []
    where_unit: dict[str | None, int] = {}
    for line, cell in zip(lines, values, strict=True):
        if cell.lower() in _MISSING:
            out.append(math.nan)
            units.append(None)
            continue
        if _NUMBER.match(cell):
            out.append(float(cell))
            units.append("")
            where_unit.setdefault("", line)
            continue
        m = _WITH_UNIT.match(cell)
        if m is None:
            raise DataError(
                f"{p}:{line}:{col + 1}: column '{name}': {cell!r} is not a number",
                hint="write a number (e.g. 12.5 or 12.5ms), or leave the cell empty if missing",
            )
        out.append(float(m.group(1)))
        units.append(m.group(2))
        where_unit.setdefault(m.group(2), line)
    written = {u for u in units if u is not None}
    if not written or written == {""}:
        return out, None
    if "" in written:
        bare, other = where_unit[""], next(u for u in written if u)
        raise DataError(
            f"{p}:{bare}:{col + 1}: column '{name}' mixes numbers without a unit (line {bare}) "
            f"and with one ('{other}', line {where_unit[other]})",
            hint="write every value of a column with its unit, or none",
        )
    if "%" in written and len(written) > 1:
        raise DataError(
            f"{p}:{where_unit['%']}:{col + 1}: column '{name}' mixes percentages and durations",
            hint="keep one kind of value per column",
        )
    target = Counter(u for u in units if u).most_common(1)[0][0]
    if target == "%":
        return out, "%"
    from redline.units import parse_duration

    per = parse_duration(f"1{target}")
    converted = []
    for v, u, cell in zip(out, units, values, strict=True):
        if u is None:
            converted.append(v)
            continue
        try:
            converted.append(parse_duration(cell.replace(" ", "")) / per)
        except ValueError:  # signs and exponents: the units module reads plain durations only
            converted.append(v * _UNIT_SECONDS[u] / _UNIT_SECONDS[target])
    return converted, target
