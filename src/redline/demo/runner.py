"""Start, watch and stop the demo system (API + worker) as child processes.

>>> from pathlib import Path
>>> with DemoSystem(Path(".redline/demo"), knobs={"latency": "50ms"}) as demo:  # doctest: +SKIP
...     print(demo.endpoints.api_url)
http://127.0.0.1:43817

Ports are chosen without a race: the parent binds ``127.0.0.1:0``, learns the port, and
hands the listening socket itself to the child. Each child runs in its own process group,
so :meth:`DemoSystem.stop` can end it and anything it started. Unless ``detach=True``, each
child holds the read end of a pipe whose write end only this process has: if this process
dies, even by SIGKILL, the children see EOF and exit.

POSIX only (``pass_fds``, process groups).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from redline._errors import DemoError
from redline.demo._dburl import DB_ENV, normalize_db_url, redact_db_url
from redline.demo.knobs import TOKEN_ENV, Knobs

__all__ = ["DemoEndpoints", "DemoSystem"]

STATE_FILE = "demo.json"
TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret
_ROLES = ("api", "worker")


@dataclass(frozen=True)
class DemoEndpoints:
    """Where a running demo system answers, and how to administer it.

    ``pids`` is ``(api_pid, worker_pid)``; ``db_url`` is the SQLAlchemy URL both use.
    """

    api_url: str
    worker_health_url: str
    admin_token: str = field(repr=False)
    db_url: str
    pids: tuple[int, ...]


@dataclass
class _Child:
    role: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]


class DemoSystem:
    """The demo API and worker, running as child processes on free loopback ports.

    ``base_dir`` holds the SQLite database (unless ``db_url`` names another one), the
    children's logs, ``demo.json`` (pids and URLs, for :meth:`stop_from_state`) and the
    admin token in a 0600 file. ``knobs`` are the knob values to start with, as
    ``POST /admin/knobs`` takes them (``{"latency": "50ms", "cache": True}``); ``DEMO_*``
    variables of this process apply underneath them.
    """

    def __init__(
        self,
        base_dir: Path,
        db_url: str | None = None,
        knobs: Mapping[str, Any] | None = None,
        *,
        detach: bool = False,
        ready_timeout: float = 15.0,
        poll_interval: str = "50ms",
    ) -> None:
        self.base_dir = Path(base_dir)
        self.db_url = normalize_db_url(db_url or self.base_dir / "demo.db")
        self.detach = detach
        self.ready_timeout = ready_timeout
        self.poll_interval = poll_interval
        try:
            self.start_knobs = Knobs.from_env(os.environ).patch(knobs or {})
        except ValueError as exc:
            raise DemoError(f"bad demo knob: {exc}") from None
        self._children: list[_Child] = []
        self._lifeline: int | None = None
        self._endpoints: DemoEndpoints | None = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> DemoEndpoints:
        """Start the API and the worker and wait until both answer ``/health``."""
        if self._children:
            raise DemoError("this demo system is already started")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        existing = _read_state(self.base_dir)
        if existing is not None:
            alive = [pid for pid in existing.get("pids", {}).values() if _is_demo_process(pid)]
            if alive:
                raise DemoError(
                    f"a demo system is already running from {self.base_dir} (pids {alive})",
                    hint="stop it with `redline demo --stop`, or use another directory",
                )
            _remove_state(self.base_dir)

        token = secrets.token_urlsafe(32)
        env = {**os.environ, **self.start_knobs.to_env(), TOKEN_ENV: token, DB_ENV: self.db_url}
        api_sock = socket.create_server(("127.0.0.1", 0))
        worker_sock = socket.create_server(("127.0.0.1", 0))
        api_url = f"http://127.0.0.1:{api_sock.getsockname()[1]}"
        worker_url = f"http://127.0.0.1:{worker_sock.getsockname()[1]}/health"
        lifeline_r: int | None = None
        if not self.detach:
            lifeline_r, self._lifeline = os.pipe()
        try:
            self._spawn("api", ["--fd", str(api_sock.fileno())], api_sock, lifeline_r, env)
            self._spawn(
                "worker",
                ["--health-fd", str(worker_sock.fileno()), "--poll-interval", self.poll_interval],
                worker_sock,
                lifeline_r,
                env,
            )
        except OSError as exc:
            self.stop()
            raise DemoError(f"cannot start the demo system: {exc}") from exc
        finally:
            # The children own the sockets now; a copy here would keep a dead child's port
            # accepting connections that nobody answers.
            api_sock.close()
            worker_sock.close()
            if lifeline_r is not None:
                os.close(lifeline_r)

        self._endpoints = DemoEndpoints(
            api_url=api_url,
            worker_health_url=worker_url,
            admin_token=token,
            db_url=self.db_url,
            pids=tuple(child.proc.pid for child in self._children),
        )
        self._write_state(self._endpoints)
        try:
            self._wait_ready(self._endpoints)
        except BaseException:
            self.stop()
            raise
        return self._endpoints

    def _spawn(
        self,
        role: str,
        args: list[str],
        sock: socket.socket,
        lifeline: int | None,
        env: dict[str, str],
    ) -> None:
        fds = [sock.fileno()]
        cmd = [sys.executable, "-m", f"redline.demo.{'app' if role == 'api' else 'worker'}"]
        cmd += args
        if lifeline is not None:
            fds.append(lifeline)
            cmd += ["--lifeline-fd", str(lifeline)]
        log_path = self.base_dir / f"{role}.log"
        log = log_path.open("wb")
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=fds,
                start_new_session=True,
                env=env,
                cwd=self.base_dir,
            )
        except BaseException:
            log.close()
            raise
        self._children.append(_Child(role, proc, log_path, log))

    def _wait_ready(self, endpoints: DemoEndpoints) -> None:
        deadline = time.monotonic() + self.ready_timeout
        urls = {"api": endpoints.api_url + "/health", "worker": endpoints.worker_health_url}
        last: dict[str, str] = {}
        pending = set(_ROLES)
        while pending:
            for child in self._children:
                code = child.proc.poll()
                if code is not None:
                    raise DemoError(
                        f"the demo {child.role} exited with code {code} while starting:\n"
                        + _tail(child.log_path),
                        hint=f"full log: {child.log_path}",
                    )
            for role in sorted(pending):
                status, body = _get(urls[role])
                last[role] = f"{status} {body}" if status else body
                if status == 200 or (
                    role == "api" and status == 503 and self.start_knobs.health_fail
                ):
                    pending.discard(role)
            if pending and time.monotonic() > deadline:
                role = sorted(pending)[0]
                child = next(c for c in self._children if c.role == role)
                raise DemoError(
                    f"the demo {role} was not ready within {self.ready_timeout:g}s "
                    f"(last /health: {last.get(role)}):\n" + _tail(child.log_path),
                    hint=f"full log: {child.log_path}",
                )
            if pending:
                time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM both children's process groups, SIGKILL what is left after ``timeout``."""
        for child in self._children:
            if child.proc.poll() is None:
                _signal_group(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self._children:
            try:
                child.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
            child.log.close()
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None
        if self._children:
            _remove_state(self.base_dir)
        self._children = []
        self._endpoints = None

    def is_running(self) -> bool:
        """True while every child started by :meth:`start` is still alive."""
        return bool(self._children) and all(c.proc.poll() is None for c in self._children)

    @property
    def endpoints(self) -> DemoEndpoints:
        if self._endpoints is None:
            raise DemoError("the demo system is not started", hint="call start() first")
        return self._endpoints

    def __enter__(self) -> DemoSystem:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- administration over HTTP -----------------------------------------------------

    def knobs(self) -> dict[str, Any]:
        """The API's current knob values."""
        return self._admin("GET", "/admin/knobs")

    def set_knobs(self, **changes: Any) -> dict[str, Any]:
        """Change knobs while the system runs: ``demo.set_knobs(latency="50ms")``."""
        return self._admin("POST", "/admin/knobs", changes)

    def stats(self) -> dict[str, Any]:
        """The API's counters: requests, injected errors, DB queries, cache hits, CPU time."""
        return self._admin("GET", "/admin/stats")

    def _admin(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        import httpx

        ep = self.endpoints
        headers = {"Authorization": f"Bearer {ep.admin_token}"}
        with httpx.Client(base_url=ep.api_url, headers=headers, timeout=30) as client:
            response = client.request(method, path, json=body)
        if response.status_code != 200:
            raise DemoError(f"{method} {path} answered {response.status_code}: {response.text}")
        data: dict[str, Any] = response.json()
        return data

    # -- state file -------------------------------------------------------------------

    def _write_state(self, ep: DemoEndpoints) -> None:
        token_path = self.base_dir / TOKEN_FILE
        token_path.unlink(missing_ok=True)
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(ep.admin_token)
        state = {
            "format": 1,
            "api_url": ep.api_url,
            "worker_health_url": ep.worker_health_url,
            "db_url": redact_db_url(ep.db_url),
            "pids": {c.role: c.proc.pid for c in self._children},
            "logs": {c.role: c.log_path.name for c in self._children},
            "token_file": TOKEN_FILE,
            "detached": self.detach,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        tmp = self.base_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.base_dir / STATE_FILE)

    @staticmethod
    def endpoints_from_state(base_dir: Path) -> DemoEndpoints | None:
        """The endpoints of a demo started from ``base_dir`` that is still running, or None.

        A password in a PostgreSQL URL is not kept in ``demo.json``: ``db_url`` comes back
        with ``***`` in its place.
        """
        state = _read_state(Path(base_dir))
        if state is None:
            return None
        pids = state.get("pids", {})
        if not pids or not all(_is_demo_process(pid) for pid in pids.values()):
            return None
        try:
            token = (Path(base_dir) / state.get("token_file", TOKEN_FILE)).read_text().strip()
        except OSError:
            token = ""
        return DemoEndpoints(
            api_url=state["api_url"],
            worker_health_url=state["worker_health_url"],
            admin_token=token,
            db_url=state["db_url"],
            pids=tuple(pids[role] for role in _ROLES if role in pids),
        )

    @staticmethod
    def stop_from_state(base_dir: Path, timeout: float = 10.0) -> bool:
        """Stop a demo left running from ``base_dir`` (e.g. with ``--keep``).

        Returns False when there is no state file, True once its processes are gone.
        A pid whose process is not a demo process (reused since) is left alone.
        """
        base_dir = Path(base_dir)
        state = _read_state(base_dir)
        if state is None:
            return False
        pids = [pid for pid in state.get("pids", {}).values() if _is_demo_process(pid)]
        for pid in pids:
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in pids:
            if _alive(pid):
                _signal_group(pid, signal.SIGKILL)
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline + 5:
            time.sleep(0.05)
        _remove_state(base_dir)
        return True


def _read_state(base_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((base_dir / STATE_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DemoError(f"cannot read {base_dir / STATE_FILE}: {exc}") from None
    if not isinstance(data, dict):
        raise DemoError(f"{base_dir / STATE_FILE} is not a demo state file")
    return data


def _remove_state(base_dir: Path) -> None:
    for name in (STATE_FILE, TOKEN_FILE):
        (base_dir / name).unlink(missing_ok=True)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie does not count); reaps it if it is our child."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rpartition(")")[2].split()[0] != "Z"
    return True


def _is_demo_process(pid: object) -> bool:
    """True if ``pid`` is alive and runs one of our demo modules (not a reused pid)."""
    if not isinstance(pid, int) or pid <= 0 or not _alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.exists():
        with contextlib.suppress(OSError):
            return b"redline.demo." in cmdline.read_bytes()
        return False
    out = subprocess.run(
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, check=False
    ).stdout
    return b"redline.demo." in out


def _get(url: str) -> tuple[int, str]:
    """Status and body of a GET on loopback, or (0, why) when it does not answer."""
    import http.client  # pulls in ssl; only needed while starting

    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        conn.request("GET", "/" + path)
        response = conn.getresponse()
        return response.status, response.read(500).decode(errors="replace")
    except OSError as exc:
        return 0, f"no answer ({type(exc).__name__})"
    finally:
        conn.close()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4000))
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
