"""Change points, drift, variance changes and anomalies in one metric's history.

>>> from redline.analysis.changepoints import analyze_series
>>> result = analyze_series([10.0] * 30 + [12.0] * 30, direction="lower")
>>> [(e.index, e.kind) for e in result.change_points]
[(30, 'regression')]

How it decides (docs/regressions.md says the same in plain words):

1. **Levels.** The finite points are segmented by binary segmentation with a rank scan
   (:mod:`redline.analysis._cpscan`): the most likely split of a stretch is kept when its
   statistic exceeds the threshold that an unchanged stretch of that length exceeds with
   probability ``alpha`` (0.001), and both halves are examined again. Ranks make the test blind
   to the shape of the noise (lognormal latency, bimodal caches, gross outliers); the long-run
   variance makes it honest about autocorrelated noise; thresholds come from simulation, not
   from the test data. Every split is then re-tested between its final neighbours and dropped
   when it no longer passes.
2. **Drift.** A run of splits that all move the same way is checked against one
   flat-ramp-flat line: when the ramp explains the stretch better (a BIC-like comparison in
   long-run variance units, which favours separate steps by ``log n``), the run is reported as
   one ``drift`` episode with a start and an end, never as a staircase.
3. **Variance.** The absolute residuals around the fitted levels are segmented the same way: a
   split there is a ``variance_change`` (unless it sits on a level change and only scales with
   it, as latency spread does).
4. **The last few points.** The scan sees a change in the last handful of points only when
   it is large (it takes the best of every split). The last 5 points of the final steady
   stretch are also tested against the rest at that one split (ranks, same autocorrelation
   correction); a change found only that way is reported ``pending`` until the next runs
   confirm it.
5. **Anomalies.** A point beyond the fences ``median +- 3 x (95th percentile - median)`` of the
   residuals around its fitted level (about 4.9 standard deviations for Gaussian noise; on the
   log scale for positive right-skewed data, so a latency tail or a regular slow mode is not
   an anomaly) is an ``anomaly``, always ``pending``: one point never makes a regression;
   five in a row at a new level do (the shortest segment).

Kinds: with ``direction="lower"`` (latency, errors) a rise is a ``regression`` and a fall an
``improvement``; ``"higher"`` (throughput) the reverse; ``"none"`` reports ``change``.
``p_value`` is the chance that a stretch with no change shows so strong a split anywhere
(calibrated, autocorrelation-corrected; approximate below 1e-4); ``score`` is the statistic over
its threshold (>= 1 means reported). For an anomaly ``p_value`` is the Gaussian tail of its
robust z-score at that one point.

Incremental: every result carries a JSON-serialisable ``state``; ``analyze_series(new_points,
state=previous.state)`` re-examines only the stretch since the last *confirmed* change (one
with at least 10 points after it); events before it are kept as they were.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from statistics import NormalDist
from typing import Any, Literal

from redline._errors import DataError
from redline.analysis.trend import Trend

__all__ = [
    "ALPHA",
    "ChangeEvent",
    "Direction",
    "Segment",
    "SeriesAnalysis",
    "analyze_series",
]

Direction = Literal["lower", "higher", "none"]
ALPHA = 0.001  # false-alarm rate of one scan of an unchanged stretch
Z_ANOMALY = 3.0  # fences: median +- 3 x (95th percentile - median), ~4.9 sigma
CONFIRM = 10  # points after a change before it is confirmed (and incremental analysis moves on)
_STATE_VERSION = 1
_WEEK = 7 * 86400.0


@dataclass(frozen=True)
class ChangeEvent:
    """One event in a series: where, what kind, the levels around it and the evidence.

    ``index`` is the input index of the first point of the new level (the ramp's first point
    for ``drift``, the point itself for ``anomaly``); ``end`` the ramp's last point.
    ``effect`` is the shift (Hodges-Lehmann for levels) with its 95 % interval; ``worse`` says
    whether it goes the bad way for the metric's direction (None without one).
    """

    index: int
    kind: str
    before: float
    after: float
    change_pct: float | None
    effect: float
    effect_low: float
    effect_high: float
    p_value: float
    score: float
    points_before: int
    points_after: int
    worse: bool | None = None
    end: int | None = None
    pending: bool = False
    slope: float | None = None
    slope_per: str | None = None
    time: str | None = None
    end_time: str | None = None
    label: str | None = None
    label_before: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChangeEvent:
        return cls(**data)


@dataclass(frozen=True)
class Segment:
    """A steady stretch (``flat``) or a ramp, from input index ``start`` to ``end`` inclusive."""

    start: int
    end: int
    points: int
    level: float
    spread: float
    kind: str = "flat"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SeriesAnalysis:
    """The analysis of one series: its events, steady segments, current trend and state."""

    length: int
    points: int
    direction: str
    constant: bool
    events: tuple[ChangeEvent, ...]
    segments: tuple[Segment, ...]
    trend: Trend | None
    notes: tuple[str, ...] = ()
    state: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def change_points(self) -> list[ChangeEvent]:
        """Changes of level or spread (every kind but ``anomaly``)."""
        return [e for e in self.events if e.kind != "anomaly"]

    @property
    def anomalies(self) -> list[ChangeEvent]:
        return [e for e in self.events if e.kind == "anomaly"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "length": self.length,
            "points": self.points,
            "direction": self.direction,
            "constant": self.constant,
            "change_points": [e.to_dict() for e in self.change_points],
            "anomalies": [e.to_dict() for e in self.anomalies],
            "segments": [s.to_dict() for s in self.segments],
            "trend": None if self.trend is None else self.trend.to_dict(),
            "notes": list(self.notes),
            "method": {"alpha": ALPHA, "anomaly_fence": Z_ANOMALY, "min_segment": 5},
        }


def analyze_series(
    values: Sequence[float],
    *,
    times: Sequence[datetime] | None = None,
    labels: Sequence[str] | None = None,
    direction: str = "lower",
    state: dict[str, Any] | None = None,
) -> SeriesAnalysis:
    """Segment ``values`` into steady stretches and report what changed (see module docstring).

    NaN points are skipped; indexes stay those of the input. With ``state`` (from a previous
    result), ``values`` are the points appended since, and indexes continue from there.
    """
    if direction not in ("lower", "higher", "none"):
        raise DataError(
            f"direction {direction!r} is not one of lower, higher, none",
            hint="lower for latency and errors, higher for throughput, none to report changes",
        )
    for name, seq in (("times", times), ("labels", labels)):
        if seq is not None and len(seq) != len(values):
            raise DataError(
                f"{name} has {len(seq)} entries for {len(values)} values",
                hint=f"give one {name[:-1]} per value",
            )
    prev = _State.load(state, direction)
    tail_values = prev.values + _floats(values)
    tail_times = (
        None if times is None and prev.times is None else (prev.times or []) + list(times or [])
    )
    tail_labels = (
        None if labels is None and prev.labels is None else (prev.labels or []) + list(labels or [])
    )
    if tail_times is not None and len(tail_times) != len(tail_values):
        raise DataError(
            "times were given for only some of the points", hint="give times for every update"
        )
    if tail_labels is not None and len(tail_labels) != len(tail_values):
        tail_labels = None
    from redline.analysis._cpstretch import analyze_stretch

    found = analyze_stretch(
        tail_values, prev.anchor, tail_times, tail_labels, direction, ALPHA, Z_ANOMALY
    )
    length = prev.anchor + len(tail_values)
    events = sorted([*prev.events, *found.events], key=lambda e: (e.index, e.kind))
    segments = [*prev.segments, *found.segments]
    points = prev.points + found.points
    anchor, seg_index = found.anchor, found.anchor_segment
    keep = anchor - prev.anchor
    new_state = _State(
        direction=direction,
        anchor=anchor,
        points=points - sum(1 for v in tail_values[keep:] if math.isfinite(v)),
        events=[
            e for e in events if e.index < anchor or (e.index == anchor and e.kind != "anomaly")
        ],
        segments=segments[: len(prev.segments) + seg_index],
        values=tail_values[keep:],
        times=None if tail_times is None else tail_times[keep:],
        labels=None if tail_labels is None else tail_labels[keep:],
    )
    return SeriesAnalysis(
        length=length,
        points=points,
        direction=direction,
        constant=found.constant and not prev.events,
        events=tuple(events),
        segments=tuple(segments),
        trend=found.trend,
        notes=tuple(found.notes),
        state=new_state.dump(),
    )


@dataclass
class _State:
    direction: str
    anchor: int = 0
    points: int = 0
    events: list[ChangeEvent] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    times: list[datetime] | None = None
    labels: list[str] | None = None

    @classmethod
    def load(cls, data: dict[str, Any] | None, direction: str) -> _State:
        if data is None:
            return cls(direction)
        try:
            if data["version"] != _STATE_VERSION:
                raise DataError(
                    f"analysis state version {data['version']} is not {_STATE_VERSION}",
                    hint="analyse the whole series again without a state",
                )
            if data["direction"] != direction:
                raise DataError(
                    f"the state was taken with direction {data['direction']}, not {direction}",
                    hint="use the same direction, or analyse the whole series again",
                )
            times = data["times"]
            return cls(
                direction=direction,
                anchor=int(data["anchor"]),
                points=int(data["points"]),
                events=[ChangeEvent.from_dict(e) for e in data["events"]],
                segments=[Segment(**s) for s in data["segments"]],
                values=[math.nan if v is None else float(v) for v in data["values"]],
                times=None if times is None else [datetime.fromisoformat(t) for t in times],
                labels=data["labels"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(
                f"the analysis state cannot be read ({type(exc).__name__}: {exc})",
                hint="pass the `state` of an earlier result unchanged, or no state",
            ) from None

    def dump(self) -> dict[str, Any]:
        return {
            "version": _STATE_VERSION,
            "direction": self.direction,
            "anchor": self.anchor,
            "points": self.points,
            "events": [e.to_dict() for e in self.events],
            "segments": [s.to_dict() for s in self.segments],
            "values": [v if math.isfinite(v) else None for v in self.values],
            "times": None if self.times is None else [t.isoformat() for t in self.times],
            "labels": self.labels,
        }


def _floats(values: Sequence[float]) -> list[float]:
    out = []
    for i, v in enumerate(values):
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise DataError(
                f"value {i} ({v!r}) is not a number", hint="pass numbers; NaN marks a missing point"
            ) from None
    return out


def classify(delta: float, direction: str) -> tuple[str, bool | None]:
    """``regression``/``improvement`` (or ``change`` without a direction) and whether worse."""
    if direction == "none" or delta == 0:
        return "change", None
    worse = delta > 0 if direction == "lower" else delta < 0
    return ("regression" if worse else "improvement"), worse


def pct(before: float, after: float) -> float | None:
    return None if before == 0 else (after - before) / abs(before) * 100.0


def gaussian_p(z: float) -> float:
    """Two-sided Gaussian tail of ``z``, floored like the scan's p-values."""
    from redline.analysis._cpscan import P_FLOOR

    return max(2.0 * NormalDist().cdf(-abs(z)), P_FLOOR)
