"""What the importers share: reading files, JSON positions, directions and units by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline._errors import DataError, UsageError
from redline.importers import KINDS, guess_direction, guess_unit, parse_results


@pytest.mark.parametrize(
    ("name", "direction", "unit"),
    [
        ("p99_ms", "lower", "ms"),
        ("latency", "lower", None),
        ("build_time_s", "lower", "s"),
        ("rssBytes", "lower", "bytes"),
        ("rps", "higher", "1/s"),
        ("throughput", "higher", None),
        ("requests/s", "higher", "1/s"),
        ("ops", "higher", "1/s"),
        ("error_rate", "lower", None),
        ("errors_per_s", "lower", "1/s"),
        ("http_req_failed", "lower", None),
        ("cache_hit_ratio", "higher", None),
        ("queue_depth", "none", None),
        ("users", "none", None),
    ],
)
def test_directions_and_units_from_names(name: str, direction: str, unit: str | None) -> None:
    assert guess_direction(name) == direction
    assert guess_unit(name) == unit


def test_nan_is_found_outside_strings(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(
        '{"schema_version": 1, "runs": [{"name": "NaN at first",\n'
        '  "metrics": [{"name": "x", "value": NaN}]}]}'
    )
    with pytest.raises(DataError) as caught:
        parse_results("json", path)
    assert caught.value.message.startswith(f"{path}:2:38: NaN is not a measured value")


def test_infinity_too(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"schema_version": 1, "runs": [{"name": "a", "metrics": '
                    '[{"name": "x", "value": -Infinity}]}]}')  # fmt: skip
    with pytest.raises(DataError, match=r"r\.json:1:81: -Infinity is not a measured value"):
        parse_results("json", path)


def test_a_directory_and_a_binary_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory, not a results file"):
        parse_results("k6", tmp_path)
    path = tmp_path / "x.json"
    path.write_bytes(b'{"a": 1}\n\xff\xfe\x00')
    with pytest.raises(DataError, match=r"x\.json:2: not UTF-8 text"):
        parse_results("k6", path)


def test_a_whitespace_only_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank_stats.csv"
    path.write_text("\n  \n")
    with pytest.raises(DataError, match="the file is empty") as caught:
        parse_results("locust", path)
    assert caught.value.hint is not None and "locust --headless --csv PREFIX" in caught.value.hint


def test_an_unknown_kind() -> None:
    with pytest.raises(UsageError, match="cannot import results of kind 'jmeter'"):
        parse_results("jmeter", "x.jtl")
    assert KINDS == ("pytest-benchmark", "locust", "k6", "csv", "json")


def test_a_bad_direction_argument() -> None:
    with pytest.raises(UsageError, match="direction 'up' is not one of lower, higher, none"):
        parse_results("csv", "x.csv", direction="up")
