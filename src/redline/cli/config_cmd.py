"""``redline config``: check, show, explain, schema."""

from __future__ import annotations

import json
import re
from typing import Any

import click

from redline._errors import UsageError
from redline.cli._output import (
    EXIT_CONFIG,
    config_option,
    config_path,
    echo,
    echo_json,
    emit_diagnostics,
    format_option,
    json_option,
)

__all__ = ["config"]

env_option = click.option("--env", "env", metavar="NAME", help="Environment to resolve.")


@click.group()
def config() -> None:
    """Check, show and explain the config; print its JSON Schema."""


@config.command()
@env_option
@format_option
@config_option
@json_option
@click.pass_context
def check(ctx: click.Context, env: str | None, fmt: str, as_json: bool) -> int:
    """Report every problem in the config, each with file:line:col, rule and hint.

    Exit 0 when the config is valid, 5 when it is not.
    """
    from redline.config.loader import check_config

    loaded, diags = check_config(config_path(ctx), env=env)
    summary: dict[str, Any] = {"file": str(loaded.path) if loaded else config_path(ctx)}
    if loaded is not None:
        summary["environments"] = loaded.environment_names()
        services = loaded.raw.get("services")
        summary["services"] = len(services) if isinstance(services, dict) else 0
    envs = ", ".join(summary.get("environments", [])) or "no environments"
    ok = f"{summary['file']}: ok ({summary.get('services', 0)} services; {envs})"
    errors = emit_diagnostics(diags, "json" if as_json else fmt, ok, **summary)
    return EXIT_CONFIG if errors else 0


@config.command()
@env_option
@config_option
@json_option
@click.pass_context
def show(ctx: click.Context, env: str | None, as_json: bool) -> int:
    """Print the config as one environment sees it: overrides merged, variables expanded.

    Secret values are shown as ***.
    """
    from redline.config.loader import load_config

    loaded = load_config(config_path(ctx), env=env)
    data = loaded.resolved(env)
    if as_json:
        echo_json({"schema_version": 1, "environment": loaded.default_env(env), "config": data})
    else:
        import yaml

        echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    return 0


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parse_path(key: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for match in _PATH_PART.finditer(key):
        parts.append(int(match.group(2)) if match.group(2) is not None else match.group(1))
    return tuple(parts)


@config.command()
@click.argument("key")
@env_option
@config_option
@json_option
@click.pass_context
def explain(ctx: click.Context, key: str, env: str | None, as_json: bool) -> int:
    """Say where a value comes from: a variable (API_URL) or a key (services.api.url).

    For a variable: which source set it (file:line), and what it shadows.
    For a key: the file and line that set it, as written and as resolved.
    """
    from redline.config.loader import load_config
    from redline.config.source import format_path

    if not _parse_path(key):
        raise UsageError("name a variable (API_URL) or a key (services.api.url) to explain")
    loaded = load_config(config_path(ctx), env=env)
    env = loaded.default_env(env)
    sources = loaded.sources(env)
    path = _parse_path(key)
    is_var = len(path) == 1 and path[0] not in loaded.raw and re.fullmatch(r"[A-Za-z_]\w*", key)
    if is_var:
        found = sources.candidates(key)
        if not found:
            raise UsageError(
                f"variable {key} has no value in environment {env or '(none)'}",
                hint="set it in vars:, the env_file, the secrets file, or give it a default",
            )
        winner, shadowed = found[0], found[1:]
        doc: dict[str, Any] = {
            "variable": key,
            "environment": env,
            "value": winner.shown,
            "secret": winner.secret,
            "set_by": {"source": winner.source, "where": winner.where},
            "shadows": [{"source": v.source, "where": v.where, "value": v.shown} for v in shadowed],
            "used_at": _uses(loaded.raw, key),
        }
    else:
        resolved = loaded.resolved(env)
        value = _get(resolved, path)
        raw_value = _get(loaded.raw, path)
        if value is _MISSING:
            raise UsageError(
                f"'{key}' is not set in environment {env or '(none)'}",
                hint="write it as a dotted path, e.g. services.api.checks[0].http.url",
            )
        override = ("environments", env, *path) if env else None
        override_mark = loaded.smap.values.get(override) if override else None
        mark = override_mark or loaded.smap.value(path)
        doc = {
            "key": format_path(path),
            "environment": env,
            "value": value,
            "written_as": _get(loaded.raw, override) if override_mark and override else raw_value,
            "set_at": str(mark) if mark else None,
            "overridden_by_environment": override_mark is not None,
            "variables": [
                {"name": n, "value": v.shown, "source": v.source, "where": v.where}
                for n in _refs(raw_value)
                if (v := sources.lookup(n)) is not None
            ],
        }
    if as_json:
        echo_json({"schema_version": 1, **doc})
        return 0
    if is_var:
        echo(f"{key} = {doc['value']}   (environment {env})")
        echo(f"  set by:  {_at(doc['set_by'])}")
        for s in doc["shadows"]:
            echo(f"  shadows: {_at(s)} = {s['value']}")
        for use in doc["used_at"]:
            echo(f"  used at: {use}")
    else:
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        echo(f"{doc['key']} = {shown}   (environment {env})")
        echo(
            f"  set at:     {doc['set_at']}"
            + (" (environment override)" if doc["overridden_by_environment"] else "")
        )
        if doc["written_as"] != value:
            echo(f"  written as: {doc['written_as']}")
        for v in doc["variables"]:
            echo(f"  ${{{v['name']}}} = {v['value']} from {_at(v)}")
    return 0


_MISSING: Any = object()


def _at(found: dict[str, Any]) -> str:
    """``env_file at .env:3:5``, or just ``process environment`` when there is no place."""
    source, where = found["source"], found["where"]
    return source if where == source else f"{source} at {where}"


def _get(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if isinstance(data, dict):
            if part not in data:
                return _MISSING
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return _MISSING
    return data


def _refs(value: Any) -> list[str]:
    from redline.config.interpolate import references

    if isinstance(value, str):
        return references(value)
    if isinstance(value, dict):
        return [n for v in value.values() for n in _refs(v)]
    if isinstance(value, list):
        return [n for v in value for n in _refs(v)]
    return []


def _uses(raw: dict[str, Any], name: str) -> list[str]:
    from redline.config.interpolate import references
    from redline.config.source import format_path

    found: list[str] = []

    def walk(value: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(value, str) and name in references(value):
            found.append(format_path(path))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*path, i))

    walk(raw.get("services"), ("services",))
    return found


@config.command()
@json_option
def schema(as_json: bool) -> int:
    """Print the JSON Schema of redline.yaml (for editor completion and validation)."""
    from redline.config.schema import Config

    doc = Config.model_json_schema(mode="validation")
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "redline.yaml"
    echo(json.dumps(doc, indent=2))
    return 0
