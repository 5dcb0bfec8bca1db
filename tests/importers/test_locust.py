"""Locust's PREFIX_stats.csv, read from a file a real Locust run wrote."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from redline._errors import DataError
from redline.importers import parse_results

from .conftest import DATA

FILE = DATA / "locust_stats.csv"


def _rows() -> dict[str, dict[str, str]]:
    with FILE.open(newline="") as f:
        return {f"{r['Type']} {r['Name']}".strip(): r for r in csv.DictReader(f)}


def test_one_run_with_the_aggregated_totals_and_each_request() -> None:
    rows = _rows()
    total = rows["Aggregated"]
    (run,) = parse_results("locust", FILE)
    assert run.name == "locust"  # locust_stats.csv -> "locust"
    assert run.started_at.timestamp() == pytest.approx(FILE.stat().st_mtime)
    values = {m.name: m.value for m in run.metrics}
    assert values["requests"] == float(total["Request Count"])
    assert values["failures"] == float(total["Failure Count"])
    assert values["error_rate"] == pytest.approx(
        float(total["Failure Count"]) / float(total["Request Count"])
    )
    assert values["rps"] == pytest.approx(float(total["Requests/s"]))
    assert values["latency_mean_ms"] == pytest.approx(float(total["Average Response Time"]))
    assert values["latency_max_ms"] == pytest.approx(float(total["Max Response Time"]))
    for column, metric in (("50%", "p50"), ("95%", "p95"), ("99%", "p99"), ("99.9%", "p999")):
        assert values[f"latency_{metric}_ms"] == float(total[column])
    assert "latency_p100_ms" not in values  # the max says it, unrounded
    assert values["GET /missing.error_rate"] == 1.0
    assert values["GET /slow.p99_ms"] == float(rows["GET /slow"]["99%"])
    assert values["POST /orders.rps"] == pytest.approx(float(rows["POST /orders"]["Requests/s"]))
    assert dict(run.summary)["source"]["tool"] == "locust"


def test_directions_and_units() -> None:
    (run,) = parse_results("locust", FILE)
    by_name = {m.name: m for m in run.metrics}
    assert (by_name["rps"].unit, by_name["rps"].direction) == ("1/s", "higher")
    assert (by_name["latency_p99_ms"].unit, by_name["latency_p99_ms"].direction) == ("ms", "lower")
    assert by_name["error_rate"].direction == "lower"
    assert by_name["GET /.rps"].direction == "higher"
    assert by_name["requests"].direction == "none"


def test_the_name_comes_from_the_prefix_or_the_option(data_file: Callable[..., Path]) -> None:
    path = data_file("locust_stats.csv", "checkout_stats.csv")
    assert parse_results("locust", path)[0].name == "checkout"
    assert parse_results("locust", path, name="shop")[0].name == "shop"


def test_locust_1_headers_are_read(tmp_path: Path) -> None:
    text = FILE.read_text().replace("Request Count", "# requests", 1)
    text = text.replace("Failure Count", "# failures", 1)
    path = tmp_path / "old_stats.csv"
    path.write_text(text)
    (run,) = parse_results("locust", path)
    assert {m.name: m.value for m in run.metrics}["requests"] == float(
        _rows()["Aggregated"]["Request Count"]
    )


def test_a_request_without_requests_is_left_out_with_a_warning(tmp_path: Path) -> None:
    from redline.importers._common import Options, read_source
    from redline.importers.locust import parse

    lines = FILE.read_text().splitlines()
    header = lines[0].split(",")
    empty = ["GET", "/never", "0", "0", "0", "0", "0", "0", "0", "0.0", "0.0"]
    empty += ["N/A"] * (len(header) - len(empty))
    path = tmp_path / "x_stats.csv"
    path.write_text("\n".join([lines[0], ",".join(empty), *lines[1:]]) + "\n")
    parsed = parse(read_source("locust", path), Options())
    assert not any(m.name.startswith("GET /never") for m in parsed.runs[0].metrics)
    assert parsed.warnings == [f"{path}:2: GET /never made no requests; its metrics are left out"]


def test_missing_columns_are_named_with_the_line(tmp_path: Path) -> None:
    lines = FILE.read_text().splitlines()
    keep = [i for i, c in enumerate(lines[0].split(",")) if c not in ("Requests/s", "Failures/s")]
    path = tmp_path / "cut_stats.csv"
    path.write_text("\n".join(",".join(line.split(",")[i] for i in keep) for line in lines))
    with pytest.raises(DataError) as caught:
        parse_results("locust", path)
    assert caught.value.message == (
        f"{path}:1: the Locust stats CSV has no column Requests/s, Failures/s"
    )
    assert caught.value.hint is not None and "locust --csv PREFIX" in caught.value.hint


def test_a_damaged_cell_names_line_and_column(tmp_path: Path) -> None:
    lines = FILE.read_text().splitlines()
    cells = lines[3].split(",")
    cells[2] = "many"
    lines[3] = ",".join(cells)
    path = tmp_path / "bad_stats.csv"
    path.write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"bad_stats\.csv:4: column 'Request Count' is 'many'"):
        parse_results("locust", path)


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_nan_in_a_cell(tmp_path: Path, bad: str) -> None:
    lines = FILE.read_text().splitlines()
    cells = lines[-1].split(",")
    cells[5] = bad
    lines[-1] = ",".join(cells)
    path = tmp_path / "nan_stats.csv"
    path.write_text("\n".join(lines))
    with pytest.raises(
        DataError,
        match=rf":{len(lines)}: column 'Average Response Time' is '{bad}', not a measured value",
    ):
        parse_results("locust", path)


def test_a_file_without_the_aggregated_row(tmp_path: Path) -> None:
    path = tmp_path / "partial_stats.csv"
    path.write_text("\n".join(FILE.read_text().splitlines()[:-1]))
    with pytest.raises(DataError, match="no Aggregated row"):
        parse_results("locust", path)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("locust_stats_history.csv", "Locust's stats history (PREFIX_stats_history.csv)"),
        ("locust_failures.csv", "Locust's failures list (PREFIX_failures.csv)"),
        ("pytest_benchmark.json", "a pytest-benchmark JSON file"),
    ],
)
def test_another_file_is_named_for_what_it_is(name: str, says: str) -> None:
    with pytest.raises(DataError) as caught:
        parse_results("locust", DATA / name)
    assert caught.value.message.startswith(f"{DATA / name}: not a Locust stats CSV")
    assert says in caught.value.message
