"""``redline compare``: is the candidate worse than its baseline, metric by metric?

    redline compare base.csv candidate.csv                 # every metric column of both
    redline compare base.csv candidate.csv --column p99_ms --column rps --json
    redline compare base.csv candidate.csv --direction rps=higher --min-effect 3%
    redline compare --baseline-runs ID,ID,ID --candidate-runs ID,ID   # runs in the store

Each file holds one row per run (Apache Otava's CSV layout, or one number a line); each
metric column is compared between the files with a rank test, a shift estimate with its
interval, and false-discovery control across the columns (``docs/regressions.md``).

Exit codes: 0 nothing regressed (unchanged, improved or inconclusive); 1 a metric
regressed; 2 bad input (a missing file or column, a column only one file has, a column
with no values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from redline._errors import DataError, UsageError
from redline.cli._output import (
    EXIT_CHECKS_FAILED,
    EXIT_OK,
    echo,
    echo_json,
    fraction_callback,
    json_option,
    print_table,
)
from redline.cli._store import resolve_store, store_option

if TYPE_CHECKING:
    from redline.analysis.compare import Comparison, MetricComparison
    from redline.analysis.seriesfile import SeriesTable

__all__ = ["compare", "compare_mappings", "render_comparison"]

_VERDICT_MARK = {
    "regressed": "REGRESSED",
    "improved": "improved",
    "unchanged": "unchanged",
    "inconclusive": "inconclusive",
    "changed": "CHANGED",
}


def guess_direction(metric: str) -> str:
    """The direction the importers guess from a name (``higher`` for throughput, rps,
    hit rates...; ``lower`` for latency, errors, sizes), ``lower`` when the name says
    nothing: most metrics a team compares are costs."""
    from redline.importers._common import guess_direction as by_name

    guess = by_name(metric)
    return "lower" if guess == "none" else guess


def _directions(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str | None, dict[str, str]]:
    default: str | None = None
    per: dict[str, str] = {}
    for value in values:
        name, sep, direction = value.rpartition("=")
        if direction not in ("lower", "higher", "none"):
            raise click.BadParameter(
                f"{value!r}: a direction is lower, higher or none (for one column: NAME=higher)"
            )
        if sep:
            per[name] = direction
        else:
            default = direction
    return default, per


@click.command("compare")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="NAME",
    help="Compare only this metric column (repeat for more; default: every metric column).",
)
@click.option(
    "--direction",
    "directions",
    multiple=True,
    callback=_directions,
    metavar="lower|higher|none|NAME=DIR",
    help="Which way is better: for every column, or NAME=DIR for one (repeatable). "
    "Default: guessed from the name (higher for throughput, rps...), else lower.",
)
@click.option(
    "--min-effect",
    callback=fraction_callback(" (an absolute minimum goes in --min-effect-abs)"),
    metavar="PCT",
    help="Smallest relative change that counts, like 5% or 0.05 (default 5%).",
)
@click.option(
    "--min-effect-abs",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="VALUE",
    help="Smallest absolute change that counts, in the column's unit (default 0).",
)
@click.option(
    "--alpha",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    default=None,
    help="Significance level for a change (default 0.01).",
)
@click.option(
    "--fdr",
    type=click.FloatRange(min=0, max=1, max_open=True),
    default=None,
    help="False-discovery rate across the metrics, Benjamini-Hochberg (default 0.05; 0: off).",
)
@click.option(
    "--baseline-runs",
    metavar="ID,ID",
    help="Compare runs in the store instead of files: the baseline's run ids.",
)
@click.option("--candidate-runs", metavar="ID,ID", help="...and the candidate's run ids.")
@store_option
@json_option
def compare(
    ctx: click.Context,
    files: tuple[Path, ...],
    columns: tuple[str, ...],
    directions: tuple[str | None, dict[str, str]],
    min_effect: float | None,
    min_effect_abs: float,
    alpha: float | None,
    fdr: float | None,
    baseline_runs: str | None,
    candidate_runs: str | None,
    store_url: str | None,
    env: str | None,
    as_json: bool,
) -> int:
    """Compare CANDIDATE with BASE, metric column by metric column (one row per run);
    or, with --baseline-runs and --candidate-runs, two sets of runs in the store."""
    from redline.analysis import compare as cmp

    settings: dict[str, Any] = {
        "min_effect_rel": cmp.MIN_EFFECT_REL if min_effect is None else min_effect,
        "min_effect_abs": min_effect_abs,
        "alpha": cmp.ALPHA if alpha is None else alpha,
        "fdr": cmp.FDR if fdr is None else (fdr or None),
    }
    if baseline_runs or candidate_runs:
        if files or not (baseline_runs and candidate_runs):
            raise UsageError(
                "compare takes two files, or --baseline-runs and --candidate-runs",
                hint="redline compare --baseline-runs ID,ID --candidate-runs ID,ID",
            )
        url = resolve_store(ctx, store_url, env)
        base_ids, cand_ids = _ids(baseline_runs), _ids(candidate_runs)
        return _compare_runs(url, base_ids, cand_ids, columns, as_json, settings)
    if len(files) != 2:
        raise UsageError(
            f"compare takes two files, BASE and CANDIDATE; got {len(files)}",
            hint="redline compare base.csv candidate.csv",
        )
    base_path, cand_path = files
    base, cand = _read(base_path, columns), _read(cand_path, columns)
    wanted = list(columns) or list(dict.fromkeys([*base.metrics, *cand.metrics]))
    # a metric on one side that reads as text on the other: read it as numbers there,
    # so the bad cell is named (file:line:column) rather than the whole column
    base, cand = (
        _read(t.path, wanted) if any(n in t.attributes for n in wanted) else t for t in (base, cand)
    )
    names = _metric_names(base, cand, wanted)
    units = _units(base, cand, names)
    scale = {n: _unit_factor(base, cand, n) for n in names}
    default_direction, per_direction = directions
    unknown = sorted(set(per_direction) - set(names))
    if unknown:
        raise UsageError(
            f"--direction names {', '.join(repr(u) for u in unknown)}, not a compared column",
            hint=f"compared columns: {', '.join(names)}",
        )
    result = compare_mappings(
        {n: base.column(n) for n in names},
        {n: [v * scale[n] for v in cand.column(n)] for n in names},
        directions={
            n: per_direction.get(n) or default_direction or guess_direction(n) for n in names
        },
        units=units,
        **settings,
    )
    return render_comparison(
        result,
        as_json=as_json,
        title=f"{cand_path} against {base_path}",
        sources={"baseline": str(base_path), "candidate": str(cand_path)},
    )


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _compare_runs(
    url: str,
    base_ids: list[str],
    cand_ids: list[str],
    columns: Sequence[str],
    as_json: bool,
    settings: dict[str, Any],
) -> int:
    """Two sets of stored runs, metric by metric; with one run a side, their latency
    distributions too (advisory: one run each says nothing of run-to-run noise)."""
    from redline.analysis.history import run_samples
    from redline.store.core import open_store

    with open_store(url) as store:
        base, cand = run_samples(store, base_ids), run_samples(store, cand_ids)
        hists = (
            _histograms(store, base_ids[0], cand_ids[0])
            if len(base_ids) == len(cand_ids) == 1
            else {}
        )
    only = sorted(set(base) ^ set(cand))
    if only:
        echo(
            "not compared (recorded on one side only): "
            + ", ".join(f"{m} ({'baseline' if m in base else 'candidate'})" for m in only),
            err=True,
        )
    names = sorted(set(base) & set(cand))
    unknown = [c for c in columns if c not in names]
    if unknown:
        raise DataError(
            f"both run sets must record {', '.join(map(repr, unknown))} to compare it",
            hint=f"metrics both sets recorded: {', '.join(names) or 'none'}",
        )
    names = [n for n in names if not columns or n in columns]
    if not names:
        raise DataError(
            "the two sets of runs have no metric in common",
            hint="compare runs of the same scenario or benchmark",
        )
    result = compare_mappings(
        {n: base[n] for n in names},
        {n: cand[n] for n in names},
        directions={n: cand.directions.get(n) or base.directions.get(n, "none") for n in names},
        units={n: u for n in names if (u := cand.units.get(n) or base.units.get(n))},
        **settings,
    )
    distributions = []
    if hists:
        from redline.analysis.compare import compare_distributions

        distributions = [
            compare_distributions(b, c, metric=name, min_effect_rel=settings["min_effect_rel"])
            for name, (b, c) in sorted(hists.items())
        ]
    sources: dict[str, Any] = {"baseline_runs": base_ids, "candidate_runs": cand_ids}
    if as_json:
        sources["distributions"] = [d.to_dict() for d in distributions]
        return render_comparison(result, as_json=True, title="", sources=sources)
    code = render_comparison(
        result,
        as_json=False,
        title=f"{len(cand_ids)} candidate run(s) against {len(base_ids)} baseline run(s)",
        sources=sources,
    )
    for d in distributions:
        echo(f"  distribution of {d.metric}: {d.verdict} (advisory): {d.reason}")
    if distributions:
        echo(f"  note: {distributions[0].note}")
    return code


def _histograms(store: Any, base_id: str, cand_id: str) -> dict[str, tuple[str, str]]:
    """name -> (baseline, candidate) encoded histograms both runs recorded."""
    base = {h.name: h.encoded for h in store.histograms(base_id)}
    cand = {h.name: h.encoded for h in store.histograms(cand_id)}
    return {name: (base[name], cand[name]) for name in sorted(base.keys() & cand.keys())}


def _read(path: Path, columns: Sequence[str]) -> SeriesTable:
    from redline.analysis.seriesfile import read_series_file

    return read_series_file(path, columns=[c for c in columns if c] or None)


def _metric_names(base: SeriesTable, cand: SeriesTable, names: list[str]) -> list[str]:
    """The columns to compare; a DataError naming the file a metric is missing from."""
    for name in names:
        for table, other in ((base, cand), (cand, base)):
            if name in table.metrics:
                continue
            why = (
                "holds text or no numbers there"
                if name in table.attributes
                else "is not in that file"
            )
            raise DataError(
                f"{table.path}: metric column '{name}' (in {other.path}) {why}",
                hint="compare columns both files have: --column NAME, once per column",
            )
    if not names:
        raise DataError(
            f"{base.path}: no metric columns to compare (only {', '.join(base.attributes)})",
            hint="give each run a row with numeric metric columns",
        )
    for name in names:
        for table in (base, cand):
            if not any(math.isfinite(v) for v in table.column(name)):
                where = f"{table.path}:{table.lines[0]}" if table.lines else str(table.path)
                raise DataError(
                    f"{where}: column '{name}' has no values",
                    hint="fill in the runs' values, or leave the column out with --column",
                )
    return names


def _units(base: SeriesTable, cand: SeriesTable, names: list[str]) -> dict[str, str]:
    return {n: u for n in names if (u := base.units.get(n) or cand.units.get(n))}


def _unit_factor(base: SeriesTable, cand: SeriesTable, name: str) -> float:
    """What a candidate value is multiplied by to be in the baseline's unit."""
    from redline.units import parse_duration

    ub, uc = base.units.get(name), cand.units.get(name)
    if ub == uc:
        return 1.0
    if ub and uc and "%" not in (ub, uc):
        return parse_duration(f"1{uc}") / parse_duration(f"1{ub}")
    raise DataError(
        f"column '{name}': {base.path} writes it "
        f"{f'in {ub}' if ub else 'without a unit'}, {cand.path} "
        f"{f'in {uc}' if uc else 'without a unit'}",
        hint="write both files' values in one unit (or both with units, like 12ms and 0.012s)",
    )


