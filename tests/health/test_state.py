"""Thresholds, warnings, waivers, uptime and latency percentiles, driven through check_round."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest

from redline.health import HealthChecker, StateChange
from tests.health.helpers import ScriptedRun, VirtualClock, make_config


def _rounds(checker: HealthChecker, n: int, clock: VirtualClock | None = None, step: float = 10.0):
    async def main() -> None:
        for _ in range(n):
            await checker.check_round()
            if clock is not None:
                clock.now += step

    asyncio.run(main())


def _checker(config: Any, run: ScriptedRun, **kw: Any) -> tuple[HealthChecker, list[StateChange]]:
    changes: list[StateChange] = []
    checker = HealthChecker(config, env="prod", run=run, on_change=changes.append, **kw)
    return checker, changes


def test_three_failures_make_a_service_unhealthy_and_one_success_makes_it_healthy() -> None:
    run = ScriptedRun({"health": ["ok", "fail", "fail", "fail", "ok"]})
    checker, changes = _checker(make_config({"api": [{"name": "health"}]}), run)
    states = []
    for _ in range(5):
        _rounds(checker, 1)
        states.append(checker.status().services["api"].state)

    assert states == ["healthy", "healthy", "healthy", "unhealthy", "healthy"]
    assert [(c.previous, c.state) for c in changes] == [
        ("unknown", "healthy"),
        ("healthy", "unhealthy"),
        ("unhealthy", "healthy"),
    ]
    assert changes[1].message == "api unhealthy: health failed 3 times: fail reason"
    assert changes[2].message == "api healthy: health ok"
    assert changes[1].environment == "prod"


def test_a_failing_start_is_unknown_until_the_threshold_then_unhealthy() -> None:
    run = ScriptedRun({"db": ["error"]})
    checker, changes = _checker(make_config({"db": [{"name": "db"}]}), run)
    seen = []
    for _ in range(3):
        _rounds(checker, 1)
        seen.append((checker.status().state, checker.status().http_status))
    assert seen == [("unknown", 503), ("unknown", 503), ("unhealthy", 503)]
    # "Could not measure" is said as such, not as a failure.
    assert changes[-1].message == "db unhealthy: db could not be measured 3 times: error reason"


def test_thresholds_come_from_each_check() -> None:
    run = ScriptedRun({"h": ["fail", "ok", "ok", "fail"]})
    config = make_config({"api": [{"name": "h", "failure_threshold": 1, "success_threshold": 2}]})
    checker, changes = _checker(config, run)
    states = []
    for _ in range(4):
        _rounds(checker, 1)
        states.append(checker.status().services["api"].state)
    assert states == ["unhealthy", "unhealthy", "healthy", "unhealthy"]
    assert changes[1].message == "api healthy: h ok 2 times in a row"
    assert changes[2].message == "api unhealthy: h failed once: fail reason"


def test_warning_checks_never_make_a_service_unhealthy() -> None:
    run = ScriptedRun({"health": ["ok"], "slow": ["fail"]})
    config = make_config({"api": [{"name": "health"}, {"name": "slow", "severity": "warning"}]})
    checker, _ = _checker(config, run)
    _rounds(checker, 3)
    api = checker.status().services["api"]
    assert api.state == "healthy"
    assert (api.failing, api.warnings) == (1, 1)
    assert {c.check: c.state for c in api.checks} == {"health": "healthy", "slow": "unhealthy"}


def test_a_current_waiver_does_not_decide_and_an_expired_one_does() -> None:
    run = ScriptedRun({"a": ["fail"], "b": ["fail"]})
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    config = make_config(
        {
            "waived": [{"name": "a", "waiver": {"reason": "known, ticket 12", "until": tomorrow}}],
            "expired": [{"name": "b", "waiver": {"reason": "was known", "until": yesterday}}],
        }
    )
    checker, _ = _checker(config, run)
    _rounds(checker, 3)
    services = checker.status().services
    assert services["waived"].state == "healthy"
    assert services["waived"].checks[0].waived
    assert services["expired"].state == "unhealthy"


def test_one_unhealthy_critical_check_makes_the_service_and_the_whole_unhealthy() -> None:
    run = ScriptedRun({"a": ["ok"], "b": ["fail"], "c": ["ok"]})
    config = make_config({"api": [{"name": "a"}, {"name": "b"}], "web": [{"name": "c"}]})
    checker, _ = _checker(config, run)
    _rounds(checker, 3)
    status = checker.status()
    assert status.services["api"].state == "unhealthy"
    assert status.services["web"].state == "healthy"
    assert status.state == "unhealthy"
    assert status.http_status == 503
    assert status.summary()["counts"] == {
        "services": 2,
        "healthy": 1,
        "unhealthy": 1,
        "unknown": 0,
        "checks": 3,
        "failing": 1,
    }


def test_consecutive_failures_and_counters() -> None:
    run = ScriptedRun({"h": ["ok", "fail", "error", "fail", "ok", "fail"]})
    checker, _ = _checker(make_config({"api": [{"name": "h"}]}), run)
    _rounds(checker, 4)
    check = checker.status().services["api"].checks[0]
    assert (check.consecutive_failures, check.runs, check.ok, check.failed, check.errors) == (
        3,
        4,
        1,
        2,
        1,
    )
    _rounds(checker, 2)
    check = checker.status().services["api"].checks[0]
    assert (check.consecutive_failures, check.consecutive_successes) == (1, 0)


def test_latency_percentiles_come_from_the_hdr_histogram() -> None:
    latencies = [(("ok", i / 1000)) for i in range(1, 101)]  # 1 ms .. 100 ms
    run = ScriptedRun({"h": [*latencies, ("error", 30.0)]})
    checker, _ = _checker(make_config({"api": [{"name": "h"}]}), run)
    _rounds(checker, 101)
    latency = checker.status().services["api"].checks[0].latency
    assert latency is not None
    # An error's time (here a 30 s timeout) is not a latency: nothing was measured.
    assert latency.count == 100
    assert latency.p50 == pytest.approx(0.050, rel=1e-3)
    assert latency.p95 == pytest.approx(0.095, rel=1e-3)
    assert latency.p99 == pytest.approx(0.099, rel=1e-3)
    assert latency.max == pytest.approx(0.100, rel=1e-3)


def test_check_uptime_is_the_share_of_ok_results_in_the_window() -> None:
    clock = VirtualClock(0.0)
    run = ScriptedRun({"h": ["fail", "ok", "ok", "ok"]})
    checker, _ = _checker(make_config({"api": [{"name": "h"}]}, window="1h"), run, clock=clock)
    _rounds(checker, 1, clock, step=1000.0)  # the failure at t=0
    _rounds(checker, 3, clock, step=10.0)  # oks at 1000, 1010, 1020
    assert checker.status().services["api"].checks[0].uptime_pct == pytest.approx(75.0)
    clock.now = 3700.0  # the failure has left the hour; the oks have not
    assert checker.status().services["api"].checks[0].uptime_pct == pytest.approx(100.0)


def test_service_uptime_is_the_share_of_known_time_it_was_healthy() -> None:
    clock = VirtualClock(0.0)
    script = ["ok"] + ["fail"] * 3 + ["ok"]
    run = ScriptedRun({"h": script})
    checker, _ = _checker(make_config({"api": [{"name": "h"}]}, window="1h"), run, clock=clock)
    # healthy at 0; unhealthy at 30 (third failure); healthy again at 40; now 60.
    _rounds(checker, 5, clock, step=10.0)
    clock.now = 60.0
    api = checker.status().services["api"]
    assert api.uptime_pct == pytest.approx(100 * (30 + 20) / 60)


def test_a_run_that_raises_is_an_error_result_not_a_crash() -> None:
    async def broken(service: str, check: Any) -> Any:
        raise RuntimeError("probe exploded\nwith a second line")

    checker = HealthChecker(make_config({"api": [{"name": "h"}]}), env=None, run=broken)
    (result,) = asyncio.run(checker.check_round())
    assert (result.outcome, result.reason) == ("error", "RuntimeError: probe exploded")


def test_unnamed_checks_of_one_protocol_get_names_apart() -> None:
    config = make_config({"api": [{}, {}]})
    checker = HealthChecker(config, env=None, run=ScriptedRun())
    assert [c.name for c in checker.checks] == ["command", "command#2"]


def test_status_is_frozen_and_serialisable() -> None:
    import dataclasses
    import json

    run = ScriptedRun({"h": [("fail", 0.2, "refused by 10.0.0.5:5432")]})
    checker, _ = _checker(make_config({"api": [{"name": "h"}]}), run)
    _rounds(checker, 1)
    status = checker.status()
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.state = "healthy"  # type: ignore[misc]
    detail = json.loads(json.dumps(status.to_dict()))
    check = detail["services"]["api"]["checks"][0]
    assert check["reason"] == "refused by 10.0.0.5:5432"
    assert check["latency"]["p99_ms"] == pytest.approx(200, rel=1e-3)
