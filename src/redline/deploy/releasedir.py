"""A Capistrano-style release directory: one directory per release, an atomic ``current``.

::

    root/
      releases/20261129T093259123456Z-1.4.2/   one per deploy, kept for rollbacks
      shared/log/  shared/config/app.env       linked into every release
      current -> releases/20261129T093259123456Z-1.4.2

>>> rd = ReleaseDir("/srv/api", keep_releases=5, shared=("log", "config/app.env"))
>>> release = rd.prepare("1.4.2", populate="tar -xzf /srv/api-{version}.tgz")  # doctest: +SKIP
>>> rd.switch(release.id)                                                       # doctest: +SKIP

A release id is the UTC time it was made (to the microsecond) and its version with
unsafe characters replaced, so ids sort in the order releases were made. ``switch`` makes
a new symlink beside ``current`` and renames it over ``current``: a reader sees the old
release or the new one, never neither. Shared paths: an entry ending in ``/`` is a
directory; otherwise one that exists in ``shared/`` keeps its kind, one the new release
brings seeds ``shared/`` with its copy (first deploy only), and one found nowhere is
created empty, as a file when its name has a dot (``config/app.env``, ``.env``) and as a
directory otherwise (``log``). Shared content is never overwritten.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redline._errors import DeployError, RollbackError
from redline.deploy.recipes import (
    DeployContext,
    Hooks,
    StepResult,
    Steps,
    check_template,
    run_step,
    variables_of,
)
from redline.redact import REDACTOR

__all__ = ["Release", "ReleaseDir", "ReleaseDirRecipe"]

_STAMP = "%Y%m%dT%H%M%S%fZ"
_ID = re.compile(r"^(\d{8}T\d{12}Z)-([A-Za-z0-9._-]{1,64})$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
FAILED_MARK = ".redline-failed"  # in a release that failed: kept, never a rollback target
_TEMP_PREFIX = ".current.tmp."
_TRASH_PREFIX = ".trash."

Populate = str | Callable[[Path], None]


@dataclass(frozen=True)
class Release:
    """One directory under ``releases/``, and the steps that prepared it."""

    id: str
    version: str
    path: Path
    steps: tuple[StepResult, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every step of its preparation succeeded."""
        return all(step.ok for step in self.steps)


