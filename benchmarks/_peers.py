"""The load benchmark's peers: install them, serve nginx on loopback, pin, run, parse.

Used by ``load_peers.py``. Nothing here talks to anything but 127.0.0.1 once the
peers are installed: Debian's ``wrk``, ``hey`` and ``nginx-light`` with apt-get, and
Locust with pip into its own virtual environment under the user's cache directory
(``~/.cache/redline-bench/locust-venv``). Locust brings gevent, Flask, its own pytest
and a pytest plugin; in the project's environment those would change the pytest
the tests run under and load a plugin into every test run.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Nginx",
    "Peer",
    "Pinning",
    "Run",
    "ensure_peers",
    "established",
    "nginx",
    "parse_hey",
    "parse_locust_json",
    "parse_wrk",
    "raise_nofile",
    "run",
    "tree_rss",
]

APT_PACKAGES = {"wrk": "wrk", "hey": "hey", "nginx": "nginx-light"}
_SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Peer:
    name: str
    argv: list[str]  # what runs it, e.g. ["/usr/bin/wrk"]
    version: str
    installed_now: bool = False


def _apt_version(package: str) -> str | None:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _apt_install(packages: list[str], notes: list[str]) -> None:
    if not shutil.which("apt-get"):
        notes.append(f"not installed and no apt-get here: {' '.join(packages)}")
        return
    if os.geteuid() != 0:
        notes.append(f"not installed; as root run: apt-get install -y {' '.join(packages)}")
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    for attempt in ("install", "update, then install"):
        if attempt != "install":
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            notes.append(f"installed {' '.join(packages)} with apt-get ({attempt})")
            return
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        notes.append(f"apt-get {attempt} failed (exit {done.returncode}): {tail[0]}")


def _locust_venv(cache: Path, install: bool, notes: list[str]) -> Peer | None:
    venv = cache / "locust-venv"
    binary = venv / "bin" / "locust"
    installed_now = False
    if not binary.exists():
        if not install:
            notes.append(f"Locust is not in {venv} (and --no-install was given)")
            return None
        venv.parent.mkdir(parents=True, exist_ok=True)
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "locust"],
        ]
        for cmd in steps:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
                notes.append(f"Locust: {' '.join(cmd[-3:])} failed: {tail[0]}")
                return None
        notes.append(f"installed locust with pip into {venv}")
        installed_now = True
    shown = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    words = (shown.stdout + shown.stderr).split()
    version = words[1] if len(words) > 1 else "?"
    return Peer("Locust", [str(binary)], version, installed_now)


def ensure_peers(install: bool, cache: Path | None = None) -> tuple[dict[str, Peer], list[str]]:
    """wrk, hey, nginx and Locust, installing what is missing when ``install``; and notes.

    Locust goes into ``CACHE/locust-venv``; ``cache`` defaults to
    ``$XDG_CACHE_HOME/redline-bench`` (``~/.cache/redline-bench``).
    """
    notes: list[str] = []

    def which(name: str) -> str | None:
        return shutil.which(name) or shutil.which(name, path=_SBIN_PATH)

    missing = [pkg for tool, pkg in APT_PACKAGES.items() if not which(tool)]
    if missing and install:
        _apt_install(missing, notes)
    elif missing:
        notes.append(f"not installed (and --no-install was given): {' '.join(missing)}")
    peers: dict[str, Peer] = {}
    for tool, pkg in APT_PACKAGES.items():
        path = which(tool)
        if path:
            version = _apt_version(pkg) or "?"
            peers[tool] = Peer(tool, [path], version, pkg in missing)
    if cache is None:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "redline-bench"
    locust = _locust_venv(cache, install, notes)
    if locust is not None:
        peers["locust"] = locust
    return peers, notes


# ---------------------------------------------------------------------------------------
# One core each


@dataclass(frozen=True)
class Pinning:
    """The load generator on one CPU, the server on another, by ``taskset`` when there is one."""

    generator: int | None
    server: int | None
    taskset: str | None
    note: str | None

    @classmethod
    def choose(cls) -> Pinning:
        try:
            cpus = sorted(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            return cls(None, None, None, "no CPU affinity on this OS: nothing is pinned")
        if len(cpus) < 2:
            return cls(cpus[0], cpus[0], shutil.which("taskset"), "one CPU: both share it")
        taskset = shutil.which("taskset")
        note = None if taskset else "no taskset: pinned with os.sched_setaffinity instead"
        return cls(cpus[0], cpus[1], taskset, note)

    def wrap(self, cmd: list[str], role: str) -> tuple[list[str], int | None]:
        """``cmd`` pinned to the role's CPU by a taskset prefix; else the CPU to pin it to.

        Without taskset, :func:`run` and :func:`nginx` pin the child right after it
        starts (``os.sched_setaffinity``), before it makes threads of its own. As root,
        every contender and nginx also run at a raised priority (``nice -n -10``): on a
        shared machine, background jobs then take the CPU from each contender alike
        far less, so the rounds spread less.
        """
        cpu = self.generator if role == "generator" else self.server
        nice = _NICE if _NICE else []
        if cpu is None:
            return [*nice, *cmd], None
        if self.taskset:
            return [*nice, self.taskset, "-c", str(cpu), *cmd], None
        return [*nice, *cmd], cpu

    def describe(self) -> str:
        if self.generator is None:
            return "not pinned"
        how = "taskset" if self.taskset else "sched_setaffinity"
        prio = ", at nice -10" if _NICE else ""
        return f"generator on CPU {self.generator}, nginx on CPU {self.server} ({how}{prio})"


def _raised_priority() -> list[str]:
    """``nice -n -10`` where this process may raise priority (root); else nothing."""
    nice = shutil.which("nice")
    if nice is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return []
    return [nice, "-n", "-10"]


_NICE = _raised_priority()


def raise_nofile(want: int) -> int:
    """Raise this process's open-file limit towards ``want``; the soft limit it got.

    Children inherit it: nginx and a 10,000-connection generator each need one
    descriptor a connection. (Done here rather than in a ``preexec_fn``, which is
    unsafe once the benchmark runs its sampling threads.)
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limits in ((want, max(want, hard)), (min(want, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            return limits[0]
        except (ValueError, OSError):
            continue
    return soft


# ---------------------------------------------------------------------------------------
# nginx on loopback

ROOT_BODY = (
    "redline load benchmark: a small static body of about one hundred bytes, served by nginx"
    " (loopback)\n"
)
ITEM_BODY = '{"ok": true, "id": 1}'

_NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile {nofile};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{
    worker_connections {connections};
    multi_accept on;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_timeout 75s;
    keepalive_requests 10000000;
    server {{
        listen 127.0.0.1:{port} backlog=65535;
        location = / {{
            default_type text/plain;
            return 200 "{root}";
        }}
        location = /api/item {{
            default_type application/json;
            return 200 '{item}';
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Nginx:
    port: int
    pid: int
    workdir: str

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /api/item HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return b'"ok": true' in s.recv(4096)
    except OSError:
        return False


@contextlib.contextmanager
def nginx(binary: str, pinning: Pinning, connections: int = 20000) -> Iterator[Nginx]:
    """One nginx process (no master, no daemon) on a free loopback port, pinned to its CPU."""
    with tempfile.TemporaryDirectory(prefix="redline-bench-nginx-") as workdir:
        port = _free_port()
        conf = Path(workdir, "nginx.conf")
        escaped = ROOT_BODY.replace("\n", "\\n")
        conf.write_text(
            _NGINX_CONF.format(
                dir=workdir,
                port=port,
                connections=connections,
                nofile=connections + 1000,
                root=escaped,
                item=ITEM_BODY,
            )
        )
        cmd, cpu = pinning.wrap(
            [binary, "-e", f"{workdir}/error.log", "-p", workdir, "-c", str(conf)], "server"
        )
        raise_nofile(connections + 1000)
        log = Path(workdir, "stdout.log").open("wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        if cpu is not None:
            os.sched_setaffinity(proc.pid, {cpu})
        try:
            deadline = time.monotonic() + 10
            while not _answers(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    errors = Path(workdir, "error.log")
                    text = errors.read_text() if errors.exists() else ""
                    raise RuntimeError(f"nginx did not start (exit {proc.poll()}): {text[-500:]}")
                time.sleep(0.05)
            yield Nginx(port, proc.pid, workdir)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


# ---------------------------------------------------------------------------------------
# Running a contender: output, wall, peak RSS (wait4) and the process tree's RSS over time


@dataclass(frozen=True)
class Run:
    wall: float
    returncode: int
    stdout: str
    stderr: str
    peak_rss: int | None  # ru_maxrss of the child, bytes (largest single process)
    # (s since start, tree RSS in bytes or None, probe() or None), one per sample
    samples: list[tuple[float, int | None, Any]] = field(default_factory=list)


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                text = Path(f"/proc/{p}/task/{task}/children").read_text()
                todo.extend(int(c) for c in text.split())
    return pids


def tree_rss(pid: int) -> int | None:
    """VmRSS of ``pid`` and its descendants, in bytes (a worker process counts too)."""
    total, seen = 0, False
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    seen = True
    return total if seen else None


def run(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    cpu: int | None = None,
    timeout: float = 600,
    sample_every: float | None = None,
    probe: Callable[[], Any] | None = None,
) -> Run:
    """Run ``cmd`` to its end (killed after ``timeout``), sampling its RSS when asked.

    ``cpu``: pin the child to it (see :meth:`Pinning.wrap`). ``sample_every``: read
    the process tree's RSS (and call ``probe``) at that interval while it runs.
    """
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=err)
        if cpu is not None:
            os.sched_setaffinity(proc.pid, {cpu})
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        samples: list[tuple[float, int | None, Any]] = []
        done = threading.Event()

        def sample() -> None:
            assert sample_every is not None
            while not done.wait(sample_every):
                now = time.perf_counter() - start
                samples.append((now, tree_rss(proc.pid), probe() if probe else None))

        sampler = threading.Thread(target=sample, daemon=True) if sample_every else None
        if sampler:
            sampler.start()
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.stdout.close()
        done.set()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        killer.cancel()
        if sampler:
            sampler.join()
        err.seek(0)
        text_err = err.read().decode("utf-8", "replace")
    return Run(
        wall,
        proc.returncode,
        out.decode("utf-8", "replace"),
        text_err,
        usage.ru_maxrss * 1024,
        samples,
    )


def established(port: int) -> int:
    """Server-side ESTABLISHED TCP connections on 127.0.0.1:``port``, from /proc/net/tcp.

    Counted by distinct peer address: the file is not read atomically, so a busy
    table can show one socket twice.
    """
    local = f"0100007F:{port:04X}"
    peers = set()
    with contextlib.suppress(OSError), open("/proc/net/tcp") as f:
        next(f, None)
        for line in f:
            parts = line.split(None, 4)
            if len(parts) > 3 and parts[1] == local and parts[3] == "01":
                peers.add(parts[2])
    return len(peers)


# ---------------------------------------------------------------------------------------
# Parsing the peers' output

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk(text: str) -> dict[str, Any]:
    """Requests/sec, requests, errors and the --latency percentiles (ms) from wrk's output."""
    out: dict[str, Any] = {}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        out["rps"] = float(m.group(1))
    if m := re.search(r"(\d+) requests in", text):
        out["requests"] = int(m.group(1))
    errors = 0
    socket_errors = r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
    if m := re.search(socket_errors, text):
        errors += sum(int(g) for g in m.groups())
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        errors += int(m.group(1))
    out["errors"] = errors
    latency = {}
    for pct, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M):
        latency[f"p{pct}"] = float(value) * _UNITS[unit]
    out["latency_ms"] = latency
    return out


def parse_hey(text: str) -> dict[str, Any]:
    """Requests/sec, responses, errors and latency percentiles (ms) from hey's summary."""
    out: dict[str, Any] = {}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        out["rps"] = float(m.group(1))
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", text)}
    out["requests"] = sum(codes.values())
    errors = sum(n for c, n in codes.items() if not 200 <= c < 400)
    if "Error distribution:" in text:
        tail = text.split("Error distribution:", 1)[1]
        errors += sum(int(n) for n in re.findall(r"^\s+\[(\d+)\]", tail, re.M))
    out["errors"] = errors
    latency = {}
    for pct, secs in re.findall(r"^\s+(\d+)% in ([\d.]+) secs", text, re.M):
        latency[f"p{pct}"] = float(secs) * 1000
    out["latency_ms"] = latency
    return out


def parse_locust_json(text: str) -> dict[str, dict[str, Any]]:
    """Locust's final stats (``--json``) by request name, and ``"total"`` over all of them.

    Its CSV is rewritten once a second while the run goes and not at the end, so it
    can miss the last second; the JSON is printed at shutdown. The rate is Locust's
    own: requests over the span from the first entry's start to the last request.
    Its latencies are whole milliseconds (it rounds them), so percentiles here are too.
    """
    entries = json.loads(text)
    if not isinstance(entries, list):
        raise ValueError("Locust's --json output is not a list of stats entries")
    rows: dict[str, dict[str, Any]] = {}
    merged: dict[int, int] = {}
    for e in entries:
        times = {int(k): int(v) for k, v in e["response_times"].items()}
        for k, v in times.items():
            merged[k] = merged.get(k, 0) + v
        start, last = e["start_time"], e["last_request_timestamp"]
        rows[e["name"]] = _locust_row(e["num_requests"], e["num_failures"], start, last, times)
    if entries:
        rows["total"] = _locust_row(
            sum(e["num_requests"] for e in entries),
            sum(e["num_failures"] for e in entries),
            min(e["start_time"] for e in entries),
            max(e["last_request_timestamp"] or 0 for e in entries),
            merged,
        )
    return rows


def _locust_row(
    requests: int, failures: int, start: float, last: float | None, times: dict[int, int]
) -> dict[str, Any]:
    span = (last or start) - start
    return {
        "rps": requests / span if span > 0 else 0.0,
        "requests": requests,
        "errors": failures,
        "span_s": span,
        "latency_ms": {f"p{p:g}".replace(".", ""): _percentile(times, p) for p in (50, 99, 99.9)},
    }


def _percentile(counts: dict[int, int], pct: float) -> float | None:
    total = sum(counts.values())
    if not total:
        return None
    rank, seen = math.ceil(total * pct / 100), 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return float(value)
    return float(max(counts))
