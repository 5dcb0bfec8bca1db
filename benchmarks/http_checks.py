"""HTTP checks: wall time of 100 slow checks, and CPU per check against blackbox_exporter.

    python benchmarks/http_checks.py                 # 15 rounds of (a), 5 of (b) and (c)
    python benchmarks/http_checks.py --rounds 31 --cpu-rounds 9 --json
    python benchmarks/http_checks.py --profile       # and where (b)'s CPU goes (cProfile)

(a) 100 HTTP checks (10 services x 10 checks) against a loopback server that
    waits 50 ms before answering each request, run by ``DeploymentValidator``
    in this process. Wall time of ``run()``, median of ``--rounds`` after one
    untimed round. Target: under 1.5 s (the floor is 50 ms: they run at once).

(b) CPU per HTTP check result, network excluded: ``time.process_time()`` of
    this (redline's) process around ``DeploymentValidator.run()`` of 1,000 HTTP
    checks (100 services x 10) against a loopback server that answers at once,
    plus ``record_validation`` into a migrated SQLite store (one run row and
    1,000 latency metrics). So it covers schedule (asyncio tasks, depends_on
    bookkeeping) + probe (connect, request, parse) + evaluate (status, body,
    latency) + store write. The server runs in its own process, so its CPU is
    not counted; the kernel's work on the client's sockets is (``sys`` below).
    Target: under 1 s of CPU per 1,000 checks (1 ms each).

(c) The same for Prometheus's blackbox_exporter (Debian package
    ``prometheus-blackbox-exporter``, installed here with apt-get when missing
    and this is root): started on a loopback port with one ``http_2xx`` module,
    driven with 1,000 ``/probe?target=...&module=http_2xx`` requests (10 client
    threads, keep-alive) against the same server; its CPU is utime + stime of
    the exporter process from ``/proc/<pid>/stat`` before and after. That
    includes the exporter's HTTP serving and metrics text per probe, which is
    how a result is had from it. (b) and (c) rounds are interleaved.

Prints the median CPU seconds per 1,000 checks of each and the ratio
redline / blackbox_exporter. Always exits 0: it reports, it does not judge a build.

Other benchmarks start the loopback server with :func:`local_server`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _proc import summary

__all__ = ["ServerInfo", "local_server", "proc_cpu_seconds"]

WALL_TARGET_S = 1.5
CPU_TARGET_S = 1.0  # per 1,000 checks
SLOW_DELAY_S = 0.050
BLACKBOX_PACKAGE = "prometheus-blackbox-exporter"

# A tiny HTTP/1.1 server on asyncio, run as `python -c SOURCE DELAY`: every request is answered
# 200 with a small JSON body after DELAY seconds, then the connection is closed. It prints its
# port and exits when its stdin closes (so it never outlives the benchmark).
_SERVER_SOURCE = r"""
import asyncio, sys

DELAY = float(sys.argv[1])
BODY = b'{"status": "ok"}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(BODY), BODY)
)

