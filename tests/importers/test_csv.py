"""A CSV in Apache Otava's layout (time, attribute and metric columns): one run per row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from redline._errors import DataError
from redline.importers import import_results, parse_results
from redline.store import open_store

from .conftest import DATA

FILE = DATA / "otava_layout.csv"


def test_one_run_per_row_with_its_attributes() -> None:
    runs = parse_results("csv", FILE)
    assert [r.line for r in runs] == [2, 3, 4, 5, 6]
    assert {r.name for r in runs} == {"otava_layout"}
    assert [r.commit for r in runs] == ["c0a1e11", "c0a1e12", "c0a1e13", "c0a1e14", "c0a1e15"]
    assert [r.branch for r in runs] == ["main", "main", "feature-x", "main", "main"]
    assert runs[3].version == "1.0.1"
    assert runs[0].started_at == datetime(2026, 2, 1, 2, 0, tzinfo=UTC)  # 3:00 +0100
    assert dict(runs[0].summary)["attributes"] == {"runner": "gha"}
    assert dict(runs[0].summary)["source"]["line"] == 2
    first = {m.name: (m.value, m.unit, m.direction) for m in runs[0].metrics}
    assert first == {
        "throughput": (1510.0, None, "higher"),
        "p99_ms": (12.4, "ms", "lower"),
        "queue_depth": (3.0, None, "none"),
    }
    # an empty cell: that row's run has no such metric
    assert [m.name for m in runs[2].metrics] == ["throughput", "queue_depth"]


def test_directions_from_the_options() -> None:
    runs = parse_results("csv", FILE, directions={"queue_depth": "lower"})
    assert {m.name: m.direction for m in runs[0].metrics}["queue_depth"] == "lower"
    runs = parse_results("csv", FILE, direction="higher", directions={"p99_ms": "lower"})
    assert {m.name: m.direction for m in runs[0].metrics} == {
        "throughput": "higher",
        "p99_ms": "lower",
        "queue_depth": "higher",
    }


def test_only_some_columns_and_a_name(tmp_path: Path) -> None:
    runs = parse_results("csv", FILE, columns=["p99_ms"], name="checkout")
    assert [len(r.metrics) for r in runs] == [1, 1, 1, 1]  # the row without p99 is left out
    assert {r.name for r in runs} == {"checkout"}


def test_a_benchmark_column_names_each_row(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text(
        "time,benchmark,mean_ms\n2026-01-01T00:00:00Z,parse,1.5\n2026-01-01T00:00:00Z,render,7.25\n"
    )
    assert [r.name for r in parse_results("csv", path)] == ["parse", "render"]


def test_warnings_for_an_undecided_direction_and_an_empty_row(tmp_path: Path) -> None:
    from redline.importers._common import Options, read_source
    from redline.importers.csv_series import parse

    path = tmp_path / "h.csv"
    path.write_text("time,commit,p99_ms,widgets\n2026-01-01,a,1,2\n2026-01-02,b,,\n")
    parsed = parse(read_source("csv", path), Options())
    assert len(parsed.runs) == 1 and not parsed.fresh
    assert any("no direction for widgets" in w for w in parsed.warnings)
    assert f"{path}:3: every metric is missing; the row is left out" in parsed.warnings


def test_a_file_that_grew_imports_only_its_new_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    path = tmp_path / "history.csv"
    lines = FILE.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:4]))
    assert import_results("csv", path, store_url=url).imported == 3
    path.write_text("".join(lines))
    report = import_results("csv", path, store_url=url)
    assert (report.imported, report.skipped) == (2, 3)
    with open_store(url) as store:
        runs = store.list_runs(kind="import", limit=None)
    assert sorted(r.commit or "" for r in runs) == [f"c0a1e1{i}" for i in range(1, 6)]


def test_identical_rows_are_both_kept_and_recognised_on_reimport(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    path = tmp_path / "twice.csv"
    path.write_text("time,p99_ms\n2026-01-01T00:00:00Z,5\n2026-01-01T00:00:00Z,5\n")
    assert import_results("csv", path, store_url=url).imported == 2
    assert import_results("csv", path, store_url=url).skipped == 2


def test_without_a_time_column_rows_keep_their_order_and_identity(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    path = tmp_path / "plain.csv"
    path.write_text("p99_ms,rps\n10,100\n11,99\n")
    first, second = parse_results("csv", path)
    assert first.started_at < second.started_at
    assert import_results("csv", path, store_url=url).imported == 2
    assert import_results("csv", path, store_url=url).skipped == 2


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "time,p99_ms\n2026-01-01,12\n2026-01-02,fast\n2026-01-03,13\n",
            "h.csv:3:2: column 'p99_ms': 'fast'",
        ),
        ("time,commit\n2026-01-01,abc\n", "no metric column"),
        ("time,p99_ms\n", "only a header, no rows"),
        ("time,p99_ms\n2026-01-01,1,2\n", "h.csv:2: 3 cells, the header has 2"),
    ],
)
def test_bad_tables(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "h.csv"
    path.write_text(text)
    with pytest.raises(DataError) as caught:
        parse_results("csv", path)
    assert says in caught.value.message and str(path) in caught.value.message
    assert caught.value.hint


def test_a_direction_for_a_column_that_is_not_there() -> None:
    with pytest.raises(DataError, match="--direction names no metric column p95_ms"):
        parse_results("csv", FILE, directions={"p95_ms": "lower"})


def test_a_locust_or_json_file_given_as_csv() -> None:
    with pytest.raises(DataError, match="it looks like a Locust stats CSV") as caught:
        parse_results("csv", DATA / "locust_stats.csv")
    assert caught.value.hint is not None and "redline import locust" in caught.value.hint
    with pytest.raises(DataError, match="it looks like redline's generic JSON"):
        parse_results("csv", DATA / "generic.json")
