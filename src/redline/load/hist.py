"""Latency recording: cheap on the hot path, exact HDR histograms once a second.

Recording a latency is one ``array.append`` of whole microseconds (tens of
nanoseconds). Once per interval :meth:`Recorder.flush` counts the buffered values
(``collections.Counter`` runs in C) and adds each distinct value to an HDR histogram
with its count, so the expensive per-value work scales with the number of distinct
latencies, not with the request rate. Every histogram covers 1 us to 1 h with 3
significant digits (HdrHistogram's standard layout and encoding), so histograms
from any worker, process or machine merge exactly by adding counts.

>>> rec = Recorder()
>>> rec.buffer("GET /").extend([1200, 1300, 1250])
>>> encoded = rec.flush()
>>> decode(encoded["GET /"]).get_total_count()
3
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

__all__ = [
    "HIGHEST_US",
    "LOWEST_US",
    "SIGNIFICANT_DIGITS",
    "Recorder",
    "add",
    "decode",
    "encode",
    "merge",
    "new_histogram",
    "percentiles_ms",
]

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3
_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}


def new_histogram() -> HdrHistogram:
    """An empty histogram in the one layout every part of redline uses."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_counts(hist: HdrHistogram, values: Iterable[int]) -> None:
    """Add ``values`` (microseconds) to ``hist``, clamped into its range."""
    for value, count in Counter(values).items():
        hist.record_value(min(max(value, LOWEST_US), HIGHEST_US), count)


def encode(hist: HdrHistogram) -> str:
    """The standard compressed base64 encoding (``HISTFAAA...``)."""
    encoded = hist.encode()
    return encoded.decode("ascii") if isinstance(encoded, bytes) else str(encoded)


def decode(text: str) -> HdrHistogram:
    """A histogram back from :func:`encode`'s text."""
    hist: HdrHistogram = HdrHistogram.decode(text.encode("ascii"))
    return hist


def add(total: HdrHistogram, other: HdrHistogram) -> HdrHistogram:
    """Add ``other``'s counts to ``total`` (exact). An empty ``other`` changes nothing:
    ``HdrHistogram.add`` would take its minimum, 0, as the merged minimum."""
    if other.get_total_count():
        total.add(other)
    return total


def merge(hists: Iterable[HdrHistogram]) -> HdrHistogram:
    """One histogram holding every count of ``hists`` (exact: counts add)."""
    total = new_histogram()
    for hist in hists:
        add(total, hist)
    return total


def percentiles_ms(hist: HdrHistogram, *, mean: bool = True) -> dict[str, float]:
    """p50 ... p999, min, max and (unless ``mean=False``) mean of ``hist`` in milliseconds;
    empty: all 0. The mean walks every bucket in Python (~10 ms): per-second rows skip it."""
    if hist.get_total_count() == 0:
        zeros = {**dict.fromkeys(_PERCENTILES, 0.0), "min": 0.0, "max": 0.0}
        return {**zeros, "mean": 0.0} if mean else zeros
    # One pass for every percentile (hdrh walks the buckets in Python for each one).
    values = hist.get_percentile_to_value_dict(list(_PERCENTILES.values()))
    out = {key: values[p] / 1000 for key, p in _PERCENTILES.items()}
    out["min"] = hist.get_min_value() / 1000
    out["max"] = hist.get_max_value() / 1000
    if mean:
        out["mean"] = round(_mean(hist) / 1000, 3)
    return out


def _mean(hist: HdrHistogram) -> float:
    """The mean, as HdrHistogram defines it (each count at the middle of its bucket), from
    the non-zero counts only: ``get_mean_value`` takes ~90 ms walking every bucket."""
    counts = hist.counts
    total = weighted = 0
    for index in range(hist.counts_len):
        count = counts[index]
        if count:
            low = hist.get_value_from_index(index)
            high = hist.get_highest_equivalent_value(low)
            weighted += count * (low + ((high - low + 1) >> 1))  # its median-equivalent value
            total += count
    return weighted / total if total else 0.0


class Recorder:
    """Per-name buffers of microseconds, turned into encoded histograms by :meth:`flush`.

    One scratch histogram per name is reset and reused every interval: allocating a
    fresh one (188 KB of counts) each second fragments the C heap, and a long run's
    RSS would grow by megabytes a minute (measured) though nothing is kept.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, array[int]] = {}
        self._scratch: dict[str, HdrHistogram] = {}

    def buffer(self, name: str) -> array[int]:
        """The buffer to append ``name``'s latencies to (hold on to it: it is reused)."""
        buf = self._buffers.get(name)
        if buf is None:
            buf = self._buffers[name] = array("q")
        return buf

    def flush(self) -> dict[str, str]:
        """Everything recorded since the last flush, as encoded histograms by name."""
        out: dict[str, str] = {}
        for name, buf in self._buffers.items():
            if buf:
                scratch = self._scratch.get(name)
                if scratch is None:
                    scratch = self._scratch[name] = new_histogram()
                scratch.reset()
                record_counts(scratch, buf)
                del buf[:]
                out[name] = encode(scratch)
        return out
