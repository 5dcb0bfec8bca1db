"""The deploy lock: one deploy per environment at a time, with owner, reason, age and a TTL.

>>> with acquire(store, "prod", reason="deploy 1.4.2") as lock:   # doctest: +SKIP
...     run_the_deploy()          # lock.heartbeat() now and then, or lock.keep_alive()
>>> current_lock(store, "prod") is None                            # doctest: +SKIP
True

A second deploy of the same environment fails at once (it never waits) with
:class:`~redline.DeployLockedError` (exit 6), naming the holder, its reason and the
lock's age, and carrying the holder as ``error.lock`` (a :class:`LockInfo`). Taking the
lock is one transaction on the environment's primary key, atomic on SQLite and
PostgreSQL alike (:mod:`redline.store.locks`).

A lock is **stale** when its last heartbeat is older than its TTL (the holder hung, or its
machine went away), or when it was taken on this host and its process is gone (killed:
no need to wait out the TTL). The next :func:`acquire` takes a stale lock over and the
audit trail (:func:`lock_events`) records whose it was and why it was stale. A process
id is only judged on the host that took the lock, and a reused pid keeps a dead lock
looking alive: then the TTL still frees it. :func:`force_unlock` is the person's way out
(``redline deploy unlock``), audited too.

Owners and reasons pass through the redactor before they are stored or shown.
"""

from __future__ import annotations

import getpass
import os
import shlex
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Final

from redline._errors import DeployLockedError, StoreError
from redline.redact import REDACTOR

if TYPE_CHECKING:
    from redline.store import Store
    from redline.store.locks import LockEventRecord, LockRecord, StaleCheck

__all__ = [
    "DEFAULT_TTL",
    "DeployLock",
    "LockInfo",
    "acquire",
    "current_lock",
    "default_owner",
    "force_unlock",
    "lock_events",
    "pid_alive",
    "release",
]

# Seconds a lock lives after its last heartbeat; the config's deploy.lock_ttl default.
DEFAULT_TTL: Final = 1800.0


@dataclass(frozen=True)
class LockInfo:
    """An environment's lock as a person reads it: who, why, for how long, and whether stale."""

    environment: str
    owner: str
    host: str
    pid: int
    reason: str
    acquired_at: datetime
    heartbeat_at: datetime
    ttl: float  # seconds after the last heartbeat
    age: float  # seconds since it was acquired
    stale_reason: str | None = None  # why it is stale; None while it is alive

    @property
    def stale(self) -> bool:
        """Whether the next :func:`acquire` would take it over."""
        return self.stale_reason is not None

    def describe(self) -> str:
        """``ana@ci-3 (deploy 1.4.2) for 2m13s``."""
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.owner}{why} for {_age(self.age)}"


