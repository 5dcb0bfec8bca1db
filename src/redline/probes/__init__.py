"""Probes: one module per protocol behind one small contract.

>>> from redline.probes import run_check                          # doctest: +SKIP
>>> result = await run_check("api", check)                        # doctest: +SKIP

See :mod:`redline.probes.base` for the contract and :mod:`redline.probes.registry`
for how a protocol name finds its probe (built-ins and ``redline.probes`` plugins).
"""

from __future__ import annotations

from redline.probes.base import (
    DEFAULT_TIMEOUTS,
    HealthCheckResult,
    Measurement,
    Outcome,
    Probe,
    ProbeFactory,
    error,
    fail,
    ok,
    run_check,
    with_phases,
)

__all__ = [
    "DEFAULT_TIMEOUTS",
    "HealthCheckResult",
    "Measurement",
    "Outcome",
    "Probe",
    "ProbeFactory",
    "error",
    "fail",
    "ok",
    "run_check",
    "with_phases",
]
