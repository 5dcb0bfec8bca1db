"""Compare a candidate with its baseline, metric by metric, and say whether it got worse.

>>> base = [101, 99, 100, 102, 98, 100, 101, 99, 100, 100]
>>> cand = [111, 109, 110, 112, 108, 110, 111, 109, 110, 110]
>>> c = compare_samples(base, cand, metric="p99_ms")
>>> c.verdict, round(c.change_pct, 1)
('regressed', 10.0)

How a verdict is reached (``docs/regressions.md`` says it in plain words):

1. Fewer runs on a side than the rank test needs to ever reach ``p < alpha`` (5 a side at
   the default alpha of 0.01): ``inconclusive``, with how many runs would decide. Except
   with 3 or more baseline runs (a CI gate's usual case: one to four candidate runs against
   the last five good ones): then Student's t on the log scale decides in place of steps 2
   and 3 (:func:`stats.small_sample_test`; with one candidate run, a prediction interval).
2. The Mann-Whitney test says whether the two sides differ (``p < alpha``; in
   :func:`compare_many` also the Benjamini-Hochberg q-value ``<= fdr``).
3. The size of the change is the Hodges-Lehmann shift (of log values when every value is
   positive, so a change is a ratio), with the Moses interval at ``1 - alpha``.
4. Significant and at least the minimum effect (relative *and* absolute) in the worse
   direction: ``regressed``; in the better direction: ``improved``; for a metric with no
   direction: ``changed``. Significant but smaller: ``unchanged`` (real but too small to
   matter).
5. Not significant: ``unchanged`` when the 90 % interval of the shift lies within the
   minimum effect (an equivalence test: it says "unchanged" for a change of the minimum
   size at most 5 % of the time); otherwise ``inconclusive``, with the runs per side that
   would decide (from the noise the runs show, at 80 % power).

A single run each (latency histograms) cannot tell a change from run-to-run noise:
:func:`compare_distributions` compares the distributions and says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from redline._errors import DataError
from redline.analysis import stats

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram
    from numpy.typing import NDArray

__all__ = [
    "ALPHA",
    "DECISION_POWER",
    "FDR",
    "MIN_EFFECT_REL",
    "Comparison",
    "DistributionComparison",
    "MetricComparison",
    "MetricSamples",
    "compare_distributions",
    "compare_many",
    "compare_samples",
]

Direction = Literal["lower", "higher", "none"]
Verdict = Literal["improved", "unchanged", "regressed", "inconclusive", "changed"]

ALPHA = 0.01  # a single unchanged metric is called regressed at most 0.5 % of the time
MIN_EFFECT_REL = 0.05  # smaller changes do not fail a build, however certain
FDR = 0.05  # across many metrics: at most 5 % of the flagged ones are false, on average
EQUIVALENCE_ALPHA = 0.05  # "unchanged" is wrong at most this often for a minimum-size change
DECISION_POWER = 0.8  # "runs needed" would decide this often
SMALL_SAMPLE_MIN_BASELINE = 3  # below the rank test's floor, Student's t needs this many
DIRECTIONS = ("lower", "higher", "none")


@dataclass(frozen=True)
class MetricSamples:
    """One metric's values on both sides, for :func:`compare_many`; ``None`` settings take
    the defaults given to :func:`compare_many`."""

    metric: str
    baseline: Sequence[float]
    candidate: Sequence[float]
    direction: Direction | None = None
    unit: str | None = None
    min_effect_rel: float | None = None
    min_effect_abs: float | None = None


@dataclass(frozen=True)
class _Measured:
    """What the data say, before any verdict."""

    n_baseline: int
    n_candidate: int
    dropped_baseline: int
    dropped_candidate: int
    baseline: float | None  # medians
    candidate: float | None
    scale: str  # "log" | "linear"
    p_value: float | None
    test: str | None
    change_abs: float | None
    interval_abs: tuple[float, float] | None
    change_rel: float | None
    interval_rel: tuple[float, float] | None
    noise_sd: float | None  # on the working scale (log: about the relative noise)
    equivalence: tuple[float, float] | None = None  # working scale, 1 - 2 x EQUIVALENCE_ALPHA
    prediction: bool = False  # too few runs for the rank test: Student's t decided


@dataclass(frozen=True)
class MetricComparison:
    """One metric compared: the verdict and every figure it rests on.

    ``change_rel`` is a fraction (0.10 = 10 % larger than the baseline), ``change_abs`` in
    the metric's unit; their intervals hold the true shift with probability
    ``confidence``. ``equivalence_interval`` (90 %; relative on the log scale, in the
    metric's unit otherwise) is what ``unchanged`` is decided on when nothing is
    significant: it must lie within the minimum effect. ``runs_needed`` (runs per side)
    is set when the verdict is ``inconclusive`` and more runs would settle it.
    """

    metric: str
    verdict: Verdict
    reason: str
    direction: Direction
    unit: str | None
    baseline: float | None
    candidate: float | None
    change_abs: float | None
    interval_abs: tuple[float, float] | None
    change_rel: float | None
    interval_rel: tuple[float, float] | None
    confidence: float
    p_value: float | None
    q_value: float | None
    significant: bool
    test: str | None
    scale: str
    n_baseline: int
    n_candidate: int
    dropped_baseline: int
    dropped_candidate: int
    alpha: float
    min_effect_rel: float
    min_effect_abs: float
    noise_sd: float | None
    power: float | None
    runs_needed: int | None
    equivalence_interval: tuple[float, float] | None = None

    @property
    def change_pct(self) -> float | None:
        """The relative change in percent (None when the baseline is 0)."""
        return None if self.change_rel is None else 100.0 * self.change_rel

    def more_runs(self) -> dict[str, int] | None:
        """How many more runs each side needs to reach :attr:`runs_needed`."""
        if self.runs_needed is None:
            return None
        return {
            "baseline": max(0, self.runs_needed - self.n_baseline),
            "candidate": max(0, self.runs_needed - self.n_candidate),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (percentages for relative figures; null for unknown)."""
        return {
            "metric": self.metric,
            "verdict": self.verdict,
            "reason": self.reason,
            "direction": self.direction,
            "unit": self.unit,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "change_pct": _pct(self.change_rel),
            "interval": _pair(self.interval_rel, pct=True),
            "change_abs": self.change_abs,
            "interval_abs": _pair(self.interval_abs),
            "equivalence_interval": _pair(self.equivalence_interval, pct=self.scale == "log"),
            "confidence": self.confidence,
            "p_value": self.p_value,
            "q_value": self.q_value,
            "significant": self.significant,
            "test": self.test,
            "scale": self.scale,
            "n_baseline": self.n_baseline,
            "n_candidate": self.n_candidate,
            "dropped_baseline": self.dropped_baseline,
            "dropped_candidate": self.dropped_candidate,
            "alpha": self.alpha,
            "min_effect_pct": 100.0 * self.min_effect_rel,
            "min_effect_abs": self.min_effect_abs,
            "noise_pct": _pct(self.noise_sd) if self.scale == "log" else None,
            "noise_sd": self.noise_sd,
            "power": self.power,
            "runs_needed": self.runs_needed,
            "more_runs": self.more_runs(),
        }


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 4)


