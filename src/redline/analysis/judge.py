"""The canary judge: is the canary at least as good as the baseline it runs beside?

Deploy verification hands it, for each metric, values measured on the baseline and on the
canary over the same window (say p99 latency every 10 s on each), and gets back
``pass | marginal | fail`` with a score and the evidence per metric, as Kayenta does for
Spinnaker:

>>> base = [100, 102, 98, 101, 99, 100, 103, 97, 100, 101]
>>> slow = [130, 128, 133, 131, 129, 127, 132, 130, 131, 129]
>>> ok = judge([MetricInput("p99_ms", base, base, critical=True),
...             MetricInput("errors", [1, 0, 1, 0, 0, 1], [0, 1, 0, 0, 1, 0])])
>>> ok.result, ok.score
('pass', 100.0)
>>> judge([MetricInput("p99_ms", base, slow, critical=True)]).result
'fail'

How it decides:

- Each metric is compared with :func:`~redline.analysis.compare.compare_samples` using its
  ``tolerance`` as the minimum effect: it **fails** only when it is significantly worse by
  more than the tolerance; it **passes** when unchanged or better; it is
  **inconclusive** when the values are too few or too noisy to say (counted as a pass in
  the score, as Kayenta counts "no significant difference", but see below).
- The score is the weighted share of scored metrics that pass, 0-100. At least
  ``pass_score`` (95): pass; at least ``marginal_score`` (75): marginal; below: fail.
- A critical metric that fails fails the judgement whatever the score. A critical metric
  that is inconclusive holds the judgement at marginal: a rollout should wait for more
  data rather than promote on a guess.
- A metric with no values on a side follows ``no_data``: ``"fail"`` (counts as a failure;
  a critical one fails the judgement), ``"pass"`` (counts as a pass, stated in the
  evidence) or ``"inconclusive"`` (the default: left out of the score, and the judgement
  is at most marginal, since "could not measure" is never a pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from redline.analysis.compare import (
    ALPHA,
    Direction,
    MetricComparison,
    MetricSamples,
    compare_many,
)

__all__ = ["Judgement", "MetricInput", "MetricJudgement", "judge"]

Outcome = Literal["pass", "fail", "inconclusive", "no_data"]
Result = Literal["pass", "marginal", "fail"]
NoData = Literal["fail", "pass", "inconclusive"]
_NO_DATA = ("fail", "pass", "inconclusive")


@dataclass(frozen=True)
class MetricInput:
    """One metric for :func:`judge`: values on the baseline and on the canary.

    ``tolerance`` is the relative change that is still acceptable (0.1: up to 10 % worse);
    ``tolerance_abs`` an absolute one in the metric's unit (a change must exceed both to
    count). ``critical``: a failure of this metric fails the judgement outright.
    """

    name: str
    baseline: Sequence[float]
    canary: Sequence[float]
    direction: Direction = "lower"
    tolerance: float = 0.05
    critical: bool = False
    tolerance_abs: float = 0.0
    weight: float = 1.0
    unit: str | None = None


@dataclass(frozen=True)
class MetricJudgement:
    """The evidence for one metric: its outcome, how it counted, and the comparison."""

    name: str
    outcome: Outcome
    counted_as: Literal["pass", "fail", "excluded"]
    critical: bool
    weight: float
    reason: str
    comparison: MetricComparison

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "outcome": self.outcome,
            "counted_as": self.counted_as,
            "critical": self.critical,
            "weight": self.weight,
            "reason": self.reason,
            "comparison": self.comparison.to_dict(),
        }


@dataclass(frozen=True)
class Judgement:
    """The canary's verdict, its score (None when no metric could be scored) and why."""

    result: Result
    score: float | None
    reason: str
    metrics: tuple[MetricJudgement, ...]
    pass_score: float
    marginal_score: float
    no_data: NoData
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "result": self.result,
            "score": self.score,
            "reason": self.reason,
            "pass_score": self.pass_score,
            "marginal_score": self.marginal_score,
            "no_data": self.no_data,
            "alpha": self.alpha,
            "metrics": [m.to_dict() for m in self.metrics],
        }


