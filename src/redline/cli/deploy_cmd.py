"""``redline deploy``, ``redline rollback``, ``redline recover``: deploy, verify, roll back.

Exit codes: 0 live; 1 nothing was switched; 3 deployed, then rolled back; 4 the rollback
failed or was refused; 6 locked; 7 a person must decide (the loop guard, or a verification
that held); 2 usage; 5 config invalid.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from redline.cli._output import EXIT_OK, config_path, echo, echo_json, json_option
from redline.cli._store import resolve_store, store_option

if TYPE_CHECKING:
    from redline.deploy.pipeline import Outcome

__all__ = ["deploy", "recover", "rollback"]


class _DeployGroup(click.Group):
    """``redline deploy VERSION`` runs a deploy; ``redline deploy unlock`` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("deploy", cls=_DeployGroup)
def deploy() -> None:
    """Deploy VERSION to --env, verify it, and go live or roll back by itself.

    `redline deploy VERSION --env NAME` (also `--plan`, `--service`, `--json`);
    `redline deploy unlock --env NAME` frees the lock of a dead deploy.
    """


@deploy.command("run")
@click.argument("version")
@click.option("--service", "services", multiple=True, metavar="NAME", help="Only this service.")
@click.option(
    "--plan", is_flag=True, help="Print every step and the rollback target; change nothing."
)
@click.option("--reason", metavar="TEXT", help="Why (kept with the release).")
@store_option
@json_option
def run(
    ctx: click.Context,
    version: str,
    services: tuple[str, ...],
    plan: bool,
    reason: str | None,
    store_url: str | None,
    env: str | None,
    as_json: bool,
) -> int:
    """Deploy VERSION: lock, record, recipe, verify, then live or automatic rollback."""
    from redline.store.core import open_store

    loaded, env = _loaded(ctx, env)
    with open_store(resolve_store(ctx, store_url, env)) as store, _signals() as stop:
        from redline.deploy.from_config import pipeline_from_config

        pipeline = pipeline_from_config(store, loaded, env, services=services, interrupted=stop)
        if plan:
            data = pipeline.plan(version)
            if as_json:
                echo_json(data)
            else:
                echo(f"plan: deploy {version} to {env} (nothing will change)")
                for i, step in enumerate(data["steps"], 1):
                    echo(f"  {i}. {step}")
            return EXIT_OK
        outcome = pipeline.deploy(version, reason=reason)
    return _report(outcome, as_json)


@deploy.command("unlock")
@click.option("--reason", metavar="TEXT", default="unlocked by hand", help="Why (audited).")
@store_option
@json_option
def unlock(
    ctx: click.Context, reason: str, store_url: str | None, env: str | None, as_json: bool
) -> int:
    """Free --env's deploy lock (a dead deploy's); the takeover is recorded."""
    from redline.deploy.lock import current_lock, default_owner, force_unlock
    from redline.store.core import open_store

    _, env = _loaded(ctx, env)
    with open_store(resolve_store(ctx, store_url, env)) as store:
        holder = current_lock(store, env)
        force_unlock(store, env, who=default_owner(), reason=reason)
    said = f"unlocked {env}" + (f" (was: {holder.describe()})" if holder else " (it was free)")
    if as_json:
        echo_json(
            {"schema_version": 1, "environment": env, "was": holder.describe() if holder else None}
        )
    else:
        echo(said)
    return EXIT_OK


@click.command("rollback")
@click.option("--to", "to", metavar="VERSION", help="A known-good version (default: the previous).")
@click.option("--reason", metavar="TEXT", help="Why (kept with the release).")
@store_option
@json_option
def rollback(
    ctx: click.Context,
    to: str | None,
    reason: str | None,
    store_url: str | None,
    env: str | None,
    as_json: bool,
) -> int:
    """Roll --env back by hand to a known-good release (skips the soak, runs smoke)."""
    from redline.deploy.from_config import pipeline_from_config
    from redline.store.core import open_store

    loaded, env = _loaded(ctx, env)
    with open_store(resolve_store(ctx, store_url, env)) as store:
        outcome = pipeline_from_config(store, loaded, env).rollback(to=to, reason=reason)
    return _report(outcome, as_json)


@click.command("recover")
@store_option
@json_option
def recover(ctx: click.Context, store_url: str | None, env: str | None, as_json: bool) -> int:
    """Finish what a killed deploy of --env left: roll back or mark it aborted."""
    from redline.deploy.from_config import pipeline_from_config
    from redline.deploy.pipeline import recover as recover_env
    from redline.store.core import open_store

    loaded, env = _loaded(ctx, env)
    with open_store(resolve_store(ctx, store_url, env)) as store:
        outcomes = recover_env(pipeline_from_config(store, loaded, env))
    if as_json:
        echo_json({"schema_version": 1, "recovered": [o.to_dict() for o in outcomes]})
    elif not outcomes:
        echo(f"nothing to recover in {env}")
    for o in outcomes if not as_json else ():
        echo(f"release {o.release_id[:12]} ({o.version}): {o.state}: {'; '.join(o.reasons)}")
    return max((o.code for o in outcomes), default=EXIT_OK)


def _loaded(ctx: click.Context, env: str | None) -> tuple[Any, str]:
    from redline._errors import UsageError
    from redline.config.loader import load_config

    loaded = load_config(config_path(ctx), env=env)
    chosen = loaded.default_env(env)
    if not chosen:
        raise UsageError("which environment? give --env NAME", hint="redline deploy 1.4 --env prod")
    return loaded, chosen


@contextmanager
def _signals() -> Iterator[Any]:
    """SIGINT/SIGTERM set a flag the pipeline reads between steps: before the switch the
    deploy stops (the old release keeps serving), after it the release is rolled back."""
    caught: list[int] = []
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, _frame: Any) -> None:
        caught.append(signum)
        echo("\nstopping: the deploy ends at the next step (rolled back if it switched)", err=True)

    for s in previous:
        signal.signal(s, handler)
    try:
        yield lambda: bool(caught)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _report(outcome: Outcome, as_json: bool) -> int:
    if as_json:
        echo_json(outcome.to_dict())
        return outcome.code
    what = {
        "live": f"{outcome.version} is live in {outcome.environment}",
        "rolled_back": f"{outcome.version} was rolled back to {outcome.rolled_back_to}",
        "failed": f"{outcome.version} failed",
        "aborted": f"{outcome.version} was stopped before the switch",
    }.get(outcome.state, f"{outcome.version}: {outcome.state}")
    for step in outcome.steps:
        took = f" ({step['seconds']:.2f}s)" if isinstance(step.get("seconds"), float) else ""
        echo(f"  {step.get('outcome', '?'):>8}  {step.get('name')}{took}")
    echo(what)
    for reason in outcome.reasons:
        echo(f"  because: {reason}")
    echo(f"release {outcome.release_id} (`redline releases show {outcome.release_id}`)")
    return outcome.code
