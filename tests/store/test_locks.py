"""The deploy_locks and lock_events tables (schema 0003), and the upgrade of a 0002 store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from redline.redact import REDACTOR
from redline.store import Store, open_store
from redline.store import tables as t
from redline.store.constants import HEAD_REVISION
from redline.store.locks import LockClaim, LockRecord, expired
from redline.store.migrate import known_revisions, read_revision
from tests.store.test_migrations import _alembic, raw_engine

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
SECRET = "s3cr3t-lock-value"


def claim(
    store: Store, owner: str, at: datetime, *, ttl: float = 60.0, reason: str = "deploy"
) -> LockClaim:
    return store.claim_lock(
        "prod", owner=owner, host="ci-3", pid=4242, reason=reason, ttl_seconds=ttl, at=at
    )


def test_the_deploy_locks_revision_is_0003() -> None:
    assert known_revisions()[:3] == ["0001", "0002", "0003"]
    assert known_revisions()[-1] == HEAD_REVISION


def test_a_free_lock_is_taken_and_a_held_one_is_reported(store: Store) -> None:
    assert store.get_lock("prod") is None
    first = claim(store, "ana@ci-3", T0, reason="deploy 1.4.2")
    assert first.acquired and first.taken_over is None
    assert first.holder.owner == "ana@ci-3" and first.holder.reason == "deploy 1.4.2"
    assert first.holder.acquired_at == first.holder.heartbeat_at == T0
    assert len(first.holder.token) == 32 and first.holder.token not in repr(first.holder)

    second = claim(store, "bo@ci-4", T0 + timedelta(seconds=30))
    assert not second.acquired
    assert second.holder == first.holder  # the holder as stored, token and all
    assert store.get_lock("prod") == first.holder
    # Another environment is another lock.
    other = store.claim_lock(
        "staging", owner="bo@ci-4", host="ci-4", pid=1, reason="r", ttl_seconds=60.0, at=T0
    )
    assert other.acquired

    events = store.list_lock_events("prod")
    assert [(e.event, e.owner, e.previous_owner, e.detail) for e in events] == [
        ("acquired", "ana@ci-3", None, "deploy 1.4.2")
    ]
    assert events[0].at == T0


def test_heartbeat_and_release_need_the_token(store: Store) -> None:
    held = claim(store, "ana@ci-3", T0).holder
    assert store.heartbeat_lock("prod", "0" * 32, at=T0 + timedelta(seconds=50)) is False
    assert store.heartbeat_lock("prod", held.token, at=T0 + timedelta(seconds=50)) is True
    lock = store.get_lock("prod")
    assert lock is not None and lock.heartbeat_at == T0 + timedelta(seconds=50)
    assert lock.expires_at == T0 + timedelta(seconds=110)

    assert store.release_lock("prod", "0" * 32) is False
    assert store.get_lock("prod") is not None
    assert store.release_lock("prod", held.token, at=T0 + timedelta(seconds=55)) is True
    assert store.get_lock("prod") is None
    assert store.release_lock("prod", held.token) is False  # twice: harmless, not audited
    assert [(e.event, e.at) for e in store.list_lock_events("prod")] == [
        ("released", T0 + timedelta(seconds=55)),
        ("acquired", T0),
    ]


def test_a_lock_past_its_ttl_is_taken_over_with_an_audit_entry(store: Store) -> None:
    old = claim(store, "ana@ci-3", T0, ttl=60.0).holder
    assert store.heartbeat_lock("prod", old.token, at=T0 + timedelta(seconds=30))
    # 60 s after the heartbeat exactly: still alive.
    assert not claim(store, "bo@ci-4", T0 + timedelta(seconds=90)).acquired
    taken = claim(store, "bo@ci-4", T0 + timedelta(seconds=91), reason="deploy 1.4.3")
    assert taken.acquired
    assert taken.taken_over is not None and taken.taken_over.owner == "ana@ci-3"
    assert taken.stale_reason == "its last heartbeat was 61s ago, past its TTL of 60s"
    assert store.get_lock("prod") == taken.holder

    # The old holder lost it: its token no longer heartbeats nor releases.
    assert store.heartbeat_lock("prod", old.token) is False
    assert store.release_lock("prod", old.token) is False
    newest = store.list_lock_events("prod")[0]
    assert (newest.event, newest.owner, newest.previous_owner) == (
        "taken_over",
        "bo@ci-4",
        "ana@ci-3",
    )
    assert newest.detail == f"{taken.stale_reason} (taken for: deploy 1.4.3)"


def test_the_stale_rule_is_the_callers(store: Store) -> None:
    claim(store, "ana@ci-3", T0, ttl=3600.0)
    seen: list[LockRecord] = []

    def dead(lock: LockRecord, now: datetime) -> str | None:
        seen.append(lock)
        return "its process is gone"

    taken = store.claim_lock(
        "prod", owner="bo", host="h", pid=1, reason="r", ttl_seconds=5.0, at=T0, stale=dead
    )
    assert taken.acquired and taken.stale_reason == "its process is gone"
    assert [lock.owner for lock in seen] == ["ana@ci-3"]
    assert expired(taken.holder, T0 + timedelta(seconds=5)) is None
    assert expired(taken.holder, T0 + timedelta(seconds=6)) is not None


def test_force_unlock_removes_any_holder_and_is_audited(store: Store) -> None:
    assert store.force_unlock("prod", who="ops@laptop", reason="nothing there") is None
    assert store.list_lock_events("prod") == []

    held = claim(store, "ana@ci-3", T0).holder
    removed = store.force_unlock(
        "prod", who="ops@laptop", reason="ci-3 died", at=T0 + timedelta(minutes=5)
    )
    assert removed == held
    assert store.get_lock("prod") is None
    newest = store.list_lock_events("prod", limit=1)
    assert [(e.event, e.owner, e.previous_owner, e.detail, e.at) for e in newest] == [
        ("forced_unlock", "ops@laptop", "ana@ci-3", "ci-3 died", T0 + timedelta(minutes=5))
    ]
    assert claim(store, "bo@ci-4", T0 + timedelta(minutes=6)).acquired


@pytest.fixture
def secret() -> Iterator[str]:
    REDACTOR.add(SECRET)
    try:
        yield SECRET
    finally:
        REDACTOR.clear()


def test_secrets_never_reach_the_lock_rows(store: Store, secret: str) -> None:
    claim(store, f"ana:{secret}@ci-3", T0, reason=f"deploy with token={secret}")
    store.force_unlock("prod", who=f"ops {secret}", reason=f"password {secret}")
    with store.engine.connect() as conn:
        rows = [
            *conn.execute(sa.select(t.deploy_locks)).all(),
            *conn.execute(sa.select(t.lock_events)).all(),
        ]
    text = repr(rows)
    assert len(rows) == 2 and secret not in text and "***" in text


def test_a_lock_needs_an_environment_a_positive_ttl_and_aware_times(store: Store) -> None:
    with pytest.raises(ValueError, match="environment"):
        store.claim_lock("", owner="a", host="h", pid=1, reason="r", ttl_seconds=5.0)
    with pytest.raises(ValueError, match="TTL"):
        store.claim_lock("prod", owner="a", host="h", pid=1, reason="r", ttl_seconds=0.0)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.claim_lock(
            "prod", owner="a", host="h", pid=1, reason="r", ttl_seconds=5.0, at=datetime(2026, 1, 1)
        )
    assert store.get_lock("prod") is None


def _runs(url: str) -> list[tuple[object, ...]]:
    with raw_engine(url) as engine, engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, name, status FROM runs ORDER BY id"))
        return [tuple(row) for row in rows]


def test_a_0002_store_upgrades_to_0003_and_keeps_its_runs(store_url: str) -> None:
    with raw_engine(store_url) as engine:
        _alembic(engine, "upgrade", "0002")
        with engine.connect() as conn:
            assert read_revision(conn) == "0002"
            assert "deploy_locks" not in sa.inspect(conn).get_table_names()
        # Runs, a release and a baseline as redline at 0002 wrote them (unchanged since).
        with engine.begin() as conn:
            for i in range(3):
                when = T0 + timedelta(days=i)
                conn.execute(
                    t.runs.insert(),
                    {
                        "id": f"{i:032x}",
                        "kind": "load",
                        "name": "checkout",
                        "environment": "prod",
                        "branch": "main",
                        "started_at": when,
                        "status": "ok",
                        "summary": {},
                        "created_at": when,
                    },
                )
            conn.execute(
                t.releases.insert(),
                {
                    "id": "r" * 32,
                    "environment": "prod",
                    "services": ["api"],
                    "version": "1.4.1",
                    "state": "live",
                    "started_at": T0,
                    "steps": [],
                },
            )
    before = _runs(store_url)

    with open_store(store_url) as store:
        assert store.applied_migrations == ("0003",)
        assert store.schema_revision() == "0003"
        assert _runs(store_url) == before
        current = store.current_release("prod")
        assert current is not None and current.version == "1.4.1"
        assert claim(store, "ana@ci-3", T0).acquired

    with raw_engine(store_url) as engine:
        _alembic(engine, "downgrade", "0002")
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert not tables & {"deploy_locks", "lock_events"}
            assert "releases" in tables
        assert _runs(store_url) == before
