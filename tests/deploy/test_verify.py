"""Verification phases through their seams: smoke, soak, policy counters, bad input.

The seams (a function running checks, a function measuring) are the ones the pipeline
passes; here they replay scripted outcomes so each rule of the policy is shown exactly.
Time is a fake clock the phases sleep on, so a 10-interval soak takes no wall time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import pytest

from redline._errors import DeployError
from redline.deploy.verify import (
    JudgeMetric,
    Measurement,
    Policy,
    Smoke,
    Soak,
    run_smoke,
    run_soak,
    verify,
)
from redline.probes.base import HealthCheckResult


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def result(check: str, outcome: str = "ok", reason: str = "", **kw: object) -> HealthCheckResult:
    return HealthCheckResult("api", check, "http", outcome, 0.01, reason, **kw)


T = TypeVar("T")
Checks = Callable[[frozenset[str]], Awaitable[Sequence[HealthCheckResult]]]
Measure = Callable[[], Awaitable[Sequence[Measurement]]]


def scripted_checks(
    script: dict[str, list[str]],
) -> tuple[Checks, list[frozenset[str]]]:
    """A checks seam: each check's outcomes in turn (the last repeats); records what it was asked."""
    asked: list[frozenset[str]] = []
    turn: dict[str, int] = {}

    async def run(pending: frozenset[str]) -> list[HealthCheckResult]:
        asked.append(pending)
        out = []
        for name, outcomes in script.items():
            if pending and f"api/{name}" not in pending:
                continue
            i = turn.get(name, 0)
            turn[name] = i + 1
            outcome = outcomes[min(i, len(outcomes) - 1)]
            out.append(result(name, outcome, "" if outcome == "ok" else f"{name} said {outcome}"))
        return out

    return run, asked


def scripted_measure(
    rounds: Iterable[Sequence[Measurement] | Exception],
) -> tuple[Measure, list[int]]:
    """A measurement seam replaying ``rounds`` (the last repeats); an exception is raised."""
    items = list(rounds)
    calls = [0]

    async def measure() -> Sequence[Measurement]:
        i = min(calls[0], len(items) - 1)
        calls[0] += 1
        item = items[i]
        if isinstance(item, Exception):
            raise item
        return item

    return measure, calls


def p95(value: float, samples: Sequence[float] = ()) -> Measurement:
    return Measurement("p95_ms", value, "ms", samples=tuple(samples), window=10.0)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# -- policy and bad input ------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_limit": -1},
        {"consecutive_error_limit": 1.5},
        {"no_data": "maybe"},
        {"inconclusive": "retry"},
    ],
)
def test_a_bad_policy_is_a_deploy_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(DeployError, match="verify policy"):
        Policy(**kwargs)


@pytest.mark.parametrize(
    ("thresholds", "match"),
    [
        ({"http_req_duration": ["p(95<300"]}, "not a threshold expression"),
        ({"http_req_duration": ["p95<300"]}, "unknown statistic"),
        ({"http_reqs": ["count>10"]}, "not http_reqs"),
        ({"http_req_duration{name:list}": ["p(99)<3"]}, "as a whole"),
        ({"queue_depth": ["about 100"]}, "not a threshold expression"),
        ({"queue_depth": ["< 100 parsecs"]}, "not a threshold expression"),
    ],
)
def test_a_threshold_that_does_not_parse_fails_before_anything_runs(
    thresholds: dict[str, list[str]], match: str
) -> None:
    measure, calls = scripted_measure([[p95(1)]])
    with pytest.raises(DeployError, match=match) as caught:
        run(run_soak(measure, Soak(duration=10, interval=1, thresholds=thresholds)))
    assert caught.value.hint
    assert calls == [0]


def test_thresholds_read_as_the_load_engine_reads_them() -> None:
    soak = Soak(
        duration=1,
        interval=1,
        thresholds={
            "http_req_duration": ["p(95)<0.3s", "med < 100"],
            "http_req_failed": "rate<0.01",
            "queue": "<= 5%",
        },
    )
    got = [(r.measurement, r.op, r.value) for r in soak.rules()]
    assert got == [
        ("p95_ms", "<", 300.0),
        ("p50_ms", "<", 100.0),
        ("error_rate", "<", 0.01),
        ("queue", "<=", 0.05),
    ]


