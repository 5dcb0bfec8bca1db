"""Reading a series file: Otava's CSV layout, plain columns, and every kind of bad input."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from redline._errors import DataError
from redline.analysis.seriesfile import read_series_file, require_points

DATA = Path(__file__).parent / "data"


def _write(tmp_path: Path, text: str, name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_otava_layout_time_attributes_and_metrics() -> None:
    t = read_series_file(DATA / "otava.csv")
    assert t.time is not None and len(t.time) == 60
    assert t.time[0] == datetime(2026, 1, 1, 0, tzinfo=UTC)
    assert set(t.attributes) == {"commit", "branch", "version"}  # version looks numeric
    assert set(t.metrics) == {"p99_ms", "throughput"}
    assert t.lines[0] == 2 and t.lines[-1] == 61
    assert t.column("p99_ms")[0] == pytest.approx(12.0, abs=1.0)


def test_columns_restrict_the_metrics_and_an_unknown_column_names_the_ones_there() -> None:
    t = read_series_file(DATA / "otava.csv", columns=["p99_ms"])
    assert list(t.metrics) == ["p99_ms"]
    with pytest.raises(DataError, match=r"no column 'p98' \(columns: commit, branch"):
        read_series_file(DATA / "otava.csv", columns=["p98"])
    with pytest.raises(DataError, match=r"otava.csv: no metric column 'p95' \(metrics: p99_ms\)"):
        t.column("p95")
    with pytest.raises(DataError) as info:
        t.column("branch")
    assert "holds text" in str(info.value)


def test_plain_one_column_file_without_a_header() -> None:
    t = read_series_file(DATA / "plain.txt")
    assert t.time is None and t.attributes == {} and list(t.metrics) == ["value"]
    assert len(t.column("value")) == 30 and t.lines[0] == 1


def test_plain_column_with_a_header_semicolons_and_epoch_times(tmp_path: Path) -> None:
    p = _write(tmp_path, "ts;latency\n1767225600;1.5\n1767225660;1.6\n")
    t = read_series_file(p)
    assert t.time == [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
    ]
    assert t.column("latency") == [1.5, 1.6]


def test_otava_style_dotted_dates_and_an_explicit_time_column(tmp_path: Path) -> None:
    p = _write(tmp_path, "when,m\n2026.01.02 03:04:05 +0000,1\n2026.01.03 03:04:05 +0000,2\n")
    t = read_series_file(p)
    assert t.time is not None and t.time[0] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(DataError, match="no time column 'x'"):
        read_series_file(p, time_column="x")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope.csv: no such file") as info:
        read_series_file(tmp_path / "nope.csv")
    assert info.value.hint
    with pytest.raises(DataError, match="is a directory"):
        read_series_file(tmp_path)


def test_empty_file_and_blank_lines(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"s.csv: the file is empty") as info:
        read_series_file(_write(tmp_path, "\n\n"))
    assert "header" in (info.value.hint or "")


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"s.csv:1: only a header, no rows"):
        read_series_file(_write(tmp_path, "time,p99\n"))


def test_one_point_is_read_but_cannot_be_analysed(tmp_path: Path) -> None:
    t = read_series_file(_write(tmp_path, "p99\n12.5\n"))
    assert t.column("p99") == [12.5]
    with pytest.raises(DataError, match=r"s.csv:2: column 'p99' has 1 value; at least 2"):
        require_points(t, "p99")


def test_empty_cells_and_nan_are_missing_values(tmp_path: Path) -> None:
    p = _write(tmp_path, "p99,err\n1.0,0\n,1\nNaN,\nnull,2\n-,3\n")
    t = read_series_file(p)
    p99 = t.column("p99")
    assert p99[0] == 1.0 and all(math.isnan(v) for v in p99[1:])
    assert math.isnan(t.column("err")[2])
    with pytest.raises(DataError, match="has 1 value"):
        require_points(t, "p99")


def test_a_non_numeric_cell_in_a_metric_column_names_line_and_column(tmp_path: Path) -> None:
    p = _write(tmp_path, "time,p99\n2026-01-01,1.0\n2026-01-02,2.0\n2026-01-03,oops\n")
    with pytest.raises(DataError, match=r"s.csv:4:2: column 'p99': 'oops' is not a number"):
        read_series_file(p)


def test_a_bad_time_names_line_and_column(tmp_path: Path) -> None:
    p = _write(tmp_path, "time,p99\n2026-01-01,1.0\nyesterday,2.0\n")
    with pytest.raises(DataError, match=r"s.csv:3: column 'time': 'yesterday' is not a time"):
        read_series_file(p)


def test_durations_with_units_are_converted_to_the_columns_usual_unit(tmp_path: Path) -> None:
    t = read_series_file(_write(tmp_path, "p99\n12ms\n1.2s\n15ms\n500us\n"))
    assert t.column("p99") == pytest.approx([12.0, 1200.0, 15.0, 0.5])
    assert t.units == {"p99": "ms"}


def test_numbers_with_and_without_a_unit_in_one_column_are_rejected(tmp_path: Path) -> None:
    p = _write(tmp_path, "p99\n12ms\n15\n13ms\n")
    with pytest.raises(DataError, match=r"s.csv:3:1: column 'p99' mixes numbers without a unit"):
        read_series_file(p)


def test_duplicate_timestamps_are_kept_in_order_with_a_note(tmp_path: Path) -> None:
    p = _write(tmp_path, "time,p99\n2026-01-01T00:00:00Z,1\n2026-01-01T00:00:00Z,2\n2026-01-02,3\n")
    t = read_series_file(p)
    assert t.column("p99") == [1.0, 2.0, 3.0]
    assert len(t.notes) == 1 and "s.csv:2" in t.notes[0] and "more than once" in t.notes[0]


def test_ragged_rows_and_bad_headers(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"s.csv:3: 1 cells, the header has 2"):
        read_series_file(_write(tmp_path, "a,b\n1,2\n3\n"))
    with pytest.raises(DataError, match="column 'a' appears twice"):
        read_series_file(_write(tmp_path, "a,a\nx,2\n"))
    with pytest.raises(DataError, match="column 2 has no name"):
        read_series_file(_write(tmp_path, "a,\nx,2\n"))


def test_constant_series_reads_fine(tmp_path: Path) -> None:
    t = read_series_file(_write(tmp_path, "p99\n" + "5\n" * 20))
    assert set(t.column("p99")) == {5.0}
