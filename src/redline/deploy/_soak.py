"""The soak phase and the policy it shares with smoke (public through ``redline.deploy.verify``).

A :class:`Measurement` is one value a soak interval saw (p95 latency, error rate, a check's
outcome...). A soak's ``thresholds`` are written as a load scenario's are (k6's syntax,
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
import operator
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from redline._errors import DeployError, UsageError

__all__ = [
    "Finding",
    "JudgeMetric",
    "Measure",
    "Measurement",
    "Observation",
    "Policy",
    "Rule",
    "Soak",
    "SoakResult",
    "parse_rules",
    "run_soak",
]

Decision = Literal["pass", "fail", "inconclusive"]
Action = Literal["promote", "rollback", "hold"]
NoData = Literal["fail", "pass", "inconclusive"]
OnInconclusive = Literal["hold", "rollback", "continue"]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
_SEAM = "(measure)"  # the name a raising measurement seam is counted under
_ON_INCONCLUSIVE: Mapping[str, Action] = {
    "hold": "hold",
    "rollback": "rollback",
    "continue": "promote",
}

Outcome = Literal["ok", "fail", "error", "no_data"]
_OPS: Mapping[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_PLAIN = re.compile(
    r"^\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
    r"\s*(?P<unit>[A-Za-zµ%]*)\s*$"
)
_SCALE = {"": 1.0, "ms": 1.0, "us": 1e-3, "µs": 1e-3, "s": 1000.0, "m": 60_000.0, "%": 0.01}
_PLAIN_FORMS = "< 300, <= 250ms, < 1.5s, < 1%"
# k6 statistics of the load metrics, and the measurement load_measure names each.
_STAT_NAMES = {"med": "p50_ms", "avg": "avg_ms", "min": "min_ms", "max": "max_ms"}


@dataclass(frozen=True)
class Measurement:
    """One value one soak interval saw, and how it fared.

    ``outcome``: ``ok`` (measured, within its threshold), ``fail`` (measured, outside),
    ``error`` (could not measure: not a failure) or ``no_data`` (nothing to measure).
    ``threshold`` is the expression it was judged by (None: recorded, judged by nothing
    but the canary judge). ``samples`` are the values behind ``value`` (one per second
    for a load measurement), compared with the baseline's by the canary judge;
    ``window`` is the seconds they cover.
    """

    name: str
    value: float | None
    unit: str = ""
    threshold: str | None = None
    outcome: Outcome = "ok"
    samples: tuple[float, ...] = ()
    window: float = 0.0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        doc = {k: v for k, v in dataclasses.asdict(self).items() if k != "window"}
        return {**doc, "samples": len(self.samples), "window_s": round(self.window, 3)}


# Measures once; the soak phase calls it every interval. Raising counts as an error.
Measure = Callable[[], Awaitable[Sequence[Measurement]]]


@dataclass(frozen=True)
class Rule:
    """One threshold on one measurement: ``p95_ms < 300`` from ``http_req_duration: p(95)<300``."""

    measurement: str
    written: str  # as the user wrote it, key included
    op: str
    value: float

    def holds(self, observed: float) -> bool:
        return _OPS[self.op](observed, self.value)

    def judge(self, m: Measurement) -> Measurement:
        """``m`` judged by this rule (a measurement that is not ``ok`` stays as it is)."""
        if m.outcome != "ok":
            return m
        if m.value is None or math.isnan(m.value):
            return dataclasses.replace(m, outcome="no_data", threshold=self.written)
        unit = f" {m.unit}" if m.unit else ""
        shown = f"{m.name} = {m.value:.6g}{unit}, needs {self.op} {self.value:.6g}{unit}"
        if self.holds(m.value):
            return dataclasses.replace(m, threshold=self.written)
        return dataclasses.replace(m, outcome="fail", threshold=self.written, reason=shown)


def parse_rules(thresholds: Mapping[str, Sequence[str] | str]) -> tuple[Rule, ...]:
    """Every threshold of a soak as rules; :class:`~redline.DeployError` on the first bad one.

    >>> [(r.measurement, r.op, r.value) for r in parse_rules({"http_req_duration": "p(95)<0.3s"})]
    [('p95_ms', '<', 300.0)]
    """
    from redline.load.thresholds import METRICS, parse_threshold

    rules: list[Rule] = []
    for key, expressions in thresholds.items():
        for expression in [expressions] if isinstance(expressions, str) else expressions:
            written = f"{key}: {expression}"
            if key.split("{")[0].strip() in METRICS:
                try:
                    t = parse_threshold(key, expression)
                except UsageError as exc:
                    raise DeployError(
                        f"soak threshold '{written}': {exc.message}", hint=exc.hint
                    ) from None
                rules.append(
                    Rule(_load_name(t.metric, t.stat, t.tags, written), written, t.op, t.value)
                )
            else:
                rules.append(plain_rule(key, str(expression), written))
    return tuple(rules)


def plain_rule(name: str, expression: str, written: str | None = None) -> Rule:
    """``OP VALUE[unit]`` on the measurement ``name`` (durations in ms, ``%`` a fraction)."""
    written = written or f"{name}: {expression}"
    match = _PLAIN.match(expression) if isinstance(expression, str) else None
    if match is None or match.group("unit") not in _SCALE:
        raise DeployError(
            f"soak threshold '{written}' is not a threshold expression",
            hint=f"on a measurement write OP VALUE, e.g. {_PLAIN_FORMS}; on a load metric "
            "k6's form, e.g. http_req_duration: p(95)<300",
        )
    value = float(match.group("value")) * _SCALE[match.group("unit")]
    return Rule(name, written, match.group("op"), value)


def _load_name(metric: str, stat: str, tags: tuple[tuple[str, str], ...], written: str) -> str:
    if tags:
        raise DeployError(
            f"soak threshold '{written}': the soak measures the release as a whole",
            hint="drop the {name:...} tag",
        )
    if metric == "http_req_duration":
        if stat.startswith("p("):
            return f"p{stat[2:-1]}_ms"
        return _STAT_NAMES[stat]
    if metric == "http_req_failed":
        return "error_rate"
    raise DeployError(
        f"soak threshold '{written}': the soak measures http_req_duration and "
        f"http_req_failed, not {metric}",
        hint="write e.g. http_req_duration: p(95)<300, http_req_failed: rate<0.01",
    )


@dataclass(frozen=True)
class Policy:
    """How measurements decide: the limits, and what no data and inconclusive mean."""

    failure_limit: int = 1
    consecutive_error_limit: int = 4
    no_data: NoData = "inconclusive"
    inconclusive: OnInconclusive = "hold"
    shadow: frozenset[str] = frozenset()  # check ids, measurement or judge metric names

    def __post_init__(self) -> None:
        for name in ("failure_limit", "consecutive_error_limit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DeployError(
                    f"verify policy: {name} must be a whole number >= 0; got {value!r}"
                )
        _choice("no_data", self.no_data, ("fail", "pass", "inconclusive"))
        _choice("inconclusive", self.inconclusive, ("hold", "rollback", "continue"))
        shadow = {self.shadow} if isinstance(self.shadow, str) else self.shadow
        object.__setattr__(self, "shadow", frozenset(shadow))

    def action(self, decision: Decision) -> Action:
        """What a decision leads to: promote, roll back, or hold for a person."""
        if decision == "inconclusive":
            return _ON_INCONCLUSIVE[self.inconclusive]
        return "promote" if decision == "pass" else "rollback"

    def is_shadow(self, *names: str) -> bool:
        return any(n in self.shadow for n in names)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "shadow": sorted(self.shadow)}


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise DeployError(
            f"verify policy: {name} must be one of {', '.join(allowed)}; got {value!r}"
        )


@dataclass(frozen=True)
class Finding:
    """One reason behind a decision: the check, what it saw, against what, by which counter.

    ``decides`` is False for what was recorded but did not decide (a shadow check, a
    failure within the limit, a no-data policy of ``pass``).
    """

    check: str
    outcome: str  # fail | error | no_data | inconclusive | pass
    message: str
    value: float | None = None
    unit: str = ""
    threshold: str | None = None
    window: float | None = None
    samples: int | None = None
    counter: str | None = None
    decides: bool = True

    def line(self) -> str:
        """One line for a person: ``p95_ms: p95_ms = 420 ms, needs < 300 ms (failed 2 > ...)``."""
        return f"{self.check}: {self.message}" + (f" ({self.counter})" if self.counter else "")

    def to_dict(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        window = doc.pop("window")
        return {**doc, "window_s": None if window is None else round(window, 3)}


def decide(findings: Sequence[Finding]) -> Decision:
    outcomes = {f.outcome for f in findings if f.decides}
    if "fail" in outcomes:
        return "fail"
    if outcomes & {"error", "no_data", "inconclusive"}:
        return "inconclusive"
    return "pass"


def no_data(check: str, what: str, policy: Policy) -> Finding:
    outcome = {"fail": "fail", "pass": "pass", "inconclusive": "no_data"}[policy.no_data]
    return Finding(
        check,
        outcome,
        f"{what}: no data (no_data policy: {policy.no_data})",
        counter=f"no_data policy: {policy.no_data}",
        decides=policy.no_data != "pass",
    )


def exc_reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}".rstrip(": ")


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
        if seam_ok and _SEAM in counts:
            counts[_SEAM].consecutive = 0
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
        if not (len(measured) == 1 and measured[0].name == _SEAM):
            seam_ok = True
            final.pop(_SEAM, None)
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
        return [Measurement(_SEAM, None, outcome="error", reason=exc_reason(exc))]
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