# -- smoke -------------------------------------------------------------------------------
def test_smoke_waits_for_a_slow_start_and_retries_only_what_failed() -> None:
    checks, asked = scripted_checks({"health": ["error", "error", "fail", "ok"], "version": ["ok"]})
    clock = FakeClock()
    r = run(run_smoke(checks, Smoke(deadline=30, interval=2), clock=clock, sleep=clock.sleep))
    assert r.decision == "pass" and r.action == "promote"
    assert asked[0] == frozenset() and all(a == {"api/health"} for a in asked[1:])
    by_id = {c.id: c for c in r.checks}
    assert (by_id["api/health"].rounds, by_id["api/version"].rounds) == (4, 1)
    assert clock.now == 6.0 and r.rounds == 4


def test_smoke_fails_at_the_deadline_naming_the_check_outcome_and_attempts() -> None:
    checks, asked = scripted_checks({"health": ["error", "fail"], "version": ["ok"]})
    clock = FakeClock()
    r = run(run_smoke(checks, Smoke(deadline=10, interval=2), clock=clock, sleep=clock.sleep))
    assert r.decision == "fail" and r.action == "rollback"
    assert clock.now <= 10.0
    (reason,) = r.reasons
    assert (reason.check, reason.outcome) == ("api/health", "fail")
    assert "health said fail" in reason.message
    assert (
        reason.counter
        == f"still fail after {len(asked)} rounds, {len(asked)} attempts by the deadline of 10s"
    )
    doc = json.loads(json.dumps(r.to_dict()))
    assert doc["reasons"][0]["check"] == "api/health"


def test_a_check_that_never_answers_fails_smoke_as_an_error() -> None:
    checks, _ = scripted_checks({"health": ["error"]})
    clock = FakeClock()
    r = run(run_smoke(checks, Smoke(deadline=4, interval=1), clock=clock, sleep=clock.sleep))
    assert r.decision == "fail" and r.reasons[0].outcome == "error"


def test_a_shadow_check_and_a_warning_are_recorded_and_never_decide() -> None:
    async def checks(pending: frozenset[str]) -> list[HealthCheckResult]:
        return [
            result("health"),
            result("new-endpoint", "fail", "404"),
            result("disk", "fail", "81 % full", severity="warning"),
        ]

    clock = FakeClock()
    policy = Policy(shadow=frozenset({"api/new-endpoint"}))
    r = run(
        run_smoke(checks, Smoke(deadline=5, interval=1), policy, clock=clock, sleep=clock.sleep)
    )
    assert r.decision == "pass" and r.rounds == 1
    assert {f.check for f in r.reasons} == {"api/new-endpoint", "api/disk"}
    assert not any(f.decides for f in r.reasons)


def test_a_raising_checks_seam_is_an_error_and_then_inconclusive() -> None:
    async def checks(pending: frozenset[str]) -> list[HealthCheckResult]:
        raise RuntimeError("validator exploded\nwith a traceback line")

    clock = FakeClock()
    r = run(
        run_smoke(
            checks,
            Smoke(deadline=60, interval=1),
            Policy(consecutive_error_limit=2),
            clock=clock,
            sleep=clock.sleep,
        )
    )
    assert r.decision == "inconclusive" and r.action == "hold" and r.rounds == 3
    assert r.reasons[0].message == "the checks could not be run: RuntimeError: validator exploded"


@pytest.mark.parametrize(
    ("no_data", "decision", "action"),
    [
        ("fail", "fail", "rollback"),
        ("pass", "pass", "promote"),
        ("inconclusive", "inconclusive", "hold"),
    ],
)
def test_smoke_without_checks_follows_the_no_data_policy(
    no_data: str, decision: str, action: str
) -> None:
    checks, _ = scripted_checks({})
    clock = FakeClock()
    policy = Policy(no_data=no_data)
    r = run(
        run_smoke(checks, Smoke(deadline=1, interval=1), policy, clock=clock, sleep=clock.sleep)
    )
    assert (r.decision, r.action) == (decision, action)
    assert f"no_data policy: {no_data}" in r.reasons[0].message


# -- soak ------------------------------------------------------------------------------------
def test_soak_stops_as_soon_as_the_failure_limit_is_exceeded() -> None:
    measure, calls = scripted_measure([[p95(120)], [p95(420)]])
    clock = FakeClock()
    soak = Soak(duration=100, interval=10, thresholds={"http_req_duration": "p(95)<300"})
    r = run(run_soak(measure, soak, clock=clock, sleep=clock.sleep))
    assert (r.decision, r.action) == ("fail", "rollback")
    assert r.intervals_run == 3 and r.stopped_early and clock.now == 20.0
    assert calls[0] == 1 + 3 + 3  # an interval that fails is measured three times
    doc = json.loads(json.dumps(r.to_dict()))
    (reason,) = doc["reasons"]
    assert reason == {
        "check": "p95_ms",
        "outcome": "fail",
        "message": "p95_ms = 420 ms, needs < 300 ms",
        "value": 420,
        "unit": "ms",
        "threshold": "http_req_duration: p(95)<300",
        "window_s": 10.0,
        "samples": 1,
        "counter": "failed 2 > failure_limit 1",
        "decides": True,
    }
    assert doc["counters"]["p95_ms"] == {
        "measured": 3,
        "failed": 2,
        "errors": 0,
        "consecutive_errors": 0,
    }
    assert sum(m["counted"] for m in doc["measurements"]) == 3


