"""The load engine against wrk, hey and Locust on one core, a Python flow, and its memory.

    python benchmarks/load_peers.py                      # 10 s runs, 50 connections, 3 rounds
    python benchmarks/load_peers.py --duration 3 --rounds 1          # a quick look
    python benchmarks/load_peers.py --long-duration 300 --json       # a longer RSS run
    python benchmarks/load_peers.py --no-memory                      # peers and flow only

Installs what it needs (Debian ``wrk``, ``hey``, ``nginx-light`` with apt-get; Locust
with pip into ``~/.cache/redline-bench/locust-venv``), starts one nginx process on a
free loopback port pinned to CPU 1, and runs every load generator pinned to CPU 0,
so each side has one core. nginx answers ``/`` with a ~100-byte text body and
``/api/item`` with ``{"ok": true, "id": 1}``, keep-alive.

(1) Closed model, ``--connections`` connections for ``--duration`` seconds each:
    ``wrk -t1 --latency``, ``hey -cpus 1``, Locust ``FastHttpUser`` (headless, one
    process, ``constant(0)`` wait) and ``redline load run URL --workers 1``. Requests/s
    median, min, max over ``--rounds`` interleaved rounds (the order flips every
    round), p50 / p99 where the tool reports them, and the ratios of redline's median
    to each peer's. Targets: at least 0.8x wrk, at least 5x Locust.
(2) Python flow: ``GET /`` then ``GET /api/item`` checking that ``ok`` is true, as a
    Locust ``FastHttpUser`` task (``catch_response``) and as a redline ``--flow``
    module written to a temporary directory. Iterations/s; target at least 2x Locust.
(3) Memory of ``redline load run``: (a) the process tree's RSS (``VmRSS`` from
    ``/proc``, once a second) over a ``--long-duration`` run at 50 connections, at
    10 % of the load phase (the seconds in which nginx used CPU) against its end,
    with the requests actually done (the target, growth under 10 MB, is stated for
    10 million requests); (b) ``--connections
    10000`` for 10 s with the open-file limit raised: peak RSS (target under 300 MB)
    and how many connections nginx saw established at once (``/proc/net/tcp``).

Until ``redline load run`` exists its rows read "not available yet"; the rest runs.
Traffic goes only to 127.0.0.1. Always exits 0: it reports, it does not judge a build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from _peers import (
    Nginx,
    Pinning,
    Run,
    ensure_peers,
    established,
    nginx,
    parse_hey,
    parse_locust_json,
    parse_wrk,
    raise_nofile,
    run,
)
from _proc import summary
from http_checks import proc_cpu_seconds

TARGETS = {"wrk": 0.8, "hey": None, "locust": 5.0, "bare": None}
FLOW_TARGET = 2.0
GROWTH_TARGET_MB = 10.0
GROWTH_REQUESTS = 10_000_000
C10K_TARGET_MB = 300.0
_MB = 1024 * 1024

_LOCUST_ROOT = """\
from locust import FastHttpUser, constant, task


class Root(FastHttpUser):
    wait_time = constant(0)

    @task
    def root(self):
        self.client.get("/")
"""

_LOCUST_FLOW = """\
from locust import FastHttpUser, constant, task


class Flow(FastHttpUser):
    wait_time = constant(0)

    @task
    def flow(self):
        self.client.get("/")
        with self.client.get("/api/item", catch_response=True) as r:
            try:
                ok = r.json()["ok"] is True
            except Exception as exc:
                r.failure(f"not the JSON expected: {exc!r}")
            else:
                if ok:
                    r.success()
                else:
                    r.failure("ok is not true")
"""

# The floor of redline's approach: uvloop + httptools and nothing else (no measurement,
# no checks, no schedule), the "bare client" the issue compares wrk with.
_BARE_CLIENT = """\
import asyncio, json, sys, time
import httptools, uvloop

host, port, conns, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
request = f"GET / HTTP/1.1\\r\\nHost: {host}:{port}\\r\\n\\r\\n".encode()
count, running = 0, True


