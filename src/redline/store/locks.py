"""Deploy locks: one row per environment while a deploy holds it, and their audit trail.

Taking a lock is atomic on both engines without a check-then-insert race: an
``INSERT ... ON CONFLICT DO NOTHING`` on the environment's primary key either creates
the row or finds the holder's. A holder judged stale (by the caller's rule: its
heartbeat older than its TTL, its process gone) is replaced by a compare-and-swap
on its random token, so of two processes taking over the same stale lock exactly
one succeeds. Every change writes its :data:`lock_events` row in the same
transaction. :mod:`redline.deploy.lock` is the API a deploy uses.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from redline._errors import StoreError
from redline.store import tables as t
from redline.store.connection import Repository
from redline.store.records import scrub, utc

__all__ = [
    "LOCK_EVENTS",
    "LockClaim",
    "LockEventRecord",
    "LockRecord",
    "LocksRepository",
    "StaleCheck",
    "expired",
]

LOCK_EVENTS: Final = ("acquired", "released", "taken_over", "forced_unlock")
# Each attempt is one transaction; another attempt is needed only when the holder changed
# between reading it and replacing it (it was released or taken over meanwhile).
_ATTEMPTS: Final = 5


@dataclass(frozen=True)
class LockRecord:
    """An environment's deploy lock as stored: who holds it, since when, for how long."""

    environment: str
    token: str = field(repr=False)  # the holder's proof of ownership; never shown
    owner: str
    host: str
    pid: int
    reason: str
    acquired_at: datetime
    heartbeat_at: datetime
    ttl_seconds: float

    @property
    def expires_at(self) -> datetime:
        """When the lock goes stale unless its holder heartbeats first."""
        return self.heartbeat_at + timedelta(seconds=self.ttl_seconds)


@dataclass(frozen=True)
class LockEventRecord:
    """One line of a lock's audit trail."""

    id: int
    environment: str
    event: str  # one of LOCK_EVENTS
    owner: str  # who acquired, released, took over, or forced the unlock
    previous_owner: str | None  # whose lock was taken over or forced open
    at: datetime
    detail: str | None


@dataclass(frozen=True)
class LockClaim:
    """What an attempt to take a lock found: ``holder`` is ours when ``acquired``."""

    acquired: bool
    holder: LockRecord
    taken_over: LockRecord | None = None  # the stale lock ours replaced
    stale_reason: str | None = None  # why it was stale


# Why ``lock`` is stale at ``now`` (None: it is not); the caller's rule.
StaleCheck = Callable[[LockRecord, datetime], str | None]


def expired(lock: LockRecord, now: datetime) -> str | None:
    """The rule every lock obeys: stale once its heartbeat is older than its TTL."""
    if now > lock.expires_at:
        age = (now - lock.heartbeat_at).total_seconds()
        return f"its last heartbeat was {age:.0f}s ago, past its TTL of {lock.ttl_seconds:g}s"
    return None


_LOCK_COLUMNS = [t.deploy_locks.c[f.name] for f in fields(LockRecord)]
_EVENT_COLUMNS = [t.lock_events.c[f.name] for f in fields(LockEventRecord)]