def _outcome(c: MetricComparison) -> Outcome:
    if c.n_baseline == 0 or c.n_candidate == 0:
        return "no_data"
    if c.verdict in ("regressed", "changed"):
        return "fail"
    if c.verdict == "inconclusive":
        return "inconclusive"
    return "pass"


def judge(
    metrics: Sequence[MetricInput],
    *,
    no_data: NoData = "inconclusive",
    pass_score: float = 95.0,
    marginal_score: float = 75.0,
    alpha: float = ALPHA,
    fdr: float | None = None,
) -> Judgement:
    """Judge a canary against its baseline over several metrics (see the module doc).

    ``fdr``: hold false discoveries down across the metrics (Benjamini-Hochberg at this
    level); off by default, since a canary has few metrics and each is chosen on purpose.
    """
    if no_data not in _NO_DATA:
        raise ValueError(f"no_data must be one of {', '.join(_NO_DATA)}; got {no_data!r}")
    if not 0.0 <= marginal_score <= pass_score <= 100.0:
        raise ValueError("need 0 <= marginal_score <= pass_score <= 100")
    if not metrics:
        raise ValueError("judge needs at least one metric")
    for m in metrics:
        if m.tolerance < 0 or m.tolerance_abs < 0 or m.weight <= 0:
            raise ValueError(f"metric {m.name!r}: tolerances >= 0 and a weight > 0, please")
    compared = compare_many(
        [
            MetricSamples(
                m.name, m.baseline, m.canary, m.direction, m.unit, m.tolerance, m.tolerance_abs
            )
            for m in metrics
        ],
        fdr=fdr,
        alpha=alpha,
    )
    evidence: list[MetricJudgement] = []
    for m, c in zip(metrics, compared.metrics, strict=True):
        outcome = _outcome(c)
        if outcome == "no_data":
            counted: Literal["pass", "fail", "excluded"] = (
                "excluded" if no_data == "inconclusive" else no_data
            )
            reason = f"{c.reason} (no-data policy: {no_data})"
        else:
            counted = "fail" if outcome == "fail" else "pass"
            reason = c.reason
        evidence.append(MetricJudgement(m.name, outcome, counted, m.critical, m.weight, reason, c))
    result, score, why = _verdict(evidence, pass_score, marginal_score)
    return Judgement(
        result, score, why, tuple(evidence), pass_score, marginal_score, no_data, alpha
    )


def _verdict(
    evidence: list[MetricJudgement], pass_score: float, marginal_score: float
) -> tuple[Result, float | None, str]:
    scored = [e for e in evidence if e.counted_as != "excluded"]
    total = sum(e.weight for e in scored)
    passed = sum(e.weight for e in scored if e.counted_as == "pass")
    score = round(100.0 * passed / total, 2) if total else None
    critical_failed = [e.name for e in evidence if e.critical and e.counted_as == "fail"]
    if critical_failed:
        return "fail", score, f"critical metric failed: {', '.join(critical_failed)}"
    if score is None:
        return "marginal", None, "no metric could be scored (no data): cannot promote"
    failed = [e.name for e in scored if e.counted_as == "fail"]
    failed_text = f" (failed: {', '.join(failed)})" if failed else ""
    if score < marginal_score:
        return "fail", score, f"score {score:g} below {marginal_score:g}{failed_text}"
    if score < pass_score:
        return "marginal", score, f"score {score:g} below {pass_score:g}{failed_text}"
    holds = [
        e.name
        for e in evidence
        if (e.critical and e.outcome == "inconclusive") or e.counted_as == "excluded"
    ]
    if holds:
        return (
            "marginal",
            score,
            f"score {score:g}, but undecided: {', '.join(holds)} (inconclusive critical "
            "metric or no data); wait for more data",
        )
    return "pass", score, f"score {score:g} of at least {pass_score:g}{failed_text}"
