"""Durations, rates and sizes parse as people write them, and refuse what is ambiguous."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redline.units import (
    format_duration,
    parse_duration,
    parse_fraction,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("30s", 30),
        ("5m", 300),
        ("28d", 28 * 86400),
        ("1h30m", 5400),
        ("1.5s", 1.5),
        ("100us", 1e-4),
        ("2w", 1209600),
        ("0", 0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5", "5 seconds", "ms", "", "-1s", "1x", "s5"])
def test_bad_durations_say_how_to_write_them(text: str) -> None:
    with pytest.raises(ValueError, match="250ms|has no unit|write"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "per_second"), [("200/s", 200), ("12000/m", 200), ("5/10s", 0.5), ("7200/h", 2)]
)
def test_rates(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["200", "fast", "10/", "/s", "1/0s"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


@pytest.mark.parametrize(
    ("text", "size"), [("10MB", 10**7), ("64KiB", 65536), ("512", 512), ("1GiB", 2**30), (7, 7)]
)
def test_sizes(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@given(st.integers(min_value=0, max_value=10**7))
def test_format_then_parse_round_trips_whole_milliseconds(ms: int) -> None:
    assert parse_duration(format_duration(ms / 1000)) == pytest.approx(ms / 1000)


@pytest.mark.parametrize(
    ("text", "value"), [("5%", 0.05), ("12.5%", 0.125), ("0.05", 0.05), (0.2, 0.2), ("0%", 0.0)]
)
def test_fractions(text: str | float, value: float) -> None:
    assert parse_fraction(text) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "says"),
    [("5", "did you mean 5%"), ("abc", "not a share"), ("150%", "between"), ("-1%", "between")],
)
def test_bad_fractions(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_fraction(text)
