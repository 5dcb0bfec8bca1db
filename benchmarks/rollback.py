"""Rollback with the release-directory recipe on local disk: decision to old release serving.

    python benchmarks/rollback.py                 # 50 rollbacks
    python benchmarks/rollback.py --rounds 200 --json

A tiny HTTP server in its own process (127.0.0.1, port 0) serves ``index.txt`` from the
release ``current`` pointed at when it last loaded: it resolves ``current`` at start and
again on SIGHUP, like a server that is reloaded, so the recipe's ``reload`` command
(``kill -HUP <pid>``) is part of what is measured. Per round: deploy a new release
(populate, switch, reload), wait until the server answers with it, then call
``rollback_to`` the known good release and request ``/`` until it answers with the good
release's content.

Figures:

- rollback: from calling ``rollback_to`` (the decision taken) until a request returns
  the old release's content: median and max over the rounds; target under 1 s. No
  verification is included (the pipeline's smoke checks come after). Split into the
  ``rollback_to`` call itself (switch + reload command) and the wait after it.
- recipe overhead per deploy and per rollback: the call's wall time minus the run time
  of its commands (populate, reload), i.e. mkdir, shared links, the atomic switch with
  its directory fsync, templating, spawning bookkeeping.

Always exits 0: it reports, it does not judge a build.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redline.deploy.recipes import DeployContext, StepResult
from redline.deploy.releasedir import ReleaseDir, ReleaseDirRecipe

TARGET_S = 1.0
_OWN_STEPS = {"prepare", "link_shared", "switch"}  # redline's own work, not commands

SERVER = r"""
import os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

current = os.path.join(sys.argv[1], "current")
serving = os.path.realpath(current)

def reload(signum, frame):
    global serving
    serving = os.path.realpath(current)

signal.signal(signal.SIGHUP, reload)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        with open(os.path.join(serving, "index.txt"), "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever(poll_interval=60)
"""


def fetch(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def wait_serving(port: int, text: str, limit: float = 10.0) -> int:
    """Request until the answer is ``text``; returns how many requests it took."""
    until = time.perf_counter() + limit
    n = 0
    while True:
        n += 1
        if fetch(port) == text:
            return n
        if time.perf_counter() > until:
            raise SystemExit(f"the server never served {text!r}")


def overhead(wall: float, steps: list[StepResult]) -> float:
    return wall - sum(s.seconds for s in steps if s.name not in _OWN_STEPS)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "p90": ordered[int(0.9 * (len(ordered) - 1))],
        "max": ordered[-1],
        "min": ordered[0],
    }


def run(rounds: int, root: Path) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(root)], stdout=subprocess.PIPE, text=True
    )
    rd = ReleaseDir(root, keep_releases=5, shared=("log",))
    recipe = ReleaseDirRecipe(
        rd,
        populate="printf %s {version} > index.txt",
        reload=f"kill -HUP {server.pid}",
        timeout=10,
    )
    try:
        good = rd.prepare("good", populate="printf %s {version} > index.txt")
        rd.switch(good.id)
        assert server.stdout is not None
        port = int(server.stdout.readline())
        os.kill(server.pid, 1)  # SIGHUP: serve the release just switched to
        wait_serving(port, "good")
        rollback, call, after, polls = [], [], [], []
        deploy_overhead, rollback_overhead, switch_step = [], [], []
        for i in range(rounds):
            version = f"bad-{i}"
            start = time.perf_counter()
            steps = recipe.deploy(DeployContext(version, "good", "bench", "web"))
            deploy_overhead.append(overhead(time.perf_counter() - start, steps))
            if not all(s.ok for s in steps):
                raise SystemExit(f"deploy failed: {[(s.name, s.output) for s in steps]}")
            wait_serving(port, version)

            decided = time.perf_counter()
            back = recipe.rollback_to(good.id, DeployContext("good", version, "bench", "web"))
            returned = time.perf_counter()
            polls.append(wait_serving(port, "good"))
            served = time.perf_counter()
            if not all(s.ok for s in back):
                raise SystemExit(f"rollback failed: {[(s.name, s.output) for s in back]}")
            rollback.append(served - decided)
            call.append(returned - decided)
            after.append(served - returned)
            rollback_overhead.append(overhead(returned - decided, back))
            switch_step.extend(s.seconds for s in back if s.name == "switch")
            rd.cleanup(protect={good.id})
        return {
            "rounds": rounds,
            "rollback_s": summary(rollback),
            "rollback_to_call_s": summary(call),
            "until_served_after_call_s": summary(after),
            "requests_until_served": summary([float(p) for p in polls]),
            "switch_s": summary(switch_step),
            "deploy_overhead_s": summary(deploy_overhead),
            "rollback_overhead_s": summary(rollback_overhead),
            "releases_on_disk": len(rd.releases()),
        }
    finally:
        server.terminate()
        server.wait()


def ms(value: float) -> str:
    return f"{value * 1000:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dir", help="where to make the release directory (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        figures = run(args.rounds, Path(tmp) / "app")
    figures["python"] = platform.python_version()
    figures["machine"] = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"rollback with the release-directory recipe, {args.rounds} rounds ({figures['machine']})"
    )
    rows = [
        ("decision -> old release serving", "rollback_s"),
        ("  rollback_to() call (switch + reload)", "rollback_to_call_s"),
        ("  then until a request got it", "until_served_after_call_s"),
        ("  the atomic switch alone", "switch_s"),
        ("recipe overhead per deploy", "deploy_overhead_s"),
        ("recipe overhead per rollback", "rollback_overhead_s"),
    ]
    print(f"{'':40} {'median':>11} {'p90':>11} {'max':>11}")
    for label, key in rows:
        f = figures[key]
        print(f"{label:40} {ms(f['median'])} {ms(f['p90'])} {ms(f['max'])}")
    worst = figures["rollback_s"]["max"]
    verdict = "PASS" if worst < TARGET_S else "ABOVE TARGET"
    print(f"target: decision -> serving under {TARGET_S:g} s (max {worst:.3f} s): {verdict}")
    print(
        f"requests until served: median {figures['requests_until_served']['median']:g}, "
        f"max {figures['requests_until_served']['max']:g}; "
        f"releases left on disk: {figures['releases_on_disk']} "
        "(keep_releases 5, plus the protected good one)"
    )


if __name__ == "__main__":
    main()
