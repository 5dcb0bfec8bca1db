"""What a load test measured: per-process parts, merged exactly into one result.

A :class:`Part` is what one engine (one process, one Dask task) returns: plain
values and encoded HDR histograms, so it pickles and travels. :class:`LoadResult`
merges parts by adding counts and histograms (never by averaging percentiles), and
gives the summary (``--json``), the full document (``--out``), the interval CSV, and
the statistics thresholds are judged on.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from redline.load import hist

__all__ = ["ITERATION", "Interval", "LoadResult", "Part"]

ITERATION = "__iteration__"  # the histogram of whole iterations (from intended start)
SCHEMA_VERSION = 1
CPU_LIMIT = 0.85
LAG_LIMIT_MS = 1.0
# Iterations that start this late (median) mean the scheduler is behind; below it, a busy
# machine's timer slop (1-2 ms) is not the generator's saturation.
LATE_LIMIT_MS = 5.0


@dataclass(slots=True)
class Interval:
    """One second (or the last part of one) of one process's run."""

    start: float  # seconds since the run started
    duration: float
    requests: int
    errors: int
    dropped: int
    histograms: dict[str, str]  # encoded, by request name (and ITERATION)
    cpu: float  # the process's CPU seconds per second
    lag_ms: float  # event-loop lag, 90th percentile of ten probes a second
    late_ms: float = 0.0  # open model: median lateness of iteration starts
    # seconds per second the generator was ready to run but waited for a CPU (Linux
    # schedstat): on a shared machine a CPU-bound generator gets less than 85 % of a core,
    # and what it waits is the rest of its demand
    waiting: float = 0.0

    @property
    def second(self) -> int:
        """The second of the run this interval is: it began at a tick of the interval
        ticker, which may fire a millisecond early or late, so the nearest whole second
        (flooring put a tick at 0.999 s into second 0)."""
        return round(self.start)

    @property
    def saturated(self) -> bool:
        """The generator could not keep its own schedule: busy CPU (running, or ready to
        run and waiting for a core), a lagging event loop, or iterations started late (its
        latencies then include its own delays)."""
        busy = self.cpu + self.waiting > CPU_LIMIT
        return busy or self.lag_ms > LAG_LIMIT_MS or self.late_ms > LATE_LIMIT_MS


@dataclass(slots=True)
class Part:
    """The results of one engine."""

    part: int
    started_at: float
    duration_s: float
    requests: int
    iterations: int
    dropped: int
    errors: dict[str, int]
    iteration_errors: dict[str, int]
    statuses: dict[str, int]
    checks_passed: int
    checks_failed: int
    bytes_sent: int
    bytes_received: int
    by_request: dict[str, dict[str, int]]
    intervals: list[Interval] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Part:
        values = dict(data)
        values["intervals"] = [Interval(**i) for i in values.get("intervals", [])]
        return cls(**values)


