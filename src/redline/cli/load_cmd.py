"""``redline load``: run a configured scenario, or an ad-hoc test of one URL like wrk/hey.

    redline load normal --env staging            # load.scenarios.normal from redline.yaml
    redline load run http://127.0.0.1:8080/ --rate 2000/s --duration 10s
    redline load run http://127.0.0.1:8080/ --connections 50 --duration 10s --json
    redline load list                            # the configured scenarios

Exit codes: 0 done and every threshold held; 1 a threshold was crossed; 2 nothing
could be measured (every request failed to connect, say) or a usage error.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from redline.cli._output import (
    EXIT_CHECKS_FAILED,
    EXIT_NOT_MEASURED,
    EXIT_OK,
    config_long_option,
    config_option,
    config_path,
    echo,
    echo_json,
    json_option,
    print_table,
)

if TYPE_CHECKING:
    from redline.load.results import Interval, LoadResult
    from redline.load.spec import LoadSpec

__all__ = ["load"]


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    from redline.units import parse_duration

    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise click.BadParameter(f"{value!r} is not a positive duration (write it like 10s)")
    return seconds


def _rate(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    from redline.units import parse_rate

    if value is None:
        return None
    try:
        rate = parse_rate(value if "/" in value else f"{value}/s")
    except ValueError as exc:
        raise click.BadParameter(f"{exc} (write it like 2000/s)") from None
    if rate <= 0:
        raise click.BadParameter(f"{value!r} is not a positive rate (write it like 2000/s)")
    return rate


class _LoadGroup(click.Group):
    """``redline load NAME`` runs scenario NAME unless NAME is a subcommand."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            return "scenario", self.commands["scenario"], args
        return super().resolve_command(ctx, args)


_run_options = [
    click.option("--workers", type=click.IntRange(min=1), help="Processes (default: all cores)."),
    click.option("--cluster", metavar="tcp://HOST:8786", help="Run on this Dask cluster."),
    click.option(
        "--out",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the full result (series, histograms) as JSON.",
    ),
    click.option(
        "--csv",
        "csv_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the per-second series as CSV.",
    ),
    click.option("--no-store", is_flag=True, help="Do not record the run in the store."),
    click.option(
        "--version",
        "app_version",
        metavar="VERSION",
        help="The version under test, kept with the run (env REDLINE_VERSION).",
    ),
    json_option,
]


def run_options(f: Any) -> Any:
    for option in reversed(_run_options):
        f = option(f)
    return f


@click.group(cls=_LoadGroup)
def load() -> None:
    """Load-test: `redline load SCENARIO --env NAME`, or `redline load run URL`."""


@load.command("scenario", hidden=True)
@click.argument("name")
@click.option("--env", "env", metavar="NAME", help="Environment to run against.")
@click.option("--duration", callback=_duration, help="Override the scenario's duration.")
@run_options
@config_option
@click.pass_context
def scenario(
    ctx: click.Context, /, name: str, env: str | None, duration: float | None, **opts: Any
) -> int:
    """Run the configured scenario NAME."""
    import dataclasses

    from redline.config.loader import load_config
    from redline.load.scenarios import scenario_spec

    loaded = load_config(config_path(ctx), env=env)
    spec = scenario_spec(loaded, name, env)
    if duration is not None:
        spec = dataclasses.replace(
            spec, executor=dataclasses.replace(spec.executor, duration=duration)
        )
    store_url = None if opts["no_store"] else loaded.store_url(env)
    return _execute(spec, env=env, store_url=store_url, base=loaded.base_dir, **opts)


@load.command("list")
@config_option
@json_option
@click.pass_context
def list_scenarios(ctx: click.Context, as_json: bool) -> int:
    """The scenarios in the config."""
    from redline.config.loader import load_config
    from redline.load.scenarios import scenario_names

    names = scenario_names(load_config(config_path(ctx)))
    if as_json:
        echo_json({"scenarios": names})
    else:
        echo("\n".join(names) if names else "no scenarios: add load.scenarios to redline.yaml")
    return EXIT_OK


