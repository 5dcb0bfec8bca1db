"""Deterministic synthetic series for the accuracy tests and the change point benchmark.

Every generator takes a seed (or a ``numpy.random.Generator``) and returns a float array, so
the tests and ``benchmarks/changepoints.py`` judge the detector on exactly the same series::

    >>> from redline.analysis.synthetic import step, gaussian
    >>> y = step(500, at=250, k_sigma=1.0, seed=7)      # 1-sigma step at index 250
    >>> noise = gaussian(500, seed=8)

Noise models (all with unit scale around ``level``): i.i.d. Gaussian, lognormal (latency-like,
right-skewed), Gaussian with a fraction of gross outliers, AR(1) with a given ``phi`` (scaled
so its marginal standard deviation is ``sigma``), and bimodal latency (a fast and a slow mode).
Signals added on top: a step of ``k_sigma`` standard deviations, a linear ramp, a variance
change; :func:`with_missing` blanks runs of points with NaN.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "NOISE",
    "ar1",
    "bimodal",
    "compare_trials",
    "gaussian",
    "lognormal",
    "make_rng",
    "noise",
    "outliers",
    "ramp",
    "spike",
    "step",
    "variance_change",
    "with_missing",
]

Seed = int | np.random.Generator
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def make_rng(seed: Seed) -> np.random.Generator:
    """A generator for ``seed``; a Generator passed in is used as it is."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def gaussian(n: int, *, seed: Seed, level: float = 100.0, sigma: float = 1.0) -> FloatArray:
    """i.i.d. Gaussian noise around ``level``."""
    return level + sigma * make_rng(seed).standard_normal(n)


def lognormal(n: int, *, seed: Seed, level: float = 100.0, shape: float = 0.5) -> FloatArray:
    """Right-skewed latency-like noise: ``level * exp(shape * Z)`` (median ``level``)."""
    return level * np.exp(shape * make_rng(seed).standard_normal(n))


def outliers(
    n: int,
    *,
    seed: Seed,
    level: float = 100.0,
    sigma: float = 1.0,
    fraction: float = 0.01,
    size: float = 20.0,
) -> FloatArray:
    """Gaussian noise where ``fraction`` of the points are gross outliers of ``size`` sigma
    (both signs, magnitude between ``size/2`` and ``size``)."""
    rng = make_rng(seed)
    y = level + sigma * rng.standard_normal(n)
    hit = rng.random(n) < fraction
    signs = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    y[hit] += (signs * sigma * size * rng.uniform(0.5, 1.0, n))[hit]
    return y


def ar1(
    n: int, *, seed: Seed, phi: float = 0.5, level: float = 100.0, sigma: float = 1.0
) -> FloatArray:
    """AR(1) noise ``e[t] = phi * e[t-1] + u[t]`` started in its stationary distribution, scaled
    so that its marginal standard deviation is ``sigma``."""
    rng = make_rng(seed)
    u = rng.standard_normal(n) * np.sqrt(1.0 - phi * phi)
    e = np.empty(n)
    prev = rng.standard_normal()
    for i in range(n):  # n is small (hundreds); a Python loop keeps it exact and obvious
        prev = phi * prev + u[i]
        e[i] = prev
    return level + sigma * e


def bimodal(
    n: int,
    *,
    seed: Seed,
    level: float = 100.0,
    slow: float = 1.5,
    slow_fraction: float = 0.2,
    sigma: float = 0.05,
) -> FloatArray:
    """Latency with two modes: most points near ``level``, ``slow_fraction`` near
    ``level * slow`` (a cache miss, a GC pause); each mode lognormal with ``sigma``."""
    rng = make_rng(seed)
    base = np.where(rng.random(n) < slow_fraction, level * slow, level)
    return base * np.exp(sigma * rng.standard_normal(n))


NOISE: dict[str, Callable[..., FloatArray]] = {
    "gaussian": gaussian,
    "lognormal": lognormal,
    "outliers": outliers,
    "ar1": ar1,
    "bimodal": bimodal,
}


def noise(kind: str, n: int, *, seed: Seed, **kw: Any) -> FloatArray:
    """Noise of one of the :data:`NOISE` kinds (``gaussian``, ``lognormal``, ``outliers``,
    ``ar1``, ``bimodal``)."""
    return NOISE[kind](n, seed=seed, **kw)


def step(
    n: int,
    *,
    at: int,
    k_sigma: float,
    seed: Seed,
    kind: str = "gaussian",
    sigma: float = 1.0,
    **kw: Any,
) -> FloatArray:
    """Noise of ``kind`` with a level shift of ``k_sigma * sigma`` from index ``at`` on."""
    y = noise(kind, n, seed=seed, **({"sigma": sigma} if kind != "lognormal" else {}), **kw)
    y[at:] += k_sigma * sigma
    return y


def ramp(
    n: int,
    *,
    start: int,
    end: int,
    total: float,
    seed: Seed,
    kind: str = "gaussian",
    **kw: Any,
) -> FloatArray:
    """Noise with a linear ramp: flat before ``start``, rising by ``total`` (in the noise's
    units) until ``end``, flat at the new level after."""
    y = noise(kind, n, seed=seed, **kw)
    i = np.arange(n, dtype=float)
    y += total * np.clip((i - start) / max(end - start, 1), 0.0, 1.0)
    return y


def variance_change(
    n: int, *, at: int, factor: float, seed: Seed, level: float = 100.0, sigma: float = 1.0
) -> FloatArray:
    """Gaussian noise whose standard deviation is multiplied by ``factor`` from ``at`` on."""
    y = gaussian(n, seed=seed, level=0.0, sigma=sigma)
    y[at:] *= factor
    return level + y


def spike(
    n: int, *, at: int, k_sigma: float, seed: Seed, level: float = 100.0, sigma: float = 1.0
) -> FloatArray:
    """Gaussian noise with one point ``k_sigma`` out of band at index ``at``."""
    y = gaussian(n, seed=seed, level=level, sigma=sigma)
    y[at] += k_sigma * sigma
    return y


def with_missing(y: FloatArray, *, seed: Seed, runs: int = 3, max_len: int = 5) -> FloatArray:
    """A copy of ``y`` with ``runs`` runs of 1..``max_len`` consecutive NaN (missing runs)."""
    rng = make_rng(seed)
    out = np.array(y, dtype=float)
    for _ in range(runs):
        length = int(rng.integers(1, max_len + 1))
        start = int(rng.integers(0, max(len(out) - length, 1)))
        out[start : start + length] = np.nan
    return out


def compare_trials(
    effect: float,
    n: int,
    *,
    noise: float,
    trials: int,
    seed: int,
    n_candidate: int | None = None,
    **settings: Any,
) -> Counter[str]:
    """Verdicts of :func:`~redline.analysis.compare.compare_samples` over ``trials`` simulated
    comparisons: ``n`` baseline runs (``n_candidate`` candidate runs, default ``n``) of a
    metric with lognormal run-to-run ``noise``, the candidate ``effect`` slower (0.10: 10 %)."""
    from redline.analysis.compare import compare_samples

    rng = make_rng(seed)
    counts: Counter[str] = Counter()
    for _ in range(trials):
        base = 100 * rng.lognormal(0, noise, n)
        cand = 100 * (1 + effect) * rng.lognormal(0, noise, n_candidate or n)
        verdict = compare_samples(base.tolist(), cand.tolist(), metric="m", **settings).verdict
        counts[verdict] += 1
    return counts
