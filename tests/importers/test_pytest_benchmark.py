"""pytest-benchmark's --benchmark-json, read from a file the real tool wrote."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from redline._errors import DataError
from redline.importers import parse_results

from .conftest import DATA

FILE = DATA / "pytest_benchmark.json"


def test_one_run_per_benchmark_with_commit_branch_host_and_time_from_the_file() -> None:
    raw = json.loads(FILE.read_text())
    runs = parse_results("pytest-benchmark", FILE)
    assert [r.name for r in runs] == [b["fullname"] for b in raw["benchmarks"]]
    assert [r.name for r in runs] == [
        "test_tiny.py::test_sort[100]",
        "test_tiny.py::test_sort[1000]",
        "test_tiny.py::test_join",
    ]
    for run, bench in zip(runs, raw["benchmarks"], strict=True):
        assert run.commit == raw["commit_info"]["id"]
        assert run.branch == raw["commit_info"]["branch"] == "master"
        assert run.host == raw["machine_info"]["node"]
        assert run.started_at == datetime.fromisoformat(raw["datetime"]).astimezone(UTC)
        values = {m.name: m.value for m in run.metrics}
        for stat in ("min", "max", "mean", "stddev", "median", "iqr", "ops", "rounds"):
            assert values[stat] == pytest.approx(bench["stats"][stat])
        summary = dict(run.summary)
        assert summary["source"]["tool"] == "pytest-benchmark"
        assert summary["source"]["file"] == str(FILE.resolve())
        assert summary["benchmark"]["fullname"] == bench["fullname"]
    assert dict(runs[0].summary)["benchmark"]["group"] == "sort"
    assert dict(runs[2].summary)["benchmark"]["extra_info"] == {"items": 50}


def test_units_and_directions() -> None:
    run = parse_results("pytest-benchmark", FILE)[0]
    by_name = {m.name: m for m in run.metrics}
    assert (by_name["mean"].unit, by_name["mean"].direction) == ("s", "lower")
    assert (by_name["stddev"].unit, by_name["stddev"].direction) == ("s", "lower")
    assert (by_name["ops"].unit, by_name["ops"].direction) == ("1/s", "higher")
    assert (by_name["rounds"].unit, by_name["rounds"].direction) == (None, "none")


def test_name_prefix_and_caller_metadata_win_over_the_file() -> None:
    runs = parse_results(
        "pytest-benchmark",
        FILE,
        name="sorting",
        commit="c0ffee",
        branch="feature-x",
        environment="ci",
        version="2.0",
        host="runner-1",
    )
    assert [r.name for r in runs] == [
        "sorting::test_sort[100]",
        "sorting::test_sort[1000]",
        "sorting::test_join",
    ]
    assert {(r.commit, r.branch, r.environment, r.version, r.host) for r in runs} == {
        ("c0ffee", "feature-x", "ci", "2.0", "runner-1")
    }


def test_an_older_file_without_commit_info_or_optional_stats(tmp_path: Path) -> None:
    raw = json.loads(FILE.read_text())
    del raw["commit_info"]
    raw["datetime"] = "2024-05-01T10:00:00.5"  # pytest-benchmark 3 wrote naive UTC
    for bench in raw["benchmarks"]:
        bench["stats"] = {k: bench["stats"][k] for k in ("min", "max", "mean", "rounds")}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(raw))
    run = parse_results("pytest-benchmark", path)[0]
    assert run.commit is None and run.branch is None
    assert run.started_at == datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert [m.name for m in run.metrics] == ["min", "max", "mean", "rounds"]


def test_a_dirty_tree_and_a_detached_head(tmp_path: Path) -> None:
    from redline.importers._common import Options, read_source
    from redline.importers.pytest_benchmark import parse

    raw = json.loads(FILE.read_text())
    raw["commit_info"].update(dirty=True, branch="(unknown)")
    path = tmp_path / "dirty.json"
    path.write_text(json.dumps(raw))
    parsed = parse(read_source("pytest-benchmark", path), Options())
    assert all(r.branch is None for r in parsed.runs)
    assert any("uncommitted changes" in w for w in parsed.warnings)


def test_no_benchmarks(tmp_path: Path) -> None:
    raw = json.loads(FILE.read_text())
    raw["benchmarks"] = []
    path = tmp_path / "none.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError) as caught:
        parse_results("pytest-benchmark", path)
    assert str(path) in caught.value.message and "no benchmarks" in caught.value.message
    assert caught.value.hint is not None and "tests passed" in caught.value.hint


def test_a_benchmark_without_stats_names_its_index(tmp_path: Path) -> None:
    raw = json.loads(FILE.read_text())
    del raw["benchmarks"][1]["stats"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError, match=r"benchmarks\[1\] \(test_sort\[1000\]\) has no 'stats'"):
        parse_results("pytest-benchmark", path)


def test_a_stat_that_is_not_a_number(tmp_path: Path) -> None:
    raw = json.loads(FILE.read_text())
    raw["benchmarks"][0]["stats"]["mean"] = "fast"
    path = tmp_path / "text.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError, match=r"benchmarks\[0\]\.stats: mean is 'fast', not a number"):
        parse_results("pytest-benchmark", path)
