"""``redline init``: write a commented starter config."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import click

from redline._errors import UsageError
from redline.cli._output import config_option, config_path, echo, echo_json, json_option

__all__ = ["init", "starter_config"]


def starter_config(project: str) -> str:
    """The starter ``redline.yaml`` text for ``project``."""
    template = resources.files("redline").joinpath("templates/starter.yaml").read_text("utf-8")
    import json

    # A JSON string is a YAML string: `yes`, `2024` or `a: b` stay text.
    return template.replace("{project}", json.dumps(project))


@click.command()
@click.option("--project", help="Project name (default: the directory's name).")
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
@config_option
@json_option
@click.pass_context
def init(ctx: click.Context, project: str | None, force: bool, as_json: bool) -> int:
    """Write a commented starter redline.yaml (or the -c path)."""
    path = Path(config_path(ctx) or "redline.yaml")
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="pass --force to overwrite it")
    name = (
        project or re.sub(r"[^A-Za-z0-9_.-]+", "-", path.resolve().parent.name).strip("-") or "app"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(starter_config(name), encoding="utf-8")
    if as_json:
        echo_json({"schema_version": 1, "ok": True, "written": str(path), "project": name})
    else:
        echo(f"wrote {path} for project '{name}'")
        flag = "" if str(path) == "redline.yaml" else f" -c {path}"
        echo(f"next: edit it, then run `redline config check{flag}`")
    return 0
