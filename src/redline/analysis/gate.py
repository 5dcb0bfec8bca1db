"""The CI gate: did the candidate run regress against its baseline?

>>> result = run_gate(store, name="checkout", environment="staging")  # doctest: +SKIP
>>> result.exit_code, result.verdict  # doctest: +SKIP
(1, 'regressed')

The candidate is a run (``run_id``) or the newest run of ``name``; the runs of the same
name, environment and commit recorded with it join it (CI often repeats a benchmark), so a
commit measured five times is judged on five values a metric. The baseline comes from
:func:`~redline.analysis.baseline.resolve_baseline`, without the candidate's own commit.
Every metric is compared (:func:`~redline.analysis.compare.compare_many`, false discoveries
held down across them); the ones with a direction are *gated* unless the policy says not.

Exit codes: 0 nothing gated regressed; 1 a gated metric regressed; 2 the gate could not
decide (no baseline, too few runs, a gated metric missing on a side), unless the policy
says ``inconclusive: pass``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from redline._errors import DataError
from redline.analysis.compare import ALPHA, FDR, MIN_EFFECT_REL, MetricSamples, compare_many

if TYPE_CHECKING:
    from redline.analysis.baseline import Baseline, BaselineRule
    from redline.analysis.compare import Comparison, MetricComparison
    from redline.config.schema import Regressions
    from redline.store import Store
    from redline.store.records import RunRecord

__all__ = ["GatePolicy", "GateResult", "MetricPolicy", "run_gate"]

EXIT_PASS, EXIT_REGRESSED, EXIT_UNDECIDED = 0, 1, 2
_GATE_KINDS = ("load", "import")  # what `redline gate` with no name judges


@dataclass(frozen=True)
class MetricPolicy:
    """How one metric (or a glob of metrics, e.g. ``*_ms``) is judged."""

    min_effect_rel: float | None = None
    min_effect_abs: float | None = None
    direction: Literal["lower", "higher"] | None = None
    gate: bool | None = None


DEFAULT_METRIC = MetricPolicy(min_effect_rel=MIN_EFFECT_REL, gate=True)


@dataclass(frozen=True)
class GatePolicy:
    """What fails a build: the statistics' settings and the metrics' minimum effects."""

    alpha: float = ALPHA
    fdr: float | None = FDR
    inconclusive: Literal["fail", "pass"] = "fail"
    default: MetricPolicy = field(default_factory=lambda: DEFAULT_METRIC)
    metrics: Mapping[str, MetricPolicy] = field(default_factory=dict)
    main_branch: str = "main"
    baseline_runs: int = 5

    @classmethod
    def from_config(cls, section: Regressions) -> GatePolicy:
        """The policy a config's ``regressions:`` section describes."""

        def policy(m: Any) -> MetricPolicy:
            return MetricPolicy(m.min_effect, m.min_effect_abs, m.direction, m.gate)

        # What `default:` leaves out keeps the built-in default (a 5 % minimum, gated):
        # `default: {min_effect: 3%}` alone must not turn the gate off.
        given = policy(section.default)
        default = MetricPolicy(
            DEFAULT_METRIC.min_effect_rel if given.min_effect_rel is None else given.min_effect_rel,
            given.min_effect_abs,
            given.direction,
            DEFAULT_METRIC.gate if given.gate is None else given.gate,
        )
        return cls(
            fdr=section.fdr or None,
            inconclusive=section.inconclusive,
            default=default,
            metrics={name: policy(m) for name, m in section.metrics.items()},
            main_branch=section.main_branch,
            baseline_runs=section.baseline_runs,
        )

    def for_metric(self, name: str) -> MetricPolicy:
        """The metric's own entry (exact name first, then the first glob that matches),
        with what it leaves unset taken from ``default``."""
        own = self.metrics.get(name)
        if own is None:
            own = next(
                (p for pattern, p in self.metrics.items() if fnmatch.fnmatchcase(name, pattern)),
                MetricPolicy(),
            )
        d = self.default
        return MetricPolicy(
            d.min_effect_rel if own.min_effect_rel is None else own.min_effect_rel,
            d.min_effect_abs if own.min_effect_abs is None else own.min_effect_abs,
            own.direction or d.direction,
            d.gate if own.gate is None else own.gate,
        )


