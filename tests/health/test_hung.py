"""A hung target delays no other check (real asyncio, real time, events rather than sleeps)."""

from __future__ import annotations

import asyncio
from typing import Any

from redline.health import HealthChecker
from tests.health.helpers import make_config, result


def test_a_hung_check_delays_no_other_check() -> None:
    config = make_config(
        {
            "db": [{"name": "hung", "interval": "10ms", "timeout": "30s"}],
            "api": [{"name": "fast", "interval": "10ms"}],
        }
    )

    async def main() -> None:
        hung_started = asyncio.Event()
        twenty_fast = asyncio.Event()
        fast_runs = 0

        async def run(service: str, check: Any) -> Any:
            nonlocal fast_runs
            if check.name == "hung":
                hung_started.set()
                await asyncio.Event().wait()  # a target that accepts and never answers
            fast_runs += 1
            if fast_runs == 20:
                twenty_fast.set()
            return result(service, check)

        checker = HealthChecker(config, env=None, run=run)
        stop = asyncio.Event()
        task = asyncio.create_task(checker.run(stop))
        async with asyncio.timeout(10):
            await hung_started.wait()
            await twenty_fast.wait()
        status = checker.status()
        stop.set()
        await task

        hung = status.services["db"].checks[0]
        fast = status.services["api"].checks[0]
        assert hung.runs == 0  # still waiting for its first answer
        assert fast.runs >= 20
        assert fast.state == "healthy"

    asyncio.run(main())


def test_a_run_that_outlives_its_timeout_is_cut_off_as_an_error() -> None:
    # run_check bounds each attempt by the check's timeout; the checker bounds the whole run
    # as well (timeout x attempts + backoff + 0.5 s), so even a seam that ignores the timeout
    # cannot hang a check for ever.
    config = make_config({"db": [{"name": "hung", "timeout": "100ms"}]})

    async def never(service: str, check: Any) -> Any:
        await asyncio.Event().wait()

    checker = HealthChecker(config, env=None, run=never)
    (res,) = asyncio.run(checker.check_round())
    assert res.outcome == "error"
    assert res.reason == "no result within 0.6s"
    assert 0.6 <= res.latency < 2.0
