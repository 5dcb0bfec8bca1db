"""The store options every command that reads or writes runs shares: ``--store``, ``--env``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from redline.cli._output import config_option, config_path

__all__ = ["resolve_store", "store_option"]

_STORE_HELP = (
    "Store URL (default: env REDLINE_STORE_URL, else the config's store:, else "
    "sqlite:///./.redline/redline.db). "
    "sqlite:///path or postgresql://user:password@host:5432/db."
)


def store_option(f: Any) -> Any:
    """``--store URL``, ``--env NAME`` and ``--config``, and the click context first."""
    f = click.option("--env", "env", metavar="NAME", help="Environment whose store to use.")(f)
    f = config_option(f)
    f = click.pass_context(f)
    return click.option("--store", "store_url", metavar="URL", help=_STORE_HELP)(f)


def resolve_store(ctx: click.Context, store_url: str | None, env: str | None) -> str:
    """``--store``, else ``REDLINE_STORE_URL``, else the config's ``store:`` (when there is a
    config), else ``./.redline/redline.db``."""
    from redline.config.loader import find_config, load_config
    from redline.store.urls import resolve_store_url

    given = config_path(ctx)
    if store_url or os.environ.get("REDLINE_STORE_URL") or not (given or find_config().is_file()):
        return resolve_store_url(store_url, None, Path.cwd())
    return load_config(given, env=env).store_url(env)
