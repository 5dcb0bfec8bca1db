"""Continuous health checking: schedules, thresholds, uptime, latency, a cached endpoint.

>>> from redline.health import HealthChecker                                 # doctest: +SKIP
>>> checker = HealthChecker(loaded.runtime_config("prod"), env="prod", store=store)
>>> await checker.run(stop)              # every check on its interval until stop is set
>>> checker.status().services["api"].state
'healthy'

:mod:`redline.health.checker` schedules and judges, :mod:`redline.health.status` holds
the frozen snapshots, :mod:`redline.health.server` serves ``GET /health`` (Starlette and
uvicorn are imported only when it is used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from redline.health.checker import HealthChecker, RunCheck
from redline.health.status import (
    CheckStatus,
    HealthStatus,
    LatencyStats,
    ScheduleStats,
    ServiceStatus,
    State,
    StateChange,
)

if TYPE_CHECKING:
    from redline.health.server import HealthEndpoint, HealthServer, health_app, parse_bind

__all__ = [
    "CheckStatus",
    "HealthChecker",
    "HealthEndpoint",
    "HealthServer",
    "HealthStatus",
    "LatencyStats",
    "RunCheck",
    "ScheduleStats",
    "ServiceStatus",
    "State",
    "StateChange",
    "health_app",
    "parse_bind",
]

_SERVER = {"HealthEndpoint", "HealthServer", "health_app", "parse_bind"}


def __getattr__(name: str) -> Any:
    if name in _SERVER:
        return getattr(importlib.import_module("redline.health.server"), name)
    raise AttributeError(f"module 'redline.health' has no attribute {name!r}")
