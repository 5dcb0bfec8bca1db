"""``redline health``: check continuously (or once), print state changes, serve ``/health``."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from redline.cli._output import (
    EXIT_CHECKS_FAILED,
    EXIT_NOT_MEASURED,
    EXIT_OK,
    config_option,
    config_path,
    echo,
    echo_json,
    json_option,
    print_table,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from redline.health import HealthChecker, HealthStatus, StateChange
    from redline.health._tracking import CheckTracker
    from redline.probes.base import HealthCheckResult
    from redline.store import Store

__all__ = ["health"]

_SHOWN = {"ok": "ok", "fail": "FAIL", "error": "ERROR"}
_EXIT_FOR_STATE = {
    "healthy": EXIT_OK,
    "unhealthy": EXIT_CHECKS_FAILED,
    "unknown": EXIT_NOT_MEASURED,
}


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    from redline.units import parse_duration

    if not value:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _bind(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    from redline.health.server import parse_bind

    if not value:
        return None
    try:
        return parse_bind(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("health")
@click.option("--env", "env", metavar="NAME", help="Environment to check.")
@click.option(
    "--serve",
    "bind",
    metavar="HOST:PORT",
    callback=_bind,
    help="Serve GET /health on HOST:PORT (127.0.0.1 unless a host is given; port 0: any free).",
)
@click.option("--detail", is_flag=True, help="With --serve: allow /health?detail=1 (reasons).")
@click.option(
    "--on-demand",
    is_flag=True,
    help="With --serve: check when a request finds the cache stale, not continuously.",
)
@click.option("--once", is_flag=True, help="Run every check once, print a table, exit.")
@click.option(
    "--duration",
    metavar="DURATION",
    callback=_duration,
    help="Stop after this long (e.g. 30s); default: until Ctrl-C or SIGTERM.",
)
@click.option("--no-store", is_flag=True, help="Do not record samples in the store.")
@config_option
@json_option
@click.pass_context
def health(
    ctx: click.Context,
    env: str | None,
    bind: tuple[str, int] | None,
    detail: bool,
    on_demand: bool,
    once: bool,
    duration: float | None,
    no_store: bool,
    as_json: bool,
) -> int:
    """Check every service continuously: thresholds, uptime, latency percentiles.

    Prints each service state change as a line (JSON lines with --json) and, on a
    terminal, a live table. --once runs every check once and exits.

    Exit 0 healthy; 1 unhealthy (a critical check failed); 2 not known (a check could
    not measure); 5 config invalid.
    """
    if once and (bind or on_demand or duration):
        raise click.UsageError("--once runs one round and exits: it takes no --serve/--duration")
    if (on_demand or detail) and not bind:
        raise click.UsageError("--on-demand and --detail go with --serve HOST:PORT")
    from redline.config.loader import load_config
    from redline.health import HealthChecker

    loaded = load_config(config_path(ctx), env=env)
    env = loaded.default_env(env)
    config = loaded.runtime_config(env)
    store = None if no_store else _open_store(loaded.store_url(env))
    try:
        if once:
            checker = HealthChecker(config, env=env, store=store)
            results = asyncio.run(checker.check_round())
            return _print_round(checker, results, as_json)
        live = not as_json and sys.stdout.isatty()
        watch = _Watch(as_json=as_json, live=live)
        checker = HealthChecker(config, env=env, store=store, on_change=watch.change)
        return asyncio.run(_watch(checker, watch, bind, detail, on_demand, duration))
    finally:
        if store is not None:
            store.close()


def _open_store(url: str) -> Store | None:
    from redline._errors import StoreError
    from redline.store import open_store

    try:
        return open_store(url)
    except StoreError as exc:
        echo(f"note: samples not recorded: {exc.message}", err=True)
        return None


def _print_round(checker: HealthChecker, results: list[HealthCheckResult], as_json: bool) -> int:
    pairs = list(zip(checker.checks, results, strict=True))
    counted = [r for t, r in pairs if t.deciding]  # warnings and waived checks never count
    if any(r.outcome == "fail" for r in counted):
        code = EXIT_CHECKS_FAILED
    elif any(r.outcome == "error" for r in counted):
        code = EXIT_NOT_MEASURED
    else:
        code = EXIT_OK
    state = {EXIT_OK: "healthy", EXIT_CHECKS_FAILED: "unhealthy"}.get(code, "unknown")
    if as_json:
        echo_json(
            {
                "schema_version": 1,
                "environment": checker.env,
                "status": state,
                "exit_code": code,
                "checks": [{**r.to_dict(), "check": t.name} for t, r in pairs],
            }
        )
        return code
    rows = [
        [
            t.service,
            t.name + ("" if t.deciding else f" ({_why_not(t)})"),
            _SHOWN[r.outcome],
            _ms(r.latency),
            r.reason,
        ]
        for t, r in pairs
    ]
    print_table(f"health of {checker.env or 'the project'}", _COLUMNS, rows)
    failed = sum(r.outcome == "fail" for r in counted)
    errors = sum(r.outcome == "error" for r in counted)
    parts = [f"{failed} failed"] * bool(failed) + [f"{errors} could not measure"] * bool(errors)
    echo(f"{state}: {', '.join(parts)} (of {len(counted)} critical checks)" if parts else state)
    return code


_COLUMNS = ["service", "check", "outcome", "latency", "reason"]


def _why_not(tracker: CheckTracker) -> str:
    return "waived" if tracker.waived else "warning"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


class _Watch:
    """Where state changes go: lines, JSON lines, or above a live table."""

    def __init__(self, *, as_json: bool, live: bool) -> None:
        self.as_json = as_json
        self.live = live
        self.console: Console | None = None

    def change(self, change: StateChange) -> None:
        if self.as_json:
            echo(json.dumps(change.to_dict()))
        else:
            line = f"{change.at.astimezone():%H:%M:%S} {change.message}"
            if self.console is not None:
                from redline.redact import REDACTOR

                self.console.print(REDACTOR.scrub(line), markup=False, highlight=False)
            else:
                echo(line)
        sys.stdout.flush()


async def _watch(
    checker: HealthChecker,
    watch: _Watch,
    bind: tuple[str, int] | None,
    detail: bool,
    on_demand: bool,
    duration: float | None,
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass
    if duration is not None:
        loop.call_later(duration, stop.set)
    server = None
    try:
        if bind is not None:
            from redline.health.server import HealthEndpoint, HealthServer, health_app

            endpoint = HealthEndpoint(checker, detail=detail)
            candidate = HealthServer(health_app(endpoint), *bind)
            try:
                url = await candidate.start()
            except OSError as exc:
                raise click.ClickException(
                    f"cannot serve on {bind[0]}:{bind[1]}: {exc.strerror or exc}"
                    " (is something else listening there? port 0 picks a free one)"
                ) from None
            server = candidate
            echo(f"serving health on {url}", err=True)
        work = stop.wait() if on_demand else checker.run(stop)
        if watch.live:
            await _with_live_view(checker, watch, work, stop)
        else:
            await work
    finally:
        if server is not None:
            await server.stop()
        for sig in handled:
            loop.remove_signal_handler(sig)
    status = checker.status()
    if not watch.as_json and not watch.live:
        echo(_final_line(status))
    return _EXIT_FOR_STATE[status.state]


async def _with_live_view(
    checker: HealthChecker, watch: _Watch, work: Any, stop: asyncio.Event
) -> None:
    from rich.console import Console
    from rich.live import Live

    console = Console()
    watch.console = console
    # Refreshed from the event loop, never from rich's thread: the status is not thread-safe.
    with Live(_table(checker.status()), console=console, auto_refresh=False) as live:
        task = asyncio.ensure_future(work)
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=1.0)
                live.update(_table(checker.status()), refresh=True)
            await task
        finally:
            task.cancel()
            watch.console = None


def _table(status: HealthStatus) -> Table:
    from rich.table import Table

    from redline.redact import REDACTOR

    table = Table(
        title=f"{status.environment or 'health'}: {status.state}  "
        f"({datetime.now().astimezone():%H:%M:%S})",
        title_justify="left",
    )
    for column in (
        "service",
        "check",
        "state",
        "outcome",
        "latency",
        "p99",
        "uptime",
        "fails",
        "reason",
    ):
        table.add_column(column)
    for service in status.services.values():
        for c in service.checks:
            last = c.last
            table.add_row(
                service.name,
                c.check,
                c.state,
                _SHOWN[last.outcome] if last else "-",
                _ms(last.latency) if last else "-",
                _ms(c.latency.p99) if c.latency else "-",
                f"{c.uptime_pct:.2f}%" if c.uptime_pct is not None else "-",
                str(c.consecutive_failures),
                REDACTOR.scrub(last.reason) if last else "",
            )
    return table


def _final_line(status: HealthStatus) -> str:
    s = status.schedule
    counts = status.summary()["counts"]
    return (
        f"{status.state}: {counts['healthy']} of {counts['services']} services healthy; "
        f"{s.starts} runs, {s.skipped} skipped slots, start late p99 {s.late_p99 * 1000:.1f} ms"
    )