class ReleaseDir:
    """The layout on disk, and the operations on it; see the module docstring."""

    def __init__(
        self, root: str | os.PathLike[str], keep_releases: int = 5, shared: Sequence[str] = ()
    ) -> None:
        if keep_releases < 1:
            raise DeployError(f"keep_releases must be at least 1, not {keep_releases}")
        for entry in shared:
            parts = Path(entry.rstrip("/")).parts
            if not parts or Path(entry).is_absolute() or ".." in parts:
                raise DeployError(
                    f"shared path {entry!r} must be relative and stay inside the release",
                    hint="write it as in the release, e.g. 'log' or 'config/app.env'",
                )
        self.root = Path(root).absolute()
        self.keep_releases = keep_releases
        self.shared = tuple(shared)

    def __repr__(self) -> str:
        return f"ReleaseDir({os.fspath(self.root)!r}, keep_releases={self.keep_releases})"

    @property
    def releases_path(self) -> Path:
        return self.root / "releases"

    @property
    def shared_path(self) -> Path:
        return self.root / "shared"

    @property
    def current_path(self) -> Path:
        return self.root / "current"

    def path_of(self, release_id: str) -> Path:
        return self.releases_path / release_id

    def new_id(self, version: str) -> str:
        """A fresh id for ``version``, later than every existing one (even if the clock
        stepped back)."""
        safe = _UNSAFE.sub("-", version).strip("-.")[:64] or "release"
        stamp = datetime.now(UTC)
        existing = self.releases()
        if existing:
            last = datetime.strptime(existing[-1].split("-", 1)[0], _STAMP).replace(tzinfo=UTC)
            stamp = max(stamp, last + timedelta(microseconds=1))
        return f"{stamp.strftime(_STAMP)}-{safe}"

    def releases(self) -> list[str]:
        """Release ids on disk, oldest first."""
        try:
            names = os.listdir(self.releases_path)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if _ID.match(n) and (self.releases_path / n).is_dir())

    def current(self) -> str | None:
        """The id ``current`` points at, or None before the first switch."""
        try:
            target = os.readlink(self.current_path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DeployError(
                f"{self.current_path} is not a symlink: cannot tell which release is current",
                hint="move it away; the release directory manages 'current' itself",
            ) from exc
        return Path(target).name

    def version_of(self, release_id: str) -> str:
        match = _ID.match(release_id)
        return match[2] if match else release_id

    def find(self, version: str) -> str | None:
        """The newest release id of ``version`` not marked failed, or None."""
        safe = _UNSAFE.sub("-", version).strip("-.")[:64] or "release"
        found = [r for r in self.releases() if self.version_of(r) == safe and not self.failed(r)]
        return found[-1] if found else None

    def mark_failed(self, release_id: str, reason: str = "") -> None:
        """Keep ``release_id`` on disk for inspection, never again a rollback target."""
        (self.path_of(release_id) / FAILED_MARK).write_text(reason + "\n", encoding="utf-8")

    def failed(self, release_id: str) -> bool:
        return (self.path_of(release_id) / FAILED_MARK).exists()

    def prepare(
        self,
        version: str,
        *,
        populate: Populate | None = None,
        release_id: str | None = None,
        timeout: float = 300.0,
        variables: Mapping[str, str | None] | None = None,
        env: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> Release:
        """Make ``releases/<id>/``, fill it, link ``shared/`` paths into it.

        ``populate`` is a shell command (run in the new directory, ``{release_dir}`` is
        its path) or a callable given the path. The release's ``steps`` say how it went;
        a failed step stops there and leaves the directory on disk for inspection.
        """
        rid = release_id or self.new_id(version)
        if not _ID.match(rid):
            raise DeployError(f"release id {rid!r} is not one this release directory makes")
        path = self.path_of(rid)
        steps: list[StepResult] = []
        made = _action("prepare", f"mkdir releases/{rid}", lambda: _mkdir(path))
        steps.append(made)
        if not made.ok:
            return Release(rid, version, path, tuple(steps))
        if populate is not None:
            values = {**(variables or {}), "version": version, "release_dir": os.fspath(path)}
            values.setdefault("current", os.fspath(self.current_path))
            if isinstance(populate, str):
                step = run_step(
                    "populate",
                    populate,
                    cwd=path,
                    env=env,
                    timeout=timeout,
                    variables=values,
                    secrets=secrets,
                )
            else:
                step = _action("populate", _describe(populate), lambda: populate(path))
            steps.append(step)
            if not step.ok:
                return Release(rid, version, path, tuple(steps))
        if self.shared:
            steps.append(
                _action(
                    "link_shared",
                    "link shared: " + ", ".join(self.shared),
                    lambda: self._link_shared(path),
                )
            )
        return Release(rid, version, path, tuple(steps))

    def switch(self, release_id: str) -> str | None:
        """Point ``current`` at ``release_id`` atomically; returns the id it pointed at."""
        if not (self.path_of(release_id).is_dir() and _ID.match(release_id)):
            raise DeployError(f"no release {release_id!r} under {self.releases_path}")
        before = self.current()
        self._remove_stale_temps()
        temp = self.root / f"{_TEMP_PREFIX}{os.getpid()}.{secrets.token_hex(4)}"
        os.symlink(os.path.join("releases", release_id), temp)
        try:
            os.replace(temp, self.current_path)
        except OSError:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.root)
        return before

    def cleanup(self, keep: int | None = None, protect: Iterable[str] = ()) -> list[str]:
        """Delete the oldest releases beyond the newest ``keep`` (``keep_releases``), never
        ``current`` nor an id in ``protect``; returns the ids deleted."""
        keep = self.keep_releases if keep is None else keep
        spared = {*protect, self.current()}
        ids = self.releases()
        doomed = [r for r in ids[: max(len(ids) - keep, 0)] if r not in spared]
        for rid in doomed:
            # Renamed first, so a cleanup killed halfway leaves no half-deleted release.
            trash = self.releases_path / f"{_TRASH_PREFIX}{rid}"
            os.rename(self.path_of(rid), trash)
            shutil.rmtree(trash)  # does not follow the symlinks into shared/
        for name in os.listdir(self.releases_path) if ids else ():
            if name.startswith(_TRASH_PREFIX):  # left by a cleanup that was killed
                shutil.rmtree(self.releases_path / name, ignore_errors=True)
        return doomed

    def _link_shared(self, release: Path) -> None:
        for entry in self.shared:
            rel = entry.rstrip("/")
            shared, inside = self.shared_path / rel, release / rel
            if not os.path.lexists(shared):
                shared.parent.mkdir(parents=True, exist_ok=True)
                if os.path.lexists(inside) and not inside.is_symlink():
                    _copy(inside, shared)  # the first release seeds the shared copy
                elif entry.endswith("/") or "." not in Path(rel).name:
                    shared.mkdir()
                else:
                    with open(shared, "x"):
                        pass
            if inside.is_symlink() or inside.is_file():
                inside.unlink()
            elif inside.is_dir():
                shutil.rmtree(inside)
            inside.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(shared, inside.parent), inside)

    def _remove_stale_temps(self) -> None:
        for name in os.listdir(self.root):
            if name.startswith(_TEMP_PREFIX):
                pid = name[len(_TEMP_PREFIX) :].split(".", 1)[0]
                if pid.isdigit() and not _alive(int(pid)):
                    (self.root / name).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mkdir(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir()


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(fn: Callable[[Path], None]) -> str:
    return f"call {getattr(fn, '__qualname__', None) or type(fn).__name__}"


def _action(name: str, shown: str, fn: Callable[[], None]) -> StepResult:
    """redline's own work, recorded as a step: exit code 0, or 1 with the error."""
    started_at = datetime.now(UTC)
    start = time.perf_counter()
    code, output = 0, ""
    try:
        fn()
    except Exception as exc:  # recorded as a failed step; the caller decides
        code, output = 1, REDACTOR.scrub(f"{type(exc).__name__}: {exc}\n")
    return StepResult(name, shown, code, output, started_at, time.perf_counter() - start)


@dataclass
class ReleaseDirRecipe:
    """Deploys into a :class:`ReleaseDir`: prepare, ``before_switch``, switch, then
    ``reload`` (or ``stop`` and ``start``), ``after_switch``.

    Commands run in the release they concern (``cwd=None``), with ``{release_dir}`` its
    path and ``{current}`` the ``current`` symlink. A failure anywhere runs the
    ``on_failure`` hooks and leaves the release on disk; a failure after the switch is for
    the caller to roll back (``rollback_to``). Cleanup is the caller's: it knows which
    releases to protect.
    """

    release_dir: ReleaseDir
    populate: Populate | None = None
    start: str | None = None
    stop: str | None = None
    reload: str | None = None
    hooks: Hooks = field(default_factory=Hooks)
    timeout: float = 300.0
    cwd: str | os.PathLike[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("populate", "start", "stop", "reload"):
            command = getattr(self, name)
            if isinstance(command, str):
                check_template(command, where=f"the {name} command")

    def deploy(self, ctx: DeployContext, *, release_id: str | None = None) -> list[StepResult]:
        """Deploy ``ctx.version`` as a new release (``release_id``: the id to give it)."""
        rd = self.release_dir
        release = rd.prepare(
            ctx.version,
            populate=self.populate,
            release_id=release_id,
            timeout=self.timeout,
            variables=variables_of(ctx),
            env=self.env,
            secrets=self.secrets,
        )
        steps = self._steps(release.path)
        steps.done.extend(release.steps)
        if (
            release.ok
            and steps.each("before_switch", self.hooks.before_switch, ctx)
            and steps.add(
                _action("switch", f"current -> releases/{release.id}", _switch(rd, release.id))
            )
            and self._restart(steps, ctx)
            and steps.each("after_switch", self.hooks.after_switch, ctx)
        ):
            return steps.done
        steps.each("on_failure", self.hooks.on_failure, ctx, stop=False)
        return steps.done

    def rollback_to(self, release_id: str, ctx: DeployContext) -> list[StepResult]:
        """Switch back to ``release_id``, reload (or stop/start), ``after_rollback`` hooks.

        Refused with :class:`RollbackError` before anything changes when the release is
        not on disk. ``ctx.version`` is the version rolled back to.
        """
        rd = self.release_dir
        if release_id not in rd.releases():
            on_disk = ", ".join(rd.releases()[-5:]) or "none"
            raise RollbackError(
                f"cannot roll back to release {release_id!r}: not under {rd.releases_path}",
                hint=f"releases on disk (newest last): {on_disk}",
            )
        steps = self._steps(rd.path_of(release_id))
        if steps.add(
            _action("switch", f"current -> releases/{release_id}", _switch(rd, release_id))
        ) and self._restart(steps, ctx):
            steps.each("after_rollback", self.hooks.after_rollback, ctx)
        return steps.done

    def _restart(self, steps: Steps, ctx: DeployContext) -> bool:
        if self.reload is not None:
            return steps.one("reload", self.reload, ctx)
        return (self.stop is None or steps.one("stop", self.stop, ctx)) and (
            self.start is None or steps.one("start", self.start, ctx)
        )

    def _steps(self, release: Path) -> Steps:
        rd = self.release_dir

        def run(name: str, command: str, ctx: DeployContext) -> StepResult:
            return run_step(
                name,
                command,
                cwd=self.cwd if self.cwd is not None else release,
                env=self.env,
                timeout=self.timeout,
                variables=variables_of(
                    ctx, release_dir=os.fspath(release), current=os.fspath(rd.current_path)
                ),
                secrets=self.secrets,
            )

        return Steps(run)


def _switch(rd: ReleaseDir, release_id: str) -> Callable[[], None]:
    def switch() -> None:
        rd.switch(release_id)

    return switch
