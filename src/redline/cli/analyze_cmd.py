"""``redline analyze``: change points, drift, anomalies and trends in a metric's history.

``redline analyze changepoints SERIES.csv`` works on a plain file (Apache Otava's CSV layout or
one number a line) without a store, so anyone can check redline against other tools on the
same file. It exits 0 whether or not it finds changes (it is an analysis: ``redline gate``
decides exit codes) and 2 on bad input. ``redline analyze history NAME`` does the same on
the runs in the store, one series per metric.
"""

from __future__ import annotations

from typing import Any

import click

from redline.cli._output import EXIT_OK, echo, echo_json, json_option, print_table
from redline.cli._store import resolve_store, store_option

__all__ = ["analyze"]

_LABEL_ATTRIBUTES = ("commit", "sha", "hash", "revision", "version", "tag", "build", "run")


@click.group("analyze")
def analyze() -> None:
    """Change points, drift, anomalies and trends in a metric's history."""


@analyze.command("changepoints")
@click.argument("series", metavar="SERIES.csv", type=click.Path(dir_okay=True))
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="NAME",
    help="Metric column to analyse (repeatable; default: every numeric column).",
)
@click.option(
    "--direction",
    "directions",
    multiple=True,
    metavar="[NAME=]DIR",
    help="Which way is better: lower (latency, errors; the default), higher (throughput), "
    "none; for every column, or one column with NAME=DIR (repeatable).",
)
@click.option("--time-column", metavar="NAME", help="The time column (default: found by name).")
@json_option
def changepoints(
    series: str,
    columns: tuple[str, ...],
    directions: tuple[str, ...],
    time_column: str | None,
    as_json: bool,
) -> int:
    """Find change points, drift, variance changes and anomalies in SERIES.csv.

    Exit 0 whether or not changes are found; 2 when the file cannot be analysed.
    """
    from redline._errors import DataError
    from redline.analysis.changepoints import analyze_series
    from redline.analysis.seriesfile import read_series_file, require_points

    default, per_column = _directions(directions)
    table = read_series_file(series, columns=columns or None, time_column=time_column)
    names = list(columns) if columns else list(table.metrics)
    if not names:
        raise DataError(
            f"{table.path}: no numeric column to analyse "
            f"(columns: {', '.join(table.attributes) or 'none'})",
            hint="add a column of numbers, or name it with --column",
        )
    label_name = next((a for a in _LABEL_ATTRIBUTES if a in table.attributes), None)
    labels = table.attributes[label_name] if label_name else None
    results = []
    for name in names:
        values = require_points(table, name)
        direction = per_column.get(name, default)
        result = analyze_series(values, times=table.time, labels=labels, direction=direction)
        results.append((name, result))
    if as_json:
        echo_json(
            {
                "schema_version": 1,
                "file": str(table.path),
                "notes": table.notes,
                "series": [_series_json(table, name, r, label_name) for name, r in results],
            }
        )
        return EXIT_OK
    for note in table.notes:
        echo(f"note: {note}", err=True)
    for name, r in results:
        _print_human(table, name, r, label_name)
    return EXIT_OK


def _directions(given: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    default, per_column = "lower", {}
    for item in given:
        name, _, value = item.rpartition("=")
        if value not in ("lower", "higher", "none"):
            raise click.BadParameter(
                f"{item!r}: expected lower, higher or none (or NAME=lower|higher|none)",
                param_hint="--direction",
            )
        if name:
            per_column[name] = value
        else:
            default = value
    return default, per_column


def _series_json(table: Any, name: str, result: Any, label_name: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"column": name, "unit": table.units.get(name)}
    data.update(result.to_dict())
    for key in ("change_points", "anomalies"):
        for event in data[key]:
            event["line"] = table.lines[event["index"]]
            if label_name:
                event[label_name] = event.get("label")
    return data


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.4g}"


def _print_human(table: Any, name: str, result: Any, label_name: str | None) -> None:
    unit = table.units.get(name)
    title = f"{name}{f' ({unit})' if unit else ''}: {result.points} points, lower is better"
    if result.direction != "lower":
        title = title.replace("lower is better", f"direction {result.direction}")
    events = list(result.events)
    if not events:
        detail = "; ".join(result.notes) or "no change point, no anomaly"
        echo(f"{title}\n  {detail}")
    else:
        where = label_name or "line"
        rows = []
        for e in events:
            at = str(e.index) if e.end is None else f"{e.index}-{e.end}"
            place = e.label if label_name and e.label else str(table.lines[e.index])
            if label_name and e.label_before and e.kind != "anomaly":
                place = f"{e.label_before}..{e.label}"
            change = "-" if e.change_pct is None else f"{e.change_pct:+.1f}%"
            evidence = "pending" if e.kind == "anomaly" else f"p={e.p_value:.2g}"
            rows.append([at, place, e.kind, _num(e.before), _num(e.after), change, evidence])
        print_table(title, ["index", where, "kind", "before", "after", "change", "evidence"], rows)
        for note in result.notes:
            echo(f"  {note}")
    t = result.trend
    if t is not None:
        sig = "moving" if t.significant else "flat within noise"
        echo(
            f"  trend since index {t.start}: {_num(t.slope)} per {t.per} "
            f"[{_num(t.low)}, {_num(t.high)}] ({sig})"
        )


