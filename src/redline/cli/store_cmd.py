"""``redline store``: where the store is, its schema, and its migrations."""

from __future__ import annotations

from typing import Any

import click

from redline.cli._output import (
    EXIT_OK,
    echo,
    echo_json,
    json_option,
    print_table,
)
from redline.cli._store import resolve_store, store_option

__all__ = ["store"]


@click.group("store")
def store() -> None:
    """The store: where it is, its schema, migrations."""


@store.command("info")
@store_option
@json_option
def info(ctx: click.Context, store_url: str | None, env: str | None, as_json: bool) -> int:
    """Show the store's URL, backend, schema revision and row counts."""
    from redline.store.core import open_store
    from redline.store.migrate import HEAD_REVISION
    from redline.store.urls import parse_store_url

    url = resolve_store(ctx, store_url, env)
    target = parse_store_url(url)
    data: dict[str, Any] = {
        "schema_version": 1,
        "ok": True,
        "url": target.redacted,
        "backend": target.backend,
        "exists": True,
        "revision": None,
        "head": HEAD_REVISION,
        "up_to_date": False,
        "rows": {},
    }
    path = target.sqlite_path
    if path is not None and not path.exists():
        # Looking must not create: the store is made on first real use.
        data["exists"] = False
    else:
        with open_store(url, upgrade=False) as opened:
            data["revision"] = opened.schema_revision()
            data["rows"] = opened.row_counts()
        data["up_to_date"] = data["revision"] == HEAD_REVISION
    if as_json:
        echo_json(data)
        return EXIT_OK
    echo(f"store:    {data['url']}")
    echo(f"backend:  {data['backend']}")
    if not data["exists"]:
        echo("schema:   none yet (the store is created on first use)")
        return EXIT_OK
    pending = "" if data["up_to_date"] else "  (behind: run `redline store upgrade`)"
    echo(f"schema:   {data['revision'] or 'none'} (head {HEAD_REVISION}){pending}")
    if data["rows"]:
        rows = [[name, str(count)] for name, count in data["rows"].items()]
        print_table("rows", ["table", "rows"], rows)
    return EXIT_OK


@store.command("upgrade")
@store_option
@json_option
def upgrade(ctx: click.Context, store_url: str | None, env: str | None, as_json: bool) -> int:
    """Create the store or bring its schema to this redline's head (safe to repeat)."""
    from redline.store.core import open_store

    with open_store(resolve_store(ctx, store_url, env), upgrade=False) as opened:
        before = opened.schema_revision()
        applied = opened.upgrade()
        after = opened.schema_revision()
        url = opened.url
    if as_json:
        echo_json(
            {
                "schema_version": 1,
                "ok": True,
                "url": url,
                "from": before,
                "to": after,
                "applied": list(applied),
            }
        )
    elif applied:
        echo(f"upgraded {url} from {before or 'empty'} to {after}: applied {', '.join(applied)}")
    else:
        echo(f"{url} is already at schema {after}")
    return EXIT_OK