def test_a_retried_pass_is_a_pass_and_a_single_failed_interval_is_tolerated() -> None:
    rounds: list[Sequence[Measurement] | Exception] = [[p95(500)], [p95(100)]]
    rounds += [[p95(500)]] * 3 + [[p95(100)]]
    measure, _ = scripted_measure(rounds)
    clock = FakeClock()
    soak = Soak(duration=40, interval=10, thresholds={"p95_ms": "< 300ms"})
    r = run(run_soak(measure, soak, clock=clock, sleep=clock.sleep))
    assert r.decision == "pass" and r.intervals_run == 4
    assert r.counters["p95_ms"]["failed"] == 1
    (tolerated,) = r.reasons
    assert tolerated.counter == "failed 1 <= failure_limit 1 (tolerated)" and not tolerated.decides


def test_a_raising_seam_is_an_error_never_a_crash_and_errors_are_not_failures() -> None:
    boom = ConnectionError("generator lost")
    measure, _ = scripted_measure([boom, [p95(100)], boom, boom, boom, [p95(100)]])
    clock = FakeClock()
    r = run(
        run_soak(
            measure,
            Soak(duration=30, interval=10, thresholds={"p95_ms": "<300"}),
            clock=clock,
            sleep=clock.sleep,
        )
    )
    assert r.decision == "pass"
    # interval 1: the retry measured, so the seam's error does not count; interval 2: three
    # attempts raised, one error; interval 3 measured again, and the run of errors ends
    counted = [(o.interval, o.measurement.name) for o in r.observations if o.counted]
    assert counted == [(1, "p95_ms"), (2, "(measure)"), (3, "p95_ms")]
    assert r.counters["(measure)"]["errors"] == 1
    assert r.counters["(measure)"]["consecutive_errors"] == 0


def test_errors_beyond_the_consecutive_limit_are_inconclusive_and_the_policy_acts() -> None:
    measure, _ = scripted_measure([RuntimeError("no route to host")])
    clock = FakeClock()
    soak = Soak(duration=100, interval=10, thresholds={"p95_ms": "<300"})
    for inconclusive, action in [
        ("hold", "hold"),
        ("rollback", "rollback"),
        ("continue", "promote"),
    ]:
        policy = Policy(consecutive_error_limit=2, inconclusive=inconclusive)
        r = run(run_soak(measure, soak, policy, clock=clock, sleep=clock.sleep))
        assert (r.decision, r.action, r.intervals_run) == ("inconclusive", action, 3)
        (reason,) = r.reasons
        assert reason.check == "(measure)" and reason.outcome == "error"
        assert reason.message == "RuntimeError: no route to host"
        assert reason.counter == "errors 3 in a row > consecutive_error_limit 2"


@pytest.mark.parametrize(
    ("no_data", "decision"), [("fail", "fail"), ("pass", "pass"), ("inconclusive", "inconclusive")]
)
def test_no_data_at_all_is_decided_by_the_no_data_policy_and_says_so(
    no_data: str, decision: str
) -> None:
    empty: list[Measurement] = []
    measure, _ = scripted_measure([empty])
    clock = FakeClock()
    policy = Policy(no_data=no_data)
    for soak in (
        Soak(duration=20, interval=10),
        Soak(duration=20, interval=10, thresholds={"p95_ms": "<1"}),
    ):
        r = run(run_soak(measure, soak, policy, clock=clock, sleep=clock.sleep))
        assert r.decision == decision
        assert any(f"no data (no_data policy: {no_data})" in f.message for f in r.reasons)


def test_a_value_missing_is_no_data_not_a_pass() -> None:
    measure, _ = scripted_measure([[p95(float("nan"))]])
    clock = FakeClock()
    r = run(
        run_soak(
            measure,
            Soak(duration=20, interval=10, thresholds={"p95_ms": "<300"}),
            clock=clock,
            sleep=clock.sleep,
        )
    )
    assert r.decision == "inconclusive" and r.reasons[0].check == "p95_ms"


