"""The store's schema: SQLAlchemy Core tables on one :data:`metadata`.

The same tables serve SQLite (the embedded default) and PostgreSQL (teams), so
every type here is portable:

- ids are 32-character uuid4 hex strings (runs, releases) or integer surrogate
  keys that autoincrement on both engines (:data:`BigId`);
- times are :class:`UTCDateTime`: timezone-aware UTC in Python, ``timestamptz``
  on PostgreSQL, ISO text on SQLite (which sorts correctly because it is UTC);
- documents are :data:`Json` (``JSONB`` on PostgreSQL, ``JSON`` text on SQLite).

This module is the source of truth the migrations must reproduce; a test
upgrades an empty database through every migration and compares the result with
:data:`metadata`. Changing a table here means adding a migration in
``migrations/versions/`` (see ``docs/store.md``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

__all__ = [
    "NAMING_CONVENTION",
    "BigId",
    "Json",
    "UTCDateTime",
    "baselines",
    "deploy_locks",
    "histograms",
    "lock_events",
    "metadata",
    "releases",
    "run_metrics",
    "runs",
    "samples",
]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# SQLite autoincrements only a column declared exactly ``INTEGER PRIMARY KEY``.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine.

    Binding a naive datetime is refused: a time without a zone is ambiguous, and
    the store must not guess.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
        aware: datetime = value.astimezone(UTC)
        # SQLite keeps text; naive UTC text sorts and compares correctly.
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(32), primary_key=True)


def _run_fk() -> sa.Column[str]:
    return sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
    )


runs = sa.Table(
    "runs",
    metadata,
    _id(),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("environment", sa.Text),
    sa.Column("version", sa.Text),
    sa.Column("commit", sa.Text),
    sa.Column("branch", sa.Text),
    sa.Column("host", sa.Text),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("summary", Json, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # The baseline query: "the last N runs of this scenario on this branch".
    sa.Index(None, "kind", "name", "branch", "started_at"),
    # One metric's history, and a baseline's candidates: by name, environment and branch.
    sa.Index(None, "name", "environment", "branch", "started_at"),
    sa.Index(None, "environment", "started_at"),
    sa.Index(None, "started_at"),
)

run_metrics = sa.Table(
    "run_metrics",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("value", sa.Double, nullable=False),
    sa.Column("unit", sa.Text),
    sa.Column("direction", sa.Text, nullable=False),
    sa.UniqueConstraint("run_id", "name"),
)

histograms = sa.Table(
    "histograms",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("name", sa.Text, nullable=False),
    # The standard HdrHistogram V2 compressed, base64 encoding ("HISTFAAA...").
    sa.Column("encoded", sa.Text, nullable=False),
    sa.Column("lowest", sa.BigInteger, nullable=False),
    sa.Column("highest", sa.BigInteger, nullable=False),
    sa.Column("significant_digits", sa.Integer, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("run_id", "name"),
)

samples = sa.Table(
    "samples",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("labels", Json, nullable=False),
    # Canonical JSON of the labels (sorted keys, no spaces): one string per series.
    sa.Column("labels_key", sa.Text, nullable=False),
    sa.Column("ts", UTCDateTime, nullable=False),
    sa.Column("value", sa.Double, nullable=False),
    sa.Index(None, "name", "labels_key", "ts"),
)

releases = sa.Table(
    "releases",
    metadata,
    _id(),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("services", Json, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column(
        "previous_release_id",
        sa.String(32),
        sa.ForeignKey("releases.id", ondelete="SET NULL"),
    ),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("who_user", sa.Text),
    sa.Column("who_host", sa.Text),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("reason", sa.Text),
    sa.Column("config_snapshot", Json),
    sa.Column("steps", Json, nullable=False),
    sa.Index(None, "environment", "started_at"),
)

# The baseline rule of one (name, environment), as a history: every set or accept adds a
# row, and the newest row is the one in force. ``start_run_id`` is not a foreign key: the
# history must outlive the runs it names when old runs are deleted.
baselines = sa.Table(
    "baselines",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("environment", sa.Text),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("rule_kind", sa.Text, nullable=False),
    sa.Column("rule_value", Json, nullable=False),
    sa.Column("run_ids", Json, nullable=False),
    sa.Column("start_run_id", sa.String(32)),
    sa.Column("start_at", UTCDateTime),
    sa.Column("reason", sa.Text),
    sa.Column("who_user", sa.Text),
    sa.Column("who_host", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "name", "environment", "created_at"),
)

# One row per environment while a deploy holds its lock: the primary key is what makes
# taking it atomic (insert if absent), and ``token`` what makes a takeover a
# compare-and-swap. Times are the holder's clock, seconds of TTL after its last heartbeat.
deploy_locks = sa.Table(
    "deploy_locks",
    metadata,
    sa.Column("environment", sa.Text, primary_key=True),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    sa.Column("ttl_seconds", sa.Double, nullable=False),
)

# The audit trail of the deploy locks: acquired, released, taken_over (a stale lock),
# forced_unlock. It outlives the locks it describes.
lock_events = sa.Table(
    "lock_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("previous_owner", sa.Text),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("detail", sa.Text),
    sa.Index(None, "environment", "at"),
)
