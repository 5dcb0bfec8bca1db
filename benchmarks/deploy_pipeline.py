"""The deploy pipeline's own overhead: everything but the recipe's commands and the waits.

    python benchmarks/deploy_pipeline.py                  # 100 rounds, 15 cold CLI runs
    python benchmarks/deploy_pipeline.py --rounds 300 --cli-rounds 31 --json
    python benchmarks/deploy_pipeline.py --store postgresql://postgres@127.0.0.1/bench

``Pipeline`` in this process on a local SQLite store (a file in a temporary directory,
migrated before the rounds; ``--store`` for another URL) with a command recipe whose
deploy and rollback commands are ``true``, and a verification seam that answers at once
(pass, or fail for a bad version: the smoke check after the rollback passes). Each round
does, in this order:

- a deploy that goes live (``Pipeline.deploy``): lock, release record, the journal
  written before and after each step, the recipe, verification, ``live``, unlock;
- a deploy that is rolled back (``Pipeline.deploy`` of a bad version): the same, then
  the last known good looked up, the loop guard's count, the rollback command, the smoke
  re-verification, ``rolled_back``;
- a rollback by hand (``Pipeline.rollback``): lock, target, record, rollback, smoke.

Overhead is the call's wall time minus the ``seconds`` of every ``StepResult`` the recipe
returned (the ``true`` commands as they ran: spawning the shell and waiting for it). What
remains is redline's: store reads and writes, the lock, templating, journalling, the
process-group bookkeeping around each command. Target: under 200 ms each (issue 6).

Then, for information, the wall time of ``redline deploy VERSION --env bench --plan`` as
a fresh process (``python -m redline``) against the same store, and ``python -c pass``
for scale; and where one warm deploy's time goes, by store method.

Always exits 0: it reports, it does not judge a build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _proc import run as run_process

from redline.deploy.pipeline import Pipeline, Verdict
from redline.deploy.recipes import CommandRecipe, DeployContext, StepResult
from redline.store import open_store

TARGET_S = 0.200
ENV = "bench"

CONFIG = """\
project: bench
store: {store}
environments:
  bench: {{}}
services:
  api:
    checks:
      - name: serving
        command: {{run: "true"}}
    deploy:
      command: {{deploy: "true", rollback: "true"}}
"""


class Recorded:
    """A recipe that keeps the StepResults its inner recipe returned."""

    def __init__(self, inner: CommandRecipe) -> None:
        self.inner = inner
        self.steps: list[StepResult] = []

    def deploy(self, ctx: DeployContext) -> list[StepResult]:
        steps = self.inner.deploy(ctx)
        self.steps.extend(steps)
        return steps

    def rollback(self, ctx: DeployContext) -> list[StepResult]:
        steps = self.inner.rollback(ctx)
        self.steps.extend(steps)
        return steps


class TimedStore:
    """The store, with the time spent in each of its methods summed (for the breakdown)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.spent: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.spent[name] += time.perf_counter() - start
                self.calls[name] += 1

        return timed


def verify(ctx: DeployContext, smoke_only: bool) -> Verdict:
    if "bad" in ctx.version and not smoke_only:
        return Verdict("fail", "rollback", ("api/serving: exit code 1, expected 0",))
    return Verdict("pass", "promote")


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "p90": ordered[int(0.9 * (len(ordered) - 1))],
        "max": ordered[-1],
        "min": ordered[0],
        "n": len(ordered),
    }


def timed_call(recipe: Recorded, call: Any, expect: int) -> tuple[float, float]:
    """(overhead, commands) of one pipeline call, in seconds."""
    recipe.steps.clear()
    start = time.perf_counter()
    outcome = call()
    wall = time.perf_counter() - start
    if outcome.code != expect:
        raise SystemExit(f"expected exit {expect}, got {outcome.code}: {outcome.reasons}")
    commands = sum(s.seconds for s in recipe.steps)
    return wall - commands, commands


def run_pipeline(store_url: str, rounds: int) -> dict[str, Any]:
    recipe = Recorded(CommandRecipe("true", "true", timeout=10))
    figures: dict[str, Any] = {}
    with open_store(store_url) as store:
        pipeline = Pipeline(store, ENV, recipes={"api": recipe}, verify=verify)  # type: ignore[dict-item]
        timed_call(recipe, lambda: pipeline.deploy("warm-up"), 0)  # imports, first queries
        kinds: dict[str, tuple[list[float], list[float]]] = {
            "deploy_live": ([], []),
            "deploy_rolled_back": ([], []),
            "rollback_by_hand": ([], []),
        }
        for i in range(rounds):
            calls = [
                ("deploy_live", partial(pipeline.deploy, f"{i}.0"), 0),
                ("deploy_rolled_back", partial(pipeline.deploy, f"{i}.1-bad"), 3),
                ("deploy_live", partial(pipeline.deploy, f"{i}.2"), 0),
                ("rollback_by_hand", pipeline.rollback, 0),
            ]
            for kind, call, expect in calls:
                over, commands = timed_call(recipe, call, expect)
                kinds[kind][0].append(over)
                kinds[kind][1].append(commands)
        for kind, (over, commands) in kinds.items():
            figures[kind] = {"overhead_s": summary(over), "commands_s": summary(commands)}
        figures["releases_in_store"] = len(store.list_releases(ENV, limit=100_000))

        timed = TimedStore(store)
        probe = Pipeline(timed, ENV, recipes={"api": recipe}, verify=verify)  # type: ignore[dict-item]
        n = max(10, min(rounds, 50))
        start = time.perf_counter()
        for i in range(n):
            recipe.steps.clear()
            probe.deploy(f"probe-{i}")
        wall = (time.perf_counter() - start) / n
        figures["breakdown_per_live_deploy"] = {
            "wall_s": wall,
            "store_s": {k: v / n for k, v in sorted(timed.spent.items(), key=lambda kv: -kv[1])},
            "store_calls": {k: v / n for k, v in timed.calls.items()},
        }
    return figures