class DeployLock:
    """A held deploy lock; a context manager that releases it on exit, error or not.

    Get one from :func:`acquire`. A long deploy calls :meth:`heartbeat` (or starts
    :meth:`keep_alive`) more often than the TTL, or another deploy may take it over.
    """

    def __init__(self, store: Store, record: LockRecord, taken_over: LockInfo | None) -> None:
        self._store = store
        self._record = record
        self.taken_over = taken_over
        """The stale lock this one replaced, if any (its owner, and why it was stale)."""
        self._held = True
        self._lost: str | None = None
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._mutex = threading.Lock()

    @property
    def environment(self) -> str:
        return self._record.environment

    @property
    def owner(self) -> str:
        return self._record.owner

    @property
    def reason(self) -> str:
        return self._record.reason

    @property
    def ttl(self) -> float:
        return self._record.ttl_seconds

    @property
    def acquired_at(self) -> datetime:
        return self._record.acquired_at

    @property
    def held(self) -> bool:
        """True until released, or until a heartbeat found it taken away."""
        return self._held and self._lost is None

    def heartbeat(self, *, now: datetime | None = None) -> None:
        """Extend the lock by its TTL from ``now``; DeployLockedError if it was taken away."""
        with self._mutex:
            if not self._held:
                raise DeployLockedError(f"the deploy lock on {self.environment} was released")
            when = now or datetime.now(UTC)
            if not self._store.heartbeat_lock(self.environment, self._record.token, at=when):
                self._lost = self._lost or _lost_message(self._store, self.environment, when)
                raise DeployLockedError(
                    self._lost, hint="another deploy may be running now: stop this one"
                )

    def keep_alive(self, interval: float | None = None) -> None:
        """Heartbeat from a background thread every ``interval`` s (a third of the TTL)
        until released; if the lock is taken away, :attr:`held` turns False."""
        if self._keeper is not None:
            return
        every = interval if interval is not None else self.ttl / 3
        self._keeper = threading.Thread(
            target=self._keep, args=(every,), name=f"redline-lock-{self.environment}", daemon=True
        )
        self._keeper.start()

    def _keep(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.heartbeat()
            except DeployLockedError:
                return
            except StoreError:
                continue  # the store is away for now; the TTL leaves time to try again

    def release(self, *, now: datetime | None = None) -> bool:
        """Release the lock; False when it was no longer ours (taken over, forced open).

        Releasing twice is harmless."""
        self._stop.set()
        if self._keeper is not None and self._keeper is not threading.current_thread():
            self._keeper.join()
        with self._mutex:
            if not self._held:
                return False
            self._held = False
            return self._store.release_lock(
                self.environment, self._record.token, at=now or datetime.now(UTC)
            )

    def info(self, *, now: datetime | None = None) -> LockInfo:
        """This lock as :func:`current_lock` describes it (as taken; not read again)."""
        return _info(self._record, now or datetime.now(UTC), None)

    def __enter__(self) -> DeployLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self.held else "released"
        return f"<DeployLock {self.environment} {state} by {self.owner}>"


def acquire(
    store: Store,
    environment: str,
    *,
    reason: str,
    owner: str | None = None,
    ttl: float = DEFAULT_TTL,
    now: datetime | None = None,
    host: str | None = None,
    pid: int | None = None,
) -> DeployLock:
    """Take the environment's deploy lock, or raise DeployLockedError (exit 6) at once.

    ``owner`` defaults to ``user@host``; ``host`` and ``pid`` to this process's (pass them
    only when taking the lock on behalf of another process). A stale lock is taken over
    and :attr:`DeployLock.taken_over` says whose it was.
    """
    if not environment:
        raise ValueError("a deploy lock needs an environment")
    this_host = host or socket.gethostname()
    when = now or datetime.now(UTC)
    claim = store.claim_lock(
        environment,
        owner=REDACTOR.scrub(owner or default_owner()),
        host=this_host,
        pid=os.getpid() if pid is None else pid,
        reason=REDACTOR.scrub(reason),
        ttl_seconds=ttl,
        at=when,
        stale=_stale_on(socket.gethostname()),
    )
    if not claim.acquired:
        raise _locked_error(_info(claim.holder, when, None))
    taken = claim.taken_over
    previous = None if taken is None else _info(taken, when, claim.stale_reason)
    return DeployLock(store, claim.holder, previous)


def release(lock: DeployLock) -> bool:
    """Release ``lock``; False when it was no longer held (see :meth:`DeployLock.release`)."""
    return lock.release()


def current_lock(store: Store, environment: str, *, now: datetime | None = None) -> LockInfo | None:
    """Who holds the environment's lock, why, for how long, and whether it is stale; None: free."""
    record = store.get_lock(environment)
    if record is None:
        return None
    when = now or datetime.now(UTC)
    return _info(record, when, _stale_on(socket.gethostname())(record, when))


def force_unlock(
    store: Store,
    environment: str,
    *,
    who: str | None = None,
    reason: str,
    now: datetime | None = None,
) -> LockInfo | None:
    """Open the environment's lock whoever holds it (``redline deploy unlock``), audited as
    ``forced_unlock`` by ``who`` (default ``user@host``). Returns the lock removed, or None."""
    when = now or datetime.now(UTC)
    removed = store.force_unlock(
        environment,
        who=REDACTOR.scrub(who or default_owner()),
        reason=REDACTOR.scrub(reason),
        at=when,
    )
    return None if removed is None else _info(removed, when, None)


def lock_events(
    store: Store, environment: str, *, limit: int | None = 100
) -> list[LockEventRecord]:
    """The audit trail of the environment's lock, newest first: acquired, released,
    taken_over (whose and why), forced_unlock (by whom and why)."""
    return store.list_lock_events(environment, limit)


def default_owner() -> str:
    """``user@host`` of this process."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a zombie does not run)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill would end it; no cheap check there: the TTL decides
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): signal 0 answered, so it exists
    return state not in ("Z", "X")  # exited, not yet reaped by its parent


def _stale_on(this_host: str) -> StaleCheck:
    def stale(lock: LockRecord, now: datetime) -> str | None:
        from redline.store.locks import expired

        why = expired(lock, now)
        if why is None and lock.host == this_host and not pid_alive(lock.pid):
            why = f"its process (pid {lock.pid} on {lock.host}) is no longer running"
        return why

    return stale


def _info(record: LockRecord, now: datetime, stale_reason: str | None) -> LockInfo:
    return LockInfo(
        environment=record.environment,
        owner=REDACTOR.scrub(record.owner),
        host=record.host,
        pid=record.pid,
        reason=REDACTOR.scrub(record.reason),
        acquired_at=record.acquired_at,
        heartbeat_at=record.heartbeat_at,
        ttl=record.ttl_seconds,
        age=max((now - record.acquired_at).total_seconds(), 0.0),
        stale_reason=stale_reason,
    )


def _locked_error(holder: LockInfo) -> DeployLockedError:
    env = holder.environment
    error = DeployLockedError(
        f"{env} is locked by {holder.describe()}; {_unlock_hint(env)} if that deploy is dead",
        hint=(
            f"pid {holder.pid} on {holder.host} holds it; it goes stale {_age(holder.ttl)} "
            "after its last heartbeat, and the next deploy then takes it over"
        ),
    )
    error.lock = holder  # type: ignore[attr-defined]
    return error


def _lost_message(store: Store, environment: str, now: datetime) -> str:
    holder = current_lock(store, environment, now=now)
    if holder is None:
        return f"the deploy lock on {environment} was taken away (forced open)"
    return f"the deploy lock on {environment} was taken over: now held by {holder.describe()}"


def _unlock_hint(environment: str) -> str:
    return f"`redline deploy unlock --env {shlex.quote(environment)}`"


def _age(seconds: float) -> str:
    from redline.units import format_duration

    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    return format_duration(float(round(seconds)))