def _pair(pair: tuple[float, float] | None, *, pct: bool = False) -> list[float | None] | None:
    if pair is None:
        return None
    out: list[float | None] = []
    for v in pair:
        if math.isinf(v) or math.isnan(v):
            out.append(None)
        else:
            out.append(round(100.0 * v, 4) if pct else v)
    return out


@dataclass(frozen=True)
class Comparison:
    """Every metric of one comparison, with the false-discovery setting applied."""

    metrics: tuple[MetricComparison, ...]
    alpha: float
    fdr: float | None
    tests: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def regressed(self) -> tuple[MetricComparison, ...]:
        return tuple(m for m in self.metrics if m.verdict == "regressed")

    def fdr_dict(self) -> dict[str, Any]:
        if self.fdr is None:
            return {"method": "none", "q": None, "tests": self.tests}
        return {"method": "benjamini-hochberg", "q": self.fdr, "tests": self.tests}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "alpha": self.alpha,
            "fdr": self.fdr_dict(),
            "counts": dict(self.counts),
            "metrics": [m.to_dict() for m in self.metrics],
        }


def _clean(values: Sequence[float], metric: str, side: str) -> tuple[NDArray[np.float64], int]:
    """Finite values as an array, and how many NaN (missing) ones were dropped."""
    try:
        arr = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise DataError(
            f"metric {metric!r}: the {side} has a value that is not a number",
            hint="pass numbers only; leave a missing value empty (NaN)",
        ) from None
    missing = np.isnan(arr)
    if np.any(np.isinf(arr)):
        raise DataError(
            f"metric {metric!r}: the {side} has an infinite value",
            hint="remove it, or leave the value empty if it was not measured",
        )
    return arr[~missing], int(missing.sum())


