"""Scheduling on virtual time: start-to-start without drift, skipped slots, jitter, stalls.

The checker and the event loop share one VirtualClock (the checker's `clock=` seam):
sleeps take no real time and every start time is exact.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from redline.health import HealthChecker
from tests.health.helpers import ScriptedRun, VirtualClock, make_config, run_virtual


def _checker(config: Any, run: ScriptedRun, clock: VirtualClock, **kw: Any) -> HealthChecker:
    return HealthChecker(config, env=None, run=run, clock=clock, **kw)


def _for(checker: HealthChecker, seconds: float) -> Callable[[], Awaitable[None]]:
    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await checker.run(stop)

    return main


def _rel(starts: list[float], origin: float) -> list[float]:
    return [round(s - origin, 9) for s in starts]


def test_a_slow_check_still_starts_every_interval_without_drift() -> None:
    # 2 s of work on a 10 s interval, 1,000 times: the starts stay on the 10 s grid.
    clock = VirtualClock()
    run = ScriptedRun(duration={"slow": 2.0})
    checker = _checker(make_config({"api": [{"name": "slow", "interval": "10s"}]}), run, clock)

    run_virtual(clock, _for(checker, 10_000 - 1))

    assert _rel(run.starts("slow"), 1000.0) == [10.0 * i for i in range(1000)]
    stats = checker.status().schedule
    assert (stats.starts, stats.skipped, stats.late_max) == (1000, 0, 0.0)


def test_a_run_longer_than_its_interval_skips_slots_instead_of_piling_up() -> None:
    clock = VirtualClock()
    run = ScriptedRun(duration={"slow": 25.0})
    checker = _checker(make_config({"api": [{"name": "slow", "interval": "10s"}]}), run, clock)

    run_virtual(clock, _for(checker, 299))

    assert _rel(run.starts("slow"), 1000.0) == [30.0 * i for i in range(10)]
    # Slots 10 and 20 came while the first run was going: skipped, not queued; the same
    # for each of the ten runs (the last, 270 to 295, skipped 280 and 290).
    assert checker.status().services["api"].checks[0].skipped == 20
    assert checker.status().schedule.skipped == 20


def test_each_check_keeps_its_own_interval() -> None:
    clock = VirtualClock()
    run = ScriptedRun()
    config = make_config(
        {"api": [{"name": "fast", "interval": "3s"}, {"name": "default"}]}, interval="7s"
    )
    checker = _checker(config, run, clock)

    run_virtual(clock, _for(checker, 21.5))

    assert _rel(run.starts("fast"), 1000.0) == [0, 3, 6, 9, 12, 15, 18, 21]
    assert _rel(run.starts("default"), 1000.0) == [0, 7, 14, 21]


def test_first_starts_are_spread_over_the_jitter_and_keep_their_offset() -> None:
    clock = VirtualClock()
    run = ScriptedRun()
    config = make_config(
        {"api": [{"name": f"c{i}", "interval": "10s"} for i in range(50)]}, jitter="5s"
    )
    checker = _checker(config, run, clock, rng=random.Random(7))

    run_virtual(clock, _for(checker, 39))

    firsts = [run.starts(f"c{i}")[0] - 1000.0 for i in range(50)]
    assert all(0 <= f <= 5 for f in firsts)
    assert max(firsts) - min(firsts) > 3  # spread out, not all at once
    for i in range(50):
        offsets = [s - 1000.0 - firsts[i] for s in run.starts(f"c{i}")]
        assert offsets == pytest.approx([0, 10, 20, 30])
    # Starting later than t0 on purpose is not lateness.
    assert checker.status().schedule.late_max == 0.0


def test_a_stalled_clock_skips_the_slots_it_jumped_over_and_stays_on_the_grid() -> None:
    clock = VirtualClock()
    run = ScriptedRun()
    checker = _checker(make_config({"api": [{"name": "c", "interval": "10s"}]}), run, clock)

    def stall() -> None:
        clock.now += 34.0  # the machine froze for 34 s (suspend, a long GC pause, swap)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.call_at(1015, stall)
        loop.call_at(1075, stop.set)
        await checker.run(stop)

    run_virtual(clock, main)

    # 0, 10, then the stall from 15 to 49: slots 20 and 30 are gone, 40 starts 9 s late,
    # and the grid goes on at 50, 60, 70.
    assert _rel(run.starts("c"), 1000.0) == [0.0, 10.0, 49.0, 50.0, 60.0, 70.0]
    stats = checker.status().schedule
    assert stats.skipped == 2
    assert stats.late_max == pytest.approx(9.0, rel=1e-3)


def test_lateness_is_measured_from_the_scheduled_time() -> None:
    # Each start keeps the loop busy for 30 ms, so of three checks due together the second
    # starts 30 ms late and the third 60 ms late.
    clock = VirtualClock()

    class Busy(ScriptedRun):
        async def __call__(self, service: str, check: Any) -> Any:
            clock.now += 0.03
            return await super().__call__(service, check)

    run = Busy()
    config = make_config({"api": [{"name": f"c{i}", "interval": "1s"} for i in range(3)]})
    checker = _checker(config, run, clock)

    run_virtual(clock, _for(checker, 9.5))

    stats = checker.status().schedule
    assert stats.starts == 30
    assert stats.late_p50 == pytest.approx(0.03, rel=1e-2)
    assert stats.late_p99 == pytest.approx(0.06, rel=1e-2)
    assert stats.late_max == pytest.approx(0.06, rel=1e-2)
