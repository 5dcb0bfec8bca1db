"""Releases: one deployment of a version to an environment, and how it ended.

A release moves ``deploying -> verifying -> live | rolled_back | failed |
aborted``; reaching any of the last four sets ``finished_at``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from redline.store import tables as t
from redline.store.connection import Repository
from redline.store.records import (
    RELEASE_STATES,
    TERMINAL_RELEASE_STATES,
    ReleaseRecord,
    check_choice,
    json_document,
    scrub,
    utc,
)

__all__ = ["ReleasesRepository"]

# Select by the record's fields: a column added by a later migration must not break readers.
_RELEASE_COLUMNS = [t.releases.c[f.name] for f in fields(ReleaseRecord)]


class ReleasesRepository(Repository):
    """Record releases and their progress; part of :class:`redline.store.Store`."""

    def record_release(
        self,
        *,
        environment: str,
        version: str,
        services: Iterable[str] = (),
        state: str = "deploying",
        previous_release_id: str | None = None,
        who_user: str | None = None,
        who_host: str | None = None,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        reason: str | None = None,
        config_snapshot: Mapping[str, Any] | None = None,
        steps: Iterable[Mapping[str, Any]] = (),
        release_id: str | None = None,
    ) -> str:
        """Record a release (by default one that is just starting); return its id.

        ``previous_release_id`` is what a rollback returns to: usually
        ``store.current_release(environment).id``.
        """
        check_choice("release state", state, RELEASE_STATES)
        if not environment or not version:
            raise ValueError("a release needs an environment and a version")
        now = self._now()
        if finished_at is None and state in TERMINAL_RELEASE_STATES:
            finished_at = now
        row = {
            "id": release_id or uuid.uuid4().hex,
            "environment": environment,
            "services": list(services),
            "version": version,
            "previous_release_id": previous_release_id,
            "state": state,
            "who_user": who_user,
            "who_host": who_host,
            "started_at": utc(started_at, "started_at") if started_at else now,
            "finished_at": utc(finished_at, "finished_at") if finished_at else None,
            "reason": scrub(reason),
            "config_snapshot": _snapshot(config_snapshot),
            "steps": _steps(steps),
        }
        with self._write() as conn:
            conn.execute(t.releases.insert(), row)
        return str(row["id"])

    def update_release(
        self,
        release_id: str,
        *,
        state: str | None = None,
        finished_at: datetime | None = None,
        reason: str | None = None,
        steps: Iterable[Mapping[str, Any]] | None = None,
        config_snapshot: Mapping[str, Any] | None = None,
    ) -> None:
        """Change what is given; moving to a final state sets ``finished_at`` (now by default).

        ``steps`` replaces the whole list. Raises KeyError for an unknown release.
        """
        values: dict[str, Any] = {}
        if state is not None:
            values["state"] = check_choice("release state", state, RELEASE_STATES)
            if finished_at is None and state in TERMINAL_RELEASE_STATES:
                finished_at = self._now()
        if finished_at is not None:
            values["finished_at"] = utc(finished_at, "finished_at")
        if reason is not None:
            values["reason"] = scrub(reason)
        if steps is not None:
            values["steps"] = _steps(steps)
        if config_snapshot is not None:
            values["config_snapshot"] = _snapshot(config_snapshot)
        with self._write() as conn:
            query = sa.select(t.releases.c.id).where(t.releases.c.id == release_id)
            if conn.scalar(query) is None:
                raise KeyError(f"no release {release_id!r} in the store")
            if values:
                conn.execute(
                    t.releases.update().where(t.releases.c.id == release_id).values(values)
                )

    def get_release(self, release_id: str) -> ReleaseRecord | None:
        """The release with this id, or None."""
        with self._read() as conn:
            query = sa.select(*_RELEASE_COLUMNS).where(t.releases.c.id == release_id)
            row = conn.execute(query).first()
        return None if row is None else ReleaseRecord(**row._mapping)

    def list_releases(
        self, environment: str, limit: int | None = 50, *, state: str | None = None
    ) -> list[ReleaseRecord]:
        """Releases to ``environment``, newest first."""
        query = sa.select(*_RELEASE_COLUMNS).where(t.releases.c.environment == environment)
        if state is not None:
            query = query.where(t.releases.c.state == check_choice("state", state, RELEASE_STATES))
        query = query.order_by(t.releases.c.started_at.desc(), t.releases.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [ReleaseRecord(**row._mapping) for row in conn.execute(query)]

    def current_release(self, environment: str) -> ReleaseRecord | None:
        """The newest release of ``environment`` that is live, or None."""
        found = self.list_releases(environment, limit=1, state="live")
        return found[0] if found else None


def _snapshot(config_snapshot: Mapping[str, Any] | None) -> Any:
    if config_snapshot is None:
        return None
    return json_document(dict(config_snapshot), "config_snapshot")


def _steps(steps: Iterable[Mapping[str, Any]]) -> Any:
    return json_document([dict(step) for step in steps], "steps")