class LoadResult:
    """Parts merged: totals, exact histograms per request name, and a series per second."""

    def __init__(
        self,
        parts: Iterable[Part],
        *,
        name: str = "adhoc",
        target: str = "",
        lost: Iterable[str] = (),
        interrupted: bool = False,
    ) -> None:
        self.parts = sorted(parts, key=lambda p: p.part)
        self.name = name
        self.target = target
        self.lost = list(lost)  # workers that did not report (their results are missing)
        self.interrupted = interrupted
        self.thresholds: list[dict[str, Any]] = []
        errors: Counter[str] = Counter()
        iteration_errors: Counter[str] = Counter()
        statuses: Counter[str] = Counter()
        self.by_request: dict[str, dict[str, int]] = {}
        for part in self.parts:
            errors.update(part.errors)
            iteration_errors.update(part.iteration_errors)
            statuses.update(part.statuses)
            for label, counts in part.by_request.items():
                mine = self.by_request.setdefault(label, {"requests": 0, "errors": 0})
                for key, value in counts.items():
                    mine[key] = mine.get(key, 0) + value
        self.errors = dict(errors)
        self.iteration_errors = dict(iteration_errors)
        self.statuses = dict(statuses)
        self.requests = sum(p.requests for p in self.parts)
        self.iterations = sum(p.iterations for p in self.parts)
        self.dropped = sum(p.dropped for p in self.parts)
        self.checks_passed = sum(p.checks_passed for p in self.parts)
        self.checks_failed = sum(p.checks_failed for p in self.parts)
        self.bytes_sent = sum(p.bytes_sent for p in self.parts)
        self.bytes_received = sum(p.bytes_received for p in self.parts)
        self.duration_s = max((p.duration_s for p in self.parts), default=0.0)
        self.started_at = min((p.started_at for p in self.parts), default=0.0)
        self._merge_intervals()

    def _merge_intervals(self) -> None:
        """Histograms by name over the run, and one merged row per second.

        Seconds are merged one at a time into one reused scratch histogram, so a long
        run costs one histogram per request name, not one per second.
        """
        by_second: dict[int, list[Interval]] = {}
        for part in self.parts:
            for interval in part.intervals:
                by_second.setdefault(interval.second, []).append(interval)
        totals: dict[str, HdrHistogram] = {}
        scratch = hist.new_histogram()
        self.series: list[dict[str, Any]] = []
        for second in sorted(by_second):
            intervals = by_second[second]
            scratch.reset()
            for interval in intervals:
                for label, encoded in interval.histograms.items():
                    decoded = hist.decode(encoded)
                    hist.add(totals.setdefault(label, hist.new_histogram()), decoded)
                    if label != ITERATION:
                        hist.add(scratch, decoded)
            pct = hist.percentiles_ms(scratch, mean=False)
            requests = sum(i.requests for i in intervals)
            duration = max(i.duration for i in intervals) or 1.0
            self.series.append(
                {
                    "t": second,
                    "requests": requests,
                    "errors": sum(i.errors for i in intervals),
                    "dropped": sum(i.dropped for i in intervals),
                    "rps": round(requests / duration, 1),
                    "p50_ms": pct["p50"],
                    "p90_ms": pct["p90"],
                    "p99_ms": pct["p99"],
                    "cpu": max(i.cpu for i in intervals),
                    "lag_ms": max(i.lag_ms for i in intervals),
                    "late_ms": max(i.late_ms for i in intervals),
                    "waiting": max(i.waiting for i in intervals),
                    "saturated": any(i.saturated for i in intervals),
                }
            )
        self.histograms = totals
        self.total = hist.merge(h for k, h in totals.items() if k != ITERATION)
        self.generator_saturated = any(r["saturated"] for r in self.series)

    # -- what people read -------------------------------------------------------------
    @property
    def errors_total(self) -> int:
        return sum(self.errors.values())

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        latency = hist.percentiles_ms(self.total)
        by_request = {
            label: {
                **counts,
                "latency_ms": hist.percentiles_ms(self.histograms.get(label, hist.new_histogram())),
            }
            for label, counts in sorted(self.by_request.items())
        }
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "scenario": self.name,
            "target": self.target,
            "requests": self.requests,
            "errors": self.errors_total,
            "dropped": self.dropped,
            "iterations": self.iterations,
            "duration_s": round(self.duration_s, 3),
            "rps": round(self.rps, 1),
            "latency_ms": latency,
            "errors_by_kind": dict(sorted(self.errors.items())),
            "iteration_errors": dict(sorted(self.iteration_errors.items())),
            "statuses": dict(sorted(self.statuses.items())),
            "checks": {"passed": self.checks_passed, "failed": self.checks_failed},
            "bytes": {"sent": self.bytes_sent, "received": self.bytes_received},
            "by_request": by_request,
            "thresholds": self.thresholds,
            "generator_saturated": self.generator_saturated,
            "workers": len(self.parts),
            "lost_workers": self.lost,
            "interrupted": self.interrupted,
        }
        if ITERATION in self.histograms and self.histograms[ITERATION].get_total_count():
            out["iteration_ms"] = hist.percentiles_ms(self.histograms[ITERATION])
        return out

    def to_dict(self) -> dict[str, Any]:
        """Everything: the summary, the per-second series and the encoded histograms."""
        return {
            **self.summary(),
            "series": self.series,
            "histograms": {k: hist.encode(h) for k, h in sorted(self.histograms.items())},
            "parts": [
                {k: v for k, v in p.to_dict().items() if k != "intervals"} for p in self.parts
            ],
        }

    def series_csv(self) -> str:
        """The per-second series as CSV."""
        columns = [
            "t",
            "requests",
            "rps",
            "errors",
            "dropped",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "cpu",
            "lag_ms",
            "late_ms",
            "waiting",
            "saturated",
        ]
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.series)
        return out.getvalue()

    # -- thresholds -------------------------------------------------------------------
    def stat(self, metric: str, stat: str, tags: Mapping[str, str]) -> float | None:
        """A statistic for a threshold (see :mod:`redline.load.thresholds`)."""
        name = tags.get("name")
        if metric in ("http_req_duration", "iteration_duration"):
            key = ITERATION if metric == "iteration_duration" else name
            if key == ITERATION and ITERATION not in self.histograms:
                key = None  # one request per iteration: iterations are the requests
            h = self.total if key is None else self.histograms.get(key)
            if h is None or h.get_total_count() == 0:
                return None
            return _hist_stat(h, stat)
        counts = self.by_request.get(name, {}) if name else None
        requests = counts.get("requests", 0) if counts is not None else self.requests
        if metric == "http_req_failed":
            errors = counts.get("errors", 0) if counts is not None else self.errors_total
            if requests == 0:
                return None
            return errors / requests if stat == "rate" else float(errors)
        if metric == "checks":
            total = self.checks_passed + self.checks_failed
            if total == 0:
                return None
            return self.checks_passed / total if stat == "rate" else float(self.checks_passed)
        per_second = {
            "http_reqs": requests,
            "dropped_iterations": self.dropped,
            "data_received": self.bytes_received,
            "data_sent": self.bytes_sent,
            "iterations": self.iterations,
        }
        if metric in per_second:
            value = float(per_second[metric])
            if stat == "rate":
                return value / self.duration_s if self.duration_s > 0 else None
            return value
        return None


def _hist_stat(h: HdrHistogram, stat: str) -> float:
    if stat.startswith("p("):
        return float(h.get_value_at_percentile(float(stat[2:-1]))) / 1000
    if stat == "med":
        return float(h.get_value_at_percentile(50.0)) / 1000
    if stat == "avg":
        return float(h.get_mean_value()) / 1000
    if stat == "min":
        return float(h.get_min_value()) / 1000
    if stat == "max":
        return float(h.get_max_value()) / 1000
    if stat in ("count", "rate"):
        return float(h.get_total_count())
    raise ValueError(f"unknown statistic {stat!r}")