def _measure(
    metric: str, baseline: Sequence[float], candidate: Sequence[float], *, alpha: float
) -> _Measured:
    x, dropped_x = _clean(baseline, metric, "baseline")
    y, dropped_y = _clean(candidate, metric, "candidate")
    positive = bool(x.size and y.size and np.all(x > 0) and np.all(y > 0))
    scale = "log" if positive else "linear"
    base_median = float(np.median(x)) if x.size else None
    cand_median = float(np.median(y)) if y.size else None
    if not x.size or not y.size:
        present = x if x.size else y
        scale = "log" if present.size and np.all(present > 0) else "linear"
        lone_noise = None
        if present.size > 1:
            lone_noise = stats.robust_sd(np.log(present) if scale == "log" else present)
        return _Measured(
            x.size, y.size, dropped_x, dropped_y, base_median, cand_median, scale,
            None, None, None, None, None, None, lone_noise,
        )  # fmt: skip
    few = min(x.size, y.size) < stats.min_runs_for_significance(alpha)
    if few and x.size >= SMALL_SAMPLE_MIN_BASELINE:
        return _small_sample(x, y, dropped_x, dropped_y, scale, alpha=alpha)
    test = stats.mann_whitney(x, y)
    levels = [1.0 - alpha, 1.0 - 2.0 * EQUIVALENCE_ALPHA]
    if positive:
        lx, ly = np.log(x), np.log(y)
        (shift,) = stats.hodges_lehmann_intervals(x, y, levels[:1])
        log_shift, eq = stats.hodges_lehmann_intervals(lx, ly, levels)
        change_rel: float | None = math.expm1(log_shift.estimate)
        interval_rel: tuple[float, float] | None = (
            stats.expm1(log_shift.low),
            stats.expm1(log_shift.high),
        )
        noise: float | None = stats.robust_sd(lx, ly)
    else:
        shift, eq = stats.hodges_lehmann_intervals(x, y, levels)
        noise = stats.robust_sd(x, y)
        if base_median:
            scale_by = abs(base_median)
            change_rel = shift.estimate / scale_by
            interval_rel = (shift.low / scale_by, shift.high / scale_by)
        else:
            change_rel, interval_rel = None, None
    return _Measured(
        x.size, y.size, dropped_x, dropped_y, base_median, cand_median, scale,
        test.p_value, f"mann-whitney ({test.method})",
        shift.estimate, (shift.low, shift.high), change_rel, interval_rel, noise,
        (eq.low, eq.high),
    )  # fmt: skip