class LocksRepository(Repository):
    """Deploy locks and their audit trail; part of :class:`redline.store.Store`."""

    def claim_lock(
        self,
        environment: str,
        *,
        owner: str,
        host: str,
        pid: int,
        reason: str,
        ttl_seconds: float,
        at: datetime | None = None,
        stale: StaleCheck = expired,
    ) -> LockClaim:
        """Take the environment's lock, or report who holds it; never waits for a holder.

        Free: inserted and ``acquired``. Held, and ``stale(holder, at)`` gives a reason:
        replaced (``acquired``, ``taken_over`` set) and the takeover audited. Held and
        not stale: not acquired, and ``holder`` says by whom.
        """
        when = utc(at, "at") if at else self._now()
        lock = LockRecord(
            environment=environment,
            token=secrets.token_hex(16),
            owner=owner,
            host=host,
            pid=pid,
            reason=reason,
            acquired_at=when,
            heartbeat_at=when,
            ttl_seconds=ttl_seconds,
        )
        row = _lock_row(lock)
        for _ in range(_ATTEMPTS):
            with self._write() as conn:
                if _insert_if_absent(conn, row):
                    _event(
                        conn,
                        lock.environment,
                        "acquired",
                        lock.owner,
                        None,
                        row["acquired_at"],
                        lock.reason,
                    )
                    return LockClaim(True, _record(row))
                holder = _get(conn, lock.environment)
                if holder is None:
                    continue  # released since the insert: try again
                why = stale(holder, row["acquired_at"])
                if why is None:
                    return LockClaim(False, holder)
                swapped = conn.execute(
                    t.deploy_locks.update()
                    .where(t.deploy_locks.c.environment == lock.environment)
                    .where(t.deploy_locks.c.token == holder.token)
                    .values(row)
                ).rowcount
                if swapped == 1:
                    detail = f"{why} (taken for: {lock.reason})" if lock.reason else why
                    _event(
                        conn,
                        lock.environment,
                        "taken_over",
                        lock.owner,
                        holder.owner,
                        row["acquired_at"],
                        detail,
                    )
                    return LockClaim(True, _record(row), taken_over=holder, stale_reason=why)
        raise StoreError(
            f"the deploy lock on {lock.environment} changed hands {_ATTEMPTS} times while "
            "taking it",
            hint="another deploy is taking and releasing it in a loop; try again",
        )

    def heartbeat_lock(self, environment: str, token: str, *, at: datetime | None = None) -> bool:
        """Extend the lock held with ``token``; False when it is no longer ours."""
        when = utc(at, "at") if at else self._now()
        with self._write() as conn:
            updated = conn.execute(
                t.deploy_locks.update()
                .where(t.deploy_locks.c.environment == environment)
                .where(t.deploy_locks.c.token == token)
                .values(heartbeat_at=when)
            ).rowcount
        return bool(updated == 1)

    def release_lock(
        self, environment: str, token: str, *, at: datetime | None = None, detail: str | None = None
    ) -> bool:
        """Release the lock held with ``token``; False (and nothing audited) if not ours."""
        when = utc(at, "at") if at else self._now()
        with self._write() as conn:
            holder = _get(conn, environment)
            if holder is None or holder.token != token:
                return False
            conn.execute(
                t.deploy_locks.delete()
                .where(t.deploy_locks.c.environment == environment)
                .where(t.deploy_locks.c.token == token)
            )
            _event(conn, environment, "released", holder.owner, None, when, detail)
        return True

    def force_unlock(
        self, environment: str, *, who: str, reason: str, at: datetime | None = None
    ) -> LockRecord | None:
        """Remove the environment's lock whoever holds it; return it (None: there was none)."""
        when = utc(at, "at") if at else self._now()
        with self._write() as conn:
            holder = _get(conn, environment)
            if holder is None:
                return None
            conn.execute(
                t.deploy_locks.delete()
                .where(t.deploy_locks.c.environment == environment)
                .where(t.deploy_locks.c.token == holder.token)
            )
            _event(conn, environment, "forced_unlock", who, holder.owner, when, reason)
        return holder

    def get_lock(self, environment: str) -> LockRecord | None:
        """The environment's lock as stored (stale or not), or None when it is free."""
        with self._read() as conn:
            return _get(conn, environment)

    def list_lock_events(self, environment: str, limit: int | None = 100) -> list[LockEventRecord]:
        """The audit trail of the environment's deploy lock, newest first."""
        query = (
            sa.select(*_EVENT_COLUMNS)
            .where(t.lock_events.c.environment == environment)
            .order_by(t.lock_events.c.at.desc(), t.lock_events.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [LockEventRecord(**row._mapping) for row in conn.execute(query)]


def _lock_row(lock: LockRecord) -> dict[str, Any]:
    if not lock.environment:
        raise ValueError("a deploy lock needs an environment")
    if not lock.ttl_seconds > 0:
        raise ValueError(f"a deploy lock's TTL must be positive, got {lock.ttl_seconds!r}")
    return {
        "environment": lock.environment,
        "token": lock.token,
        "owner": scrub(lock.owner),
        "host": lock.host,
        "pid": lock.pid,
        "reason": scrub(lock.reason),
        "acquired_at": utc(lock.acquired_at, "acquired_at"),
        "heartbeat_at": utc(lock.heartbeat_at, "heartbeat_at"),
        "ttl_seconds": float(lock.ttl_seconds),
    }


def _record(row: dict[str, Any]) -> LockRecord:
    return LockRecord(**row)


def _insert_if_absent(conn: Connection, row: dict[str, Any]) -> bool:
    insert: Any
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(t.deploy_locks).values(row).on_conflict_do_nothing()
    if conn.dialect.insert_returning:
        # psycopg reports no row count for INSERT ... ON CONFLICT under SQLAlchemy: ask
        # for the row back instead (also SQLite >= 3.35).
        inserted = conn.execute(statement.returning(t.deploy_locks.c.token)).first()
        return inserted is not None
    return bool(conn.execute(statement).rowcount == 1)


def _get(conn: Connection, environment: str) -> LockRecord | None:
    query = sa.select(*_LOCK_COLUMNS).where(t.deploy_locks.c.environment == environment)
    found = conn.execute(query).first()
    return None if found is None else LockRecord(**found._mapping)


def _event(
    conn: Connection,
    environment: str,
    event: str,
    owner: str,
    previous_owner: str | None,
    at: datetime,
    detail: str | None,
) -> None:
    conn.execute(
        t.lock_events.insert(),
        {
            "environment": environment,
            "event": event,
            "owner": scrub(owner),
            "previous_owner": scrub(previous_owner),
            "at": at,
            "detail": scrub(detail),
        },
    )
