"""``redline baseline``: show, set or accept the baseline runs are judged against."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

import click

from redline._errors import UsageError
from redline.cli._output import EXIT_OK, config_path, echo, echo_json, json_option, print_table
from redline.cli._store import resolve_store, store_option

if TYPE_CHECKING:
    from redline.analysis.baseline import Baseline, BaselineRule
    from redline.config.schema import Regressions
    from redline.store.baselines import BaselineRecord
    from redline.store.records import RunRecord

__all__ = ["baseline"]


@click.group("baseline")
def baseline() -> None:
    """Show, set or accept the baseline runs are judged against.

    By default a run is judged against the last 5 good runs of the same name and
    environment on main; `set` chooses another rule, `accept` starts a new baseline
    from a run after an expected change.
    """


@baseline.command("show")
@click.argument("name")
@click.option("--branch", metavar="BRANCH", help="The main branch (default: the rule's, main).")
@store_option
@json_option
def show(
    ctx: click.Context,
    name: str,
    branch: str | None,
    store_url: str | None,
    env: str | None,
    as_json: bool,
) -> int:
    """The baseline the next run of NAME would be judged against: rule, runs, medians."""
    from redline.analysis.baseline import current_baseline
    from redline.analysis.history import run_samples
    from redline.store.core import open_store

    with open_store(resolve_store(ctx, store_url, env)) as store:
        chosen = current_baseline(store, name, env, branch=branch, default=_default(ctx, env))
        samples = run_samples(store, chosen.run_ids)
    metrics: dict[str, dict[str, Any]] = {
        metric: {
            "median": statistics.median(values),
            "unit": samples.units.get(metric),
            "direction": samples.directions.get(metric, "none"),
            "runs": len(values),
            "missing_in": list(samples.missing.get(metric, ())),
        }
        for metric, values in samples.items()
    }
    if as_json:
        echo_json(
            {
                "schema_version": 1,
                "ok": True,
                "name": name,
                "environment": env,
                "rule": _rule_json(chosen),
                "why": chosen.why,
                "set": _entry_json(chosen.entry) if chosen.entry else None,
                "runs": [_run_json(run) for run in chosen.runs],
                "metrics": metrics,
            }
        )
        return EXIT_OK
    echo(f"baseline of {name}{_in(env)}: {chosen.description}")
    echo(f"  {chosen.why}")
    echo(f"{len(chosen.runs)} run{'s' if len(chosen.runs) != 1 else ''} (newest first):")
    for run in chosen.runs:
        facts = [_when(run.started_at), f"commit {(run.commit or '-')[:12]}"]
        facts += [f"version {run.version or '-'}", f"branch {run.branch or '-'}"]
        echo(f"  {run.id}  {'  '.join(facts)}")
    total = len(chosen.runs)
    print_table(
        "baseline medians",
        ["metric", "median", "unit", "better", "runs"],
        [
            [
                metric,
                f"{m['median']:.6g}",
                m["unit"] or "",
                m["direction"],
                f"{m['runs']}" + (f" of {total}" if m["runs"] < total else ""),
            ]
            for metric, m in metrics.items()
        ],
    )
    return EXIT_OK


@baseline.command("set")
@click.argument("name")
@click.option(
    "--last", "last", type=int, metavar="N", help="The last N good runs on the main branch."
)
@click.option("--branch", metavar="BRANCH", help="With --last: the main branch (default main).")
@click.option("--tag", metavar="VERSION", help="The good runs whose version is VERSION.")
@click.option("--runs", "run_ids", metavar="ID,ID", help="Exactly these runs.")
@click.option("--reason", metavar="TEXT", help="Why; kept in the baseline's history.")
@store_option
@json_option
def set_(
    ctx: click.Context,
    name: str,
    last: int | None,
    branch: str | None,
    tag: str | None,
    run_ids: str | None,
    reason: str | None,
    store_url: str | None,
    env: str | None,
    as_json: bool,
) -> int:
    """Choose how the baseline of NAME (in --env) is chosen, from now on."""
    from redline.analysis.baseline import DEFAULT_BRANCH, BaselineRule, set_baseline
    from redline.store.core import open_store

    given = [
        flag
        for flag, value in (("--last", last), ("--tag", tag), ("--runs", run_ids))
        if value is not None
    ]
    if len(given) != 1:
        raise UsageError(
            "give exactly one of --last N, --tag VERSION, --runs ID,ID"
            + (f" (got {' and '.join(given)})" if given else ""),
            hint=f"e.g. redline baseline set {name}{_env_flag(env)} --last 5",
        )
    if run_ids is not None and branch is not None:
        raise UsageError("--branch goes with --last or --tag, not --runs", hint="drop --branch")
    if last is not None:
        rule = BaselineRule.last_good(last, branch or DEFAULT_BRANCH)
    elif tag is not None:
        rule = BaselineRule.tag(tag, branch)
    else:
        assert run_ids is not None
        rule = BaselineRule.runs([i.strip() for i in run_ids.split(",") if i.strip()])
    with open_store(resolve_store(ctx, store_url, env)) as store:
        record = set_baseline(store, name, env, rule, reason=reason)
    if as_json:
        echo_json({"schema_version": 1, "ok": True, "set": _entry_json(record)})
    else:
        count = len(record.run_ids)
        echo(
            f"baseline of {name}{_in(env)} is now: {rule.describe()} "
            f"({count} run{'s' if count != 1 else ''} today)"
        )
    return EXIT_OK


@baseline.command("accept")
@click.argument("run_id")
@click.option("--reason", required=True, metavar="TEXT", help="Why the change is expected.")
@store_option
@json_option
def accept(
    ctx: click.Context,
    run_id: str,
    reason: str,
    store_url: str | None,
    env: str | None,
    as_json: bool,
) -> int:
    """Accept RUN_ID as an expected change: the baseline starts again from it."""
    from redline.analysis.baseline import accept_baseline
    from redline.store.core import open_store

    with open_store(resolve_store(ctx, store_url, env)) as store:
        record = accept_baseline(store, run_id, reason=reason, default=_default(ctx, env))
        run = store.get_run(run_id)
    assert run is not None
    if as_json:
        echo_json(
            {
                "schema_version": 1,
                "ok": True,
                "accepted": _entry_json(record),
                "run": _run_json(run),
            }
        )
        return EXIT_OK
    facts = ", ".join(
        f
        for f in (
            f"version {run.version}" if run.version else "",
            f"commit {run.commit[:12]}" if run.commit else "",
        )
        if f
    )
    echo(
        f"accepted run {run.id} ({run.name}{_in(run.environment)}{', ' + facts if facts else ''}): "
        f"the baseline of {run.name}{_in(run.environment)} starts again from it"
    )
    echo(f"  reason: {record.reason}; by {record.who or 'unknown'}")
    return EXIT_OK


@baseline.command("history")
@click.argument("name")
@store_option
@json_option
def history(
    ctx: click.Context, name: str, store_url: str | None, env: str | None, as_json: bool
) -> int:
    """Every change to the baseline of NAME (in --env), newest (in force) first."""
    from redline.analysis.baseline import BaselineRule, baseline_history
    from redline.store.core import open_store

    with open_store(resolve_store(ctx, store_url, env)) as store:
        records = baseline_history(store, name, env)
    if as_json:
        echo_json(
            {
                "schema_version": 1,
                "ok": True,
                "name": name,
                "environment": env,
                "history": [_entry_json(r) for r in records],
            }
        )
        return EXIT_OK
    if not records:
        echo(
            f"no baseline was ever set for {name}{_in(env)}: "
            f"the default rule applies ({_default(ctx, env).describe()})"
        )
        return EXIT_OK
    echo(f"baseline history of {name}{_in(env)} (newest, in force, first):")
    for r in records:
        line = f"  {_when(r.created_at)}  {r.action:<6}  {BaselineRule.from_record(r).describe()}"
        if r.action == "accept":
            line += f" from run {r.start_run_id}"
        echo(f"{line}  by {r.who or 'unknown'}")
        if r.reason:
            echo(f"      reason: {r.reason}")
    return EXIT_OK


def _default(ctx: click.Context, env: str | None) -> BaselineRule:
    """The rule when none is stored: the config's ``regressions:`` (main branch, baseline
    runs) when there is a config, as ``redline gate`` reads it, else the last 5 on main."""
    from redline.analysis.baseline import BaselineRule
    from redline.config.loader import find_config, load_config

    given = config_path(ctx)
    if not (given or find_config().is_file()):
        return BaselineRule()
    loaded = load_config(given)
    names = loaded.environment_names()
    if (env in names) if env is not None else len(names) <= 1:
        return _last_good(loaded.config(env).regressions)
    # No --env among several environments, or runs of an environment the config does not
    # declare: the top-level section is what applies.
    from redline.config.schema import Regressions

    return _last_good(Regressions.model_validate(loaded.raw.get("regressions") or {}))


def _last_good(section: Regressions) -> BaselineRule:
    from redline.analysis.baseline import BaselineRule

    return BaselineRule.last_good(section.baseline_runs, section.main_branch)


def _rule_json(chosen: Baseline) -> dict[str, Any]:
    return {"kind": chosen.rule.kind, **chosen.rule.to_json(), "description": chosen.description}


def _entry_json(record: BaselineRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "environment": record.environment,
        "action": record.action,
        "rule": {"kind": record.rule_kind, **record.rule_value},
        "run_ids": record.run_ids,
        "start_run_id": record.start_run_id,
        "start_at": record.start_at.isoformat() if record.start_at else None,
        "reason": record.reason,
        "who": record.who,
        "created_at": record.created_at.isoformat(),
    }


def _run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "name": run.name,
        "environment": run.environment,
        "started_at": run.started_at.isoformat(),
        "commit": run.commit,
        "version": run.version,
        "branch": run.branch,
        "host": run.host,
        "status": run.status,
    }


def _when(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%d %H:%M:%S UTC"))


def _in(environment: str | None) -> str:
    return f" in {environment}" if environment else ""


def _env_flag(environment: str | None) -> str:
    return f" --env {environment}" if environment else ""
