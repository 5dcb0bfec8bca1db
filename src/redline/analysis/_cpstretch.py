"""Analyse one stretch of a series: levels, drift, variance, anomalies, trend (see
:mod:`redline.analysis.changepoints` for the method)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from redline.analysis._cpfit import (
    Ramp,
    Split,
    anomalies,
    fit_ramp,
    hodges_lehmann,
    robust_scale,
    segment,
    steps_sse,
    tail_split,
)
from redline.analysis._cpscan import MIN_SIZE
from redline.analysis.changepoints import (
    CONFIRM,
    ChangeEvent,
    Segment,
    classify,
    gaussian_p,
    pct,
)
from redline.analysis.trend import Trend, theil_sen

__all__ = ["Stretch", "analyze_stretch"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
_DRIFT_MIN = 2 * MIN_SIZE
_Z95 = 1.959963984540054


@dataclass
class Stretch:
    events: list[ChangeEvent] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    points: int = 0
    constant: bool = False
    trend: Trend | None = None
    notes: list[str] = field(default_factory=list)
    anchor: int = 0  # input index from which the next update re-examines
    anchor_segment: int = 0  # how many of ``segments`` lie before the anchor


@dataclass(frozen=True)
class _Drift:
    start: int  # positions in the finite points; the ramp is [start, end)
    end: int
    ramp: Ramp
    splits: list[Split]


def analyze_stretch(
    values: list[float],
    offset: int,
    times: list[datetime] | None,
    labels: list[str] | None,
    direction: str,
    alpha: float,
    z_limit: float,
) -> Stretch:
    raw = np.asarray(values, dtype=float)
    keep = np.isfinite(raw)
    y = raw[keep]
    idx = np.flatnonzero(keep) + offset
    m = len(y)
    out = Stretch(points=m, anchor=offset)
    if m == 0:
        out.notes.append("no finite points: nothing to analyse")
        return out
    ctx = _Context(y, idx, offset, times, labels, direction)
    if float(y.min()) == float(y.max()):
        out.constant = True
        out.notes.append(f"the series is constant ({_fmt(y[0])} at every point): no change")
        out.segments.append(ctx.segment(0, m, "flat"))
        return out
    if m < 2 * MIN_SIZE:
        out.notes.append(
            f"{m} points: too few to look for a change (at least {2 * MIN_SIZE} are needed)"
        )
        out.segments.append(ctx.segment(0, m, "flat"))
        out.trend = ctx.trend(0)
        return out
    splits = segment(y, alpha)
    drifts, steps = _find_drifts(y, splits)
    last_bound = max([0, *(s.at for s in steps), *(d.end for d in drifts)])
    if last_bound < m:
        late = tail_split(y[last_bound:], alpha)
        if late is not None:
            steps.append(replace(late, at=last_bound + late.at))
    bounds = sorted(
        {0, m, *(s.at for s in steps), *(d.start for d in drifts), *(d.end for d in drifts)}
    )
    fitted = np.empty(m)
    ramps = {d.start: d for d in drifts}
    pieces: list[tuple[int, int, str]] = []
    for lo, hi in itertools.pairwise(bounds):
        if lo in ramps and ramps[lo].end == hi:
            r = ramps[lo].ramp
            frac = (np.arange(lo, hi) - lo) / max(hi - lo, 1)
            fitted[lo:hi] = r.a + (r.b - r.a) * frac
            pieces.append((lo, hi, "ramp"))
        else:
            fitted[lo:hi] = float(np.median(y[lo:hi]))
            pieces.append((lo, hi, "flat"))
    for s in steps:
        out.events.append(ctx.step_event(s, bounds, fitted))
    for d in drifts:
        out.events.append(ctx.drift_event(d, bounds, fitted))
    residual = y - fitted
    vsplits = [
        v
        for v in segment(np.abs(residual), alpha)
        if not _scales_with_level(v, steps, fitted, residual)
    ]
    vbounds = sorted({0, m, *(v.at for v in vsplits)})
    for v in vsplits:
        out.events.append(ctx.variance_event(v, vbounds, residual))
    scale_pieces = sorted({0, m, *bounds, *vbounds})
    for pos, z, level, scale in anomalies(
        y, fitted, list(itertools.pairwise(scale_pieces)), z_limit
    ):
        out.events.append(ctx.anomaly_event(pos, z, level, scale))
    out.events.sort(key=lambda e: (e.index, e.kind))
    out.segments = [ctx.segment(lo, hi, kind) for lo, hi, kind in pieces]
    # The current stretch (since the last change of level) carries the trend; the last change
    # with CONFIRM points after it is where the next update starts.
    last = max((s.at for s in steps), default=0)
    # A drift still under way at the end: the trend is the ramp's own.
    last = max([last, *(d.end if d.end < m else d.start for d in drifts)])
    out.trend = ctx.trend(last)
    confirmed = [b for b in bounds[1:-1] if m - b >= CONFIRM and _is_level_bound(b, steps, drifts)]
    if confirmed:
        pos = confirmed[-1]
        out.anchor = int(idx[pos])
        out.anchor_segment = sum(1 for lo, _hi, _k in pieces if lo < pos)
    return out


def _is_level_bound(b: int, steps: list[Split], drifts: list[_Drift]) -> bool:
    return any(s.at == b for s in steps) or any(d.end == b for d in drifts)


def _scales_with_level(v: Split, steps: list[Split], fitted: FloatArray, res: FloatArray) -> bool:
    """A spread change on a level change that only scales with the level (latency's spread
    grows with it) is part of that change, not news of its own."""
    for s in steps:
        if abs(s.at - v.at) <= 2 * MIN_SIZE and s.at > 0:
            before, after = abs(float(fitted[s.at - 1])), abs(float(fitted[s.at]))
            if before == 0 or after == 0:
                continue
            level_ratio = abs(math.log(after / before))
            left = robust_scale(res[max(0, v.at - 200) : v.at])
            right = robust_scale(res[v.at : v.at + 200])
            if left > 0 and right > 0 and abs(math.log(right / left)) <= 2.0 * level_ratio:
                return True
    return False


def _find_drifts(y: FloatArray, splits: list[Split]) -> tuple[list[_Drift], list[Split]]:
    """Runs of same-direction splits that one ramp explains better than separate steps."""
    if not splits:
        return [], []
    cuts = [s.at for s in splits]
    bounds = [0, *cuts, len(y)]
    levels = [float(np.median(y[lo:hi])) for lo, hi in itertools.pairwise(bounds)]
    signs = [np.sign(levels[i + 1] - levels[i]) for i in range(len(cuts))]
    runs: list[list[int]] = []
    for i, sign in enumerate(signs):
        if runs and signs[runs[-1][-1]] == sign and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    drifts: list[_Drift] = []
    used: set[int] = set()
    for run in runs:
        for sub in [run] + ([[i] for i in run] if len(run) > 1 else []):
            if used.intersection(sub):
                continue
            lo, hi = bounds[sub[0]], bounds[sub[-1] + 2]
            found = _ramp_wins(y[lo:hi], [cuts[i] - lo for i in sub], [splits[i] for i in sub])
            if found is not None:
                drifts.append(
                    _Drift(lo + found.start, lo + found.end, found, [splits[i] for i in sub])
                )
                used.update(sub)
    steps = [s for i, s in enumerate(splits) if i not in used]
    return drifts, steps


def _ramp_wins(y: FloatArray, cuts: list[int], splits: list[Split]) -> Ramp | None:
    n = len(y)
    bounds = [0, *cuts, n]
    fitted = np.empty(n)
    for lo, hi in itertools.pairwise(bounds):
        fitted[lo:hi] = np.median(y[lo:hi])
    scale = robust_scale(y - fitted)
    yc = np.clip(y, fitted - 3 * scale, fitted + 3 * scale) if scale > 0 else y
    ramp = fit_ramp(yc, _DRIFT_MIN)
    if ramp is None:
        return None
    sse_steps = steps_sse(yc, cuts)
    phi = max(s.phi for s in splits)
    lrv = sse_steps / n * (1 + phi) / (1 - phi)
    if lrv <= 0:
        return None
    # A flat end piece must earn its breakpoint (2 log n), or the ramp runs to the edge: a
    # trend over the whole stretch is one ramp, not a ramp between two slivers of noise.
    for pin_start, pin_end in ((True, True), (True, False), (False, True)):
        if (pin_start and ramp.start == 0) or (pin_end and ramp.end == n):
            continue
        pinned = fit_ramp(yc, _DRIFT_MIN, pin_start=pin_start, pin_end=pin_end)
        if pinned is None:
            continue
        freed = (ramp.start > 0 and pin_start) + (ramp.end < n and pin_end)
        if (pinned.sse - ramp.sse) / lrv < 2.0 * math.log(n) * freed:
            ramp = pinned
            break
    gain = (sse_steps - ramp.sse) / lrv
    # A BIC-like score in long-run variance units, where a split's location costs 3.5 log n
    # (it is chosen from the data, mBIC-style) and the tie goes to separate steps: one split
    # becomes a drift only when a ramp fits better by 2 log n; a run of g >= 2 same-way splits
    # when the ramp fits no worse than 3.5 (g - 1) log n - 2 log n.
    needed = (2.0 - 3.5 * (len(cuts) - 1)) * math.log(n)
    return ramp if gain > needed else None


class _Context:
    def __init__(
        self,
        y: FloatArray,
        idx: Any,
        offset: int,
        times: list[datetime] | None,
        labels: list[str] | None,
        direction: str,
    ) -> None:
        self.y, self.idx, self.offset = y, idx, offset
        self.times, self.labels, self.direction = times, labels, direction

    def _time(self, pos: int) -> str | None:
        if self.times is None or pos >= len(self.y):
            return None
        return self.times[int(self.idx[pos]) - self.offset].isoformat()

    def _label(self, pos: int) -> str | None:
        if self.labels is None or pos < 0 or pos >= len(self.y):
            return None
        return self.labels[int(self.idx[pos]) - self.offset]

    def step_event(self, s: Split, bounds: list[int], fitted: FloatArray) -> ChangeEvent:
        i = bounds.index(s.at)
        lo, hi = bounds[i - 1], bounds[i + 1]
        before, after = float(fitted[s.at - 1]), float(fitted[s.at])
        eff, low, high = hodges_lehmann(self.y[lo : s.at], self.y[s.at : hi], s.phi)
        kind, worse = classify(after - before, self.direction)
        return ChangeEvent(
            index=int(self.idx[s.at]),
            kind=kind,
            before=before,
            after=after,
            change_pct=pct(before, after),
            effect=eff,
            effect_low=low,
            effect_high=high,
            p_value=s.p_value,
            score=s.score,
            points_before=s.at - lo,
            points_after=hi - s.at,
            worse=worse,
            pending=s.pending,
            time=self._time(s.at),
            label=self._label(s.at),
            label_before=self._label(s.at - 1),
        )

    def drift_event(self, d: _Drift, bounds: list[int], fitted: FloatArray) -> ChangeEvent:
        i, j = bounds.index(d.start), bounds.index(d.end)
        lo = bounds[i - 1] if i > 0 else 0
        hi = bounds[j + 1] if j + 1 < len(bounds) else len(self.y)
        before = float(fitted[d.start - 1]) if d.start > 0 else d.ramp.a
        after = float(fitted[d.end]) if d.end < len(self.y) else d.ramp.b
        left = self.y[lo : d.start] if d.start - lo >= 3 else self.y[d.start : d.start + MIN_SIZE]
        right = self.y[d.end : hi] if hi - d.end >= 3 else self.y[d.end - MIN_SIZE : d.end]
        phi = max(s.phi for s in d.splits)
        eff, low, high = hodges_lehmann(left, right, phi)
        strongest = min(d.splits, key=lambda s: s.p_value)
        kind, worse = classify(after - before, self.direction)
        slope, per = (after - before) / max(d.end - d.start, 1), "point"
        if self.times is not None:
            t0 = self.times[int(self.idx[d.start]) - self.offset].timestamp()
            t1 = self.times[int(self.idx[d.end - 1]) - self.offset].timestamp()
            if t1 > t0:
                slope, per = (after - before) / ((t1 - t0) / (7 * 86400.0)), "week"
        return ChangeEvent(
            index=int(self.idx[d.start]),
            kind="drift",
            before=before,
            after=after,
            change_pct=pct(before, after),
            effect=eff,
            effect_low=low,
            effect_high=high,
            p_value=strongest.p_value,
            score=strongest.score,
            points_before=d.start - lo,
            points_after=hi - d.end,
            worse=worse if kind != "change" else None,
            end=int(self.idx[d.end - 1]),
            slope=slope,
            slope_per=per,
            time=self._time(d.start),
            end_time=self._time(d.end - 1),
            label=self._label(d.start),
            label_before=self._label(d.start - 1),
        )

    def variance_event(self, v: Split, vbounds: list[int], res: FloatArray) -> ChangeEvent:
        i = vbounds.index(v.at)
        lo, hi = vbounds[i - 1], vbounds[i + 1]
        before = robust_scale(res[lo : v.at])
        after = robust_scale(res[v.at : hi])
        eff, low, high = hodges_lehmann(np.abs(res[lo : v.at]), np.abs(res[v.at : hi]), v.phi)
        k = 1.4826  # |residual| median -> standard deviation for Gaussian noise
        return ChangeEvent(
            index=int(self.idx[v.at]),
            kind="variance_change",
            before=before,
            after=after,
            change_pct=pct(before, after),
            effect=eff * k,
            effect_low=low * k,
            effect_high=high * k,
            p_value=v.p_value,
            score=v.score,
            points_before=v.at - lo,
            points_after=hi - v.at,
            worse=after > before,
            time=self._time(v.at),
            label=self._label(v.at),
            label_before=self._label(v.at - 1),
        )

    def anomaly_event(self, pos: int, z: float, level: float, scale: float) -> ChangeEvent:
        value = float(self.y[pos])
        _kind, worse = classify(value - level, self.direction)
        unit_scale = scale
        return ChangeEvent(
            index=int(self.idx[pos]),
            kind="anomaly",
            before=level,
            after=value,
            change_pct=pct(level, value),
            effect=value - level,
            effect_low=value - level - _Z95 * unit_scale,
            effect_high=value - level + _Z95 * unit_scale,
            p_value=gaussian_p(z),
            score=abs(z) / 4.93,
            points_before=pos,
            points_after=len(self.y) - pos - 1,
            worse=worse,
            pending=True,
            time=self._time(pos),
            label=self._label(pos),
            label_before=self._label(pos - 1),
        )

    def segment(self, lo: int, hi: int, kind: str) -> Segment:
        part = self.y[lo:hi]
        return Segment(
            start=int(self.idx[lo]),
            end=int(self.idx[hi - 1]),
            points=hi - lo,
            level=float(np.median(part)),
            spread=robust_scale(part - np.median(part))
            if kind == "flat"
            else robust_scale(np.diff(part)) / math.sqrt(2),
            kind=kind,
        )

    def trend(self, start: int) -> Trend | None:
        times = None
        if self.times is not None:
            times = [self.times[int(i) - self.offset] for i in self.idx[start:]]
        return theil_sen(self.y[start:].tolist(), times=times, start=int(self.idx[start]))


def _fmt(x: float) -> str:
    return f"{x:g}"
