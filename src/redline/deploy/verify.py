"""Verification after the switch: a smoke phase, then a soak, judged under one policy.

>>> result = await verify(checks=run_checks, measure=load_measure(spec, rate=20, interval=10),
...                       smoke=Smoke(deadline=60), soak=Soak(duration=300, interval=10,
...                       thresholds={"http_req_duration": ["p(95)<300"]}))  # doctest: +SKIP
>>> result.decision, result.action, result.reasons[0].counter               # doctest: +SKIP
('fail', 'rollback', 'failed 2 > failure_limit 1')

- **Smoke** runs the service's checks until every deciding one passes or ``deadline``
  passes (a slow start is waited for), re-running only the failing ones every
  ``interval``. At the deadline a check still failing, or still erroring (the service
  never answered), fails the phase.
- **Soak** measures every ``interval`` for ``duration``; each measurement is judged by its
  thresholds and, when baseline samples exist, all samples so far by the canary judge
  (:func:`redline.analysis.judge.judge`). It stops as soon as a policy limit is exceeded.
- The :class:`Policy` counts in Argo Rollouts' way, per measurement: ``failed`` (measured
  and wrong) against ``failure_limit``, consecutive ``errors`` (could not measure: not a
  failure) against ``consecutive_error_limit``; ``no_data`` says what nothing measured
  means; ``inconclusive`` what to do then (``hold``, ``rollback``, ``continue``). A name
  in ``shadow`` is measured and recorded, and never decides.

Why these defaults (``tests/deploy/test_verify_flakiness.py``: 200 simulated deploys, 5 %
of check and measurement attempts failing at random; defects failing every attempt or
doubling p95; the smoke phase retries until its deadline, so its flakes never decide):

- ``Soak.retries=2``: a failing interval is measured again at once, and fails only when
  three attempts in a row fail (a flake: 0.05**3 = 1.25e-4), like a check's own retries.
  A real defect fails every attempt. The attempts run back to back, so a failing
  interval of a load measurement takes up to three windows.
- ``failure_limit=1``: one failed interval is tolerated, the second fails the soak, so a
  defect is rolled back at the second interval. Four measurements over ten intervals
  fail a healthy deploy with probability about 4 * C(10, 2) * (1.25e-4)**2 = 3e-6.
  Measured on the same 200 healthy deploys: 0 rolled back; ``failure_limit=0``: 3;
  ``retries=0``: 64; ``retries=1``: 1.
- ``consecutive_error_limit=4`` (Argo's default): five intervals in a row that could not
  measure do not happen by chance (1.25e-4 each); an outage of the measurer does.
- The canary judge's ``fail`` counts as a failed interval of ``canary:NAME`` (alpha 0.01,
  and the change must exceed the metric's ``tolerance``): one unlucky early look (a
  baseline that happened to be fast) is tolerated like a flake; a doubled p95 fails
  every look. Its judgement over all samples at the end decides outright.
- ``inconclusive="hold"``: a release that could not be judged is neither promoted nor
  rolled back without a person; ``no_data="inconclusive"``: nothing measured is never a
  pass and never silently a failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redline._errors import DeployError, UsageError
from redline.deploy._soak import JudgeMetric, Observation, Soak, SoakResult, run_soak
from redline.deploy.policy import (
    Action,
    Clock,
    Decision,
    Finding,
    Measure,
    Measurement,
    Policy,
    Sleep,
    decide,
    exc_reason,
    no_data,
)
from redline.probes.base import HealthCheckResult

if TYPE_CHECKING:
    from redline.load.results import Part
    from redline.load.spec import LoadSpec

__all__ = [
    "Decision",
    "Finding",
    "JudgeMetric",
    "Measure",
    "Measurement",
    "Observation",
    "Policy",
    "RunChecks",
    "Smoke",
    "SmokeCheck",
    "SmokeResult",
    "Soak",
    "SoakResult",
    "Verification",
    "load_measure",
    "measurements_of",
    "run_smoke",
    "run_soak",
    "verify",
]

# Runs the checks whose ids (``service/check``) it is given, every check when given none.
RunChecks = Callable[[frozenset[str]], Awaitable[Sequence[HealthCheckResult]]]


# -- smoke --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Smoke:
    """Run the checks until all pass, for at most ``deadline`` s, retrying every ``interval`` s."""

    deadline: float = 60.0
    interval: float = 2.0

    def __post_init__(self) -> None:
        if not self.deadline >= 0 or not self.interval > 0:
            raise DeployError("smoke: deadline >= 0 and interval > 0 seconds, please")


@dataclass(frozen=True)
class SmokeCheck:
    """One check as the smoke phase left it: its last result and every attempt it took."""

    id: str
    outcome: str
    reason: str
    attempts: int
    rounds: int
    deciding: bool
    result: HealthCheckResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.id,
            "outcome": self.outcome,
            "reason": self.reason,
            "attempts": self.attempts,
            "rounds": self.rounds,
            "deciding": self.deciding,
            "severity": self.result.severity,
            "latency_ms": round(self.result.latency * 1000, 3),
        }


@dataclass(frozen=True)
class SmokeResult:
    """The smoke phase: its decision, what the policy then says, and every check."""

    decision: Decision
    action: Action
    checks: tuple[SmokeCheck, ...]
    reasons: tuple[Finding, ...]
    rounds: int
    elapsed: float
    deadline: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": "smoke",
            "decision": self.decision,
            "action": self.action,
            "rounds": self.rounds,
            "elapsed_s": round(self.elapsed, 3),
            "deadline_s": self.deadline,
            "reasons": [f.to_dict() for f in self.reasons],
            "checks": [c.to_dict() for c in self.checks],
        }


async def run_smoke(
    run_checks: RunChecks,
    smoke: Smoke,
    policy: Policy | None = None,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> SmokeResult:
    """Run the checks until every deciding one passes or ``smoke.deadline`` passes.

    Deciding: critical and not shadow. The seam raising counts as an error of the round;
    more than ``consecutive_error_limit`` in a row make the phase inconclusive.
    """
    policy = policy or Policy()
    start = clock()
    latest: dict[str, HealthCheckResult] = {}
    attempts: dict[str, int] = {}
    rounds: dict[str, int] = {}
    seam_errors, seam_reason, round_no = 0, "", 0
    pending: frozenset[str] = frozenset()
    while True:
        round_no += 1
        try:
            results = list(await run_checks(pending))
        except Exception as exc:  # the seam itself broke: an error, never a crash
            seam_errors, seam_reason = seam_errors + 1, exc_reason(exc)
        else:
            seam_errors = 0
            for r in results:
                latest[r.id] = r
                attempts[r.id] = attempts.get(r.id, 0) + r.attempts
                rounds[r.id] = rounds.get(r.id, 0) + 1
        failing = frozenset(i for i, r in latest.items() if r.outcome != "ok")
        if latest and seam_errors == 0 and not any(_deciding(latest[i], policy) for i in failing):
            break
        if seam_errors > policy.consecutive_error_limit:
            break
        if clock() - start + smoke.interval > smoke.deadline:
            break
        await sleep(smoke.interval)
        pending = failing if latest else frozenset()
    elapsed = clock() - start
    checks = tuple(
        SmokeCheck(i, r.outcome, r.reason, attempts[i], rounds[i], _deciding(r, policy), r)
        for i, r in latest.items()
    )
    findings: list[Finding] = []
    for c in checks:
        if c.outcome == "ok":
            continue
        findings.append(
            Finding(
                c.id,
                c.outcome,
                (c.reason or c.outcome)
                + ("" if c.deciding else " (shadow or warning: recorded, does not decide)"),
                value=round(c.result.latency * 1000, 3),
                unit="ms",
                samples=c.attempts,
                window=elapsed,
                counter=f"still {c.outcome} after {c.rounds} rounds, {c.attempts} attempts "
                f"by the deadline of {smoke.deadline:g}s",
                decides=c.deciding,
            )
        )
    if seam_errors:
        findings.append(
            Finding(
                "(checks)",
                "error",
                f"the checks could not be run: {seam_reason}",
                counter=f"errors {seam_errors} in a row "
                f"(consecutive_error_limit {policy.consecutive_error_limit})",
            )
        )
    if not latest and not seam_errors:
        findings.append(no_data("smoke", "no check ran", policy))
    # A deciding check still not ok at the deadline fails the phase, erroring included: the
    # deadline was the slow start's allowance, and a release that never answers is bad.
    stuck = any(c.deciding and c.outcome != "ok" for c in checks)
    decision: Decision = "fail" if stuck else decide(findings)
    return SmokeResult(
        decision,
        policy.action(decision),
        checks,
        tuple(findings),
        round_no,
        elapsed,
        smoke.deadline,
    )


def _deciding(r: HealthCheckResult, policy: Policy) -> bool:
    return r.severity == "critical" and not policy.is_shadow(r.id, r.check)


# -- measuring with the load engine --------------------------------------------------------
LOAD_PERCENTILES = (50.0, 95.0, 99.0)


def load_measure(spec: LoadSpec, *, rate: float, interval: float) -> Measure:
    """A soak measurement: ``rate`` requests a second for ``interval`` seconds with ``spec``.

    >>> measure = load_measure(spec, rate=20, interval=10)       # doctest: +SKIP
    >>> [m.name for m in await measure()]                          # doctest: +SKIP
    ['p50_ms', 'p95_ms', 'p99_ms', 'error_rate']

    The engine runs in a thread of this process on its own event loop (the soak's loop
    stays free to be cancelled; a cancelled measurement stops the engine within 50 ms).
    A spec the engine could not run (bad URL, flow, data file) raises
    :class:`~redline.DeployError` here, before anything runs.
    """
    from redline.load.runner import preflight
    from redline.load.spec import Executor

    if not rate > 0 or not interval > 0:
        raise DeployError(
            f"a soak measures at a rate > 0 for an interval > 0; got {rate:g}/s, {interval:g}s"
        )
    executor = Executor(
        "constant-arrival-rate",
        rate=rate,
        duration=interval,
        max_connections=min(spec.executor.max_connections, max(8, int(rate))),
    )
    short = dataclasses.replace(
        spec,
        executor=executor,
        thresholds={},
        graceful_stop=min(spec.graceful_stop, interval),
        stride=(0, 1),
    )
    try:
        preflight(short)
    except UsageError as exc:
        raise DeployError(f"the soak's load spec: {exc.message}", hint=exc.hint) from None

    async def measure() -> list[Measurement]:
        from redline.load.runner import run_in_process

        stop = threading.Event()
        try:
            part = await asyncio.to_thread(run_in_process, short, should_stop=stop.is_set)
        finally:
            stop.set()
        return measurements_of(part)

    return measure


def measurements_of(part: Part) -> list[Measurement]:
    """p50/p95/p99 (ms) and the error rate of one load run, with per-second samples."""
    from redline.load import hist
    from redline.load.results import ITERATION, LoadResult

    result = LoadResult([part])
    seconds = [i for i in part.intervals if i.requests and i.duration >= 0.25]
    per_second: list[dict[float, float]] = []
    for interval in seconds:
        h = hist.merge(hist.decode(e) for k, e in interval.histograms.items() if k != ITERATION)
        if h.get_total_count():
            values = h.get_percentile_to_value_dict(list(LOAD_PERCENTILES))
            per_second.append({p: v / 1000 for p, v in values.items()})
    window = result.duration_s
    note = " (the load generator was saturated)" if result.generator_saturated else ""
    out = []
    for p in LOAD_PERCENTILES:
        value = result.stat("http_req_duration", f"p({p:g})", {})
        out.append(
            Measurement(
                f"p{p:g}_ms",
                value,
                "ms",
                outcome="ok" if value is not None else "no_data",
                samples=tuple(s[p] for s in per_second),
                window=window,
                reason=(
                    f"{result.requests} requests{note}" if value is not None else "no requests"
                ),
            )
        )
    rate = result.errors_total / result.requests if result.requests else None
    out.append(
        Measurement(
            "error_rate",
            rate,
            outcome="ok" if rate is not None else "no_data",
            samples=tuple(i.errors / i.requests for i in seconds),
            window=window,
            reason=f"{result.errors_total} errors of {result.requests} requests{note}",
        )
    )
    return out


# -- both phases ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Verification:
    """Smoke then soak: the decision the deploy acts on, and each phase's evidence."""

    decision: Decision
    action: Action
    smoke: SmokeResult | None
    soak: SoakResult | None
    reasons: tuple[Finding, ...]
    policy: Policy = dataclasses.field(default_factory=Policy)

    def reason_lines(self) -> tuple[str, ...]:
        """The deciding reasons, one line each (the pipeline's ``Verdict.reasons``)."""
        return tuple(f.line() for f in self.reasons if f.decides)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "action": self.action,
            "because": _because(self.decision, self.action, self.policy),
            "policy": self.policy.to_dict(),
            "reasons": [f.to_dict() for f in self.reasons if f.decides],
            "smoke": self.smoke.to_dict() if self.smoke else None,
            "soak": self.soak.to_dict() if self.soak else None,
        }


