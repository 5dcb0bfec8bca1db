"""Time series samples: labels, time ranges and retention, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from redline.store import SampleRecord, Store
from redline.store.records import canonical_labels

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
API = {"service": "api", "env": "prod"}
API_EU = {"service": "api", "env": "prod", "region": "eu"}
DB = {"service": "db", "env": "prod"}


def _minutes(*values: float) -> list[tuple[datetime, float]]:
    return [(T0 + timedelta(minutes=i), v) for i, v in enumerate(values)]


@pytest.fixture
def filled(store: Store) -> Store:
    assert store.add_samples("latency_ms", API, _minutes(10, 11, 12, 13)) == 4
    store.add_samples("latency_ms", API_EU, _minutes(20, 21))
    store.add_samples("latency_ms", DB, _minutes(1.5))
    store.add_samples("errors", API, _minutes(0, 1))
    return store


def test_a_series_round_trips_in_time_order(store: Store) -> None:
    # Written out of order, read back oldest first, in UTC.
    points = [(T0 + timedelta(seconds=s), float(s)) for s in (30, 10, 20)]
    store.add_samples("cpu", {"host": "web-1"}, points)
    got = store.samples("cpu")
    assert got == [
        SampleRecord("cpu", {"host": "web-1"}, T0 + timedelta(seconds=s), float(s))
        for s in (10, 20, 30)
    ]
    assert all(sample.ts.tzinfo is UTC for sample in got)


def test_labels_select_every_series_that_has_them(filled: Store) -> None:
    by_service = filled.samples("latency_ms", {"service": "api"})
    assert sorted(s.value for s in by_service) == [10, 11, 12, 13, 20, 21]
    assert {frozenset(s.labels.items()) for s in by_service} == {
        frozenset(API.items()),
        frozenset(API_EU.items()),
    }
    assert [s.value for s in filled.samples("latency_ms", {"region": "eu"})] == [20, 21]
    assert filled.samples("latency_ms", {"service": "cache"}) == []
    assert len(filled.samples("latency_ms")) == 7


def test_exact_labels_select_one_series(filled: Store) -> None:
    exact = filled.samples("latency_ms", {"env": "prod", "service": "api"}, exact=True)
    assert [s.value for s in exact] == [10, 11, 12, 13]
    assert filled.samples("latency_ms", {"service": "api"}, exact=True) == []


def test_time_range_is_half_open(filled: Store) -> None:
    def values(
        since: datetime | None = None, until: datetime | None = None, limit: int | None = None
    ) -> list[float]:
        got = filled.samples("latency_ms", API, since, until, exact=True, limit=limit)
        return [s.value for s in got]

    assert values(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)) == [11, 12]
    assert values(since=T0 + timedelta(minutes=3)) == [13]
    assert values(until=T0) == []
    assert values(limit=2) == [10, 11]


def test_series_labels_and_retention(filled: Store) -> None:
    assert filled.series_labels("latency_ms") == sorted([API, API_EU, DB], key=canonical_labels)
    assert filled.delete_samples(T0 + timedelta(minutes=1), name="latency_ms") == 3
    assert [s.value for s in filled.samples("latency_ms", API, exact=True)] == [11, 12, 13]
    assert len(filled.samples("errors")) == 2
    assert filled.delete_samples(T0 + timedelta(hours=1)) == 6
    assert filled.samples("errors") == []


def test_bad_samples_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="strings"):
        store.add_samples("x", {"port": 8080}, _minutes(1))  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="timezone-aware"):
        store.add_samples("x", {}, [(datetime(2024, 1, 1), 1.0)])
    with pytest.raises(ValueError, match="NaN"):
        store.add_samples("x", {}, [(T0, float("nan"))])
    assert store.add_samples("x", {}, [(T0, float("inf"))]) == 1
    assert [s.value for s in store.samples("x")] == [float("inf")]
    store.delete_samples(T0 + timedelta(seconds=1))
    assert store.add_samples("x", {}, []) == 0
    assert store.samples("x") == []