def _small_sample(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    dropped_x: int,
    dropped_y: int,
    scale: str,
    *,
    alpha: float,
) -> _Measured:
    """Too few runs on a side for the rank test to ever decide, but three or more baseline
    runs: Student's t on the log scale (:func:`stats.small_sample_test`); with one
    candidate run, that is a prediction interval."""
    log = scale == "log"
    earlier, later = (np.log(x), np.log(y)) if log else (x, y)
    pred = stats.small_sample_test(
        earlier, later, confidence=1.0 - alpha, equivalence_confidence=1.0 - 2 * EQUIVALENCE_ALPHA
    )
    how = (
        f"prediction interval (t, {x.size} baseline runs vs 1)"
        if y.size == 1
        else f"student t ({x.size} vs {y.size} runs: too few for the rank test)"
    )
    centre = float(np.exp(earlier.mean())) if log else float(earlier.mean())
    rel: tuple[float, float] | None
    change_rel: float | None
    if log:
        low, high = stats.expm1(pred.interval[0]), stats.expm1(pred.interval[1])
        rel, change_rel = (low, high), math.expm1(pred.shift)
        change_abs = centre * math.expm1(pred.shift)
        interval_abs = (centre * low, centre * high)
    else:
        change_abs = pred.shift
        interval_abs = pred.interval
        change_rel = change_abs / abs(centre) if centre else None
        rel = (interval_abs[0] / abs(centre), interval_abs[1] / abs(centre)) if centre else None
    return _Measured(
        x.size, y.size, dropped_x, dropped_y, float(np.median(x)), float(np.median(y)), scale,
        pred.p_value, how,
        change_abs, interval_abs, change_rel, rel, pred.noise_sd, pred.equivalence,
        prediction=True,
    )  # fmt: skip


def _effect_on_scale(m: _Measured, min_rel: float, min_abs: float) -> float:
    """The minimum effect on the scale the noise is measured on (log or the metric's)."""
    base = abs(m.baseline) if m.baseline else 0.0
    if m.scale == "log":
        parts = [math.log1p(min_rel)]
        if base:
            parts.append(math.log1p(min_abs / base))
        return max(parts)
    return max(min_rel * base, min_abs)


def _estimate_on_scale(m: _Measured) -> float:
    if m.scale == "log" and m.change_rel is not None:
        return math.log1p(m.change_rel)
    return m.change_abs or 0.0


def _fmt_pct(value: float) -> str:
    return f"{100.0 * value:+.1f} %"


