"""The arithmetic behind the status: thresholds, uptime windows, latency histograms.

Times here are the checker's monotonic clock (seconds); wall-clock datetimes are
kept only to show people when something happened.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from redline.health.status import CheckStatus, LatencyStats, State

if TYPE_CHECKING:
    from redline.config.schema import Check
    from redline.probes.base import HealthCheckResult

__all__ = ["CheckTracker", "Latency", "ServiceTracker", "Window", "service_state"]

# HDR histograms of microseconds, 1 us .. 1 h, 3 significant digits. 4-byte counts halve the
# memory of the default (about 93 KiB per histogram instead of 185 KiB) and still hold 2**31
# results per bucket.
_LOWEST_US = 1
_HIGHEST_US = 3600 * 1_000_000
_DIGITS = 3
_WORD_SIZE = 4
# An uptime window is kept as this many buckets, so its edge is exact to window / _BUCKETS.
_BUCKETS = 288


class Latency:
    """An HDR histogram of seconds, with percentiles cached until the next record."""

    def __init__(self) -> None:
        from hdrh.histogram import HdrHistogram

        self._histogram: Any = HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS, word_size=_WORD_SIZE)
        self._cached: LatencyStats | None = None

    def record(self, seconds: float) -> None:
        micros = min(max(round(seconds * 1e6), 0), _HIGHEST_US)
        self._histogram.record_value(micros)
        self._cached = None

    @property
    def count(self) -> int:
        return int(self._histogram.get_total_count())

    def stats(self) -> LatencyStats | None:
        if self.count == 0:
            return None
        if self._cached is None:
            values = self._histogram.get_percentile_to_value_dict([50, 95, 99])
            self._cached = LatencyStats(
                count=self.count,
                p50=values[50] / 1e6,
                p95=values[95] / 1e6,
                p99=values[99] / 1e6,
                max=self._histogram.get_max_value() / 1e6,
            )
        return self._cached


class Window:
    """Counts of ok and all results over a sliding window, in fixed buckets."""

    def __init__(self, window: float, buckets: int = _BUCKETS) -> None:
        self._width = window / buckets
        self._n = buckets
        self._ids = [-1] * buckets
        self._ok = [0] * buckets
        self._total = [0] * buckets

    def add(self, now: float, ok: bool) -> None:
        bucket = int(now // self._width)
        i = bucket % self._n
        if self._ids[i] != bucket:
            self._ids[i], self._ok[i], self._total[i] = bucket, 0, 0
        self._total[i] += 1
        self._ok[i] += ok

    def uptime_pct(self, now: float) -> float | None:
        """Percentage of ok results in the window; None before any result."""
        newest = int(now // self._width)
        oldest = newest - self._n + 1
        ok = total = 0
        for i, bucket in enumerate(self._ids):
            if oldest <= bucket <= newest:
                ok += self._ok[i]
                total += self._total[i]
        return 100.0 * ok / total if total else None


@dataclass
class CheckTracker:
    """One check's running state: thresholds, counters, uptime window, latency."""

    service: str
    name: str
    check: Check
    interval: float
    window: Window
    state: State = "unknown"
    since: datetime | None = None
    last: HealthCheckResult | None = None
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    runs: int = 0
    ok: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    latency: Latency = field(default_factory=Latency)

    @property
    def severity(self) -> Literal["critical", "warning"]:
        return self.check.severity

    @property
    def waived(self) -> bool:
        """A waiver until a date still to come: the check is shown but decides nothing."""
        waiver = self.check.waiver
        return waiver is not None and date.today() <= waiver.until

    @property
    def deciding(self) -> bool:
        """Whether this check's state decides its service's (critical, not waived)."""
        return self.severity == "critical" and not self.waived

    def observe(self, result: HealthCheckResult, now: float) -> bool:
        """Count ``result``; True when the check's threshold state changed.

        ``failure_threshold`` results in a row that are not ok (failed or could not
        measure) make it unhealthy; ``success_threshold`` oks in a row make it healthy.
        """
        self.runs += 1
        self.last = result
        self.window.add(now, result.ok)
        if result.outcome != "error":
            self.latency.record(result.latency)
        previous = self.state
        if result.ok:
            self.ok += 1
            self.consecutive_successes += 1
            self.consecutive_failures = 0
            if self.consecutive_successes >= self.check.success_threshold:
                self.state = "healthy"
        else:
            if result.outcome == "fail":
                self.failed += 1
            else:
                self.errors += 1
            self.consecutive_failures += 1
            self.consecutive_successes = 0
            if self.consecutive_failures >= self.check.failure_threshold:
                self.state = "unhealthy"
        if self.state != previous:
            self.since = datetime.now(UTC)
            return True
        return False

    def status(self, now: float) -> CheckStatus:
        return CheckStatus(
            service=self.service,
            check=self.name,
            protocol=self.check.protocol,
            severity=self.severity,
            waived=self.waived,
            interval=self.interval,
            state=self.state,
            since=self.since,
            last=self.last,
            consecutive_failures=self.consecutive_failures,
            consecutive_successes=self.consecutive_successes,
            runs=self.runs,
            ok=self.ok,
            failed=self.failed,
            errors=self.errors,
            skipped=self.skipped,
            uptime_pct=self.window.uptime_pct(now),
            latency=self.latency.stats(),
        )


def service_state(checks: list[CheckTracker]) -> State:
    """Unhealthy if a critical check is; unknown if a critical check is not known yet.

    Warning checks and checks under a current waiver never decide.
    """
    critical = [c.state for c in checks if c.deciding]
    if "unhealthy" in critical:
        return "unhealthy"
    if "unknown" in critical:
        return "unknown"
    return "healthy"


class ServiceTracker:
    """A service's state over time: uptime is the share of known time spent healthy."""

    def __init__(self, name: str, checks: list[CheckTracker], window: float) -> None:
        self.name = name
        self.checks = checks
        self.window = window
        self.state: State = "unknown"
        self.since: datetime | None = None
        # (monotonic time, state) from the first known state on; old ones are trimmed.
        self._history: deque[tuple[float, State]] = deque(maxlen=100_000)

    def update(self, now: float) -> State | None:
        """Recompute the state from the checks; the previous state if it changed, else None."""
        state = service_state(self.checks)
        if state == self.state:
            return None
        previous, self.state = self.state, state
        self.since = datetime.now(UTC)
        self._history.append((now, state))
        return previous

    def uptime_pct(self, now: float) -> float | None:
        """Percentage of the window's known time (healthy or unhealthy) spent healthy."""
        start = now - self.window
        while len(self._history) > 1 and self._history[1][0] <= start:
            self._history.popleft()
        healthy = known = 0.0
        points = list(self._history)
        for i, (at, state) in enumerate(points):
            begin = max(at, start)
            end = points[i + 1][0] if i + 1 < len(points) else now
            span = max(end - begin, 0.0)
            if state != "unknown":
                known += span
                healthy += span if state == "healthy" else 0.0
        if known == 0:
            return None if self.state == "unknown" else (100.0 if self.state == "healthy" else 0.0)
        return 100.0 * healthy / known
