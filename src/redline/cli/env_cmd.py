"""``redline env``: hold an environment to the variable contract; diff two environments."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from redline.cli._output import (
    EXIT_CHECKS_FAILED,
    config_option,
    config_path,
    echo,
    emit_diagnostics,
    format_option,
    json_option,
)

if TYPE_CHECKING:
    from redline.environment import EnvironmentManager

__all__ = ["env"]


@click.group()
def env() -> None:
    """Check environments against the variable contract; find drift between two."""


def _manager(ctx: click.Context) -> EnvironmentManager:
    from redline.config.loader import load_config
    from redline.environment import EnvironmentManager

    return EnvironmentManager(load_config(config_path(ctx)))


@env.command()
@click.option("--env", "name", metavar="NAME", help="Environment to check (default: all).")
@format_option
@config_option
@json_option
@click.pass_context
def check(ctx: click.Context, name: str | None, fmt: str, as_json: bool) -> int:
    """Report missing, empty, wrong-typed and out-of-range values, unknown variables
    under a declared prefix, and .env file problems.

    Exit 0 when the contract holds, 1 when it is broken, 5 when the config is invalid.
    """
    manager = _manager(ctx)
    names: list[str | None] = [name] if name else [*manager.environments()] or [None]
    diags = [d for n in names for d in manager.check(n)]
    ok = (
        f"{', '.join(n or '(no environments)' for n in names)}: "
        f"contract holds ({len(manager.config.variables)} variables declared)"
    )
    errors = emit_diagnostics(diags, "json" if as_json else fmt, ok, environments=names)
    return EXIT_CHECKS_FAILED if errors else 0


@env.command()
@click.argument("a")
@click.argument("b")
@config_option
@json_option
@click.pass_context
def diff(ctx: click.Context, a: str, b: str, as_json: bool) -> int:
    """Show drift between environments A and B: keys missing in one, types that
    differ, and secret values shared by both (compared by hash, never shown).

    Exit 0 when there is no drift, 1 when there is.
    """
    from redline.config.diagnostics import render_human, render_json

    manager = _manager(ctx)
    report = manager.diff(a, b)
    if as_json:
        echo(
            render_json(
                report.diagnostics,
                a=a,
                b=b,
                drift=report.drifted,
                secrets_compared=report.secrets_compared,
            )
        )
    elif report.diagnostics:
        echo(render_human(report.diagnostics))
    else:
        echo(f"no drift between {a} and {b}")
    return EXIT_CHECKS_FAILED if report.drifted else 0
