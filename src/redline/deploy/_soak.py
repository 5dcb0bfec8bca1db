"""The soak phase (public through ``redline.deploy.verify``); its measurements, thresholds
and policy are in :mod:`redline.deploy.policy`.

A soak's ``thresholds`` are written as a load scenario's are (k6's syntax,
:mod:`redline.load.thresholds`) for the load metrics, or as ``OP VALUE`` on any
measurement by name::

    thresholds:
      http_req_duration: ["p(95)<300"]     # judged on the measurement p95_ms
      http_req_failed: ["rate<0.01"]       # judged on error_rate
      queue_depth: ["< 100"]               # a measurement of the team's own seam

Each interval is measured once, and again at once (``retries``) while a deciding
measurement fails or errors; per name the first ``ok`` attempt is the interval's. The
counters of :class:`Policy` then decide, as ``redline.deploy.verify``'s docstring says.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from redline._errors import DeployError
from redline.deploy.policy import (
    SEAM,
    Action,
    Clock,
    Decision,
    Finding,
    Measure,
    Measurement,
    Policy,
    Rule,
    Sleep,
    decide,
    exc_reason,
    no_data,
    parse_rules,
    plain_rule,
)

__all__ = [
    "JudgeMetric",
    "Observation",
    "Soak",
    "SoakResult",
    "run_soak",
]


# -- soak ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class JudgeMetric:
    """A measurement the canary judge compares with its baseline samples (see ``judge``)."""

    name: str
    direction: Literal["lower", "higher", "none"] = "lower"
    tolerance: float = 0.10
    critical: bool = True
    tolerance_abs: float = 0.0


@dataclass(frozen=True)
class Soak:
    """Measure every ``interval`` s for ``duration`` s; thresholds and a judge decide.

    ``thresholds`` as :func:`~redline.deploy._soak.parse_rules` reads them (a bad one is a
    :class:`~redline.DeployError` here, before anything runs); ``judge`` names the
    measurements compared with ``baseline`` (samples by measurement name); ``retries``:
    a failing or erroring interval is measured again at once, up to this many times.
    """

    duration: float
    interval: float
    thresholds: Mapping[str, Sequence[str] | str] = field(default_factory=dict)
    judge: tuple[JudgeMetric, ...] = ()
    baseline: Mapping[str, Sequence[float]] = field(default_factory=dict)
    retries: int = 2
    retry_pause: float = 0.0

    def __post_init__(self) -> None:
        if not self.interval > 0 or not self.duration >= self.interval:
            raise DeployError(
                f"soak: interval > 0 and duration >= interval, please; got duration "
                f"{self.duration:g}s, interval {self.interval:g}s"
            )
        if self.retries < 0 or self.retry_pause < 0:
            raise DeployError("soak: retries and retry_pause must be >= 0")
        for m in self.judge:
            if m.tolerance < 0 or m.tolerance_abs < 0:
                raise DeployError(f"soak judge {m.name!r}: tolerances must be >= 0")
        object.__setattr__(self, "judge", tuple(self.judge))
        self.rules()  # raises on a bad threshold

    @property
    def intervals(self) -> int:
        return max(1, math.ceil(self.duration / self.interval - 1e-9))

    def rules(self) -> tuple[Rule, ...]:
        return parse_rules(self.thresholds)


@dataclass(frozen=True)
class Observation:
    """One measurement of one attempt of one interval; ``counted``: it is the interval's."""

    interval: int
    attempt: int
    measurement: Measurement
    shadow: bool
    counted: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "attempt": self.attempt,
            "shadow": self.shadow,
            "counted": self.counted,
            **self.measurement.to_dict(),
        }


@dataclass(frozen=True)
class SoakResult:
    """The soak phase: decision, action, reasons, and every measurement and judgement."""

    decision: Decision
    action: Action
    reasons: tuple[Finding, ...]
    observations: tuple[Observation, ...]
    judgements: tuple[dict[str, Any], ...]
    counters: Mapping[str, Mapping[str, int]]
    intervals_run: int
    intervals_planned: int
    elapsed: float
    policy: Policy

    @property
    def stopped_early(self) -> bool:
        return self.intervals_run < self.intervals_planned

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": "soak",
            "decision": self.decision,
            "action": self.action,
            "intervals": {"run": self.intervals_run, "planned": self.intervals_planned},
            "stopped_early": self.stopped_early,
            "elapsed_s": round(self.elapsed, 3),
            "policy": self.policy.to_dict(),
            "reasons": [f.to_dict() for f in self.reasons],
            "counters": {k: dict(v) for k, v in self.counters.items()},
            "measurements": [o.to_dict() for o in self.observations],
            "judgements": list(self.judgements),
        }


