"""Run a child process and measure its wall time and peak RSS; summarise samples.

Peak RSS comes from ``os.wait4``, which returns the resource usage of that one
child. ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` is not used because it
is a high-water mark over *all* children waited for so far: once a bigger child
has run, every later delta reads zero.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Sample", "cold_rows", "ms", "run", "summary"]

# ru_maxrss is in kilobytes on Linux and the BSDs, in bytes on macOS.
_RSS_UNIT = 1 if sys.platform == "darwin" else 1024

# Measure what a user gets: an installed package has its bytecode cached. Some machines
# (CI images, this one) set PYTHONDONTWRITEBYTECODE, and then every cold process compiles
# redline's modules from source again: ~5 ms a module (measured), 100+ ms a command.
# Children inherit the environment, so dropping it here lets the warm-up runs cache it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    rss: int | None  # peak resident set size in bytes, None where the OS cannot tell
    returncode: int
    output: str


def run(cmd: list[str], cwd: str | None = None, env: dict[str, str] | None = None) -> Sample:
    """Run ``cmd`` to completion; stdout and stderr are captured together."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    rss: int | None = None
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss = usage.ru_maxrss * _RSS_UNIT
    else:  # pragma: no cover - Windows
        proc.wait()
        wall = time.perf_counter() - start
    return Sample(wall, rss, proc.returncode, out.decode("utf-8", "replace"))


def summary(values: list[float]) -> dict[str, float]:
    """Median, min, max and count of ``values``."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def ms(seconds: float) -> str:
    """A duration in milliseconds, right-aligned for tables."""
    return f"{seconds * 1000:7.1f} ms"


def cold_rows(
    labels: dict[str, str], walls: dict[str, Any], rss: dict[str, Any], width: int
) -> list[str]:
    """One table row per contender: median, min, max wall time and median peak RSS."""
    rows = []
    for name, label in labels.items():
        if name not in walls:
            continue
        s = walls[name]
        peak = rss.get(name, {}).get("median")
        peak_text = f"{peak:8.1f} MB" if peak is not None else "       n/a"
        rows.append(
            f"  {label:<{width}} {ms(s['median'])} {ms(s['min'])} {ms(s['max'])}  {peak_text}"
        )
    return rows
