"""What every command shares: output that never shows a secret, JSON mode, error handling."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from redline._errors import ConfigInvalidError, RedlineError
from redline.redact import REDACTOR

__all__ = [
    "EXIT_CHECKS_FAILED",
    "EXIT_CONFIG",
    "EXIT_INTERNAL",
    "EXIT_LOCKED",
    "EXIT_NOT_MEASURED",
    "EXIT_OK",
    "config_option",
    "config_path",
    "echo",
    "echo_json",
    "emit_diagnostics",
    "format_option",
    "fraction_callback",
    "handle_errors",
    "json_option",
    "print_table",
]

EXIT_OK = 0
EXIT_CHECKS_FAILED = 1
EXIT_NOT_MEASURED = 2
EXIT_CONFIG = 5
EXIT_LOCKED = 6
EXIT_INTERNAL = 70

F = TypeVar("F", bound=Callable[..., Any])


def json_option(f: F) -> F:
    """``--json``: print one JSON document on stdout instead of text."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(f)


def _config_option(*decls: str) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
            if value:
                root = ctx.find_root()
                root.obj = {**(root.obj or {}), "config_path": value}
            return value

        return click.option(
            *decls,
            "config_file",
            type=click.Path(dir_okay=False),
            expose_value=False,
            callback=remember,
            help="Config file (default: ./redline.yaml; env REDLINE_CONFIG).",
        )(f)

    return decorate


# ``-c/--config PATH`` on a subcommand too (``redline config check -c x.yaml``).
config_option = _config_option("-c", "--config")
# Only ``--config``, where ``-c`` means something else (``redline load run -c 50``).
config_long_option = _config_option("--config")


def config_path(ctx: click.Context) -> str | None:
    """The config path given with -c at any level, or None (REDLINE_CONFIG, ./redline.yaml)."""
    obj = ctx.find_root().obj or {}
    value = obj.get("config_path")
    return str(value) if value else None


def echo(text: str = "", *, err: bool = False) -> None:
    """Print ``text`` with every known secret value masked."""
    click.echo(REDACTOR.scrub(text), err=err)


def emit_diagnostics(diagnostics: list[Any], fmt: str, ok_message: str, **summary: Any) -> int:
    """Print diagnostics as human text, JSON or GitHub annotations; the number of errors."""
    from redline.config.diagnostics import render_github, render_human, render_json

    errors: int = sum(d.severity == "error" for d in diagnostics)
    if fmt == "json":
        echo(render_json(diagnostics, **summary))
    elif fmt == "github":
        if diagnostics:
            echo(render_github(diagnostics))
    elif diagnostics:
        echo(render_human(diagnostics), err=errors > 0)
    else:
        echo(ok_message)
    return errors


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["human", "json", "github"]),
    default="human",
    help="human (default), json, or github (workflow annotations).",
)


def echo_json(data: Any) -> None:
    echo(json.dumps(data, indent=2, default=str))


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A box-drawn table on stdout, as wide as the terminal (80 when not one); every cell
    is scrubbed of secrets."""
    import shutil

    from redline.cli._table import render

    width = shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80
    cells = [[REDACTOR.scrub(str(cell)) for cell in row] for row in rows]
    click.echo(render(title, columns, cells, width=width))


def _output_format(args: list[str]) -> str:
    """What the command line asked for: json (``--json``, ``--format json``), github, human."""
    if "--json" in args:
        return "json"
    for i, arg in enumerate(args):
        if arg.startswith("--format="):
            return arg.split("=", 1)[1]
        if arg == "--format" and i + 1 < len(args):
            return args[i + 1]
    return "human"


def handle_errors(run: Callable[[], Any], args: list[str]) -> int:
    """Run the CLI; turn every error into a message and an exit code, never a traceback."""
    try:
        result = run()
    except RedlineError as exc:
        _report(exc, args)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        echo("aborted", err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:
        echo(exc.format_message())  # a bare `redline` or `redline config`: show the help
        return EXIT_OK
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "redline"
        echo(f"error: {exc.format_message()}\n  hint: see `{command} --help`", err=True)
        return EXIT_NOT_MEASURED
    except click.ClickException as exc:
        echo(f"error: {exc.format_message()}", err=True)
        return EXIT_NOT_MEASURED
    except KeyboardInterrupt:
        echo("interrupted", err=True)
        return 130
    except Exception as exc:
        if os.environ.get("REDLINE_DEBUG"):
            import traceback

            echo(traceback.format_exc(), err=True)  # scrubbed like everything else
            return EXIT_INTERNAL
        echo(
            f"internal error: {type(exc).__name__}: {REDACTOR.scrub(str(exc))}\n"
            "  this is a bug in redline; rerun with REDLINE_DEBUG=1 for details and report it",
            err=True,
        )
        return EXIT_INTERNAL
    return int(result) if isinstance(result, int) else EXIT_OK


def _report(exc: RedlineError, args: list[str]) -> None:
    fmt = _output_format(args)
    if isinstance(exc, ConfigInvalidError):
        emit_diagnostics(exc.diagnostics, fmt, "")
        return
    if fmt == "github":
        from redline.config.diagnostics import gh_escape

        echo(f"::error title={type(exc).__name__}::{gh_escape(str(exc))}")
    elif fmt == "json":
        echo_json(
            {
                "schema_version": 1,
                "ok": False,
                "error": {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint},
            }
        )
    else:
        echo(f"error: {exc}", err=True)


def fraction_callback(hint: str = "") -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback reading a share such as ``5%`` or ``0.05`` (None stays None)."""

    def read(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
        from redline.units import parse_fraction

        if value is None:
            return None
        try:
            return parse_fraction(value)
        except ValueError as exc:
            raise click.BadParameter(f"{exc}{hint}") from None

    return read
