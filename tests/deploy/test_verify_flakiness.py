"""Flakiness (issue 6): 5 % of check attempts failing at random across 200 simulated deploys
cause no false rollback; a real defect (checks failing, or p95 doubled) is rolled back in
every run within two soak intervals.

Each deploy is simulated through the production seams, with its own fixed seed: the smoke
phase's checks and the soak's measurements (two checks, p95 latency with ten per-second
samples, the error rate) come from a random model of a healthy service whose every attempt
flakes with probability 5 % (a check fails, p95 spikes threefold past its threshold, the
error rate jumps past its threshold), and whose measurer itself raises on 2 % of calls.
The policy is the default one (see ``redline.deploy.verify``'s docstring for why).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence

import pytest

from redline.deploy.verify import (
    JudgeMetric,
    Measurement,
    Policy,
    Smoke,
    Soak,
    Verification,
    verify,
)
from redline.probes.base import HealthCheckResult

DEPLOYS = 200
FLAKE = 0.05
SEAM_ERROR = 0.02
INTERVAL = 10.0
CHECKS = ("health", "ready")
THRESHOLDS = {"http_req_duration": ["p(95)<250"], "http_req_failed": ["rate<0.01"]}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class Service:
    """A release as its checks and measurements see it; ``defect`` makes it really bad."""

    def __init__(self, seed: int, defect: str | None = None) -> None:
        self.rng = random.Random(seed)
        self.defect = defect
        self.soaking = False

    def p95_samples(self, n: int = 10) -> list[float]:
        return [100.0 * self.rng.lognormvariate(0.0, 0.08) for _ in range(n)]

    def flaky(self) -> bool:
        return self.rng.random() < FLAKE

    def check_fails(self, name: str) -> bool:
        broken = self.defect == "checks" or (self.defect == "checks-in-soak" and self.soaking)
        return (broken and name == "health") or self.flaky()

    async def run_checks(self, pending: frozenset[str]) -> list[HealthCheckResult]:
        out = []
        for name in CHECKS:
            if pending and f"api/{name}" not in pending:
                continue
            failed = self.check_fails(name)
            out.append(
                HealthCheckResult(
                    "api",
                    name,
                    "http",
                    "fail" if failed else "ok",
                    0.005,
                    "503 Service Unavailable" if failed else "",
                )
            )
        return out

    async def measure(self) -> Sequence[Measurement]:
        self.soaking = True
        if self.rng.random() < SEAM_ERROR:
            raise ConnectionError("load generator could not connect")
        out = []
        for name in CHECKS:
            failed = self.check_fails(name)
            out.append(
                Measurement(
                    f"api/{name}",
                    5.0,
                    "ms",
                    outcome="fail" if failed else "ok",
                    reason=f"api/{name}: 503 Service Unavailable" if failed else "",
                )
            )
        samples = self.p95_samples()
        if self.defect == "p95x2":
            samples = [2 * s for s in samples]
        if self.flaky():
            samples = [3 * s for s in samples]
        p95 = sorted(samples)[len(samples) // 2]
        errors = 0.05 if self.flaky() else self.rng.uniform(0.0, 0.004)
        out.append(Measurement("p95_ms", p95, "ms", samples=tuple(samples), window=INTERVAL))
        out.append(Measurement("error_rate", errors, window=INTERVAL))
        return out


def deploy(
    seed: int, defect: str | None = None, policy: Policy | None = None, retries: int = 2
) -> Verification:
    service = Service(seed, defect)
    clock = Clock()
    soak = Soak(
        duration=10 * INTERVAL,
        interval=INTERVAL,
        thresholds=THRESHOLDS,
        judge=(JudgeMetric("p95_ms", tolerance=0.10),),
        baseline={"p95_ms": Service(seed + 10_000).p95_samples(20)},
        retries=retries,
    )
    return asyncio.run(
        verify(
            checks=service.run_checks,
            measure=service.measure,
            smoke=Smoke(deadline=60, interval=2),
            soak=soak,
            policy=policy or Policy(),
            clock=clock,
            sleep=clock.sleep,
        )
    )


def test_flaky_checks_cause_no_false_rollback_in_200_deploys() -> None:
    results = [deploy(seed) for seed in range(DEPLOYS)]
    actions = Counter(v.action for v in results)
    assert actions == {"promote": DEPLOYS}, [
        f.message for v in results if v.action != "promote" for f in v.reasons if f.decides
    ]
    # the flakes were there, and were retried or tolerated: not a quiet model
    soaks = [v.soak for v in results if v.soak is not None]
    assert len(soaks) == DEPLOYS
    retried = sum(o.attempt > 0 for s in soaks for o in s.observations)
    tolerated = sum(1 for s in soaks for f in s.reasons if "tolerated" in (f.counter or ""))
    errors = sum(s.counters.get("(measure)", {}).get("errors", 0) for s in soaks)
    # ~1700 retried attempts; a failed interval (tolerated) in a few deploys: a flake that
    # failed three attempts in a row, or one early look of the judge at an unlucky baseline;
    # the measurer raising three times in one interval (once here) is an error, not a failure
    assert retried > 1000 and tolerated <= DEPLOYS * 0.05 and errors < 5
    smoke_rounds = Counter(v.smoke.rounds for v in results if v.smoke is not None)
    assert smoke_rounds[1] < DEPLOYS and max(smoke_rounds) <= 4


@pytest.mark.parametrize("defect", ["checks-in-soak", "p95x2"])
def test_a_real_defect_is_rolled_back_in_every_run_within_two_soak_intervals(defect: str) -> None:
    results = [deploy(seed, defect) for seed in range(DEPLOYS)]
    assert Counter(v.action for v in results) == {"rollback": DEPLOYS}
    intervals = Counter(v.soak.intervals_run for v in results if v.soak is not None)
    assert sum(intervals.values()) == DEPLOYS and max(intervals) <= 2
    checks = Counter(f.check for v in results for f in v.reasons if f.decides)
    expected = "api/health" if defect == "checks-in-soak" else "canary:p95_ms"
    assert checks[expected] == DEPLOYS
    reason = next(f for f in results[0].reasons if f.check == expected)
    assert reason.counter == "failed 2 > failure_limit 1"


def test_checks_failing_from_the_start_are_rolled_back_by_smoke_before_any_soak() -> None:
    results = [deploy(seed, "checks") for seed in range(DEPLOYS // 4)]
    assert all(v.action == "rollback" and v.soak is None for v in results)
    assert all(v.reasons[0].check == "api/health" for v in results)


@pytest.mark.parametrize(
    ("policy", "retries", "at_least"),
    [(Policy(failure_limit=0), 2, 2), (Policy(), 0, 40), (Policy(), 1, 1)],
    ids=["failure_limit=0", "retries=0", "retries=1"],
)
def test_stricter_settings_than_the_defaults_roll_back_healthy_releases(
    policy: Policy, retries: int, at_least: int
) -> None:
    """Why the defaults are what they are: the same 200 healthy deploys, judged with no
    failed interval tolerated or with fewer retries, roll some back (measured: 3, 64, 1)."""
    results = [deploy(seed, policy=policy, retries=retries) for seed in range(DEPLOYS)]
    assert Counter(v.action for v in results)["rollback"] >= at_least
