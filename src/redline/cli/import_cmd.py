"""``redline import``: results of other tools become runs in the store.

    redline import pytest-benchmark bench.json --env ci
    redline import locust shop_stats.csv --name checkout --version 1.4.2
    redline import k6 summary.json --dry-run --json
    redline import csv history.csv --direction rps=higher --direction lower
    redline import json results.json --store postgresql://u@db/redline

Exit codes: 0 imported (or everything was already there); 2 the file or the store
cannot be used (the message names the file and line, and the fix).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from redline.cli._output import (
    EXIT_OK,
    config_option,
    config_path,
    echo,
    echo_json,
    json_option,
)

if TYPE_CHECKING:
    from redline.importers import ImportReport

__all__ = ["import_"]

# The importers' kinds, spelt here so `redline import --help` needs no import of them.
_KINDS = ("pytest-benchmark", "locust", "k6", "csv", "json")
_SHOWN = 50  # runs listed one per line before the rest are counted


def _directions(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str | None, dict[str, str]]:
    default: str | None = None
    per_column: dict[str, str] = {}
    for value in values:
        column, sep, direction = value.rpartition("=")
        direction = direction.strip()
        if direction not in ("lower", "higher", "none"):
            raise click.BadParameter(
                f"{value!r}: write lower, higher, or COLUMN=lower|higher", param_hint="--direction"
            )
        if sep:
            per_column[column.strip()] = direction
        else:
            default = direction
    return default, per_column


@click.command("import")
@click.argument("kind", type=click.Choice(_KINDS), metavar="KIND")
@click.argument("file", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--env", "environment", metavar="NAME", help="Environment the results belong to.")
@click.option("--branch", metavar="B", help="Branch (default: the file's, CI's, or git's).")
@click.option("--commit", metavar="C", help="Commit (default: the file's, CI's, or git's).")
@click.option("--version", "app_version", metavar="V", help="Version under test.")
@click.option("--name", metavar="N", help="Run name (the scenario or benchmark series).")
@click.option("--host", metavar="H", help="Host the results were measured on.")
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="Store URL (default: env REDLINE_STORE_URL, else the config's store:, else "
    "sqlite:///./.redline/redline.db).",
)
@click.option(
    "--direction",
    "direction",
    multiple=True,
    callback=_directions,
    metavar="lower|higher|COL=DIR",
    help="csv: which way is better, for every metric column or one (repeatable).",
)
@click.option("--time-column", metavar="NAME", help="csv: the time column (default: found).")
@click.option(
    "--column", "columns", multiple=True, metavar="NAME", help="csv: import only these metrics."
)
@click.option("--dry-run", is_flag=True, help="Read and check the file; record nothing.")
@click.option("--force", is_flag=True, help="Import results that are already in the store.")
@config_option
@json_option
@click.pass_context
def import_(
    ctx: click.Context,
    kind: str,
    file: Path,
    environment: str | None,
    branch: str | None,
    commit: str | None,
    app_version: str | None,
    name: str | None,
    host: str | None,
    store_url: str | None,
    direction: tuple[str | None, dict[str, str]],
    time_column: str | None,
    columns: tuple[str, ...],
    dry_run: bool,
    force: bool,
    as_json: bool,
) -> int:
    """Import results from FILE into the store, one run per benchmark, test or row.

    KIND is pytest-benchmark (--benchmark-json), locust (PREFIX_stats.csv), k6
    (--summary-export), csv (Otava's layout: time, attribute and metric columns) or
    json (redline's generic layout, see docs/regressions.md). Importing the same
    results twice is noticed and skipped (--force imports them again).
    """
    from redline.importers import import_results

    url = _store_url(ctx, store_url, environment)
    default_direction, per_column = direction
    report = import_results(
        kind,
        file,
        store_url=url,
        environment=environment,
        branch=branch,
        commit=commit,
        version=app_version,
        name=name,
        host=host,
        dry_run=dry_run,
        force=force,
        direction=default_direction,
        directions=per_column,
        time_column=time_column,
        columns=columns or None,
    )
    if as_json:
        echo_json(report.to_dict())
        return EXIT_OK
    for warning in report.warnings:
        echo(f"warning: {warning}", err=True)
    for shown, run in enumerate(report.runs):
        if shown == _SHOWN:
            echo(f"... and {len(report.runs) - _SHOWN} more (--json lists every run)")
            break
        where = f" (line {run.line})" if run.line is not None else ""
        metrics = f"{len(run.metrics)} metric{'s' if len(run.metrics) != 1 else ''}"
        if run.status == "skipped":
            echo(f"skipped  {run.name}{where}: already imported as run {run.duplicate_of}")
        elif run.status == "planned":
            echo(f"would import  {run.name}{where}: {metrics}")
        else:
            echo(f"imported {run.name}{where}: {metrics} (run {run.run_id})")
    echo(_closing(report))
    return EXIT_OK


def _store_url(ctx: click.Context, store_url: str | None, environment: str | None) -> str:
    """The store as `redline store` finds it. ``--env`` picks a declared environment's
    store; where the config declares no environments it only labels the runs."""
    from redline._errors import ConfigInvalidError
    from redline.cli._store import resolve_store

    try:
        return resolve_store(ctx, store_url, environment)
    except ConfigInvalidError as error:
        if environment is None or any(d.rule != "unknown-environment" for d in error.diagnostics):
            raise
        from redline.config.loader import load_config

        if load_config(config_path(ctx)).environment_names():
            raise  # a typo of a declared environment
        return resolve_store(ctx, store_url, None)


def _closing(report: ImportReport) -> str:
    runs = len(report.runs)
    if report.dry_run:
        skipped = f", {report.skipped} already imported" if report.skipped else ""
        return (
            f"dry run: {report.planned} of {runs} run(s) from {report.file} would be "
            f"imported into {report.store}{skipped}; nothing was written"
        )
    if report.imported == 0:
        return (
            f"nothing imported: all {runs} run(s) of {report.file} are already in "
            f"{report.store} (--force imports them again)"
        )
    skipped = f"; {report.skipped} already there, skipped" if report.skipped else ""
    return f"{report.imported} run(s) from {report.file} imported into {report.store}{skipped}"