@dataclass(frozen=True)
class GateResult:
    """One gate decision with everything it rests on."""

    candidate: tuple[RunRecord, ...]
    baseline: Baseline
    comparison: Comparison
    gated: frozenset[str]
    policy: GatePolicy
    notes: tuple[str, ...] = ()

    @property
    def regressed(self) -> list[MetricComparison]:
        return [m for m in self.comparison.metrics if m.metric in self.gated and _bad(m)]

    @property
    def undecided(self) -> list[MetricComparison]:
        return [
            m
            for m in self.comparison.metrics
            if m.metric in self.gated and m.verdict == "inconclusive"
        ]

    @property
    def improved(self) -> list[MetricComparison]:
        return [m for m in self.comparison.metrics if m.verdict == "improved"]

    @property
    def verdict(self) -> Literal["pass", "regressed", "undecided"]:
        if self.regressed:
            return "regressed"
        if self.undecided and self.policy.inconclusive == "fail":
            return "undecided"
        return "pass"

    @property
    def exit_code(self) -> int:
        return {"pass": EXIT_PASS, "regressed": EXIT_REGRESSED, "undecided": EXIT_UNDECIDED}[
            self.verdict
        ]

    def to_dict(self) -> dict[str, Any]:
        first = self.candidate[0]
        return {
            "schema_version": 1,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "name": first.name,
            "environment": first.environment,
            "candidate": {
                "runs": [r.id for r in self.candidate],
                "commit": first.commit,
                "branch": first.branch,
                "version": first.version,
            },
            "baseline": {
                "rule": self.baseline.description,
                "why": self.baseline.why,
                "runs": list(self.baseline.run_ids),
            },
            "alpha": self.comparison.alpha,
            "fdr": self.comparison.fdr_dict(),
            "inconclusive": self.policy.inconclusive,
            "gated": sorted(self.gated),
            "regressed": [m.metric for m in self.regressed],
            "improved": [m.metric for m in self.improved],
            "undecided": [m.metric for m in self.undecided],
            "notes": list(self.notes),
            "metrics": [
                {**m.to_dict(), "gated": m.metric in self.gated} for m in self.comparison.metrics
            ],
        }


def _bad(m: MetricComparison) -> bool:
    return m.verdict == "regressed"


