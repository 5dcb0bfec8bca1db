"""Alembic's entry point for redline's store migrations.

redline runs migrations in code (:mod:`redline.store.migrate`) and passes the open
connection, already inside its transaction and lock, as
``config.attributes["connection"]``. A developer drafting a migration may pass a
URL instead (``sqlalchemy.url``); then this script opens its own connection.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from redline.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_from_url(url: str) -> None:
    from redline.store.connection import WRITE_OPTION, create_store_engine
    from redline.store.urls import parse_store_url

    engine = create_store_engine(parse_store_url(url))
    try:
        with engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                _run(connection)
    finally:
        engine.dispose()


_connection = context.config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:
    _url = context.config.get_main_option("sqlalchemy.url")
    if not _url:
        raise RuntimeError("redline migrations need a connection or a sqlalchemy.url")
    _run_from_url(_url)
