"""What the health checker knows at one moment: frozen snapshots, and their JSON shapes.

A :class:`HealthStatus` holds one :class:`ServiceStatus` per service and one
:class:`CheckStatus` per check, plus the scheduler's own figures
(:class:`ScheduleStats`). Two JSON shapes come from it: :meth:`HealthStatus.summary`,
which names services and counts but reveals no hostname, URL, reason or secret (what
``GET /health`` serves by default), and :meth:`HealthStatus.to_dict`, with every
check, its reason and latency percentiles (scrubbed of known secret values).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from redline.redact import REDACTOR

if TYPE_CHECKING:
    from redline.probes.base import HealthCheckResult

__all__ = [
    "CheckStatus",
    "HealthStatus",
    "LatencyStats",
    "ScheduleStats",
    "ServiceStatus",
    "State",
    "StateChange",
]

# unknown: not enough results yet to cross a threshold either way.
State = Literal["healthy", "unhealthy", "unknown"]


@dataclass(frozen=True)
class LatencyStats:
    """Percentiles of a check's measured latencies (seconds), from an HDR histogram."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "p50_ms": _ms(self.p50),
            "p95_ms": _ms(self.p95),
            "p99_ms": _ms(self.p99),
            "max_ms": _ms(self.max),
        }


@dataclass(frozen=True)
class CheckStatus:
    """One check: its threshold state, counters, uptime and latency."""

    service: str
    check: str
    protocol: str
    severity: Literal["critical", "warning"]
    waived: bool
    interval: float
    state: State
    since: datetime | None
    last: HealthCheckResult | None
    consecutive_failures: int
    consecutive_successes: int
    runs: int
    ok: int
    failed: int
    errors: int
    skipped: int
    uptime_pct: float | None
    latency: LatencyStats | None

    @property
    def id(self) -> str:
        return f"{self.service}/{self.check}"

    def to_dict(self) -> dict[str, Any]:
        last = self.last
        return {
            "check": self.check,
            "protocol": self.protocol,
            "severity": self.severity,
            "waived": self.waived,
            "interval_s": self.interval,
            "state": self.state,
            "since": _iso(self.since),
            "outcome": last.outcome if last else None,
            "reason": last.reason if last else None,
            "latency_ms": _ms(last.latency) if last else None,
            "attempts": last.attempts if last else None,
            "checked_at": _iso(last.started_at) if last else None,
            "consecutive_failures": self.consecutive_failures,
            "consecutive_successes": self.consecutive_successes,
            "runs": self.runs,
            "ok": self.ok,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "uptime_pct": _pct(self.uptime_pct),
            "latency": self.latency.to_dict() if self.latency else None,
        }


@dataclass(frozen=True)
class ServiceStatus:
    """One service: unhealthy if a critical check is; warnings counted, never deciding."""

    name: str
    state: State
    since: datetime | None
    uptime_pct: float | None
    checks: tuple[CheckStatus, ...]

    @property
    def failing(self) -> int:
        """Checks (any severity) whose threshold state is unhealthy."""
        return sum(c.state == "unhealthy" for c in self.checks)

    @property
    def warnings(self) -> int:
        """Unhealthy checks that do not decide: warnings, and checks under a waiver."""
        return sum(
            c.state == "unhealthy" and (c.severity == "warning" or c.waived) for c in self.checks
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.state,
            "since": _iso(self.since),
            "uptime_pct": _pct(self.uptime_pct),
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class ScheduleStats:
    """How well the scheduler kept time: starts, skipped slots, lateness of starts."""

    starts: int
    skipped: int
    late_p50: float
    late_p99: float
    late_max: float
    samples_written: int
    store_errors: int
    last_store_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "starts": self.starts,
            "skipped_slots": self.skipped,
            "start_late_p50_ms": _ms(self.late_p50),
            "start_late_p99_ms": _ms(self.late_p99),
            "start_late_max_ms": _ms(self.late_max),
            "samples_written": self.samples_written,
            "store_errors": self.store_errors,
            "last_store_error": self.last_store_error,
        }


@dataclass(frozen=True)
class HealthStatus:
    """Everything the checker knows now; ``state`` is the worst service state."""

    environment: str | None
    state: State
    at: datetime
    checked_at: datetime | None
    running: bool
    services: Mapping[str, ServiceStatus]
    schedule: ScheduleStats

    @property
    def checks(self) -> list[CheckStatus]:
        return [c for s in self.services.values() for c in s.checks]

    @property
    def http_status(self) -> int:
        """200 when healthy; 503 when unhealthy or not known yet."""
        return 200 if self.state == "healthy" else 503

    def summary(self) -> dict[str, Any]:
        """Statuses and counts only: no hostname, URL, check name, reason or secret."""
        services = {
            name: {"status": s.state, "checks": len(s.checks), "failing": s.failing}
            for name, s in self.services.items()
        }
        return {
            "status": self.state,
            "environment": self.environment,
            "checked_at": _iso(self.checked_at),
            "services": services,
            "counts": self._counts(),
        }

    def to_dict(self) -> dict[str, Any]:
        """Every service and check with reasons and percentiles; secret values masked."""
        document = {
            "status": self.state,
            "environment": self.environment,
            "at": _iso(self.at),
            "checked_at": _iso(self.checked_at),
            "running": self.running,
            "counts": self._counts(),
            "services": {name: s.to_dict() for name, s in self.services.items()},
            "schedule": self.schedule.to_dict(),
        }
        scrubbed: dict[str, Any] = _scrub(document)
        return scrubbed

    def _counts(self) -> dict[str, int]:
        states = [s.state for s in self.services.values()]
        checks = self.checks
        return {
            "services": len(states),
            "healthy": states.count("healthy"),
            "unhealthy": states.count("unhealthy"),
            "unknown": states.count("unknown"),
            "checks": len(checks),
            "failing": sum(c.state == "unhealthy" for c in checks),
        }


@dataclass(frozen=True)
class StateChange:
    """A service changed state; ``check`` is the check whose result changed it."""

    at: datetime
    environment: str | None
    service: str
    previous: State
    state: State
    check: str
    outcome: str
    count: int
    reason: str

    @property
    def message(self) -> str:
        """``api unhealthy: health failed 3 times: connection refused``."""
        return f"{self.service} {self.state}: {self.cause}"

    @property
    def cause(self) -> str:
        times = "once" if self.count == 1 else f"{self.count} times"
        if self.outcome == "ok":
            text = f"{self.check} ok" + ("" if self.count == 1 else f" {times} in a row")
        elif self.outcome == "fail":
            text = f"{self.check} failed {times}"
        else:
            text = f"{self.check} could not be measured {times}"
        return f"{text}: {self.reason}" if self.reason and self.outcome != "ok" else text

    def to_dict(self) -> dict[str, Any]:
        document = {
            "time": _iso(self.at),
            "environment": self.environment,
            "service": self.service,
            "previous": self.previous,
            "state": self.state,
            "check": self.check,
            "outcome": self.outcome,
            "count": self.count,
            "reason": self.reason,
            "message": self.message,
        }
        scrubbed: dict[str, Any] = _scrub(document)
        return scrubbed


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _scrub(document: Any) -> Any:
    if isinstance(document, str):
        return REDACTOR.scrub(document)
    if isinstance(document, Mapping):
        return {key: _scrub(value) for key, value in document.items()}
    if isinstance(document, list | tuple):
        return [_scrub(value) for value in document]
    return document
