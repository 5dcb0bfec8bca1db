"""Deploy recipes: the team's own commands, run as recorded steps with hooks around the switch.

>>> recipe = CommandRecipe(deploy="./deploy.sh {version}", rollback="./deploy.sh {version}")
>>> ctx = DeployContext(version="1.4.2", previous_version="1.4.1", env="prod", service="api")
>>> [(s.name, s.ok) for s in recipe.deploy(ctx)]                   # doctest: +SKIP
[('deploy', True)]

**Templating.** ``{version}``, ``{previous_version}``, ``{env}``, ``{service}``,
``{release_dir}`` and ``{current}`` are replaced by their values, shell-quoted (so a
placeholder must not sit inside quotes of its own); a known placeholder without a value
(``{previous_version}`` on a first deploy) becomes ``''``. ``${VAR}`` is left to the
shell, other braces (``awk '{print $1}'``, ``{a,b}``) too; ``{{`` and ``}}`` are literal
braces. An unknown ``{name}`` is a :class:`DeployError` naming it and the known ones,
raised when the recipe is built, before anything runs. The values are also exported as
``REDLINE_VERSION``, ``REDLINE_PREVIOUS_VERSION``, ``REDLINE_ENV``, ``REDLINE_SERVICE``,
``REDLINE_RELEASE_DIR`` and ``REDLINE_CURRENT``.

**Running.** A step runs through ``/bin/sh -c`` in a process group of its own with stdin
closed; stdout and stderr are captured together (the first and last 32 KiB). When it
outlives its timeout, the whole group gets SIGTERM, then SIGKILL after a grace period,
and the result says ``timed_out``. A step that ends by itself may leave background
processes running (a ``start`` command starting a daemon); they should redirect their
output, since a step stops reading it a moment after its shell exits. Secret values,
those the secrets module registered with :data:`~redline.redact.REDACTOR` and those
passed as ``secrets=``, never appear in a result's ``command`` or ``output``.
"""

from __future__ import annotations

import os
import re
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redline._errors import DeployError
from redline.redact import REDACTOR, Redactor

__all__ = [
    "PLACEHOLDERS",
    "CommandRecipe",
    "DeployContext",
    "Hooks",
    "StepResult",
    "check_template",
    "render",
    "run_step",
    "unknown_placeholders",
]