async def handle(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")
        if DELAY:
            await asyncio.sleep(DELAY)
        writer.write(RESPONSE)
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


@dataclass(frozen=True)
class ServerInfo:
    port: int
    pid: int

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextlib.contextmanager
def local_server(delay: float = 0.0) -> Iterator[ServerInfo]:
    """A loopback HTTP server in its own process answering every request after ``delay`` s."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER_SOURCE, str(delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.strip():
            raise RuntimeError(f"the loopback server did not start (exit {proc.poll()})")
        yield ServerInfo(int(line), proc.pid)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (all its threads), from ``/proc/<pid>/stat``."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    # After "pid (comm) ": state is field 3 of stat(5), so utime (14) and stime (15) are 11, 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _http_config(services: int, checks: int, url: Callable[[int, int], str]) -> str:
    lines = ["project: bench-http", "services:"]
    for s in range(services):
        lines += [f"  svc-{s:03d}:", "    checks:"]
        for c in range(checks):
            lines += [
                f"      - name: c{c:02d}",
                "        timeout: 5s",
                f'        http: {{url: "{url(s, c)}", status: 200, contains: "ok"}}',
            ]
    return "\n".join(lines) + "\n"


def _outcomes(report: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in report.verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    return counts


# ---------------------------------------------------------------------------------------
# (a) 100 checks of 50 ms each, wall time


def slow_wall(workdir: str, rounds: int) -> dict[str, Any]:
    from redline.config.loader import load_config
    from redline.validation import DeploymentValidator

    with local_server(SLOW_DELAY_S) as server:
        file = Path(workdir, "slow.yaml")
        file.write_text(_http_config(10, 10, lambda s, c: server.url(f"/svc-{s}/c{c}")))
        loaded = load_config(str(file))
        first = DeploymentValidator(loaded).run()  # pays the lazy imports; not timed
        walls: list[float] = []
        outcomes: dict[str, int] = {}
        for _ in range(rounds):
            validator = DeploymentValidator(loaded)
            start = time.perf_counter()
            report = validator.run()
            walls.append(time.perf_counter() - start)
            for k, n in _outcomes(report).items():
                outcomes[k] = outcomes.get(k, 0) + n
    return {
        "checks": len(first.verdicts),
        "server_delay_s": SLOW_DELAY_S,
        "first_round_s": first.duration,
        "wall_s": summary(walls),
        "outcomes": outcomes,
    }


# ---------------------------------------------------------------------------------------
# (b) redline CPU per 1,000 checks


class RedlineCpu:
    """1,000 HTTP checks by DeploymentValidator plus record_validation, per round."""

    def __init__(self, workdir: str, server: ServerInfo) -> None:
        from redline.config.loader import load_config
        from redline.store import open_store

        file = Path(workdir, "fast.yaml")
        file.write_text(_http_config(100, 10, lambda s, c: server.url(f"/svc-{s}/c{c}")))
        self.loaded = load_config(str(file))
        self.store = open_store(f"sqlite:///{Path(workdir, 'store', 'redline.db').as_posix()}")
        self.samples: list[dict[str, float]] = []
        self.outcomes: dict[str, int] = {}
        self.checks = 0
        self.round(keep=False)  # pays the lazy imports and the first connections; not kept

    def round(self, keep: bool = True) -> None:
        from redline.validation import DeploymentValidator, record_validation

        t0, c0, w0 = os.times(), time.process_time(), time.perf_counter()
        report = DeploymentValidator(self.loaded).run()
        c1 = time.process_time()
        record_validation(self.store, report, host="bench")
        t1, c2, w1 = os.times(), time.process_time(), time.perf_counter()
        if not keep:
            return
        n = len(report.verdicts)
        self.checks = n
        per = 1000 / n
        self.samples.append(
            {
                "cpu_s": (c2 - c0) * per,
                "validate_cpu_s": (c1 - c0) * per,
                "store_cpu_s": (c2 - c1) * per,
                "user_s": (t1.user - t0.user) * per,
                "sys_s": (t1.system - t0.system) * per,
                "wall_s": (w1 - w0) * per,
            }
        )
        for k, count in _outcomes(report).items():
            self.outcomes[k] = self.outcomes.get(k, 0) + count

    def result(self) -> dict[str, Any]:
        keys = self.samples[0].keys() if self.samples else ()
        return {
            "checks_per_round": self.checks,
            "rounds": len(self.samples),
            "per_1000": {k: summary([s[k] for s in self.samples]) for k in keys},
            "outcomes": self.outcomes,
        }

    def close(self) -> None:
        self.store.close()


def profile_round(runner: RedlineCpu, top: int = 30) -> str:
    """One round of (b) under cProfile: the functions with the most own and cumulative time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    runner.round(keep=False)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# (c) blackbox_exporter CPU per 1,000 probes

_BLACKBOX_CONFIG = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: [200]
"""


def find_or_install_blackbox(install: bool) -> tuple[str | None, list[str]]:
    """The exporter's binary, installing the Debian package when allowed; and what happened."""
    notes: list[str] = []

    def found() -> str | None:
        for name in ("prometheus-blackbox-exporter", "blackbox_exporter"):
            path = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")
            if path:
                return path
        return None

    binary = found()
    if binary or not install:
        if not binary:
            notes.append(f"{BLACKBOX_PACKAGE} is not installed (and --no-install was given)")
        return binary, notes
    if not shutil.which("apt-get"):
        notes.append(f"{BLACKBOX_PACKAGE} is not installed and there is no apt-get here")
        return None, notes
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        notes.append(
            f"{BLACKBOX_PACKAGE} is not installed; run: apt-get install -y {BLACKBOX_PACKAGE}"
        )
        return None, notes
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", BLACKBOX_PACKAGE]
    for attempt in ("install", "update, then install"):
        if attempt != "install":
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode == 0 and (binary := found()):
            notes.append(f"installed {BLACKBOX_PACKAGE} with apt-get ({attempt})")
            return binary, notes
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        notes.append(f"apt-get {attempt} failed (exit {done.returncode}): {tail[0]}")
    return None, notes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Blackbox:
    """A blackbox_exporter process on loopback, and a client to drive its /probe endpoint."""

    def __init__(self, binary: str, workdir: str, target: str, threads: int = 10) -> None:
        config = Path(workdir, "blackbox.yml")
        config.write_text(_BLACKBOX_CONFIG)
        self.port = _free_port()
        self.log = Path(workdir, "blackbox.log").open("wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.path = f"/probe?module=http_2xx&target={target}"
        self.threads = threads
        self.samples: list[dict[str, float]] = []
        self.failed = 0
        shown = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        self.version = (shown.stdout + shown.stderr).strip().splitlines()[:1]
        try:
            self._wait_ready()
            self.drive(50)  # warm-up: connections, the Go runtime's first GC cycles; not kept
        except BaseException:
            self.close()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"blackbox_exporter exited {self.proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/-/healthy")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("blackbox_exporter did not answer /-/healthy within 15 s")

    def drive(self, count: int) -> int:
        """``count`` probes through ``threads`` keep-alive connections; how many failed."""
        failed = 0
        lock = threading.Lock()
        per = [count // self.threads + (i < count % self.threads) for i in range(self.threads)]

        def worker(n: int) -> None:
            nonlocal failed
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            bad = 0
            try:
                for _ in range(n):
                    conn.request("GET", self.path)
                    body = conn.getresponse().read()
                    if b"\nprobe_success 1" not in body:
                        bad += 1
            finally:
                conn.close()
            with lock:
                failed += bad

        workers = [threading.Thread(target=worker, args=(n,)) for n in per if n]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return failed

    def round(self, count: int = 1000) -> None:
        c0, w0 = proc_cpu_seconds(self.proc.pid), time.perf_counter()
        failed = self.drive(count)
        c1, w1 = proc_cpu_seconds(self.proc.pid), time.perf_counter()
        self.failed += failed
        per = 1000 / count
        self.samples.append({"cpu_s": (c1 - c0) * per, "wall_s": (w1 - w0) * per})

    def result(self) -> dict[str, Any]:
        keys = self.samples[0].keys() if self.samples else ()
        return {
            "version": self.version[0] if self.version else None,
            "rounds": len(self.samples),
            "client_threads": self.threads,
            "per_1000": {k: summary([s[k] for s in self.samples]) for k in keys},
            "failed_probes": self.failed,
            "clock_tick_s": 1 / os.sysconf("SC_CLK_TCK"),
        }

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def cpu_compare(
    workdir: str, rounds: int, install: bool, profile: bool
) -> tuple[dict[str, Any], str | None]:
    out: dict[str, Any] = {}
    profiled = None
    binary, notes = find_or_install_blackbox(install)
    out["blackbox_notes"] = notes
    with local_server(0.0) as server:
        redline = RedlineCpu(workdir, server)
        blackbox = None
        if binary:
            try:
                blackbox = Blackbox(binary, workdir, server.url("/blackbox"))
            except (OSError, RuntimeError) as exc:
                notes.append(f"blackbox_exporter could not be run: {exc}")
        try:
            steps: list[Callable[[], None]] = [redline.round]
            if blackbox is not None:
                steps.append(blackbox.round)
            for r in range(rounds):
                for step in steps if r % 2 == 0 else reversed(steps):
                    step()
            if profile:
                profiled = profile_round(redline)
        finally:
            redline.close()
            if blackbox is not None:
                blackbox.close()
        out["redline"] = redline.result()
        if blackbox is not None:
            out["blackbox"] = blackbox.result()
    return out, profiled


# ---------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "ABOVE TARGET"


def report(result: dict[str, Any]) -> str:
    m = result["machine"]
    a = result["slow"]
    w = a["wall_s"]
    lines = [
        "redline HTTP checks benchmark",
        f"python {m['python']} on {m['platform']}, {m['cpus']} CPUs; {result['date']}",
        "",
        f"(a) {a['checks']} HTTP checks, each endpoint answering after "
        f"{a['server_delay_s'] * 1000:.0f} ms, DeploymentValidator.run() in-process, "
        f"{w['n']} rounds",
        f"    wall median {w['median'] * 1000:.1f} ms (min {w['min'] * 1000:.1f}, "
        f"max {w['max'] * 1000:.1f}); first round {a['first_round_s'] * 1000:.1f} ms",
        f"    outcomes over all rounds: {a['outcomes']}",
        f"    target < {WALL_TARGET_S:g} s: {result['targets']['wall_verdict']}",
    ]
    c = result["cpu"]
    r = c["redline"]
    p = r["per_1000"]
    lines += [
        "",
        f"(b) redline: CPU per 1,000 HTTP checks ({r['checks_per_round']} a round, "
        f"{r['rounds']} rounds; DeploymentValidator.run() + record_validation into SQLite)",
        f"    CPU median {p['cpu_s']['median']:.3f} s (min {p['cpu_s']['min']:.3f}, "
        f"max {p['cpu_s']['max']:.3f}) = {p['cpu_s']['median']:.3f} ms per check",
        f"      of which validate {p['validate_cpu_s']['median']:.3f} s, "
        f"store write {p['store_cpu_s']['median']:.3f} s; "
        f"user {p['user_s']['median']:.3f} s, sys {p['sys_s']['median']:.3f} s",
        f"    wall median {p['wall_s']['median']:.3f} s per 1,000",
        f"    outcomes over all rounds: {r['outcomes']}",
        f"    target < {CPU_TARGET_S:g} s per 1,000: {result['targets']['cpu_verdict']}",
    ]
    b = c.get("blackbox")
    lines.append("")
    if b is None:
        lines.append("(c) blackbox_exporter: NOT MEASURED")
    else:
        q = b["per_1000"]
        lines += [
            f"(c) blackbox_exporter ({b['version']}): CPU per 1,000 /probe requests "
            f"({b['rounds']} rounds, {b['client_threads']} client threads; "
            f"/proc ticks of {b['clock_tick_s'] * 1000:.0f} ms)",
            f"    CPU median {q['cpu_s']['median']:.3f} s (min {q['cpu_s']['min']:.3f}, "
            f"max {q['cpu_s']['max']:.3f}); wall {q['wall_s']['median']:.3f} s per 1,000; "
            f"failed probes {b['failed_probes']}",
            "",
            f"ratio redline / blackbox_exporter, CPU per check (medians): "
            f"{result['targets']['ratio_cpu']:.2f}x",
        ]
    lines += [f"    note: {n}" for n in c["blackbox_notes"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds of (a) (default 15)")
    parser.add_argument(
        "--cpu-rounds", type=int, default=5, help="rounds of 1,000 checks for (b), (c) (default 5)"
    )
    parser.add_argument("--no-install", action="store_true", help="never apt-get install")
    parser.add_argument("--profile", action="store_true", help="cProfile one round of (b)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    result: dict[str, Any] = {
        "benchmark": "http_checks",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
    }
    with tempfile.TemporaryDirectory(prefix="redline-bench-") as workdir:
        result["slow"] = slow_wall(workdir, args.rounds)
        result["cpu"], profiled = cpu_compare(
            workdir, args.cpu_rounds, not args.no_install, args.profile
        )
    wall = result["slow"]["wall_s"]["median"]
    cpu = result["cpu"]["redline"]["per_1000"]["cpu_s"]["median"]
    targets: dict[str, Any] = {
        "wall_median_s": wall,
        "wall_target_s": WALL_TARGET_S,
        "wall_verdict": _verdict(wall < WALL_TARGET_S),
        "cpu_per_1000_s": cpu,
        "cpu_target_s": CPU_TARGET_S,
        "cpu_verdict": _verdict(cpu < CPU_TARGET_S),
    }
    if "blackbox" in result["cpu"]:
        bb = result["cpu"]["blackbox"]["per_1000"]["cpu_s"]["median"]
        targets["blackbox_cpu_per_1000_s"] = bb
        targets["ratio_cpu"] = cpu / bb if bb else float("inf")
    result["targets"] = targets
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result))
    if profiled:
        print(
            "\ncProfile of one round of (b):\n" + profiled, file=sys.stderr if args.json else None
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
