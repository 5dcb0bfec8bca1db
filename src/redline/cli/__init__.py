"""The ``redline`` command line: a thin layer over the library.

Command groups live one per module and are imported only when used, so
``redline config check`` never pays for the store, the web server or the demo.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from redline.cli._output import handle_errors

__all__ = ["cli", "main"]

# name -> (module, attribute, one-line help); the help is shown without importing the module.
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("redline.cli.init_cmd", "init", "Write a commented starter redline.yaml."),
    "config": ("redline.cli.config_cmd", "config", "Check, show, explain the config; JSON Schema."),
    "env": (
        "redline.cli.env_cmd",
        "env",
        "Check an environment against the variable contract; diff two.",
    ),
    "secrets": (
        "redline.cli.secrets_cmd",
        "secrets",
        "Encrypted secrets: init, set, get, delete, list, rotate, check.",
    ),
    "store": ("redline.cli.store_cmd", "store", "The store: where it is, its schema, migrations."),
    "validate": (
        "redline.cli.validate_cmd",
        "validate",
        "Validate an environment: contract, secrets, then every check at once.",
    ),
    "health": (
        "redline.cli.health_cmd",
        "health",
        "Check continuously; serve a cached health endpoint.",
    ),
    "load": (
        "redline.cli.load_cmd",
        "load",
        "Load-test: a configured scenario, or one URL like wrk/hey.",
    ),
    "import": (
        "redline.cli.import_cmd",
        "import_",
        "Import results: pytest-benchmark, Locust, k6, CSV, JSON.",
    ),
    "compare": (
        "redline.cli.compare_cmd",
        "compare",
        "Compare a candidate with its baseline, metric by metric.",
    ),
    "baseline": (
        "redline.cli.baseline_cmd",
        "baseline",
        "Show, set or accept the baseline runs are judged against.",
    ),
    "analyze": (
        "redline.cli.analyze_cmd",
        "analyze",
        "Change points, drift, anomalies and trends in a metric's history.",
    ),
    "gate": (
        "redline.cli.gate_cmd",
        "gate",
        "CI gate: exit 1 when a gated metric regressed against its baseline.",
    ),
    "deploy": (
        "redline.cli.deploy_cmd",
        "deploy",
        "Deploy VERSION, verify it, go live or roll back by itself.",
    ),
    "rollback": (
        "redline.cli.deploy_cmd",
        "rollback",
        "Roll an environment back by hand to a known-good release.",
    ),
    "recover": (
        "redline.cli.deploy_cmd",
        "recover",
        "Finish what a killed deploy left: roll back or mark it aborted.",
    ),
    "releases": (
        "redline.cli.releases_cmd",
        "releases",
        "Deploy history of an environment; `releases show ID` explains one.",
    ),
    "demo": (
        "redline.cli.demo_cmd",
        "demo",
        "Start the demo system, check it, and show what redline finds.",
    ),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in _COMMANDS:
            from redline.config.diagnostics import closest

            close = closest(name, _COMMANDS)
            hint = f" Did you mean '{close}'?" if close else ""
            raise click.UsageError(f"No such command '{name}'.{hint}", ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="REDLINE_CONFIG",
    help="Config file (default: ./redline.yaml; env REDLINE_CONFIG).",
)
@click.version_option(package_name="redline", prog_name="redline")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """redline: is it deployed right, and fast enough?

    Exit codes: 0 ok; 1 checks failed; 2 could not measure (or usage error);
    5 config invalid; 6 locked; 70 internal error.
    """
    ctx.obj = {"config_path": config_path}


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the console script; never shows a traceback for a user mistake."""
    args = sys.argv[1:] if argv is None else argv
    from redline.redact import install_log_filter

    install_log_filter()  # whatever a library logs, a secret is masked
    code = handle_errors(
        lambda: cli.main(args=args, prog_name="redline", standalone_mode=False), args
    )
    if argv is None:
        _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> None:
    """Leave without tearing down every imported module: the command is done, its files and
    connections are closed, and the teardown costs ~200 ms after `validate` (measured)."""
    import logging

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: nothing more can be said anyway
        code = code or 1
    logging.shutdown()
    os._exit(code)