class _Count:
    __slots__ = ("bad", "consecutive", "errors", "failed", "last", "measured")

    def __init__(self) -> None:
        self.failed = self.errors = self.consecutive = self.measured = 0
        self.last: Measurement | None = None
        self.bad: Measurement | None = None  # the last failed or erroring measurement

    def add(self, m: Measurement) -> None:
        self.last = m
        if m.outcome in ("ok", "fail"):
            self.measured += 1
            self.consecutive = 0
            self.failed += m.outcome == "fail"
        elif m.outcome == "error":
            self.errors += 1
            self.consecutive += 1
        if m.outcome in ("fail", "error"):
            self.bad = m

    def as_dict(self) -> dict[str, int]:
        return {
            "measured": self.measured,
            "failed": self.failed,
            "errors": self.errors,
            "consecutive_errors": self.consecutive,
        }


async def run_soak(
    measure: Measure,
    soak: Soak,
    policy: Policy | None = None,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> SoakResult:
    """Measure every interval, judge, count under ``policy``; stop at the first decisive limit."""
    policy = policy or Policy()
    by_name: dict[str, list[Rule]] = {}
    for rule in soak.rules():
        by_name.setdefault(rule.measurement, []).append(rule)
    counts: dict[str, _Count] = {}
    canary: dict[str, list[float]] = {}
    observations: list[Observation] = []
    judgements: list[dict[str, Any]] = []
    findings: list[Finding] = []
    start = clock()
    done = 0
    for index in range(1, soak.intervals + 1):
        done = index
        final, tried, seam_ok = await _interval(measure, by_name, soak, policy, sleep)
        for attempt, measured in tried:
            for m in measured:
                counted = final.get(m.name, (-1, None)) == (attempt, m)
                observations.append(
                    Observation(index, attempt, m, policy.is_shadow(m.name), counted)
                )
        if seam_ok and SEAM in counts:
            counts[SEAM].consecutive = 0
        for name, (_, m) in final.items():
            counts.setdefault(name, _Count()).add(m)
            if m.outcome in ("ok", "fail") and m.value is not None:
                canary.setdefault(name, []).extend(m.samples or (m.value,))
        if soak.judge:
            _judge_interval(soak, policy, index, canary, counts, judgements)
        findings = _over_limits(counts, policy)
        if any(f.decides for f in findings):
            break
        wait = start + index * soak.interval - clock()
        if index < soak.intervals and wait > 0:
            await sleep(wait)
    if not any(f.decides for f in findings):
        findings = _at_end(soak, policy, by_name, counts, judgements)
    decision = decide(findings)
    return SoakResult(
        decision,
        policy.action(decision),
        tuple(findings),
        tuple(observations),
        tuple(judgements),
        {k: c.as_dict() for k, c in counts.items()},
        done,
        soak.intervals,
        clock() - start,
        policy,
    )


async def _interval(
    measure: Measure,
    rules: Mapping[str, list[Rule]],
    soak: Soak,
    policy: Policy,
    sleep: Sleep,
) -> tuple[dict[str, tuple[int, Measurement]], list[tuple[int, list[Measurement]]], bool]:
    """One interval: measure, and again (up to ``retries``) while a deciding one is bad.

    By name, the first ``ok`` attempt is the interval's, else the last; the seam's own
    error counts only when no attempt could measure at all.
    """
    final: dict[str, tuple[int, Measurement]] = {}
    tried: list[tuple[int, list[Measurement]]] = []
    seam_ok = False
    for attempt in range(soak.retries + 1):
        measured = await _measure_once(measure, rules)
        tried.append((attempt, measured))
        if not (len(measured) == 1 and measured[0].name == SEAM):
            seam_ok = True
            final.pop(SEAM, None)
        elif seam_ok:
            continue
        for m in measured:
            if m.name not in final or final[m.name][1].outcome != "ok":
                final[m.name] = (attempt, m)
        bad = [n for n, (_, m) in final.items() if m.outcome in ("fail", "error")]
        if attempt == soak.retries or all(policy.is_shadow(n) for n in bad):
            break
        if soak.retry_pause:
            await sleep(soak.retry_pause)
    return final, tried, seam_ok


async def _measure_once(measure: Measure, rules: Mapping[str, list[Rule]]) -> list[Measurement]:
    try:
        measured = list(await measure())
    except Exception as exc:  # a broken seam is an error of this interval, never a crash
        return [Measurement(SEAM, None, outcome="error", reason=exc_reason(exc))]
    return [_judged(m, rules.get(m.name, ())) for m in measured]


def _judged(m: Measurement, rules: Sequence[Rule]) -> Measurement:
    if m.outcome == "ok" and m.threshold is not None and not rules:
        try:
            rules = (plain_rule(m.name, m.threshold),)
        except DeployError as exc:  # the seam's own threshold: its mistake, an error
            return dataclasses.replace(m, outcome="error", reason=exc.message)
    for rule in rules:
        m = rule.judge(m)
    return m


def _judge_interval(
    soak: Soak,
    policy: Policy,
    index: int,
    canary: Mapping[str, list[float]],
    counts: dict[str, _Count],
    judgements: list[dict[str, Any]],
) -> None:
    from redline.analysis.judge import MetricInput, judge

    for shadow in (False, True):
        metrics = [
            MetricInput(
                m.name,
                tuple(soak.baseline[m.name]),
                tuple(canary.get(m.name, ())),
                m.direction,
                m.tolerance,
                m.critical,
                m.tolerance_abs,
            )
            for m in soak.judge
            if soak.baseline.get(m.name) and policy.is_shadow(m.name) == shadow
        ]
        if not metrics:
            continue
        j = judge(metrics, no_data=policy.no_data)
        judgements.append({"interval": index, "shadow": shadow, **j.to_dict()})
        tolerance = {m.name: m.tolerance for m in soak.judge}
        for e in j.metrics:
            if e.outcome == "no_data":
                continue
            failed = e.counted_as == "fail" and (e.critical or j.result == "fail")
            c = e.comparison
            key = f"canary:{e.name}"
            counts.setdefault(key, _Count()).add(
                Measurement(
                    key,
                    None if c.change_pct is None else round(c.change_pct, 2),
                    "%",
                    f"{e.name} at most {tolerance[e.name]:.0%} worse than its baseline",
                    "fail" if failed else "ok",
                    samples=tuple(canary.get(e.name, ())),
                    reason=f"canary judge: {e.name}: {e.reason}",
                )
            )


def _shadow(policy: Policy, key: str) -> bool:
    return policy.is_shadow(key, key.removeprefix("canary:"))


def _finding(
    key: str, count: _Count, outcome: str, counter: str, decides: bool, note: str = ""
) -> Finding:
    m = count.bad or count.last or Measurement(key, None)
    return Finding(
        key,
        outcome,
        (m.reason or f"{key}: {outcome}") + note,
        value=m.value,
        unit=m.unit,
        threshold=m.threshold,
        window=m.window,
        samples=len(m.samples) or (1 if m.value is not None else 0),
        counter=counter,
        decides=decides,
    )


def _over_limits(counts: Mapping[str, _Count], policy: Policy) -> list[Finding]:
    out = []
    for key, c in counts.items():
        live = not _shadow(policy, key)
        note = "" if live else " (shadow: recorded, does not decide)"
        if c.failed > policy.failure_limit:
            counter = f"failed {c.failed} > failure_limit {policy.failure_limit}"
            out.append(_finding(key, c, "fail", counter, live, note))
        if c.consecutive > policy.consecutive_error_limit:
            counter = (
                f"errors {c.consecutive} in a row > consecutive_error_limit "
                f"{policy.consecutive_error_limit}"
            )
            out.append(_finding(key, c, "error", counter, live, note))
    return out


def _at_end(
    soak: Soak,
    policy: Policy,
    rules: Mapping[str, list[Rule]],
    counts: Mapping[str, _Count],
    judgements: Sequence[Mapping[str, Any]],
) -> list[Finding]:
    out = _over_limits(counts, policy)
    for key, c in counts.items():
        if 0 < c.failed <= policy.failure_limit:
            counter = f"failed {c.failed} <= failure_limit {policy.failure_limit} (tolerated)"
            out.append(_finding(key, c, "fail", counter, False))
    final = next((j for j in reversed(judgements) if not j["shadow"]), None)
    if final is not None:
        outcome = {"pass": "pass", "marginal": "inconclusive", "fail": "fail"}[final["result"]]
        out.append(
            Finding(
                "canary",
                outcome,
                f"canary judge at the end: {final['result']}: {final['reason']}",
                value=final["score"],
                threshold=f"score >= {final['pass_score']:g}",
                samples=sum(m["comparison"]["n_candidate"] for m in final["metrics"]),
                counter=f"judgement over {final['interval']} intervals",
                decides=outcome != "pass",
            )
        )
    expected = {n for n in rules if not policy.is_shadow(n)} | {
        m.name for m in soak.judge if soak.baseline.get(m.name) and not policy.is_shadow(m.name)
    }
    for m in soak.judge:
        if not soak.baseline.get(m.name):
            what = f"{m.name}: no baseline samples, so the canary judge did not compare it"
            out.append(Finding(m.name, "no_data", what, decides=False))
    for name in sorted(expected):
        if name not in counts or counts[name].measured == 0:
            out.append(no_data(name, f"{name} was never measured", policy))
    if not expected and not any(c.measured for c in counts.values()):
        out.append(no_data("soak", "nothing was measured", policy))
    return out