def run_gate(
    store: Store,
    *,
    name: str | None = None,
    environment: str | None = None,
    run_ids: Sequence[str] = (),
    rule: BaselineRule | None = None,
    metrics: Sequence[str] = (),
    policy: GatePolicy | None = None,
) -> GateResult:
    """Judge the candidate (``run_ids``, else the newest run of ``name``) against its
    baseline. ``metrics`` narrows what is gated (names or globs). DataError when there is
    no candidate, no baseline, or a metric asked for that the runs do not have."""
    from redline.analysis.baseline import BaselineRule, resolve_baseline
    from redline.analysis.history import run_samples

    policy = policy or GatePolicy()
    candidate = _candidate(store, name, environment, run_ids)
    if rule is None and store.active_baseline(candidate[0].name, candidate[0].environment) is None:
        rule = BaselineRule.last_good(policy.baseline_runs, policy.main_branch)
    # The baseline comes from before the candidate's first run, so a commit measured
    # three times on main still gets the full N runs of earlier commits.
    baseline = resolve_baseline(store, min(candidate, key=lambda r: r.started_at), rule)
    ours = {r.id for r in candidate}
    commit = candidate[0].commit
    kept = [r for r in baseline.runs if r.id not in ours and (not commit or r.commit != commit)]
    notes: list[str] = []
    if len(kept) < len(baseline.runs):
        notes.append(
            f"{len(baseline.runs) - len(kept)} baseline run(s) left out: they measured the "
            "candidate's own commit"
        )
    if not kept:
        raise DataError(
            f"no baseline for {candidate[0].name}: {baseline.why}, and none of them is "
            "from another commit",
            hint="record runs of an earlier commit on the main branch, or name a baseline "
            "with `redline baseline set`",
        )
    base = run_samples(store, [r.id for r in kept])
    cand = run_samples(store, [r.id for r in candidate])
    for side, samples in (("baseline", base), ("candidate", cand)):
        for metric, missing in sorted(samples.missing.items()):
            notes.append(f"{metric}: {len(missing)} {side} run(s) did not record it")
    names = sorted(set(base) | set(cand))
    wanted = _narrow(names, metrics)
    items = []
    gated = set()
    for metric in names:
        p = policy.for_metric(metric)
        direction = p.direction or cand.directions.get(metric) or base.directions.get(metric)
        direction = direction if direction in ("lower", "higher") else "none"
        if metric in wanted and p.gate and direction != "none":
            gated.add(metric)
        for side, samples in (("baseline", base), ("candidate", cand)):
            if metric not in samples:
                notes.append(f"{metric}: only in the {_other(side)}; not compared")
        items.append(
            MetricSamples(
                metric,
                base.get(metric, []),
                cand.get(metric, []),
                direction=direction,  # type: ignore[arg-type]
                unit=cand.units.get(metric) or base.units.get(metric),
                min_effect_rel=p.min_effect_rel,
                min_effect_abs=p.min_effect_abs,
            )
        )
    comparison = compare_many(items, fdr=policy.fdr, alpha=policy.alpha)
    return GateResult(
        tuple(candidate),
        _with_runs(baseline, kept),
        comparison,
        frozenset(gated),
        policy,
        tuple(dict.fromkeys(notes)),
    )


def _other(side: str) -> str:
    return "candidate" if side == "baseline" else "baseline"


def _with_runs(baseline: Baseline, runs: list[RunRecord]) -> Baseline:
    from dataclasses import replace

    return replace(baseline, runs=tuple(runs), run_ids=tuple(r.id for r in runs))


def _narrow(names: list[str], patterns: Sequence[str]) -> set[str]:
    if not patterns:
        return set(names)
    chosen = {n for n in names for p in patterns if fnmatch.fnmatchcase(n, p)}
    unknown = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]
    if unknown:
        raise DataError(
            f"no metric matches {', '.join(map(repr, unknown))}",
            hint=f"the runs recorded: {', '.join(names) or 'no metrics'}",
        )
    return chosen


def _candidate(
    store: Store, name: str | None, environment: str | None, run_ids: Sequence[str]
) -> list[RunRecord]:
    """The runs under judgement: those asked for, else the newest run and its siblings
    (same name, environment and commit)."""
    from redline.analysis.history import unknown_runs_error

    if run_ids:
        found = store.runs_by_id(list(run_ids))
        unknown = [r for r in run_ids if r not in found]
        if unknown:
            raise unknown_runs_error(unknown)
        runs = [found[r] for r in run_ids]
        names = {(r.name, r.environment) for r in runs}
        if len(names) > 1:
            raise DataError(
                "the candidate runs measure different things: "
                + ", ".join(f"{n} in {e or 'no environment'}" for n, e in sorted(names, key=str)),
                hint="give runs of one scenario in one environment",
            )
        return runs
    latest = None
    for kind in (None,) if name else _GATE_KINDS:
        found_run = store.latest_run(name, environment=environment, kind=kind)
        if found_run is not None and (latest is None or found_run.started_at > latest.started_at):
            latest = found_run
    if latest is None:
        what = f"runs of {name}" if name else "load or import runs"
        where = f" in {environment}" if environment else ""
        raise DataError(
            f"no {what}{where} in the store: nothing to gate",
            hint="run `redline load SCENARIO` or `redline import ...` first, "
            "or give the run with --run ID",
        )
    if not latest.commit:
        return [latest]
    siblings = store.list_runs(
        name=latest.name, environment=latest.environment, kind=latest.kind, limit=200
    )
    same = [r for r in siblings if r.commit == latest.commit and r.status == "ok"]
    return same if latest in same else [latest, *same]
