"""``redline releases``: the deploy history of an environment, and one release explained."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from redline._errors import DataError, UsageError
from redline.cli._output import EXIT_OK, echo, echo_json, json_option, print_table
from redline.cli._store import resolve_store, store_option

if TYPE_CHECKING:
    from redline.store.records import ReleaseRecord

__all__ = ["releases"]

_WHEN = "%Y-%m-%d %H:%M:%S"


@click.group("releases", invoke_without_command=True)
@click.option("--limit", type=click.IntRange(min=1), default=20, help="How many (20).")
@store_option
@json_option
def releases(
    ctx: click.Context, limit: int, store_url: str | None, env: str | None, as_json: bool
) -> int:
    """The releases of an environment, newest first (`releases show ID` explains one).

    A release that passed verification is "known good": the one a rollback returns to.
    """
    if ctx.invoked_subcommand is not None:
        return EXIT_OK
    if not env:
        raise UsageError("which environment? give --env NAME", hint="redline releases --env prod")
    from redline.store.core import open_store

    with open_store(resolve_store(ctx, store_url, env)) as store:
        found = store.list_releases(env, limit=limit)
    if as_json:
        echo_json({"schema_version": 1, "environment": env, "releases": [_json(r) for r in found]})
        return EXIT_OK
    if not found:
        echo(f"no releases of {env} in the store yet (`redline deploy VERSION --env {env}`)")
        return EXIT_OK
    rows = [
        [
            r.id[:8],
            r.version,
            r.state,
            "yes" if r.state == "live" else "",
            r.started_at.strftime(_WHEN),
            _took(r),
            "@".join(filter(None, (r.who_user, r.who_host))) or "-",
        ]
        for r in found
    ]
    print_table(
        f"releases of {env}, newest first",
        ["id", "version", "state", "good", "started (UTC)", "took", "who"],
        rows,
    )
    for r in found:
        if r.reason:
            echo(f"{r.id[:8]} {r.version}: {r.reason}")
    return EXIT_OK


@releases.command("show")
@click.argument("release_id", metavar="ID")
@store_option
@json_option
def show(
    ctx: click.Context, release_id: str, store_url: str | None, env: str | None, as_json: bool
) -> int:
    """One release: who, when, what it replaced, each step with its output, how it ended."""
    from redline.store.core import open_store

    with open_store(resolve_store(ctx, store_url, env)) as store:
        release = store.get_release(release_id)
        if release is None:
            raise DataError(
                f"no release {release_id!r} in the store",
                hint="`redline releases --env NAME` lists them with their ids (give the whole id)",
            )
        previous = (
            store.get_release(release.previous_release_id) if release.previous_release_id else None
        )
    if as_json:
        echo_json({"schema_version": 1, "release": _json(release, steps=True)})
        return EXIT_OK
    who = "@".join(filter(None, (release.who_user, release.who_host))) or "unknown"
    echo(f"release {release.id}: {release.version} to {release.environment}, {_state(release)}")
    echo(f"  by {who}, started {release.started_at.strftime(_WHEN)} UTC, took {_took(release)}")
    if release.services:
        echo(f"  services: {', '.join(release.services)}")
    if previous is not None:
        echo(f"  replaced: {previous.version} ({previous.id[:12]}, {previous.state})")
    if release.reason:
        echo(f"  why it ended so: {release.reason}")
    for i, step in enumerate(release.steps, 1):
        outcome = step.get("outcome") or ("ok" if step.get("ok") else "failed")
        seconds = step.get("seconds")
        took = f" in {seconds:.2f}s" if isinstance(seconds, (int, float)) else ""
        echo(f"  {i}. {step.get('name', 'step')}: {outcome}{took}")
        # a verification's reasons, else a command's last lines of output (--json has all)
        lines = [str(r) for r in step.get("reasons") or []]
        if not lines and step.get("output"):
            lines = str(step["output"]).splitlines()[-5:]
        for line in lines:
            echo(f"       {line}")
    return EXIT_OK


def _state(r: ReleaseRecord) -> str:
    return f"{r.state} (known good)" if r.state == "live" else r.state


def _took(r: ReleaseRecord) -> str:
    if r.finished_at is None:
        return "running"
    return f"{(r.finished_at - r.started_at).total_seconds():.1f}s"


def _json(r: ReleaseRecord, *, steps: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": r.id,
        "environment": r.environment,
        "version": r.version,
        "services": r.services,
        "state": r.state,
        "known_good": r.state == "live",
        "previous_release_id": r.previous_release_id,
        "who": {"user": r.who_user, "host": r.who_host},
        "started_at": r.started_at.isoformat(),
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "reason": r.reason,
    }
    if steps:
        data["steps"] = r.steps
    return data