async def verify(
    *,
    checks: RunChecks | None = None,
    measure: Measure | None = None,
    smoke: Smoke | None = None,
    soak: Soak | None = None,
    policy: Policy | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> Verification:
    """Smoke (when ``checks`` and ``smoke`` are given), then soak (``measure`` and ``soak``).

    The soak runs only when the smoke phase's action is ``promote``. Nothing to verify at
    all is no data, and the policy's ``no_data`` decides.
    """
    policy = policy or Policy()
    if (smoke is None) != (checks is None) or (soak is None) != (measure is None):
        raise DeployError("verify: smoke needs checks, and soak needs a measurement")
    smoked = (
        await run_smoke(checks, smoke, policy, clock=clock, sleep=sleep)
        if checks and smoke
        else None
    )
    soaked = None
    if measure is not None and soak is not None and (smoked is None or smoked.action == "promote"):
        soaked = await run_soak(measure, soak, policy, clock=clock, sleep=sleep)
    findings = [*(smoked.reasons if smoked else ()), *(soaked.reasons if soaked else ())]
    if smoked is None and soaked is None:
        findings.append(no_data("verify", "no smoke and no soak phase", policy))
    decision = decide(findings)
    if smoked is not None and smoked.action != "promote":
        action: Action = smoked.action
    else:
        action = policy.action(decision)
    return Verification(decision, action, smoked, soaked, tuple(findings), policy)


def _because(decision: Decision, action: Action, policy: Policy) -> str:
    """Why the action follows: ``inconclusive, and the policy says inconclusive: hold``."""
    if decision == "inconclusive":
        return f"inconclusive, and the policy says inconclusive: {policy.inconclusive}"
    return f"verification {'passed' if decision == 'pass' else 'failed'}: {action}"
