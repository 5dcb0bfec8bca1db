"""The deploy lock: one deploy per environment, raced by real processes on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from redline._errors import DeployLockedError
from redline.deploy.lock import (
    DEFAULT_TTL,
    DeployLock,
    acquire,
    current_lock,
    default_owner,
    force_unlock,
    lock_events,
    pid_alive,
    release,
)
from redline.redact import REDACTOR
from redline.store import Store, open_store

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ROUNDS = 5
# The bound for the second of two concurrent deploys to learn it is locked.
BOUND = 0.100


def test_a_second_deploy_fails_at_once_naming_owner_reason_and_age(store: Store) -> None:
    with acquire(store, "prod", owner="ana@ci-3", reason="deploy 1.4.2", now=T0) as held:
        assert held.held and held.taken_over is None and held.ttl == DEFAULT_TTL
        with pytest.raises(DeployLockedError) as info:
            acquire(store, "prod", reason="deploy 1.4.3", now=T0 + timedelta(seconds=133))
    error = info.value
    assert error.exit_code == 6
    assert error.message == (
        "prod is locked by ana@ci-3 (deploy 1.4.2) for 2m13s; "
        "`redline deploy unlock --env prod` if that deploy is dead"
    )
    assert error.hint == (
        f"pid {os.getpid()} on {socket.gethostname()} holds it; it goes stale 30m after its "
        "last heartbeat, and the next deploy then takes it over"
    )
    assert error.lock.owner == "ana@ci-3" and not error.lock.stale  # type: ignore[attr-defined]


def test_lock_info_says_who_why_how_long_and_whether_stale(store: Store) -> None:
    assert current_lock(store, "prod") is None
    lock = acquire(store, "prod", reason="deploy 1.4.2", ttl=60, now=T0)
    info = current_lock(store, "prod", now=T0 + timedelta(seconds=45))
    assert info is not None
    assert (info.owner, info.host, info.pid) == (default_owner(), socket.gethostname(), os.getpid())
    assert (info.reason, info.age, info.ttl, info.stale) == ("deploy 1.4.2", 45.0, 60.0, False)
    assert info.describe() == f"{default_owner()} (deploy 1.4.2) for 45s"
    later = current_lock(store, "prod", now=T0 + timedelta(seconds=61))
    assert later is not None and later.stale
    assert later.stale_reason == "its last heartbeat was 61s ago, past its TTL of 60s"
    assert lock.info(now=T0).age == 0.0
    assert release(lock) is True


@pytest.fixture(params=["exit", "exception"])
def ended(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_lock_is_released_when_the_block_ends_with_or_without_an_error(
    store: Store, ended: str
) -> None:
    class Boom(Exception):
        pass

    try:
        with acquire(store, "prod", reason="deploy 1.4.2") as lock:
            assert current_lock(store, "prod") is not None
            if ended == "exception":
                raise Boom
    except Boom:
        pass
    assert current_lock(store, "prod") is None
    assert not lock.held and lock.release() is False  # twice: harmless
    assert [e.event for e in lock_events(store, "prod")] == ["released", "acquired"]
    acquire(store, "prod", reason="the next deploy").release()


def test_heartbeat_keeps_a_lock_alive_past_its_first_ttl(store: Store) -> None:
    lock = acquire(store, "prod", owner="ana@ci-3", reason="deploy", ttl=60, now=T0)
    lock.heartbeat(now=T0 + timedelta(seconds=50))
    with pytest.raises(DeployLockedError):
        acquire(store, "prod", owner="bo@ci-4", reason="deploy", now=T0 + timedelta(seconds=100))
    taken = acquire(store, "prod", owner="bo@ci-4", reason="r", now=T0 + timedelta(seconds=111))
    assert taken.taken_over is not None and taken.taken_over.owner == "ana@ci-3"
    assert taken.taken_over.stale_reason == "its last heartbeat was 61s ago, past its TTL of 60s"

    with pytest.raises(DeployLockedError, match="taken over: now held by bo@ci-4") as info:
        lock.heartbeat()
    assert info.value.exit_code == 6
    assert not lock.held and lock.release() is False
    assert current_lock(store, "prod") is not None  # the old holder cannot release the new lock
    events = lock_events(store, "prod")
    assert [(e.event, e.owner, e.previous_owner) for e in events] == [
        ("taken_over", "bo@ci-4", "ana@ci-3"),
        ("acquired", "ana@ci-3", None),
    ]
    assert events[0].detail is not None and "past its TTL of 60s" in events[0].detail


def test_keep_alive_heartbeats_until_released(store: Store) -> None:
    lock = acquire(store, "prod", reason="a long soak", ttl=60, now=T0)
    lock.keep_alive(interval=0.01)
    deadline = time.monotonic() + 10
    while (info := current_lock(store, "prod")) is not None and info.heartbeat_at == T0:
        assert time.monotonic() < deadline, "no heartbeat within 10 s"
        time.sleep(0.01)
    assert lock.release() is True
    assert lock._keeper is not None and not lock._keeper.is_alive()
    assert current_lock(store, "prod") is None


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


_HOLD = """
import sys
from redline.deploy.lock import acquire
from redline.store import open_store
store = open_store(sys.argv[1])
acquire(store, "prod", owner="ana@ci-3", reason="deploy 1.4.2", ttl=3600)
print("held", flush=True)
sys.stdin.read()
"""


def test_a_lock_whose_process_died_is_taken_over_at_once(store: Store, store_url: str) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD, store_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None and child.stdout.readline() == "held\n"
            with pytest.raises(DeployLockedError, match="locked by ana@ci-3"):
                acquire(store, "prod", reason="too early")
        finally:
            child.kill()
            child.wait()
    info = current_lock(store, "prod")
    assert info is not None and info.pid == child.pid and info.stale
    dead = f"its process (pid {child.pid} on {socket.gethostname()}) is no longer running"
    assert info.stale_reason == dead

    with acquire(store, "prod", owner="bo@ci-4", reason="deploy 1.4.3") as lock:
        assert lock.taken_over is not None and lock.taken_over.owner == "ana@ci-3"
        assert lock.taken_over.stale_reason == dead
    newest = [e for e in lock_events(store, "prod") if e.event == "taken_over"]
    assert [(e.owner, e.previous_owner, e.detail) for e in newest] == [
        ("bo@ci-4", "ana@ci-3", f"{dead} (taken for: deploy 1.4.3)")
    ]


def test_a_pid_is_judged_only_on_the_host_that_took_the_lock(store: Store) -> None:
    acquire(store, "prod", owner="ana@ci-3", reason="r", host="ci-3", pid=_dead_pid())
    with pytest.raises(DeployLockedError):
        acquire(store, "prod", reason="a pid on ci-3 means nothing here")


def test_pid_alive_sees_running_reaped_and_zombie_processes() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(_dead_pid())
    assert not pid_alive(0)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    try:
        assert not pid_alive(child.pid)
    finally:
        child.wait()


def test_force_unlock_opens_any_lock_and_is_audited(store: Store) -> None:
    assert force_unlock(store, "prod", who="ops@laptop", reason="nothing there") is None
    lock = acquire(store, "prod", owner="ana@ci-3", reason="deploy 1.4.2", now=T0)
    removed = force_unlock(
        store, "prod", who="ops@laptop", reason="ci-3 died", now=T0 + timedelta(minutes=3)
    )
    assert removed is not None and removed.owner == "ana@ci-3" and removed.age == 180.0
    assert current_lock(store, "prod") is None
    with pytest.raises(DeployLockedError, match="taken away"):
        lock.heartbeat()
    event = lock_events(store, "prod", limit=1)[0]
    assert (event.event, event.owner, event.previous_owner, event.detail) == (
        "forced_unlock",
        "ops@laptop",
        "ana@ci-3",
        "ci-3 died",
    )


@pytest.fixture
def secret() -> Iterator[str]:
    value = "hunter2-deploy-token"
    REDACTOR.add(value)
    try:
        yield value
    finally:
        REDACTOR.clear()


def test_secrets_stay_out_of_owners_reasons_and_errors(store: Store, secret: str) -> None:
    acquire(store, "prod", owner=f"ana:{secret}@ci-3", reason=f"deploy TOKEN={secret}")
    with pytest.raises(DeployLockedError) as info:
        acquire(store, "prod", reason="second")
    shown = [
        str(info.value),
        repr(current_lock(store, "prod")),
        repr(lock_events(store, "prod")),
        repr(force_unlock(store, "prod", who=f"ops {secret}", reason=f"pw {secret}")),
        repr(lock_events(store, "prod")),
    ]
    assert all(secret not in text and "***" in text for text in shown), shown


def _racer(url: str, barrier: Any, results: Any, environment: str) -> None:
    with open_store(url) as store:
        # Warm: the pool's connection, the hostname, the imports of a first lock.
        acquire(store, f"warm-{os.getpid()}", reason="warm up").release()
        for round_ in range(ROUNDS):
            barrier.wait(timeout=60)
            start = time.perf_counter()
            lock: DeployLock | None = None
            try:
                lock = acquire(
                    store, environment, owner=f"racer-{os.getpid()}", reason=f"r{round_}"
                )
            except DeployLockedError as error:
                results.put(("locked", time.perf_counter() - start, error.exit_code, str(error)))
            else:
                taken = lock.taken_over.owner if lock.taken_over else None
                results.put(("won", time.perf_counter() - start, 0, taken))
            barrier.wait(timeout=60)  # both answered while the winner held the lock
            if lock is not None:
                lock.release()
            barrier.wait(timeout=60)


def _race(url: str, environment: str) -> list[tuple[Any, ...]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    racers = [
        ctx.Process(target=_racer, args=(url, barrier, results, environment)) for _ in range(2)
    ]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=120) for _ in range(2 * ROUNDS)]
    for racer in racers:
        racer.join(timeout=60)
    results.close()
    results.join_thread()
    assert [racer.exitcode for racer in racers] == [0, 0]
    return outcomes


def test_two_racing_deploys_one_wins_the_other_exits_6_within_100ms(
    store: Store, store_url: str
) -> None:
    outcomes = _race(store_url, "prod")
    rounds = [outcomes[i : i + 2] for i in range(0, len(outcomes), 2)]
    assert all(sorted(kind for kind, *_ in pair) == ["locked", "won"] for pair in rounds), rounds
    losers = [o for o in outcomes if o[0] == "locked"]
    assert all(code == 6 and "is locked by racer-" in text for _, _, code, text in losers)
    # The bound is the issue's, kept with margin for a shared 2-core machine: the median
    # of 5 races (a loser takes 2-4 ms here: one short transaction that finds the holder's
    # row), so one scheduling stall of a busy machine does not decide. A lock that waited
    # for its holder would not answer at all: the holder keeps it until both answered.
    waits = sorted(seconds for _, seconds, *_ in losers)
    assert statistics.median(waits) < BOUND, waits
    events = lock_events(store, "prod", limit=None)
    assert [e.event for e in events].count("acquired") == ROUNDS
    assert current_lock(store, "prod") is None


def test_two_racing_deploys_take_over_a_stale_lock_exactly_once(
    store: Store, store_url: str
) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    acquire(store, "prod", owner="gone@ci-9", reason="crashed", ttl=60, now=long_ago, host="ci-9")
    outcomes = _race(store_url, "prod")
    first_round = [o for o in outcomes[:2]]
    assert sorted(kind for kind, *_ in first_round) == ["locked", "won"]
    assert [o[3] for o in first_round if o[0] == "won"] == ["gone@ci-9"]
    takeovers = [e for e in lock_events(store, "prod", limit=None) if e.event == "taken_over"]
    assert [(e.previous_owner, e.owner.startswith("racer-")) for e in takeovers] == [
        ("gone@ci-9", True)
    ]


def test_a_thread_racing_in_the_same_process_is_refused_too(store: Store) -> None:
    barrier = threading.Barrier(4)
    won: list[DeployLock] = []
    refused: list[DeployLockedError] = []

    def race() -> None:
        barrier.wait(timeout=30)
        try:
            won.append(acquire(store, "prod", reason="thread"))
        except DeployLockedError as error:
            refused.append(error)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert (len(won), len(refused)) == (1, 3)
    won[0].release()