PLACEHOLDERS = ("version", "previous_version", "env", "service", "release_dir", "current")
_FIELD = re.compile(r"\{\{|\}\}|(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KEEP = 32 * 1024  # output kept at each end
_MARGIN = 4096  # scrubbed beyond each cut, so that a secret across it is still masked
# After its shell exits, how long a step waits for background processes to close its output.
_DETACH = 0.2
_NOTE = "[redline] "


@dataclass(frozen=True)
class DeployContext:
    """What a recipe deploys: in a rollback, ``version`` is the version rolled back *to*."""

    version: str
    previous_version: str | None = None
    env: str = ""
    service: str = ""
    # polled before each step: once true, the remaining steps are not run (a deploy
    # interrupted before its switch leaves the old release serving)
    should_stop: Callable[[], bool] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StepResult:
    """One command (or one action of redline's own) of a deploy, as it ran.

    ``command`` is shown templated with secrets masked; ``output`` is stdout and stderr
    together, capped and masked; ``exit_code`` is negative when a signal ended it and
    None when it could not start.
    """

    name: str
    command: str
    exit_code: int | None
    output: str
    started_at: datetime
    seconds: float
    timed_out: bool = False
    ok: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ok", self.exit_code == 0 and not self.timed_out)

    @property
    def phase(self) -> str:
        """``before_switch`` for ``before_switch[1]``: where in a deploy the step ran."""
        return self.name.split("[", 1)[0]


@dataclass(frozen=True)
class Hooks:
    """Commands run at fixed points of a deploy; each is recorded as a step.

    A failing ``before_switch`` stops the deploy before the switch; ``on_failure`` runs
    when any deploy step failed; ``after_rollback`` once a rollback switched back.
    """

    before_switch: Sequence[str] = ()
    after_switch: Sequence[str] = ()
    on_failure: Sequence[str] = ()
    after_rollback: Sequence[str] = ()

    def __post_init__(self) -> None:
        for name in ("before_switch", "after_switch", "on_failure", "after_rollback"):
            commands = getattr(self, name)
            if isinstance(commands, str):
                commands = (commands,)
            object.__setattr__(self, name, tuple(commands))
            for i, command in enumerate(commands):
                check_template(command, where=f"hooks.{name}[{i}]")


def unknown_placeholders(command: str) -> list[str]:
    """The ``{name}``s in ``command`` that a deploy does not fill, in order."""
    return [m[1] for m in _FIELD.finditer(command) if m[1] and m[1] not in PLACEHOLDERS]


def check_template(command: str, *, where: str = "command") -> None:
    """Raise :class:`DeployError` if ``command`` uses a placeholder that is not known."""
    unknown = unknown_placeholders(command)
    if unknown:
        known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
        shown = REDACTOR.scrub(command)
        raise DeployError(
            f"unknown placeholder {{{unknown[0]}}} in {where} {shown!r}; known: {known}",
            hint="fix the name, or write {{ and }} for literal braces",
        )


def render(command: str, variables: Mapping[str, str | None]) -> str:
    """``command`` with its placeholders replaced by shell-quoted values."""
    check_template(command)

    def value(match: re.Match[str]) -> str:
        if match[1] is None:
            return match[0][0]
        return shlex.quote(variables.get(match[1]) or "")

    return _FIELD.sub(value, command)


def run_step(
    name: str,
    command: str,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float,
    variables: Mapping[str, str | None] | None = None,
    secrets: Mapping[str, str] | None = None,
    grace: float = 1.0,
) -> StepResult:
    """Run one templated shell command as a deploy step and return what happened.

    ``env`` and ``secrets`` are added to this process's environment; the values of
    ``secrets`` (and of :data:`REDACTOR`) are masked in the result. ``grace`` is how long
    the process group has between SIGTERM and SIGKILL after ``timeout`` seconds.
    """
    variables = dict(variables or {})
    text = render(command, variables)  # raises before anything runs
    masks = Redactor()
    for secret in (secrets or {}).values():
        masks.add(secret)

    def scrub(s: str) -> str:
        return REDACTOR.scrub(masks.scrub(s))

    environ = dict(os.environ)
    environ.update({f"REDLINE_{k.upper()}": v or "" for k, v in variables.items()})
    environ.update(env or {})
    environ.update(secrets or {})
    started_at = datetime.now(UTC)
    start = time.perf_counter()
    try:
        code, out, timed_out, note = _execute(text, cwd, environ, timeout, grace)
    except OSError as exc:
        code, out, timed_out = None, _Capture(), False
        note = f"cannot start the command: {exc.strerror or exc}" + (
            f" (cwd {os.fspath(cwd)!r})" if cwd is not None else ""
        )
    seconds = time.perf_counter() - start
    output = out.text(scrub)
    if timed_out:
        note = f"still running after {timeout:g} s: killed it and its process group"
    if note:
        output += ("\n" if output and not output.endswith("\n") else "") + _NOTE + note + "\n"
    return StepResult(name, scrub(text), code, output, started_at, seconds, timed_out)


@dataclass
class _Capture:
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if len(self.head) < _KEEP + _MARGIN:
            self.head += chunk[: _KEEP + _MARGIN - len(self.head)]
        self.tail += chunk
        if len(self.tail) > 4 * (_KEEP + _MARGIN):
            del self.tail[: -(_KEEP + _MARGIN)]

    def text(self, scrub: Callable[[str], str]) -> str:
        if self.total <= 2 * _KEEP:
            return scrub(bytes(self.tail).decode("utf-8", "replace"))
        head = scrub(bytes(self.head).decode("utf-8", "replace"))[:_KEEP]
        tail = scrub(bytes(self.tail[-(_KEEP + _MARGIN) :]).decode("utf-8", "replace"))
        cut = self.total - 2 * _KEEP
        return f"{head}\n{_NOTE}... {cut} bytes left out ...\n{tail[-_KEEP:]}"


def _execute(
    command: str,
    cwd: str | os.PathLike[str] | None,
    environ: dict[str, str],
    timeout: float,
    grace: float,
) -> tuple[int | None, _Capture, bool, str]:
    capture = _Capture()
    sel = selectors.DefaultSelector()
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=environ,
            start_new_session=True,
        )
    except BaseException:
        sel.close()
        raise
    assert proc.stdout is not None
    pipe = proc.stdout.fileno()
    exit_fd: int | None = None
    finished = False
    try:
        sel.register(pipe, selectors.EVENT_READ)
        exit_fd = _pidfd(proc.pid)
        if exit_fd is not None:
            sel.register(exit_fd, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            _pump(sel, pipe, capture, remaining if exit_fd is not None else min(remaining, 0.02))
        timed_out = proc.returncode is None
        if timed_out:
            _end_group(proc, sel, pipe, capture, grace)
        note = ""
        if not _drain(sel, pipe, capture, time.monotonic() + (1.0 if timed_out else _DETACH)):
            note = "stopped reading: a background process still holds the output (redirect it)"
        finished = True
    finally:
        # Interrupted (KeyboardInterrupt, a SIGTERM handler's exception) while the shell
        # still ran: end it. Once it exited, what it started in the background stays.
        if not finished and proc.poll() is None:
            _end_group(proc, sel, pipe, capture, min(grace, 0.2))
        proc.wait()
        sel.close()
        proc.stdout.close()
        if exit_fd is not None:
            os.close(exit_fd)
    return proc.returncode, capture, timed_out, note


def _pidfd(pid: int) -> int | None:
    """A descriptor readable once ``pid`` exits (Linux); None where there is none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _pump(sel: selectors.BaseSelector, pipe: int, capture: _Capture, wait: float) -> bool:
    """Read what arrives within ``wait`` seconds; False once the output is closed."""
    if pipe not in sel.get_map():
        sel.select(wait)
        return False
    for key, _ in sel.select(wait):
        if key.fd == pipe:
            chunk = os.read(pipe, 65536)
            if not chunk:
                sel.unregister(pipe)
                return False
            capture.add(chunk)
    return True


def _drain(sel: selectors.BaseSelector, pipe: int, capture: _Capture, until: float) -> bool:
    """Read the rest of the output until it closes or ``until``; True when it closed."""
    only_pipe = selectors.DefaultSelector()
    try:
        if pipe not in sel.get_map():
            return True
        only_pipe.register(pipe, selectors.EVENT_READ)
        while (remaining := until - time.monotonic()) > 0:
            if not only_pipe.select(remaining):
                continue
            chunk = os.read(pipe, 65536)
            if not chunk:
                sel.unregister(pipe)
                return True
            capture.add(chunk)
        return False
    finally:
        only_pipe.close()


def _signal_group(pgid: int, signum: signal.Signals) -> bool:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _end_group(
    proc: subprocess.Popen[bytes],
    sel: selectors.BaseSelector,
    pipe: int,
    capture: _Capture,
    grace: float,
) -> None:
    """SIGTERM the step's process group, give it ``grace`` seconds, then SIGKILL it."""
    pgid = proc.pid  # start_new_session: the shell leads a group of its own id
    try:
        if _signal_group(pgid, signal.SIGTERM):
            until = time.monotonic() + grace
            # Done early once the shell exited and nothing holds the output any more.
            while (remaining := until - time.monotonic()) > 0:
                if not _pump(sel, pipe, capture, min(remaining, 0.02)) and proc.poll() is not None:
                    break
    finally:
        _signal_group(pgid, signal.SIGKILL)


class CommandRecipe:
    """Deploys with the team's own commands: ``deploy`` is the switch.

    ``rollback`` defaults to the deploy command run for the version rolled back to.
    Every command (hooks too) is checked for unknown placeholders here, before anything
    runs. ``timeout`` is per command, in seconds; ``cwd`` is where they run.
    """

    def __init__(
        self,
        deploy: str,
        rollback: str | None = None,
        *,
        timeout: float = 300.0,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        check_template(deploy, where="the deploy command")
        if rollback is not None:
            check_template(rollback, where="the rollback command")
        self.deploy_command = deploy
        self.rollback_command = rollback
        self.timeout = timeout
        self.cwd = cwd
        self.env = dict(env or {})
        self.secrets = dict(secrets or {})
        self.hooks = hooks or Hooks()

    def __repr__(self) -> str:
        return f"CommandRecipe(deploy={REDACTOR.scrub(self.deploy_command)!r})"

    def deploy(self, ctx: DeployContext) -> list[StepResult]:
        """``before_switch`` hooks, the deploy command, ``after_switch`` hooks.

        Stops at the first failing step; then runs the ``on_failure`` hooks.
        """
        steps = Steps(self.run)
        if (
            steps.each("before_switch", self.hooks.before_switch, ctx)
            and steps.one("deploy", self.deploy_command, ctx)
            and steps.each("after_switch", self.hooks.after_switch, ctx)
        ):
            return steps.done
        steps.each("on_failure", self.hooks.on_failure, ctx, stop=False)
        return steps.done

    def rollback(self, ctx: DeployContext) -> list[StepResult]:
        """The rollback command for ``ctx.version``, then the ``after_rollback`` hooks."""
        steps = Steps(self.run)
        if steps.one("rollback", self.rollback_command or self.deploy_command, ctx):
            steps.each("after_rollback", self.hooks.after_rollback, ctx)
        return steps.done

    def run(self, name: str, command: str, ctx: DeployContext) -> StepResult:
        return run_step(
            name,
            command,
            cwd=self.cwd,
            env=self.env,
            timeout=self.timeout,
            variables=variables_of(ctx),
            secrets=self.secrets,
        )


def variables_of(ctx: DeployContext, **more: str | None) -> dict[str, str | None]:
    """The placeholder values of ``ctx`` (and ``release_dir``/``current`` when given)."""
    found: dict[str, str | None] = {
        "version": ctx.version,
        "previous_version": ctx.previous_version,
        "env": ctx.env,
        "service": ctx.service,
    }
    found.update(more)
    return found


class Steps:
    """The steps of one deploy or rollback so far; helpers stop at the first failure."""

    def __init__(self, run: Callable[[str, str, DeployContext], StepResult]) -> None:
        self.run = run
        self.done: list[StepResult] = []

    def add(self, step: StepResult) -> bool:
        self.done.append(step)
        return step.ok

    def one(self, name: str, command: str, ctx: DeployContext) -> bool:
        if ctx.should_stop is not None and ctx.should_stop():
            return self.add(
                StepResult(name, "", None, "interrupted: not run", datetime.now(UTC), 0.0)
            )
        return self.add(self.run(name, command, ctx))

    def each(
        self, name: str, commands: Sequence[str], ctx: DeployContext, *, stop: bool = True
    ) -> bool:
        ok = True
        for i, command in enumerate(commands):
            ok = self.one(f"{name}[{i}]", command, ctx) and ok
            if not ok and stop:
                return False
        return ok