def run_cli(store_url: str, rounds: int, workdir: Path) -> dict[str, Any]:
    (workdir / "redline.yaml").write_text(CONFIG.format(store=store_url), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    plan = [sys.executable, "-m", "redline", "deploy", "next", "--env", ENV, "--plan"]
    bare = [sys.executable, "-c", "pass"]
    first = run_process(plan, cwd=str(workdir), env=env)  # untimed: caches bytecode
    if first.returncode != 0 or "nothing will change" not in first.output:
        return {"error": first.output.strip()}
    walls: dict[str, list[float]] = {"plan": [], "pass": []}
    rss: list[float] = []
    for i in range(rounds):
        order = [("plan", plan), ("pass", bare)]
        for name, cmd in order if i % 2 == 0 else reversed(order):
            sample = run_process(cmd, cwd=str(workdir), env=env)
            walls[name].append(sample.wall)
            if name == "plan" and sample.rss is not None:
                rss.append(sample.rss / 1e6)
    return {
        "plan_s": summary(walls["plan"]),
        "python_pass_s": summary(walls["pass"]),
        "plan_peak_rss_mb": statistics.median(rss) if rss else None,
        "plan_output": first.output.strip(),
    }


def ms(value: float) -> str:
    return f"{value * 1000:8.2f} ms"


def report(figures: dict[str, Any], rounds: int) -> None:
    print(f"deploy pipeline overhead, {rounds} rounds ({figures['machine']}, {figures['store']})")
    print("overhead = wall time - the recipe's commands (StepResult.seconds)")
    print(f"{'':34} {'median':>11} {'p90':>11} {'max':>11}   {'commands (median)':>17}")
    labels = {
        "deploy_live": "deploy -> live",
        "deploy_rolled_back": "deploy -> rolled back (+ smoke)",
        "rollback_by_hand": "rollback by hand (+ smoke)",
    }
    for kind, label in labels.items():
        o, c = figures[kind]["overhead_s"], figures[kind]["commands_s"]
        verdict = "PASS" if o["median"] < TARGET_S and o["p90"] < TARGET_S else "ABOVE TARGET"
        print(
            f"  {label:<32} {ms(o['median'])} {ms(o['p90'])} {ms(o['max'])}   {ms(c['median'])}"
            f"   {verdict} (< {TARGET_S * 1000:.0f} ms)"
        )
    b = figures["breakdown_per_live_deploy"]
    store_total = sum(b["store_s"].values())
    print(
        "where a live deploy's time goes (warm, mean of the probe deploys):"
        f" wall {ms(b['wall_s'])}, store {ms(store_total)}"
    )
    for name, spent in list(b["store_s"].items())[:6]:
        print(f"    store.{name:<24} {ms(spent)}  ({b['store_calls'][name]:.0f} calls)")
    print(f"releases in the store at the end: {figures['releases_in_store']}")
    cli = figures["cli"]
    if "error" in cli:
        print(f"cold `redline deploy --plan`: failed: {cli['error']}")
        return
    p, b2 = cli["plan_s"], cli["python_pass_s"]
    print(f"cold `redline deploy next --env {ENV} --plan` ({p['n']} runs, for information):")
    for label, s in (("redline deploy --plan", p), ("python -c pass", b2)):
        print(f"  {label:<32} {ms(s['median'])} (min {ms(s['min'])}, max {ms(s['max'])})")
    if cli["plan_peak_rss_mb"] is not None:
        print(f"  peak RSS of --plan: {cli['plan_peak_rss_mb']:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--cli-rounds", type=int, default=15)
    parser.add_argument("--store", help="store URL (default: a SQLite file in a temp dir)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or f"sqlite:///{Path(tmp, 'store.db').as_posix()}"
        figures = run_pipeline(url, args.rounds)
        figures["cli"] = run_cli(url, args.cli_rounds, Path(tmp)) if args.cli_rounds else {}
    figures["store"] = "sqlite file" if args.store is None else url.split(":", 1)[0]
    figures["python"] = platform.python_version()
    figures["machine"] = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    report(figures, args.rounds)


if __name__ == "__main__":
    main()