def compare_mappings(
    baseline: Mapping[str, Sequence[float]],
    candidate: Mapping[str, Sequence[float]],
    *,
    directions: Mapping[str, str],
    units: Mapping[str, str],
    min_effect_rel: float,
    min_effect_abs: float,
    alpha: float,
    fdr: float | None,
) -> Comparison:
    """Compare metric -> values mappings (files, or run sets from the store) in one go."""
    from redline.analysis.compare import MetricSamples, compare_many

    items = [
        MetricSamples(
            name,
            baseline[name],
            candidate[name],
            directions.get(name, "lower"),  # type: ignore[arg-type]
            units.get(name),
        )
        for name in baseline
    ]
    return compare_many(
        items, fdr=fdr, alpha=alpha, min_effect_rel=min_effect_rel, min_effect_abs=min_effect_abs
    )


def _num(value: float | None, unit: str | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}{' ' + unit if unit else ''}"


def _pct(value: float | None) -> str:
    if value is None or math.isinf(value):
        return "?"
    return f"{100.0 * value:+.1f}%"


def _interval(m: MetricComparison) -> str:
    if m.interval_rel is not None:
        return f"[{_pct(m.interval_rel[0])}, {_pct(m.interval_rel[1])}]"
    if m.interval_abs is not None:
        lo, hi = m.interval_abs
        return f"[{lo:+.3g}, {hi:+.3g}]" if math.isfinite(lo) and math.isfinite(hi) else "[?, ?]"
    return "-"