class Client(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.parser = httptools.HttpResponseParser(self)
        transport.write(request)

    def data_received(self, data):
        self.parser.feed_data(data)

    def on_message_complete(self):
        global count
        count += 1
        if running:
            self.transport.write(request)


async def main():
    global running
    loop = asyncio.get_running_loop()
    for _ in range(conns):
        await loop.create_connection(Client, host, port)
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    running = False
    return time.perf_counter() - start


span = uvloop.run(main())
print(json.dumps({"requests": count, "rps": count / span}))
"""

_REDLINE_FLOW = """\
async def flow(http, ctx):
    r = await http.get("/")
    r2 = await http.get("/api/item")
    assert r2.json()["ok"]
"""


class Unavailable(Exception):
    """The contender cannot run here yet (e.g. ``redline load`` is not written)."""


@dataclass
class Contender:
    key: str
    label: str
    argv: list[str]
    parse: Callable[[Run], dict[str, Any]]
    env: dict[str, str] | None = None
    cwd: str | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    unavailable: str | None = None
    failures: list[str] = field(default_factory=list)
    notes: set[str] = field(default_factory=set)

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "command": self.argv}
        if self.unavailable:
            out["unavailable"] = self.unavailable
        if self.failures:
            out["failures"] = self.failures
        notes = set(self.notes)
        flags = [s["generator_saturated"] for s in self.samples if "generator_saturated" in s]
        if flags:
            notes.add(f"generator_saturated in {sum(map(bool, flags))} of {len(flags)} rounds")
        if notes:
            out["notes"] = sorted(notes)
        out["rounds"] = self.samples
        if self.samples:
            out["rate"] = summary([s["rate"] for s in self.samples])
            for p in ("p50", "p99"):
                values = [s["latency_ms"][p] for s in self.samples if s["latency_ms"].get(p)]
                if values:
                    out[f"{p}_ms_median"] = summary(values)["median"]
            out["errors"] = sum(s.get("errors", 0) for s in self.samples)
        return out


def _tail(r: Run, lines: int = 3) -> str:
    text = (r.stderr.strip() or r.stdout.strip()).splitlines()[-lines:]
    return f"exit {r.returncode}: " + " | ".join(text)


def _from_tool(parse: Callable[[str], dict[str, Any]]) -> Callable[[Run], dict[str, Any]]:
    def parsed(r: Run) -> dict[str, Any]:
        out = parse(r.stdout)
        if "rps" not in out:
            raise ValueError(_tail(r))
        return {"rate": out.pop("rps"), **out}

    return parsed


def _locust(name: str | None) -> Callable[[Run], dict[str, Any]]:
    def parsed(r: Run) -> dict[str, Any]:
        try:
            rows = parse_locust_json(r.stdout)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(_tail(r)) from exc
        total = rows.get("total")
        if not total:
            raise ValueError("Locust made no requests; " + _tail(r))
        row = rows.get(name, {"requests": 0, "errors": 0}) if name else total
        sample = {
            "rate": row["requests"] / total["span_s"] if name else total["rps"],
            "requests": total["requests"],
            "errors": total["errors"],
            "latency_ms": total["latency_ms"],
        }
        if name:
            sample["iterations"] = row["requests"]
            sample["failed_iterations"] = row["errors"]
        if "CPU usage" in r.stderr:
            sample["note"] = "Locust warned that its CPU was saturated (expected: one core)"
        return sample

    return parsed


def redline_summary(r: Run) -> dict[str, Any]:
    """The ``--json`` summary of ``redline load run``; :class:`Unavailable` before it exists."""
    text = r.stdout.strip()
    for candidate in (text, text[text.find("{") :] if "{" in text else ""):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict) and "requests" in data:
            return data
    said = r.stderr + r.stdout
    if r.returncode == 2 and ("No such command" in said or "No such option" in said):
        raise Unavailable("not available yet")
    raise ValueError(_tail(r))


def _redline(flow: bool) -> Callable[[Run], dict[str, Any]]:
    def parsed(r: Run) -> dict[str, Any]:
        s = redline_summary(r)
        duration = s.get("duration_s") or 0
        sample = {
            "rate": s.get("rps", 0.0),
            "requests": s.get("requests"),
            "errors": s.get("errors", 0),
            "dropped": s.get("dropped"),
            "latency_ms": s.get("latency_ms") or {},
            "generator_saturated": s.get("generator_saturated"),
        }
        if flow:
            iterations = s.get("iterations")
            if iterations is None:  # no such key in the summary: two requests per iteration
                iterations = (s.get("requests") or 0) // 2
                sample["note"] = "iterations counted as requests / 2"
            sample["iterations"] = iterations
            sample["rate"] = iterations / duration if duration else 0.0
        return sample

    return parsed


def measure(contenders: list[Contender], rounds: int, pinning: Pinning, timeout: float) -> None:
    """Run every contender once a round, interleaved (the order flips every round)."""
    for i in range(rounds):
        order = contenders if i % 2 == 0 else contenders[::-1]
        for c in order:
            if c.unavailable:
                continue
            cmd, cpu = pinning.wrap(c.argv, "generator")
            progress(f"round {i + 1}/{rounds}: {c.label}")
            r = run(cmd, env=c.env, cwd=c.cwd, cpu=cpu, timeout=timeout)
            try:
                sample = c.parse(r)
            except Unavailable as exc:
                c.unavailable = str(exc)
                continue
            except ValueError as exc:
                c.failures.append(str(exc))
                continue
            if note := sample.pop("note", None):
                c.notes.add(note)
            c.samples.append(sample)
            time.sleep(0.5)  # let the last run's sockets close before the next one starts


def progress(text: str) -> None:
    """What runs now, on stderr (a default run takes minutes)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def redline_cmd(url: str, connections: int, duration: float, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "redline",
        "load",
        "run",
        url,
        "--connections",
        str(connections),
        "--duration",
        f"{duration:g}s",
        "--workers",
        "1",
        "--json",
        "--no-store",  # a benchmark's runs do not belong in anyone's store
        *extra,
    ]


def closed_model(peers: dict[str, Any], url: str, args: argparse.Namespace) -> list[Contender]:
    n, d = str(args.connections), f"{args.duration:g}s"
    found: list[Contender] = []
    if "wrk" in peers:
        argv = [*peers["wrk"].argv, "-t1", "-c", n, "-d", d, "--latency", url + "/"]
        found.append(Contender("wrk", f"wrk {peers['wrk'].version}", argv, _from_tool(parse_wrk)))
    if "hey" in peers:
        argv = [*peers["hey"].argv, "-z", d, "-c", n, "-cpus", "1", url + "/"]
        found.append(Contender("hey", f"hey {peers['hey'].version}", argv, _from_tool(parse_hey)))
    if "locust" in peers:
        argv = [*peers["locust"].argv, "-f", str(Path(args.workdir, "locust_root.py"))]
        argv += ["--headless", "-u", n, "-r", n, "-t", d, "--host", url, "--json"]
        argv += ["--only-summary", "--loglevel", "WARNING"]
        label = f"Locust {peers['locust'].version} FastHttpUser"
        found.append(Contender("locust", label, argv, _locust(None)))
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    argv = [
        sys.executable,
        str(Path(args.workdir, "bare_client.py")),
        host,
        port,
        n,
        f"{args.duration:g}",
    ]
    label = "bare uvloop+httptools (floor)"
    found.append(Contender("bare", label, argv, _bare, cwd=args.workdir))
    argv = redline_cmd(url + "/", args.connections, args.duration)
    label = f"redline {_version()}"
    found.append(Contender("redline", label, argv, _redline(False), cwd=args.workdir))
    return found


def _bare(r: Run) -> dict[str, Any]:
    data = json.loads(r.stdout.strip().splitlines()[-1])
    return {"rate": data["rps"], "requests": data["requests"], "errors": 0, "latency_ms": {}}


def flow_mode(peers: dict[str, Any], url: str, args: argparse.Namespace) -> list[Contender]:
    n, d = str(args.connections), f"{args.duration:g}s"
    found: list[Contender] = []
    if "locust" in peers:
        argv = [*peers["locust"].argv, "-f", str(Path(args.workdir, "locust_flow.py"))]
        argv += ["--headless", "-u", n, "-r", n, "-t", d, "--host", url, "--json"]
        argv += ["--only-summary", "--loglevel", "WARNING"]
        label = f"Locust {peers['locust'].version} FastHttpUser"
        found.append(Contender("locust", label, argv, _locust("/api/item")))
    path = os.pathsep.join(p for p in (args.workdir, os.environ.get("PYTHONPATH")) if p)
    argv = redline_cmd(url, args.connections, args.duration, "--flow", "redline_bench_flow:flow")
    env = {**os.environ, "PYTHONPATH": path}
    label = f"redline {_version()} --flow"
    found.append(Contender("redline", label, argv, _redline(True), env, args.workdir))
    return found


def memory(server: Nginx, args: argparse.Namespace, pinning: Pinning) -> dict[str, Any]:
    """(a) RSS over a long run; (b) 10,000 connections: peak RSS, connections established.

    The load phase is told from the outside: the samples in which nginx used CPU
    (it serves nothing else). Start-up (imports) and the end (building the result,
    exit) are before and after it.
    """
    url = server.url()

    def probe() -> tuple[int, float]:
        return established(server.port), proc_cpu_seconds(server.pid)

    out: dict[str, Any] = {}
    for key, conns, duration in (
        ("long", 50, args.long_duration),
        ("c10k", args.c10k, 10.0),
    ):
        cmd, cpu = pinning.wrap(redline_cmd(url + "/", conns, duration), "generator")
        raise_nofile(conns + 1000)  # inherited by the child
        progress(f"memory: redline, {conns} connections for {duration:g} s")
        r = run(
            cmd,
            cwd=args.workdir,
            cpu=cpu,
            timeout=duration + 120,
            sample_every=1.0,
            probe=probe,
        )
        try:
            s = redline_summary(r)
        except Unavailable as exc:
            return {"unavailable": str(exc)}
        except ValueError as exc:
            out[key] = {"failed": str(exc)}
            continue
        out[key] = _memory_entry(r, s, conns, duration)
    return out


def _memory_entry(r: Run, s: dict[str, Any], conns: int, duration: float) -> dict[str, Any]:
    every = [(t, rss) for t, rss, _ in r.samples if rss]
    cpu = [c for *_, (_, c) in r.samples]
    # nginx busy for over 5 % of the second before a sample and of the second after it:
    # the sample was taken while the load ran (not as it began or ended)
    busy = [b - a > 0.05 for a, b in zip([cpu[0], *cpu], cpu, strict=False)] if cpu else []
    inside = [x and y for x, y in zip(busy, [*busy[1:], False], strict=True)]
    loaded = [(t, rss) for (t, rss, _), on in zip(r.samples, inside, strict=True) if rss and on]
    window = loaded if len(loaded) >= 2 else every
    entry: dict[str, Any] = {
        "connections": conns,
        "duration_s": duration,
        "requests": s.get("requests"),
        "errors": s.get("errors"),
        "rps": s.get("rps"),
        "generator_saturated": s.get("generator_saturated"),
        "wall_s": r.wall,
        "samples": len(every),
        "peak_rss_mb": max((v for _, v in every), default=0) / _MB or None,
        "wait4_max_rss_mb": r.peak_rss / _MB if r.peak_rss else None,
        "established_peak": max((n for *_, (n, _) in r.samples), default=0),
    }
    if not window:
        return entry
    t0, t1 = window[0][0], window[-1][0]

    def at(fraction: float) -> tuple[float, int]:
        return min(window, key=lambda sample: abs(sample[0] - (t0 + fraction * (t1 - t0))))

    start, end = at(0.1), window[-1]
    entry["load_phase"] = {
        "from_s": t0,
        "to_s": t1,
        "told_by": "nginx CPU" if window is loaded else "process lifetime",
    }
    entry["rss_at_10pct"] = {"t_s": start[0], "mb": start[1] / _MB}
    entry["rss_at_end"] = {"t_s": end[0], "mb": end[1] / _MB}
    entry["growth_mb"] = (end[1] - start[1]) / _MB
    entry["rss_by_tenth_mb"] = [at(k / 10)[1] / _MB for k in range(1, 11)]
    entry["peak_in_load_mb"] = max(v for _, v in window) / _MB
    after = [v for t, v in every if t > t1]
    entry["peak_after_load_mb"] = max(after) / _MB if after else None
    return entry


def _version() -> str:
    try:
        return metadata.version("redline")
    except metadata.PackageNotFoundError:
        return "?"


# ---------------------------------------------------------------------------------------
# Report


def _ratio(result: dict[str, Any], a: str, b: str) -> float | None:
    ra, rb = result.get(a, {}).get("rate"), result.get(b, {}).get("rate")
    if not ra or not rb or not rb["median"]:
        return None
    return float(ra["median"] / rb["median"])


def _target(ratio: float | None, target: float | None) -> str:
    if target is None:
        return ""
    if ratio is None:
        return f"  (target >= {target:g}x)"
    return f"  (target >= {target:g}x: {'meets it' if ratio >= target else 'BELOW TARGET'})"


def _ms(value: float | None) -> str:
    return f"{value:8.2f}" if value is not None else f"{'n/a':>8}"


def _rows(result: dict[str, Any], unit: str) -> list[str]:
    lines = [
        f"    {'contender':<34} {unit + ' median':>14} {'min':>10} {'max':>10}"
        f" {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    ]
    for c in result.values():
        head = f"    {c['label']:<34} "
        if c.get("unavailable") and not c.get("rate"):
            lines.append(head + c["unavailable"])
            continue
        if not c.get("rate"):
            lines.append(head + "FAILED: " + "; ".join(c.get("failures", ["no result"]))[:300])
            continue
        r = c["rate"]
        lines.append(
            head + f"{r['median']:14,.1f} {r['min']:10,.1f} {r['max']:10,.1f}"
            f" {_ms(c.get('p50_ms_median'))} {_ms(c.get('p99_ms_median'))}"
            f" {c.get('errors', 0):7d}"
        )
        lines += [f"      note: {n}" for n in c.get("notes", [])]
        lines += [f"      a round failed: {f[:300]}" for f in c.get("failures", [])]
    return lines


def report(result: dict[str, Any]) -> str:
    m, a = result["machine"], result["args"]
    lines = [
        "redline load engine vs peers",
        f"python {m['python']} on {m['platform']}, {m['cpus']} CPUs, load {m['load']}; "
        f"{result['date']}",
        f"{result['pinning']}; nginx {result['peers'].get('nginx', {}).get('version')} "
        f"on 127.0.0.1 ({', '.join(result['peer_notes']) or 'peers already installed'})",
        "",
        f"(1) closed model: {a['connections']} connections, {a['duration']:g} s a run, "
        f"{a['rounds']} interleaved rounds, one core each",
        *_rows(result["closed"], "req/s"),
        "    ratios of the medians:",
    ]
    for peer in ("wrk", "hey", "locust", "bare"):
        ratio = _ratio(result["closed"], "redline", peer)
        shown = f"{ratio:.2f}x" if ratio is not None else "n/a"
        lines.append(f"      redline / {peer:<7} {shown:>8}{_target(ratio, TARGETS[peer])}")
    ratio = _ratio(result["flow"], "redline", "locust")
    lines += [
        "",
        f"(2) Python flow (GET /, then GET /api/item checking ok is true): iterations/s, "
        f"{a['connections']} connections, {a['duration']:g} s, {a['rounds']} rounds",
        *_rows(result["flow"], "iter/s"),
        f"    ratio redline / Locust: {f'{ratio:.2f}x' if ratio else 'n/a'}"
        f"{_target(ratio, FLOW_TARGET)}",
        "",
    ]
    mem = result.get("memory")
    if mem is None:
        lines.append("(3) memory: not measured (--no-memory)")
    elif "unavailable" in mem:
        lines.append(f"(3) memory: redline: {mem['unavailable']}")
    else:
        lines += _memory_lines(mem)
    return "\n".join(lines)


def _memory_lines(mem: dict[str, Any]) -> list[str]:
    lines = []
    long = mem.get("long", {})
    if "failed" in long or not long:
        lines.append(f"(3a) RSS over a long run: FAILED: {long.get('failed')}")
    elif "rss_at_10pct" not in long:
        lines.append("(3a) RSS over a long run: no RSS samples (the run ended within 1 s)")
    else:
        done = long["requests"] or 0
        a, b, phase = long["rss_at_10pct"], long["rss_at_end"], long["load_phase"]
        after = long["peak_after_load_mb"]
        lines += [
            f"(3a) RSS over a {long['duration_s']:g} s run at {long['connections']} connections "
            f"(VmRSS once a second; load phase {phase['from_s']:.1f}-{phase['to_s']:.1f} s "
            f"of {long['wall_s']:.1f} s, told by {phase['told_by']})",
            f"    at 10 % of the load ({a['t_s']:.1f} s) {a['mb']:.1f} MB, at its end "
            f"({b['t_s']:.1f} s) {b['mb']:.1f} MB: growth {long['growth_mb']:+.1f} MB "
            f"(target < {GROWTH_TARGET_MB:g} MB over {GROWTH_REQUESTS:,} requests)",
            "    by tenth of the load (MB): "
            + " ".join(f"{v:.1f}" for v in long["rss_by_tenth_mb"]),
            f"    peak {long['peak_rss_mb']:.1f} MB; during the load "
            f"{long['peak_in_load_mb']:.1f} MB"
            + (f" (after the load, building the result: {after:.1f} MB)" if after else ""),
            f"    requests done: {done:,} ({long['rps'] or 0:,.0f}/s, errors {long['errors']}), "
            f"{100 * done / GROWTH_REQUESTS:.1f} % of {GROWTH_REQUESTS:,}; nothing is "
            "extrapolated",
        ]
        if done and done < GROWTH_REQUESTS and long["rps"]:
            need = GROWTH_REQUESTS / long["rps"]
            lines.append(f"    for 10 M requests at this rate: --long-duration {need:.0f}")
    c10k = mem.get("c10k", {})
    if "failed" in c10k or not c10k:
        lines.append(f"(3b) 10,000 connections: FAILED: {c10k.get('failed')}")
    else:
        peak = c10k["peak_rss_mb"] or 0
        verdict = "meets it" if peak < C10K_TARGET_MB else "ABOVE TARGET"
        est = c10k["established_peak"]
        all_up = "all" if est >= c10k["connections"] else "NOT all"
        lines += [
            f"(3b) {c10k['connections']:,} connections, {c10k['duration_s']:g} s "
            f"({c10k['wall_s']:.1f} s wall): peak RSS {peak:.1f} MB "
            f"(target < {C10K_TARGET_MB:g} MB: {verdict})",
            f"    nginx saw {est:,} established at once ({all_up} of them; peak of 1 s "
            f"samples); requests {c10k['requests']:,}, errors {c10k['errors']}, "
            f"generator_saturated {c10k['generator_saturated']}",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds a run (default 10)")
    parser.add_argument("--connections", type=int, default=50, help="(default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--long-duration", type=int, default=30, help="seconds of the RSS run (default 30)"
    )
    parser.add_argument("--c10k", type=int, default=10000, help="connections for (3b)")
    parser.add_argument("--no-memory", action="store_true", help="skip (3)")
    parser.add_argument("--no-install", action="store_true", help="never apt-get or pip install")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    peers, notes = ensure_peers(not args.no_install)
    pinning = Pinning.choose()
    if pinning.note:
        notes.append(pinning.note)
    result: dict[str, Any] = {
        "benchmark": "load_peers",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load": [round(x, 2) for x in os.getloadavg()],
        },
        "args": {k: v for k, v in vars(args).items() if k != "json"},
        "peers": {
            k: {"version": p.version, "installed_now": p.installed_now} for k, p in peers.items()
        },
        "peer_notes": notes,
        "pinning": pinning.describe(),
    }
    if "nginx" not in peers:
        result["error"] = "no nginx: nothing to measure against"
        print(json.dumps(result, indent=2) if args.json else "\n".join([result["error"], *notes]))
        return 0
    timeout = args.duration + 60
    with tempfile.TemporaryDirectory(prefix="redline-bench-") as workdir:
        args.workdir = workdir
        Path(workdir, "locust_root.py").write_text(_LOCUST_ROOT)
        Path(workdir, "bare_client.py").write_text(_BARE_CLIENT)
        Path(workdir, "locust_flow.py").write_text(_LOCUST_FLOW)
        Path(workdir, "redline_bench_flow.py").write_text(_REDLINE_FLOW)
        with nginx(peers["nginx"].argv[0], pinning, max(20000, 2 * args.c10k)) as server:
            url = server.url()
            closed = closed_model(peers, url, args)
            measure(closed, args.rounds, pinning, timeout)
            result["closed"] = {c.key: c.result() for c in closed}
            flow = flow_mode(peers, url, args)
            measure(flow, args.rounds, pinning, timeout)
            result["flow"] = {c.key: c.result() for c in flow}
            if not args.no_memory:
                result["memory"] = memory(server, args, pinning)
    result["ratios"] = {
        f"redline/{peer}": _ratio(result["closed"], "redline", peer) for peer in TARGETS
    }
    result["ratios"]["flow redline/locust"] = _ratio(result["flow"], "redline", "locust")
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
