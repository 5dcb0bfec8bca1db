"""``redline gate``: exit 1 when a gated metric regressed against its baseline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from redline.cli._output import (
    config_path,
    echo,
    echo_json,
    format_option,
    fraction_callback,
    json_option,
    print_table,
)
from redline.cli._store import resolve_store, store_option

if TYPE_CHECKING:
    from redline.analysis.baseline import BaselineRule
    from redline.analysis.gate import GatePolicy, GateResult

__all__ = ["gate"]


@click.command("gate")
@click.argument("name", required=False)
@click.option("--run", "run_ids", multiple=True, metavar="ID", help="The candidate run(s).")
@click.option("--metric", "metrics", multiple=True, metavar="NAME", help="Gate only these.")
@click.option("--last", type=click.IntRange(min=1), help="Baseline: the last N good runs.")
@click.option("--branch", metavar="BRANCH", help="Baseline: runs of this branch (main).")
@click.option("--tag", metavar="VERSION", help="Baseline: the runs of this version.")
@click.option("--baseline-runs", metavar="ID,ID", help="Baseline: exactly these runs.")
@click.option("--min-effect", callback=fraction_callback(), help="Smallest change that fails (5%).")
@click.option(
    "--inconclusive",
    type=click.Choice(["fail", "pass"]),
    help="When a gated metric cannot be decided: exit 2 (fail, default) or 0.",
)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML.")
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a pull-request comment (Markdown).",
)
@format_option
@json_option
@store_option
def gate(
    ctx: click.Context,
    name: str | None,
    run_ids: tuple[str, ...],
    metrics: tuple[str, ...],
    last: int | None,
    branch: str | None,
    tag: str | None,
    baseline_runs: str | None,
    min_effect: float | None,
    inconclusive: str | None,
    junit: Path | None,
    markdown: Path | None,
    fmt: str,
    as_json: bool,
    store_url: str | None,
    env: str | None,
) -> int:
    """Judge the newest run of NAME (or --run ID) against its baseline.

    The runs of the candidate's commit join it; the baseline is the last 5 good runs on
    main unless `redline baseline set`, the config's `regressions:` section or the
    options here say otherwise.

    Exit 0 no gated metric regressed; 1 one did; 2 could not decide (no baseline, too
    few runs, bad input).
    """
    from redline.analysis.gate import run_gate
    from redline.store.core import open_store

    policy = _policy(ctx, env, min_effect, inconclusive)
    rule = _rule(policy, last, branch, tag, baseline_runs)
    with open_store(resolve_store(ctx, store_url, env)) as store:
        result = run_gate(
            store,
            name=name,
            environment=env,
            run_ids=run_ids,
            rule=rule,
            metrics=metrics,
            policy=policy,
        )
    _write_reports(result, junit, markdown)
    if as_json or fmt == "json":
        echo_json(result.to_dict())
    elif fmt == "github":
        from redline.report.gate import github_annotations

        echo(github_annotations(result))
    else:
        _human(result)
    return result.exit_code


def _policy(
    ctx: click.Context, env: str | None, min_effect: float | None, inconclusive: str | None
) -> GatePolicy:
    """The config's ``regressions:`` section (when there is a config), then the options."""
    from dataclasses import replace

    from redline.analysis.gate import GatePolicy
    from redline.config.loader import find_config, load_config

    given = config_path(ctx)
    policy = GatePolicy()
    if given or find_config().is_file():
        policy = GatePolicy.from_config(load_config(given, env=env).config(env).regressions)
    if min_effect is not None:
        policy = replace(policy, default=replace(policy.default, min_effect_rel=min_effect))
    if inconclusive is not None:
        policy = replace(policy, inconclusive=inconclusive)  # type: ignore[arg-type]
    return policy


def _rule(
    policy: GatePolicy, last: int | None, branch: str | None, tag: str | None, runs: str | None
) -> BaselineRule | None:
    """The baseline rule the options ask for; None leaves it to the store and the config."""
    from redline._errors import UsageError
    from redline.analysis.baseline import BaselineRule

    options = (("--last", last), ("--tag", tag), ("--baseline-runs", runs))
    chosen = [flag for flag, value in options if value]
    if len(chosen) > 1:
        raise UsageError(
            f"{' and '.join(chosen)} choose the baseline in different ways",
            hint="give one of --last, --tag or --baseline-runs",
        )
    if tag:
        return BaselineRule.tag(tag)
    if runs:
        return BaselineRule.runs([r.strip() for r in runs.split(",") if r.strip()])
    if last or branch:
        return BaselineRule.last_good(last or policy.baseline_runs, branch or policy.main_branch)
    return None


def _write_reports(result: GateResult, junit: Path | None, markdown: Path | None) -> None:
    from redline.report import gate as report

    for path, render in ((junit, report.junit_xml), (markdown, report.markdown)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(result), encoding="utf-8")


def _human(result: GateResult) -> None:
    from redline.report.gate import metric_cells

    data = result.to_dict()
    cand = data["candidate"]
    at = f" at {cand['commit'][:12]}" if cand["commit"] else ""
    echo(f"candidate: {data['name']}{at}, {len(cand['runs'])} run(s)")
    echo(f"baseline:  {data['baseline']['why']}")
    rows = [metric_cells(m) for m in data["metrics"] if m["gated"] or m["verdict"] != "unchanged"]
    quiet = len(data["metrics"]) - len(rows)
    if rows:
        print_table("", ["metric", "baseline", "candidate", "change", "interval", "verdict"], rows)
    if quiet:
        echo(f"({quiet} ungated metric(s) unchanged)")
    for m in data["metrics"]:
        if m["gated"] and m["verdict"] in ("regressed", "inconclusive"):
            echo(f"{m['metric']}: {m['reason']}")
    for note in data["notes"]:
        echo(f"note: {note}")
    verdict = {
        "pass": "PASS: no gated metric regressed",
        "regressed": f"FAIL: regressed: {', '.join(data['regressed'])}",
        "undecided": f"UNDECIDED: could not decide {', '.join(data['undecided'])} (exit 2)",
    }[data["verdict"]]
    echo(verdict)