@load.command("run")
@click.argument("url")
@click.option("--rate", callback=_rate, help="Open model: iterations per second (2000/s).")
@click.option(
    "--connections",
    "-c",
    type=click.IntRange(min=1),
    help="Closed model: connections sending as fast as they can (default 10). "
    "With --rate: the most connections to open.",
)
@click.option("--duration", "-d", callback=_duration, default="10s", show_default=True)
@click.option("--method", "-m", default="GET", show_default=True)
@click.option("--header", "-H", "headers", multiple=True, metavar="'Name: value'")
@click.option("--body", help="Request body (text).")
@click.option("--timeout", callback=_duration, default="10s", show_default=True)
@click.option("--flow", metavar="module:function", help="Run this async flow per iteration.")
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="'METRIC:EXPR'",
    help="e.g. 'http_req_duration:p(99)<200'; exit 1 when crossed.",
)
@run_options
@config_long_option
@click.pass_context
def run(
    ctx: click.Context,
    /,
    url: str,
    rate: float | None,
    connections: int | None,
    duration: float,
    method: str,
    headers: tuple[str, ...],
    body: str | None,
    timeout: float,
    flow: str | None,
    thresholds: tuple[str, ...],
    **opts: Any,
) -> int:
    """Load-test URL without a config (like wrk or hey). -c is --connections here, as in
    wrk; give a config (for its store) before the command: `redline -c FILE load run`."""
    from redline.load.requests import Target
    from redline.load.spec import Executor, LoadSpec, RequestSpec

    target = Target.parse(url)  # a UsageError for anything but http(s)
    parsed_headers = {}
    for header in headers:
        key, sep, value = header.partition(":")
        if not sep or not key.strip():
            raise click.BadParameter(f"{header!r} is not 'Name: value'", param_hint="--header")
        parsed_headers[key.strip()] = value.strip()
    if rate is not None:
        executor = Executor(
            "constant-arrival-rate",
            rate=rate,
            duration=duration,
            max_connections=connections or 1000,
        )
    else:
        executor = Executor("constant-vus", vus=connections or 10, duration=duration)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    base = f"{target.scheme}://{target.host_header}"
    request = RequestSpec(path=path, method=method, headers=parsed_headers, body=body)
    spec = LoadSpec(
        target=base,
        executor=executor,
        requests=(request,),
        flow=flow,
        name=f"adhoc {url}",
        timeout=timeout,
        thresholds=_threshold_options(thresholds),
    )
    store_url = None
    if not opts["no_store"]:
        store_url = _adhoc_store(ctx)
    return _execute(spec, env=None, store_url=store_url, base=Path.cwd(), **opts)