def test_a_shadow_measurement_is_recorded_and_never_decides() -> None:
    measure, _ = scripted_measure([[p95(100), Measurement("new_p99_ms", 900, "ms")]])
    clock = FakeClock()
    soak = Soak(duration=30, interval=10, thresholds={"p95_ms": "<300", "new_p99_ms": "<300"})
    r = run(
        run_soak(
            measure, soak, Policy(shadow=frozenset({"new_p99_ms"})), clock=clock, sleep=clock.sleep
        )
    )
    assert r.decision == "pass" and r.intervals_run == 3
    shadow = [f for f in r.reasons if f.check == "new_p99_ms"]
    assert shadow and not any(f.decides for f in shadow)
    assert "shadow" in shadow[0].message


def test_the_canary_judge_catches_a_doubled_p95_within_two_intervals() -> None:
    base = [100, 104, 97, 101, 99, 103, 98, 100, 102, 96]
    slow = [2 * v for v in base]
    clock = FakeClock()
    judge = (JudgeMetric("p95_ms", tolerance=0.1),)
    bad, _ = scripted_measure([[p95(200, slow)]])
    r = run(
        run_soak(
            bad,
            Soak(duration=100, interval=10, judge=judge, baseline={"p95_ms": base}),
            clock=clock,
            sleep=clock.sleep,
        )
    )
    assert (r.decision, r.intervals_run) == ("fail", 2)
    (reason,) = r.reasons
    assert reason.check == "canary:p95_ms" and reason.counter == "failed 2 > failure_limit 1"
    assert reason.value == pytest.approx(100, rel=0.05) and reason.unit == "%"
    assert reason.samples == 20 and "canary judge" in reason.message
    good, _ = scripted_measure([[p95(100, list(reversed(base)))]])
    r = run(
        run_soak(
            good,
            Soak(duration=50, interval=10, judge=judge, baseline={"p95_ms": base}),
            clock=clock,
            sleep=clock.sleep,
        )
    )
    assert r.decision == "pass" and r.intervals_run == 5
    assert r.reasons[-1].check == "canary" and r.reasons[-1].outcome == "pass"
    assert r.judgements[-1]["result"] == "pass"


def test_without_baseline_the_judge_says_it_did_not_compare() -> None:
    measure, _ = scripted_measure([[p95(100, [100, 101])]])
    clock = FakeClock()
    soak = Soak(duration=10, interval=10, judge=(JudgeMetric("p95_ms"),))
    r = run(run_soak(measure, soak, clock=clock, sleep=clock.sleep))
    assert r.decision == "pass" and not r.judgements
    assert "no baseline" in r.reasons[0].message and not r.reasons[0].decides


# -- both phases -------------------------------------------------------------------------
def test_a_failed_smoke_skips_the_soak() -> None:
    checks, _ = scripted_checks({"health": ["fail"]})
    measure, calls = scripted_measure([[p95(100)]])
    clock = FakeClock()
    v = run(
        verify(
            checks=checks,
            measure=measure,
            smoke=Smoke(deadline=2, interval=1),
            soak=Soak(duration=10, interval=10),
            clock=clock,
            sleep=clock.sleep,
        )
    )
    assert (v.decision, v.action, v.soak, calls) == ("fail", "rollback", None, [0])
    doc = v.to_dict()
    assert doc["reasons"][0]["check"] == "api/health"
    assert v.reason_lines() == (
        "api/health: health said fail (still fail after 3 rounds, 3 attempts by the deadline "
        "of 2s)",
    )


def test_smoke_then_soak_pass_and_nothing_to_verify_is_no_data() -> None:
    checks, _ = scripted_checks({"health": ["ok"]})
    measure, calls = scripted_measure([[p95(100)]])
    clock = FakeClock()
    v = run(
        verify(
            checks=checks,
            measure=measure,
            smoke=Smoke(),
            clock=clock,
            sleep=clock.sleep,
            soak=Soak(duration=30, interval=10, thresholds={"p95_ms": "<300"}),
        )
    )
    assert (v.decision, v.action, calls) == ("pass", "promote", [3])
    assert v.to_dict()["because"] == "verification passed: promote"
    v = run(verify(policy=Policy(inconclusive="continue", shadow="p99_ms")))
    assert (v.decision, v.action) == ("inconclusive", "promote")
    doc = v.to_dict()
    assert doc["because"] == "inconclusive, and the policy says inconclusive: continue"
    assert doc["policy"]["shadow"] == ["p99_ms"]
    assert doc["reasons"][0]["message"] == (
        "no smoke and no soak phase: no data (no_data policy: inconclusive)"
    )
    with pytest.raises(DeployError):
        run(verify(smoke=Smoke()))
