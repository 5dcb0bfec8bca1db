"""HDR histograms: merging is exact, commutative and associative; encoding round-trips;
percentiles are monotonic and within the layout's 3 significant digits."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from redline.load import hist

# Latencies in microseconds, across the whole 1 us .. 1 h range, with repeats (the
# recorder counts repeats) and values outside the range (clamped, never lost).
latencies = st.lists(
    st.one_of(
        st.integers(min_value=1, max_value=5_000),
        st.integers(min_value=1, max_value=hist.HIGHEST_US),
        st.sampled_from([1, 2, 999, 1000, 1001, 65_535, hist.HIGHEST_US]),
    ),
    max_size=200,
)
some_latencies = latencies.filter(bool)
out_of_range = st.lists(
    st.one_of(
        st.integers(max_value=0, min_value=-1000),
        st.integers(min_value=hist.HIGHEST_US + 1, max_value=10 * hist.HIGHEST_US),
    ),
    max_size=20,
)


def histogram(values: list[int]) -> HdrHistogram:
    h = hist.new_histogram()
    hist.record_counts(h, values)
    return h


def counts(h: HdrHistogram) -> list[int]:
    """The count of every bucket: what "equal" means for histograms."""
    return list(h.counts)


def same(a: HdrHistogram, b: HdrHistogram) -> bool:
    return (
        counts(a) == counts(b)
        and a.get_total_count() == b.get_total_count()
        and a.get_min_value() == b.get_min_value()
        and a.get_max_value() == b.get_max_value()
    )


@settings(max_examples=40, deadline=None)
@given(some_latencies, some_latencies)
def test_merge_is_commutative(a: list[int], b: list[int]) -> None:
    ha, hb = histogram(a), histogram(b)
    assert same(hist.merge([ha, hb]), hist.merge([hb, ha]))


@settings(max_examples=40, deadline=None)
@given(some_latencies, some_latencies, some_latencies)
def test_merge_is_associative(a: list[int], b: list[int], c: list[int]) -> None:
    ha, hb, hc = histogram(a), histogram(b), histogram(c)
    left = hist.merge([hist.merge([ha, hb]), hc])
    right = hist.merge([ha, hist.merge([hb, hc])])
    assert same(left, right)


@settings(max_examples=40, deadline=None)
@given(st.lists(some_latencies, min_size=1, max_size=5))
def test_merge_is_exact(parts: list[list[int]]) -> None:
    """Merging the parts' histograms is recording every value in one (nothing averaged)."""
    merged = hist.merge(histogram(p) for p in parts)
    everything = histogram([v for p in parts for v in p])
    assert same(merged, everything)
    assert merged.get_total_count() == sum(len(p) for p in parts)


@settings(max_examples=20, deadline=None)
@given(some_latencies, st.integers(min_value=1, max_value=3))
def test_merging_empty_histograms_changes_nothing(values: list[int], empties: int) -> None:
    """A worker or an interval that recorded nothing must not move the minimum to 0
    (HdrHistogram.add takes an empty histogram's get_min_value(), which is 0)."""
    h = histogram(values)
    merged = hist.merge([hist.new_histogram()] * empties + [h])
    assert same(merged, h)


@settings(max_examples=40, deadline=None)
@given(latencies, out_of_range)
def test_encode_decode_round_trip(values: list[int], outside: list[int]) -> None:
    h = histogram(values + outside)
    text = hist.encode(h)
    assert text.startswith("HISTFAAA")
    back = hist.decode(text)
    assert same(back, h)
    assert back.get_total_count() == len(values) + len(outside)  # clamped, not dropped


# percentiles_ms walks every bucket in Python for the mean (up to ~0.4 s for a histogram
# spanning 1 us .. 1 h), so this test takes fewer examples.
@settings(max_examples=25, deadline=None)
@given(some_latencies)
def test_percentiles_are_monotonic(values: list[int]) -> None:
    p = hist.percentiles_ms(histogram(values))
    assert p["min"] <= p["p50"] <= p["p90"] <= p["p95"] <= p["p99"] <= p["p999"] <= p["max"]


@settings(max_examples=50, deadline=None)
@given(some_latencies)
def test_percentiles_keep_three_significant_digits(values: list[int]) -> None:
    """Each reported percentile is within 0.1 % of a value that was really recorded at or
    around that rank (the HDR layout's promise)."""
    h = histogram(values)
    ordered = sorted(values)
    for q in (50.0, 90.0, 99.0, 100.0):
        # HdrHistogram's rank: the value below which q % of the count lies, rounded.
        rank = max(1, int(q / 100 * len(ordered) + 0.5))
        true = ordered[rank - 1]
        assert abs(h.get_value_at_percentile(q) - true) <= max(1, true / 1000)


def test_empty_histogram_reports_zeros() -> None:
    p = hist.percentiles_ms(hist.new_histogram())
    assert set(p) == {"p50", "p90", "p95", "p99", "p999", "min", "max", "mean"}
    assert all(v == 0.0 for v in p.values())


def test_recorder_flush_empties_its_buffers() -> None:
    rec = hist.Recorder()
    buf = rec.buffer("GET /")
    assert rec.buffer("GET /") is buf  # the hot path holds on to it
    buf.extend([1200, 1300, 1250, 1250])
    first = hist.decode(rec.flush()["GET /"])
    assert first.get_total_count() == 4
    assert first.get_count_at_value(1250) == 2
    assert len(buf) == 0
    assert rec.flush() == {}  # nothing recorded since: no histogram at all


@settings(max_examples=30, deadline=None)
@given(some_latencies)
def test_the_summary_mean_is_hdrhistograms_mean(values: list[int]) -> None:
    """percentiles_ms computes the mean from the non-zero buckets (hdrh's own walks all
    23,552 in Python: ~90 ms); it must be the same number."""
    h = histogram(values)
    assert hist.percentiles_ms(h)["mean"] == round(h.get_mean_value() / 1000, 3)
