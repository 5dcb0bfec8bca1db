"""``redline validate``: is the deployment up, and is it right?"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from redline.cli._output import (
    config_option,
    config_path,
    echo,
    echo_json,
    json_option,
    print_table,
)

if TYPE_CHECKING:
    from redline.config.loader import LoadedConfig
    from redline.validation import ValidationReport

__all__ = ["validate"]

_SHOWN = {"ok": "ok", "fail": "FAIL", "error": "ERROR", "blocked": "blocked", "waived": "waived"}


def _wait(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float:
    from redline.units import parse_duration

    if not value:
        return 0.0
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option("--env", "env", metavar="NAME", help="Environment to validate.")
@click.option("--service", "services", multiple=True, metavar="NAME", help="Only this service.")
@click.option(
    "--check", "checks", multiple=True, metavar="NAME", help="Only checks with this name."
)
@click.option(
    "--wait",
    "wait",
    metavar="DURATION",
    callback=_wait,
    help="Retry what fails until it passes or this long has passed (e.g. 60s).",
)
@click.option(
    "--junit",
    "junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a JUnit XML report to FILE.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["human", "json", "github"]),
    default="human",
    help="human (default), json, or github (workflow annotations).",
)
@click.option("--no-store", is_flag=True, help="Do not record the run in the store.")
@config_option
@json_option
@click.pass_context
def validate(
    ctx: click.Context,
    env: str | None,
    services: tuple[str, ...],
    checks: tuple[str, ...],
    wait: float,
    junit: Path | None,
    fmt: str,
    no_store: bool,
    as_json: bool,
) -> int:
    """Check the config, the environment contract, the secrets, then every service's
    checks at once (dependencies first: a check whose dependency failed is `blocked`).

    Exit 0 all ok, 1 a critical check failed, 2 a check could not measure, 5 config invalid.
    """
    from redline.config.loader import load_config
    from redline.validation import DeploymentValidator, junit_xml

    loaded = load_config(config_path(ctx), env=env)
    if not no_store:
        _prefetch("redline.store.append")
    report = DeploymentValidator(loaded, env).run(services=services, checks=checks, wait=wait)
    if not no_store and not report.config_invalid:
        _record(loaded, report)
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(report), encoding="utf-8")
    if as_json or fmt == "json":
        echo_json(report.to_dict())
    elif fmt == "github":
        _github(loaded, report)
    else:
        _human(report)
    return report.exit_code


def _prefetch(module: str) -> None:
    """Import ``module`` in a thread while the checks wait on the network: the store
    write's imports then cost the command nothing (measured: ~10 ms of 100 ms budget)."""
    import importlib
    import threading

    threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()


def _record(loaded: LoadedConfig, report: ValidationReport) -> None:
    from redline._errors import StoreError
    from redline.validation import record_validation

    try:
        record_validation(
            loaded.store_url(report.environment),
            report,
            branch=os.environ.get("GITHUB_REF_NAME") or None,
            commit=os.environ.get("GITHUB_SHA") or None,
        )
    except StoreError as exc:
        report.notes.append(f"not recorded: {exc.message}")


def _human(report: ValidationReport) -> None:
    from redline.config.diagnostics import render_human

    if report.diagnostics:
        echo(render_human(report.diagnostics), err=report.config_invalid)
    if report.config_invalid:
        echo("checks not run: fix the problems above first", err=True)
        return
    rows = []
    for v in report.failures_first():
        latency = f"{v.result.latency * 1000:.1f} ms" if v.result else ""
        attempts = f" ({v.result.attempts} attempts)" if v.result and v.result.attempts > 1 else ""
        severity = "" if v.severity == "critical" else " (warning)"
        rows.append(
            [v.service, v.check, _SHOWN[v.status] + severity, latency, (v.reason or "") + attempts]
        )
    title = f"{report.project} / {report.environment or 'default'}"
    print_table(title, ["service", "check", "result", "latency", "reason"], rows)
    counts: dict[str, int] = {}
    for v in report.verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no checks"
    rounds = f" in {report.rounds} rounds" if report.rounds > 1 else ""
    echo(f"{summary}; {report.duration * 1000:.0f} ms{rounds}; exit {report.exit_code}")
    for note in report.notes:
        echo(f"note: {note}", err=True)
    if report.run_id:
        echo(f"recorded as run {report.run_id[:12]}")


def _github(loaded: LoadedConfig, report: ValidationReport) -> None:
    from redline.config.diagnostics import Diagnostic, render_github
    from redline.config.source import Mark

    diags = list(report.diagnostics)
    positions: dict[tuple[str, str | None], Mark | None] = {}
    services = loaded.raw.get("services")
    for service, spec in (services or {}).items() if isinstance(services, dict) else ():
        for i, check in enumerate(spec.get("checks") or [] if isinstance(spec, dict) else []):
            name = check.get("name") if isinstance(check, dict) else None
            mark = loaded.smap.value(("services", service, "checks", i))
            positions.setdefault((service, name), mark)
    for v in report.verdicts:
        if v.status == "ok":
            continue
        mark = positions.get((v.service, v.check)) or positions.get((v.service, None))
        severity: Literal["error", "warning"] = "error" if v.counts else "warning"
        diags.append(
            Diagnostic(
                "check-failed",
                f"{v.id}: {_SHOWN[v.status]}: {v.reason}",
                mark.file if mark else "",
                mark.line if mark else 0,
                mark.col if mark else 0,
                severity=severity,
            )
        )
    if diags:
        echo(render_github(diags))