def _decide(
    m: _Measured,
    *,
    metric: str,
    direction: Direction,
    unit: str | None,
    alpha: float,
    min_rel: float,
    min_abs: float,
    significant_after_fdr: bool | None = None,
    q_value: float | None = None,
) -> MetricComparison:
    floor = stats.min_runs_for_significance(alpha)
    effect = _effect_on_scale(m, min_rel, min_abs)
    min_text = _fmt_min(min_rel, min_abs, unit)
    power: float | None = None
    runs: int | None = None
    significant = False

    smallest = min(m.n_baseline, m.n_candidate)

    def needed() -> int:
        return max(floor, _runs(effect, m.noise_sd, alpha))

    if m.n_baseline == 0 or m.n_candidate == 0:
        side = "baseline" if m.n_baseline == 0 else "candidate"
        verdict: Verdict = "inconclusive"
        runs = needed()
        reason = f"no {side} values: nothing to compare"
    elif min(m.n_baseline, m.n_candidate) < floor and not m.prediction:
        verdict = "inconclusive"
        runs = max(floor, needed())
        reason = (
            f"too few runs ({m.n_baseline} baseline, {m.n_candidate} candidate): at alpha "
            f"{alpha:g} the rank test needs at least {floor} a side to ever decide; "
            f"about {runs} a side would decide"
        )
    else:
        assert m.p_value is not None
        significant = m.p_value < alpha
        if significant_after_fdr is not None:
            significant = significant and significant_after_fdr
        est = _estimate_on_scale(m)
        rel_ok = m.change_rel is None or abs(m.change_rel) >= min_rel
        abs_ok = abs(m.change_abs or 0.0) >= min_abs
        meaningful = rel_ok and abs_ok and est != 0.0
        change = _fmt_change(m, unit)
        if m.noise_sd is not None and effect > 0 and not m.prediction:  # rank test's power
            power = stats.power(effect, m.noise_sd, m.n_baseline, m.n_candidate, alpha=alpha)
        if significant and meaningful:
            verdict = _direction_verdict(direction, est)
            reason = f"{change}, significant (p={m.p_value:.2g}) and beyond {min_text}"
        elif significant:
            verdict = "unchanged"
            reason = f"{change} is real (p={m.p_value:.2g}) but within {min_text}"
        elif effect <= 0:
            verdict = "unchanged"
            reason = f"no significant change ({change}, p={m.p_value:.2g})"
        elif meaningful:
            verdict = "inconclusive"
            runs = max(_runs(abs(est), m.noise_sd, alpha), smallest + 1)
            reason = (
                f"{change} is not significant (p={m.p_value:.2g}): it may be noise; "
                f"about {runs} runs a side would decide"
            )
        elif m.equivalence is not None and -effect < m.equivalence[0] <= m.equivalence[1] < effect:
            verdict = "unchanged"
            reason = (
                f"no significant change ({change}, p={m.p_value:.2g}); the "
                f"{1 - 2 * EQUIVALENCE_ALPHA:.0%} interval rules out {min_text}"
            )
        else:
            verdict = "inconclusive"
            runs = max(
                _runs(effect, m.noise_sd, alpha),
                _runs(effect - abs(est), m.noise_sd, EQUIVALENCE_ALPHA, sides=1),
                smallest + 1,
            )
            reason = (
                f"no significant change ({change}, p={m.p_value:.2g}), but too noisy to rule "
                f"out {min_text}; about {runs} runs a side would decide"
            )
    return MetricComparison(
        metric=metric,
        verdict=verdict,
        reason=reason,
        direction=direction,
        unit=unit,
        baseline=m.baseline,
        candidate=m.candidate,
        change_abs=m.change_abs,
        interval_abs=m.interval_abs,
        change_rel=m.change_rel,
        interval_rel=m.interval_rel,
        confidence=1.0 - alpha,
        p_value=m.p_value,
        q_value=q_value,
        significant=significant,
        test=m.test,
        scale=m.scale,
        n_baseline=m.n_baseline,
        n_candidate=m.n_candidate,
        dropped_baseline=m.dropped_baseline,
        dropped_candidate=m.dropped_candidate,
        alpha=alpha,
        min_effect_rel=min_rel,
        min_effect_abs=min_abs,
        noise_sd=m.noise_sd,
        power=power,
        runs_needed=runs,
        equivalence_interval=_equivalence_out(m),
    )


def _equivalence_out(m: _Measured) -> tuple[float, float] | None:
    """The equivalence interval as reported: relative (a fraction) on the log scale."""
    if m.equivalence is None or m.scale != "log":
        return m.equivalence
    return (stats.expm1(m.equivalence[0]), stats.expm1(m.equivalence[1]))


def _runs(effect: float, noise: float | None, alpha: float, *, sides: int = 2) -> int:
    """Runs per side that find ``effect`` (working scale) with :data:`DECISION_POWER`."""
    floor = stats.min_runs_for_significance(alpha)
    if noise is None or effect <= 0:
        return floor
    return stats.runs_needed(effect, noise, alpha=alpha, power=DECISION_POWER, sides=sides)


def _direction_verdict(direction: Direction, est: float) -> Verdict:
    if direction == "none":
        return "changed"
    worse = est > 0 if direction == "lower" else est < 0
    return "regressed" if worse else "improved"