def _change(m: MetricComparison) -> str:
    if m.change_rel is not None:
        return _pct(m.change_rel)
    if m.change_abs is not None:
        return f"{m.change_abs:+.4g}{' ' + m.unit if m.unit else ''}"
    return "-"


def render_comparison(
    result: Comparison, *, as_json: bool, title: str, sources: Mapping[str, Any]
) -> int:
    """Print ``result`` (a table and the reasons, or JSON); the exit code: 1 when a
    metric regressed, else 0."""
    regressed = bool(result.regressed)
    if as_json:
        echo_json({**result.to_dict(), "sources": dict(sources), "regressed": regressed})
        return EXIT_CHECKS_FAILED if regressed else EXIT_OK
    rows = [
        [
            m.metric,
            _num(m.baseline, m.unit),
            _num(m.candidate, m.unit),
            _change(m),
            _interval(m),
            _VERDICT_MARK[m.verdict],
        ]
        for m in result.metrics
    ]
    confidence = f"{100 * (1 - result.alpha):g}%"
    print_table(
        title, ["metric", "baseline", "candidate", "change", f"{confidence} interval", ""], rows
    )
    for m in result.metrics:
        if m.verdict != "unchanged":
            better = "" if m.direction == "none" else f" ({m.direction} is better)"
            echo(f"  {m.metric}{better}: {m.verdict}: {m.reason}")
    fdr = result.fdr_dict()
    fdr_text = (
        "no false-discovery control"
        if fdr["method"] == "none"
        else f"false discoveries held at {100 * fdr['q']:g}% over {fdr['tests']} "
        f"metric{'s' if fdr['tests'] != 1 else ''}"
    )
    effects = sorted({f"{100 * m.min_effect_rel:g}%" for m in result.metrics})
    sizes = sorted({f"{m.n_baseline}/{m.n_candidate}" for m in result.metrics})
    tests = sorted({(m.test or "").split(" (")[0] for m in result.metrics if m.test})
    echo(
        f"medians of {' or '.join(sizes)} baseline/candidate runs; "
        f"{' or '.join(tests) or 'no test'} at alpha {result.alpha:g}; {fdr_text}; "
        f"minimum effect {', '.join(effects)}"
    )
    counts = ", ".join(f"{n} {v}" for v, n in sorted(result.counts.items()))
    echo(f"{'REGRESSED' if regressed else 'no regression'}: {counts}")
    return EXIT_CHECKS_FAILED if regressed else EXIT_OK
