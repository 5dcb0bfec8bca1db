"""Releases: their lifecycle and history per environment, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from redline.redact import Redactor
from redline.store import Store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_release_lifecycle(store: Store) -> None:
    release_id = store.record_release(
        environment="prod",
        version="1.4.2",
        services=["api", "worker"],
        who_user="ana",
        who_host="laptop-3",
        started_at=T0,
        reason="weekly release",
        config_snapshot={"services": {"api": {"replicas": 3}}},
    )
    release = store.get_release(release_id)
    assert release is not None
    assert release.state == "deploying" and release.finished_at is None
    assert release.services == ["api", "worker"]
    assert release.config_snapshot == {"services": {"api": {"replicas": 3}}}
    assert (release.who_user, release.who_host, release.started_at) == ("ana", "laptop-3", T0)
    assert release.steps == []

    steps = [{"step": "deploy", "status": "ok"}, {"step": "verify", "status": "running"}]
    store.update_release(release_id, state="verifying", steps=steps)
    verifying = store.get_release(release_id)
    assert verifying is not None
    assert verifying.state == "verifying" and verifying.finished_at is None
    assert verifying.steps == steps

    store.update_release(release_id, state="live", finished_at=T0 + timedelta(minutes=4))
    live = store.get_release(release_id)
    assert live is not None
    assert live.state == "live" and live.finished_at == T0 + timedelta(minutes=4)
    assert live.reason == "weekly release"


def test_rollback_history(store: Store) -> None:
    first = store.record_release(environment="prod", version="1.0", state="live", started_at=T0)
    second = store.record_release(
        environment="prod",
        version="1.1",
        previous_release_id=first,
        started_at=T0 + timedelta(hours=1),
    )
    store.record_release(environment="staging", version="1.2", started_at=T0)
    current = store.current_release("prod")
    assert current is not None and current.id == first

    store.update_release(second, state="rolled_back", reason="p99 latency 3x baseline")
    back = store.get_release(second)
    assert back is not None
    assert back.state == "rolled_back" and back.finished_at is not None
    assert back.previous_release_id == first
    assert back.reason == "p99 latency 3x baseline"

    assert [r.version for r in store.list_releases("prod")] == ["1.1", "1.0"]
    assert [r.version for r in store.list_releases("prod", state="rolled_back")] == ["1.1"]
    assert [r.version for r in store.list_releases("prod", limit=1)] == ["1.1"]
    assert store.current_release("staging") is None
    assert store.list_releases("dev") == []


def test_release_mistakes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="release state"):
        store.record_release(environment="prod", version="1.0", state="done")
    with pytest.raises(KeyError):
        store.update_release("0" * 32, state="live")
    release_id = store.record_release(environment="prod", version="1.0")
    with pytest.raises(ValueError, match="release state"):
        store.update_release(release_id, state="exploded")
    with pytest.raises(ValueError, match="refused the write"):
        store.record_release(environment="prod", version="1.1", previous_release_id="9" * 32)
    assert [r.id for r in store.list_releases("prod")] == [release_id]


def test_secret_values_never_reach_a_stored_row(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    redactor = Redactor()
    redactor.add("pg-Secret-9f2")
    monkeypatch.setattr("redline.redact.REDACTOR", redactor)
    release_id = store.record_release(
        environment="prod",
        version="2.0",
        config_snapshot={"db": {"url": "postgresql://app:pg-Secret-9f2@db/app"}},
        steps=[{"step": "migrate", "output": "using password pg-Secret-9f2"}],
        reason="pg-Secret-9f2 leaked into a reason",
    )
    store.update_release(release_id, steps=[{"step": "verify", "error": "auth pg-Secret-9f2"}])
    release = store.get_release(release_id)
    assert release is not None
    assert "pg-Secret-9f2" not in repr(release)
    assert release.config_snapshot == {"db": {"url": "postgresql://app:***@db/app"}}
    assert release.steps == [{"step": "verify", "error": "auth ***"}]