def _fmt_min(min_rel: float, min_abs: float, unit: str | None) -> str:
    parts = []
    if min_rel:
        parts.append(f"{100.0 * min_rel:g} %")
    if min_abs:
        parts.append(f"{min_abs:g}{' ' + unit if unit else ''}")
    return "the minimum effect " + (" and ".join(parts) if parts else "0")


def _fmt_change(m: _Measured, unit: str | None) -> str:
    if m.change_rel is not None:
        return f"change {_fmt_pct(m.change_rel)}"
    return f"change {m.change_abs or 0.0:+g}{' ' + unit if unit else ''}"


def _check_settings(direction: str, alpha: float, min_rel: float, min_abs: float) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1; got {alpha!r}")
    if min_rel < 0 or min_abs < 0:
        raise ValueError("a minimum effect cannot be negative")


def compare_samples(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    metric: str,
    direction: Direction = "lower",
    unit: str | None = None,
    min_effect_rel: float = MIN_EFFECT_REL,
    min_effect_abs: float = 0.0,
    alpha: float = ALPHA,
) -> MetricComparison:
    """Compare one metric's candidate values (one per run) with its baseline values.

    ``direction``: ``lower`` is better (latency, errors), ``higher`` is better
    (throughput), ``none`` (only ``changed`` or ``unchanged``). A change must be at least
    ``min_effect_rel`` (a fraction of the baseline) *and* ``min_effect_abs`` (in the
    metric's unit) to count. Missing values (NaN) are dropped and counted; an infinite
    or non-numeric value raises :class:`~redline.DataError`.
    """
    _check_settings(direction, alpha, min_effect_rel, min_effect_abs)
    measured = _measure(metric, baseline, candidate, alpha=alpha)
    return _decide(
        measured,
        metric=metric,
        direction=direction,
        unit=unit,
        alpha=alpha,
        min_rel=min_effect_rel,
        min_abs=min_effect_abs,
    )


def compare_many(
    pairs: Iterable[MetricSamples] | Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    fdr: float | None = FDR,
    alpha: float = ALPHA,
    direction: Direction = "lower",
    min_effect_rel: float = MIN_EFFECT_REL,
    min_effect_abs: float = 0.0,
) -> Comparison:
    """Compare many metrics at once, holding the false discoveries down across them.

    A metric counts as changed only when its own p-value is below ``alpha`` *and* its
    Benjamini-Hochberg q-value is at most ``fdr`` (``fdr=None``: no correction). With
    1,000 unchanged metrics that keeps the expected number of false regressions well
    under one; with one metric it is :func:`compare_samples`.
    """
    items = _items(pairs)
    if fdr is not None and not 0.0 < fdr < 1.0:
        raise ValueError(f"fdr must be between 0 and 1, or None; got {fdr!r}")
    settings = []
    for item in items:
        d = item.direction or direction
        rel = min_effect_rel if item.min_effect_rel is None else item.min_effect_rel
        ab = min_effect_abs if item.min_effect_abs is None else item.min_effect_abs
        _check_settings(d, alpha, rel, ab)
        settings.append((d, rel, ab))
    measured = [_measure(i.metric, i.baseline, i.candidate, alpha=alpha) for i in items]
    tested = [k for k, m in enumerate(measured) if m.p_value is not None]
    q_values: dict[int, float] = {}
    if fdr is not None and tested:
        adjusted = stats.benjamini_hochberg([measured[k].p_value or 0.0 for k in tested])
        q_values = dict(zip(tested, adjusted, strict=True))
    results = []
    for k, (item, m) in enumerate(zip(items, measured, strict=True)):
        d, rel, ab = settings[k]
        q = q_values.get(k)
        results.append(
            _decide(
                m,
                metric=item.metric,
                direction=d,
                unit=item.unit,
                alpha=alpha,
                min_rel=rel,
                min_abs=ab,
                significant_after_fdr=None if q is None or fdr is None else q <= fdr,
                q_value=q,
            )
        )
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return Comparison(tuple(results), alpha, fdr, len(tested), counts)


