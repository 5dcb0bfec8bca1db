"""When open-model iterations are due: the arrival schedule of an arrival-rate executor.

Iteration ``i`` (from 0) is due at :meth:`Arrivals.time_of` ``(i)`` seconds after the
start: for a constant rate ``i / rate``; for ramping stages, where the rate moves
linearly from one target to the next, the time at which the integral of the rate
reaches ``i``. Computed in closed form, so a schedule costs nothing to hold and the
same spec always yields the same times.

>>> a = Arrivals.of(Executor("constant-arrival-rate", rate=4.0, duration=1.0))
>>> [a.time_of(i) for i in range(a.total)]
[0.0, 0.25, 0.5, 0.75]
>>> r = Arrivals.of(Executor("ramping-arrival-rate", start_rate=0.0,
...                          stages=(Stage(2.0, 2.0),)))
>>> r.total, round(r.time_of(1), 3)
(2, 1.414)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redline.load.spec import Executor, Stage

__all__ = ["Arrivals", "vus_at"]


@dataclass(frozen=True, slots=True)
class _Segment:
    start: float  # seconds
    duration: float
    rate0: float
    rate1: float
    before: float  # iterations due before this segment

    @property
    def count(self) -> float:
        return (self.rate0 + self.rate1) / 2 * self.duration


@dataclass(frozen=True, slots=True)
class Arrivals:
    """The arrival schedule of an open-model executor."""

    segments: tuple[_Segment, ...]
    total: int

    @classmethod
    def of(cls, executor: Executor) -> Arrivals:
        if executor.kind == "constant-arrival-rate":
            stages: tuple[Stage, ...] = (Stage(executor.duration, executor.rate),)
            rate = executor.rate
        else:
            stages, rate = executor.stages, executor.start_rate
        segments: list[_Segment] = []
        start = before = 0.0
        for stage in stages:
            segment = _Segment(start, stage.duration, rate, stage.target, before)
            segments.append(segment)
            start += stage.duration
            before += segment.count
            rate = stage.target
        # Iterations due strictly before the end (a tiny epsilon absorbs float error).
        total = math.ceil(before - 1e-9) if before > 0 else 0
        return cls(tuple(segments), total)

    def time_of(self, index: int) -> float:
        """Seconds after the start at which iteration ``index`` is due."""
        for segment in self.segments:
            if index < segment.before + segment.count - 1e-9:
                return segment.start + _solve(segment, index - segment.before)
        last = self.segments[-1]
        return last.start + last.duration


def _solve(segment: _Segment, n: float) -> float:
    """The t in [0, duration] at which ``rate0 * t + (rate1 - rate0) t^2 / 2D`` reaches n."""
    r0, r1, d = segment.rate0, segment.rate1, segment.duration
    if n <= 0:
        return 0.0
    a = (r1 - r0) / (2 * d)
    if abs(a) < 1e-12:
        return n / r0
    disc = max(r0 * r0 + 4 * a * n, 0.0)
    return min((-r0 + math.sqrt(disc)) / (2 * a), d)


def vus_at(executor: Executor, elapsed: float) -> int:
    """How many VUs a closed-model executor runs ``elapsed`` seconds in."""
    if executor.kind != "ramping-vus":
        return executor.vus
    level, start = float(executor.start_vus), 0.0
    for stage in executor.stages:
        if elapsed < start + stage.duration:
            frac = (elapsed - start) / stage.duration if stage.duration > 0 else 1.0
            return round(level + (stage.target - level) * frac)
        level, start = stage.target, start + stage.duration
    return round(level)