def _threshold_options(values: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for value in values:
        metric, sep, expression = value.partition(":")
        if not sep:
            raise click.BadParameter(
                f"{value!r} is not METRIC:EXPRESSION, e.g. 'http_req_duration:p(99)<200'",
                param_hint="--threshold",
            )
        out[metric.strip()] = (*out.get(metric.strip(), ()), expression.strip())
    return out


def _adhoc_store(ctx: click.Context) -> str:
    """The config's store when there is a config here, else .redline/ in this directory."""
    from redline.store.urls import resolve_store_url

    path = config_path(ctx) or os.environ.get("REDLINE_CONFIG") or "redline.yaml"
    if Path(path).is_file():
        from redline.config.loader import load_config

        return load_config(path).store_url(None)
    return resolve_store_url(None, None, Path.cwd())


def _execute(
    spec: LoadSpec,
    *,
    env: str | None,
    store_url: str | None,
    base: Path,
    workers: int | None,
    cluster: str | None,
    out: Path | None,
    csv_path: Path | None,
    as_json: bool,
    app_version: str | None,
    **_: Any,
) -> int:
    from redline.load.runner import LoadRun, default_workers, preflight
    from redline.load.thresholds import evaluate, parse_thresholds

    parse_thresholds(spec.thresholds)  # a bad expression fails before any traffic
    preflight(spec)  # so do a bad flow, data file or template, once, not per worker
    progress = _Progress(spec, enabled=sys.stderr.isatty() and not as_json)
    if cluster is not None:
        from redline.load.cluster import ClusterRun

        runner: Any = ClusterRun(spec, cluster, on_interval=progress.interval)
    else:
        runner = LoadRun(spec, workers=workers or default_workers(), on_interval=progress.interval)
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(_signum: int, _frame: Any) -> None:
        if runner.stopped:
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting
        # Stop before saying so: a second Ctrl-C can run this handler again in the middle of
        # the first one, and it must find the run already stopping.
        runner.stop()
        echo("\nstopping: in-flight requests finish, partial results are kept", err=True)

    signal.signal(signal.SIGINT, interrupt)
    try:
        result = runner.run()
    finally:
        signal.signal(signal.SIGINT, previous)
        progress.done()
    result.thresholds = [r.to_dict() for r in evaluate(spec.thresholds, result)]
    if store_url is not None:
        from redline._errors import StoreError
        from redline.load.record import record_load

        try:
            record_load(result, spec, store_url, env=env, version=app_version, base=base)
        except StoreError as exc:
            echo(f"warning: the run was not recorded: {exc.message}", err=True)
    if out is not None:
        import json

        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        csv_path.write_text(result.series_csv(), encoding="utf-8")
    if as_json:
        echo_json(result.summary())
    else:
        _human(result)
    return _exit_code(result)


def _exit_code(result: LoadResult) -> int:
    if not result.parts or (result.requests > 0 and not result.statuses):
        return EXIT_NOT_MEASURED  # nothing answered: there is nothing to judge
    if any(not t["ok"] for t in result.thresholds):
        return EXIT_CHECKS_FAILED
    return EXIT_OK


class _Progress:
    """One status line per second on a terminal: rate, p50/p99, errors, time left."""

    def __init__(self, spec: LoadSpec, *, enabled: bool) -> None:
        self.enabled = enabled
        self.total = spec.executor.total_duration
        self.start = time.monotonic()
        self.seconds: dict[int, list[Interval]] = {}
        self.shown = -1

    def interval(self, _worker: int, interval: Interval) -> None:
        if not self.enabled:
            return
        from redline.load import hist

        second = interval.second
        self.seconds.setdefault(second, []).append(interval)
        if second <= self.shown:
            return
        self.shown = second
        rows = self.seconds.pop(second)
        merged = hist.merge(
            hist.decode(e) for i in rows for k, e in i.histograms.items() if k != "__iteration__"
        )
        pct = hist.percentiles_ms(merged, mean=False)
        requests = sum(i.requests for i in rows)
        errors = sum(i.errors for i in rows)
        dropped = sum(i.dropped for i in rows)
        elapsed = time.monotonic() - self.start
        sys.stderr.write(
            f"\r  {elapsed:5.0f}s/{self.total:.0f}s  {requests:>8,} req/s  "
            f"p50 {pct['p50']:.1f} ms  p99 {pct['p99']:.1f} ms  errors {errors}  "
            f"dropped {dropped}   "
        )
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.shown >= 0:
            sys.stderr.write("\n")


def _human(result: LoadResult) -> None:
    s = result.summary()
    lat = s["latency_ms"]
    echo(
        f"{s['scenario']}: {s['requests']:,} requests in {s['duration_s']:.1f}s "
        f"({s['rps']:,.1f}/s) with {s['workers']} worker(s)"
    )
    rows = [[k, f"{lat[k]:.3f}"] for k in ("p50", "p90", "p95", "p99", "p999", "max")]
    print_table("latency (ms)", ["", "ms"], rows)
    if len(s["by_request"]) > 1 or s["errors"]:
        print_table(
            "by request",
            ["request", "requests", "errors", "p50 ms", "p99 ms"],
            [
                [
                    name,
                    f"{r['requests']:,}",
                    f"{r['errors']:,}",
                    f"{r['latency_ms']['p50']:.3f}",
                    f"{r['latency_ms']['p99']:.3f}",
                ]
                for name, r in s["by_request"].items()
            ],
        )
    if s["errors"]:
        kinds = ", ".join(f"{k} {v:,}" for k, v in s["errors_by_kind"].items())
        echo(f"errors: {s['errors']:,} ({kinds})")
    if s["iteration_errors"]:
        kinds = ", ".join(f"{k} {v:,}" for k, v in s["iteration_errors"].items())
        echo(f"failed iterations: {kinds}")
    if s["dropped"]:
        echo(
            f"dropped iterations: {s['dropped']:,} (no free connection: raise max_connections, "
            "or the target cannot keep up)"
        )
    for t in s["thresholds"]:
        mark = "ok  " if t["ok"] else "FAIL"
        echo(f"threshold {mark} {t['metric_key']}: {t['expression']} ({t['reason']})")
    if s["generator_saturated"]:
        echo(
            "warning: the load generator was saturated (CPU over 85 % or event-loop lag over "
            "1 ms): its latencies include its own delays; add --workers or machines",
            err=True,
        )
    if s["lost_workers"]:
        echo("lost workers (their results are missing): " + "; ".join(s["lost_workers"]), err=True)
    if s["interrupted"]:
        echo("interrupted: partial results", err=True)
    if result.requests and not result.statuses:
        kinds = ", ".join(s["errors_by_kind"])
        echo(
            f"no request got a response ({kinds}): is the target up and reachable at "
            f"{result.target}?",
            err=True,
        )