def _items(
    pairs: Iterable[MetricSamples] | Mapping[str, tuple[Sequence[float], Sequence[float]]],
) -> list[MetricSamples]:
    if isinstance(pairs, Mapping):
        return [MetricSamples(name, base, cand) for name, (base, cand) in pairs.items()]
    items = list(pairs)
    names = [i.metric for i in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"metric named more than once: {', '.join(duplicates)}")
    return items


# -- one run each: latency distributions ----------------------------------------------------

_NOISE_NOTE = (
    "one run each: run-to-run noise is unknown, so this cannot separate a change from noise; "
    "the verdict is advisory (repeat the runs and compare their metrics to decide)"
)
_QUANTILES = (np.arange(200) + 0.5) / 200


@dataclass(frozen=True)
class DistributionComparison:
    """Two latency distributions (one run each) compared; the verdict is advisory.

    ``percentiles`` maps ``p50``/``p90``/``p99``/``p999`` to (baseline, candidate,
    change as a fraction); ``shift_rel`` is the typical request's change (Hodges-Lehmann of
    log latencies); ``prob_larger`` the chance a random candidate request takes longer than
    a random baseline request (0.5: no difference); ``ks`` the largest gap between the two
    cumulative distributions.
    """

    metric: str
    verdict: Verdict
    reason: str
    direction: Direction
    unit: str
    count_baseline: int
    count_candidate: int
    percentiles: dict[str, tuple[float, float, float | None]]
    shift_rel: float | None
    prob_larger: float | None
    ks: float | None
    min_effect_rel: float
    advisory: bool = True
    noise_known: bool = False
    note: str = _NOISE_NOTE

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "verdict": self.verdict,
            "advisory": self.advisory,
            "noise_known": self.noise_known,
            "note": self.note,
            "reason": self.reason,
            "direction": self.direction,
            "unit": self.unit,
            "count_baseline": self.count_baseline,
            "count_candidate": self.count_candidate,
            "percentiles": {
                k: {"baseline": b, "candidate": c, "change_pct": _pct(ch)}
                for k, (b, c, ch) in self.percentiles.items()
            },
            "shift_pct": _pct(self.shift_rel),
            "prob_larger": self.prob_larger,
            "ks": self.ks,
            "min_effect_pct": 100.0 * self.min_effect_rel,
        }


def _histogram(value: str | bytes | HdrHistogram, side: str, metric: str) -> HdrHistogram:
    from redline.load.hist import decode

    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        try:
            return decode(value.strip())
        except Exception:
            raise DataError(
                f"histogram {metric!r}: the {side} is not an HdrHistogram in the standard encoding",
                hint="pass the text redline stores (it starts with HISTF...)",
            ) from None
    return value