@analyze.command("history")
@click.argument("name")
@click.option("--metric", "metrics", multiple=True, metavar="NAME", help="Only this metric.")
@click.option("--branch", metavar="BRANCH", default="main", help="Runs of this branch (main).")
@store_option
@json_option
def history(
    ctx: click.Context,
    name: str,
    metrics: tuple[str, ...],
    branch: str,
    store_url: str | None,
    env: str | None,
    as_json: bool,
) -> int:
    """Change points, drift, anomalies and trends in the stored runs of NAME.

    Each metric with a direction is one series (runs in time order on the main branch),
    labelled by version or commit. Confirmed improvements are listed as proudly as
    regressions. Exit 0 whatever is found; 2 when there is nothing to analyse.
    """
    from redline.analysis.changepoints import analyze_series
    from redline.analysis.history import SeriesKey, load_series, metrics_of
    from redline.store.core import open_store

    on = branch
    found: list[tuple[str, Any, Any]] = []
    with open_store(resolve_store(ctx, store_url, env)) as store:
        names = list(metrics) or metrics_of(store, name, environment=env, branch=on)
        if not names:
            from redline._errors import DataError

            raise DataError(
                f"no runs of {name} on {on}{f' in {env}' if env else ''} in the store",
                hint="check the name and --env (`redline baseline show NAME`), or give --branch",
            )
        for metric in names:
            series = load_series(store, SeriesKey(name, metric, env, on))
            if series.direction not in ("lower", "higher") and not metrics:
                continue  # no better way: nothing to call a regression
            found.append((metric, series, None))
    results = []
    for metric, series, _ in found:
        labels = [p.version or (p.commit or "")[:12] or p.run_id[:8] for p in series.points]
        direction = series.direction if series.direction in ("lower", "higher") else "none"
        if len(series.points) < 2:
            continue
        analysis = analyze_series(
            list(series.values), times=list(series.times), labels=labels, direction=direction
        )
        results.append((metric, series, analysis))
    headlines = [line for m, s, a in results for line in _headlines(m, s, a)]
    if as_json:
        echo_json(
            {
                "schema_version": 1,
                "name": name,
                "environment": env,
                "branch": on,
                "headlines": headlines,
                "series": [
                    {"metric": m, "unit": s.unit, "points": len(s.points), **a.to_dict()}
                    for m, s, a in results
                ],
            }
        )
        return EXIT_OK
    for line in headlines:
        echo(line)
    for metric, series, analysis in results:
        if analysis.events:
            _print_events(metric, series, analysis)
    if not headlines:
        echo(f"{len(results)} metric(s) of {name}: steady, no confirmed change")
    return EXIT_OK


def _headlines(metric: str, series: Any, analysis: Any) -> list[str]:
    """One sentence per confirmed level change, improvements as proudly as regressions:
    "latency_p99_ms -21 % since v1.3, confirmed over 12 runs"."""
    lines = []
    for e in analysis.events:
        if e.pending or e.kind not in ("regression", "improvement", "drift"):
            continue
        mark = {"regression": "REGRESSION", "improvement": "improvement", "drift": "drift"}
        change = "" if e.change_pct is None else f" {e.change_pct:+.0f} %"
        since = f" since {e.label}" if e.label else f" at run {e.index}"
        unit = f" {series.unit}" if series.unit else ""
        lines.append(
            f"{mark[e.kind]}: {metric}{change}{since} "
            f"({_num(e.before)} -> {_num(e.after)}{unit}), confirmed over {e.points_after} runs"
        )
    return lines


def _print_events(metric: str, series: Any, analysis: Any) -> None:
    rows = []
    for e in analysis.events:
        place = f"{e.label_before}..{e.label}" if e.label_before else (e.label or str(e.index))
        change = "-" if e.change_pct is None else f"{e.change_pct:+.1f}%"
        state = "pending" if e.pending else f"p={e.p_value:.2g}"
        rows.append([place, e.kind, _num(e.before), _num(e.after), change, state])
    unit = f" ({series.unit})" if series.unit else ""
    print_table(
        f"{metric}{unit}: {len(series.points)} runs",
        ["where", "kind", "before", "after", "change", "evidence"],
        rows,
    )
