"""Measurements, thresholds, and the policy that turns them into a decision.

Shared by the smoke and soak phases (public through ``redline.deploy.verify``). A
:class:`Measurement` is one value a phase saw (p95 latency, error rate, a check's
outcome...); a :class:`Rule` is one threshold on one measurement, written as a load
scenario's are (k6's syntax) or as ``OP VALUE`` on any measurement by name; the
:class:`Policy` counts failures and errors per measurement, Argo Rollouts' way, and every
:class:`Finding` names the check, the value, the threshold, the window, the samples and the
counter that decided.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from redline._errors import DeployError, UsageError

__all__ = [
    "SEAM",
    "Action",
    "Clock",
    "Decision",
    "Finding",
    "Measure",
    "Measurement",
    "Policy",
    "Rule",
    "Sleep",
    "decide",
    "exc_reason",
    "no_data",
    "parse_rules",
    "plain_rule",
]

Decision = Literal["pass", "fail", "inconclusive"]
Action = Literal["promote", "rollback", "hold"]
NoData = Literal["fail", "pass", "inconclusive"]
OnInconclusive = Literal["hold", "rollback", "continue"]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
SEAM = "(measure)"  # the name a raising measurement seam is counted under
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