def _buckets(hist: HdrHistogram) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Distinct values (the middle of each bucket, microseconds) and their counts."""
    counts = np.ctypeslib.as_array(hist.counts)[: hist.counts_len].astype(np.float64)
    index = np.flatnonzero(counts)
    values = np.empty(index.size, dtype=np.float64)
    for k, i in enumerate(index):
        low = hist.get_value_from_index(int(i))
        high = hist.get_highest_equivalent_value(low)
        values[k] = low + ((high - low + 1) >> 1)
    order = np.argsort(values)
    return values[order], counts[index][order]


def compare_distributions(
    baseline_hist: str | bytes | HdrHistogram,
    candidate_hist: str | bytes | HdrHistogram,
    *,
    metric: str,
    direction: Direction = "lower",
    min_effect_rel: float = MIN_EFFECT_REL,
) -> DistributionComparison:
    """Compare two latency distributions, one run each (HDR histograms, microseconds).

    Reports p50/p90/p99/p99.9 (milliseconds) and their changes, the shift of a typical
    request, the chance a candidate request takes longer, and the largest gap between the
    distributions. Thousands of requests in one run are not independent evidence of a
    change between runs (a run can be slow as a whole), so no p-value is given and the
    verdict is only advisory: ``regressed`` when the typical shift or a percentile moved
    by at least ``min_effect_rel`` the worse way.
    """
    _check_settings(direction, ALPHA, min_effect_rel, 0.0)
    b = _histogram(baseline_hist, "baseline", metric)
    c = _histogram(candidate_hist, "candidate", metric)
    nb, nc = int(b.get_total_count()), int(c.get_total_count())
    keys = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}
    if nb == 0 or nc == 0:
        side = "baseline" if nb == 0 else "candidate"
        return DistributionComparison(
            metric, "inconclusive", f"the {side} histogram holds no values", direction, "ms",
            nb, nc, {}, None, None, None, min_effect_rel,
        )  # fmt: skip
    bv = b.get_percentile_to_value_dict(list(keys.values()))
    cv = c.get_percentile_to_value_dict(list(keys.values()))
    percentiles: dict[str, tuple[float, float, float | None]] = {}
    for key, p in keys.items():
        base_ms, cand_ms = bv[p] / 1000.0, cv[p] / 1000.0
        percentiles[key] = (base_ms, cand_ms, cand_ms / base_ms - 1.0 if base_ms else None)
    xb, wb = _buckets(b)
    xc, wc = _buckets(c)
    qb = _weighted_quantiles(xb, wb)
    qc = _weighted_quantiles(xc, wc)
    shift = math.expm1(float(np.median(np.log(qc)[None, :] - np.log(qb)[:, None])))
    prob_larger, ks = _superiority(xb, wb, xc, wc)
    moves = {"typical request": shift} | {
        k: v[2] for k, v in percentiles.items() if k != "p999" and v[2] is not None
    }
    verdict, reason = _advisory(moves, direction, min_effect_rel)
    return DistributionComparison(
        metric, verdict, reason, direction, "ms", nb, nc, percentiles, shift,
        round(prob_larger, 6), round(ks, 6), min_effect_rel,
    )  # fmt: skip


def _weighted_quantiles(values: NDArray[np.float64], weights: NDArray[np.float64]) -> Any:
    cdf = np.cumsum(weights) / weights.sum()
    idx = np.searchsorted(cdf, _QUANTILES, side="left")
    return np.maximum(values[np.minimum(idx, values.size - 1)], 1.0)


def _superiority(
    xb: NDArray[np.float64], wb: NDArray[np.float64], xc: NDArray[np.float64], wc: Any
) -> tuple[float, float]:
    """P(candidate > baseline) + P(equal)/2, and the Kolmogorov-Smirnov distance."""
    grid = np.union1d(xb, xc)
    fb = np.zeros(grid.size)
    fc = np.zeros(grid.size)
    fb[np.searchsorted(grid, xb)] = wb / wb.sum()
    fc[np.searchsorted(grid, xc)] = wc / wc.sum()
    cb = np.cumsum(fb)
    below = cb - fb  # P(baseline < v)
    prob = float(np.sum(fc * (below + fb / 2.0)))
    ks = float(np.max(np.abs(cb - np.cumsum(fc))))
    return prob, ks


def _advisory(
    moves: Mapping[str, float | None], direction: Direction, min_rel: float
) -> tuple[Verdict, str]:
    worse: list[str] = []
    better: list[str] = []
    for name, change in moves.items():
        if change is None or abs(change) < min_rel:
            continue
        v = _direction_verdict(direction, change)
        (worse if v in ("regressed", "changed") else better).append(f"{name} {_fmt_pct(change)}")
    if worse:
        verdict: Verdict = "changed" if direction == "none" else "regressed"
        return verdict, f"advisory: {', '.join(worse)} (one run each, noise unknown)"
    if better:
        return "improved", f"advisory: {', '.join(better)} (one run each, noise unknown)"
    return "unchanged", f"advisory: every move within {100 * min_rel:g} % (one run each)"
