"""The tour's regression story: a baseline, a slowdown the gate catches, a cache it confirms.

Three "versions" of the demo API are played by its knobs, each measured with the
``catalog`` scenario (item pages) and recorded as a real commit would be:

- ``v1.0`` on ``main``: every item query takes :data:`BASE_QUERY` (a database round trip).
  Recorded :data:`BASELINE_RUNS` times: the baseline.
- ``v1.1`` on a feature branch adds :data:`SLOWDOWN` to every request (a new remote
  call). ``redline gate`` must fail it (exit 1) and say which metrics and by how much.
- ``v1.2`` on another branch turns the item cache on. ``redline gate`` must pass it and
  report the latency improvement, confirmed over :data:`CANDIDATE_RUNS` runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from redline.analysis.gate import GateResult
    from redline.config.loader import LoadedConfig
    from redline.demo.tour import Tour

__all__ = ["CATALOG_YAML", "regression_steps"]

SCENARIO = "catalog"
BASELINE_RUNS = 5
CANDIDATE_RUNS = 3
RUN_SECONDS = 1.5
BASE_QUERY = "10ms"
SLOWDOWN = "20ms"
_ITEMS = 5
_HEADLINE = ("latency_p50_ms", "latency_p99_ms")

# Appended under the demo config's `load: scenarios:`, then the gate's settings.
CATALOG_YAML = f"""\
    {SCENARIO}:
      description: item pages, which the cache serves (the regression story's scenario)
      target: api
      executor: constant-arrival-rate
      rate: 100/s
      duration: 2s
      data_file: catalog.csv
      requests:
        - name: item
          path: /items/{{{{data.id}}}}
          check: {{status: 200}}
regressions:
  main_branch: main
  baseline_runs: {BASELINE_RUNS}
  metrics:
    latency_max_ms: {{gate: false}}   # one request's bad luck, not the code's
    latency_p999_ms: {{gate: false}}
    "*.p99_ms": {{gate: false}}       # per-request copies of latency_p99_ms
"""


def regression_steps(
    tour: Tour,
    loaded: LoadedConfig,
    client: httpx.Client,
    api: str,
    token: str,
    done: Callable[[], None],
) -> None:
    """Record the baseline, then gate a slower and a faster candidate."""
    from redline.demo.tour import DEMO_ENV, _timed
    from redline.store import resolve_store_url

    admin = {"Authorization": f"Bearer {token}"}
    store_url = resolve_store_url(None, loaded.config(DEMO_ENV).store, loaded.base_dir, environ={})

    def knobs(**values: str) -> None:
        client.post(f"{api}/admin/knobs", json=values, headers=admin).raise_for_status()

    def runs(n: int, version: str, commit: str, branch: str) -> list[dict[str, Any]]:
        return [_measure(loaded, store_url, version, commit, branch) for _ in range(n)]

    ids = [
        client.post(f"{api}/items", json={"name": f"catalog {i}", "price": 10 + i}).json()["id"]
        for i in range(_ITEMS)
    ]
    (loaded.base_dir / "catalog.csv").write_text(
        "id\n" + "".join(f"{i}\n" for i in ids), encoding="utf-8"
    )
    try:
        knobs(slow_query=BASE_QUERY, latency="0", cache="off")
        with _timed(tour.steps, "regressions: baseline") as step:
            base = runs(BASELINE_RUNS, "v1.0", "a1b2c3d", "main")
            step.outcome = "ok" if all(s["requests"] for s in base) else "fail"
            step.detail = (
                f"{BASELINE_RUNS} runs of {SCENARIO} on main (v1.0, {BASE_QUERY} a query): "
                + _medians(base)
            )
        done()
        knobs(latency=SLOWDOWN)
        with _timed(tour.steps, "regressions: slowdown caught") as step:
            runs(CANDIDATE_RUNS, "v1.1", "5eed0ff", "feature/recommendations")
            result = _gate(loaded, store_url)
            step.outcome = "ok" if result.exit_code == 1 else "fail"
            step.detail = f"v1.1 adds {SLOWDOWN} a request; gate exit {result.exit_code}: " + (
                _explain(result, "regressed")
            )
            step.data["gate"] = result.to_dict()
        done()
        knobs(latency="0", cache="on")
        for i in ids:  # warm the cache, as a deploy's smoke test would
            client.get(f"{api}/items/{i}").raise_for_status()
        with _timed(tour.steps, "regressions: improvement confirmed") as step:
            runs(CANDIDATE_RUNS, "v1.2", "cac4e01", "feature/item-cache")
            result = _gate(loaded, store_url)
            better = [m.metric for m in result.improved]
            step.outcome = "ok" if result.exit_code == 0 and better else "fail"
            step.detail = (
                f"v1.2 turns the item cache on; gate exit {result.exit_code}: "
                + _explain(result, "improved")
                + f", confirmed over {CANDIDATE_RUNS} runs"
            )
            step.data["gate"] = result.to_dict()
        done()
    finally:
        knobs(slow_query="0", latency="0", cache="off")


def _measure(
    loaded: LoadedConfig, store_url: str, version: str, commit: str, branch: str
) -> dict[str, Any]:
    from redline.demo.tour import DEMO_ENV
    from redline.load.record import record_load
    from redline.load.runner import LoadRun
    from redline.load.scenarios import scenario_spec

    spec = scenario_spec(loaded, SCENARIO, DEMO_ENV)
    spec = dataclasses.replace(
        spec, executor=dataclasses.replace(spec.executor, duration=RUN_SECONDS)
    )
    result = LoadRun(spec, workers=1).run()
    record_load(
        result, spec, store_url, env=DEMO_ENV, version=version, commit=commit, branch=branch
    )
    summary: dict[str, Any] = result.summary()
    return summary


def _gate(loaded: LoadedConfig, store_url: str) -> GateResult:
    """What `redline gate catalog --env demo` decides, with the config's settings."""
    from redline.analysis.gate import GatePolicy, run_gate
    from redline.demo.tour import DEMO_ENV
    from redline.store import open_store

    policy = GatePolicy.from_config(loaded.config(DEMO_ENV).regressions)
    with open_store(store_url) as store:
        return run_gate(store, name=SCENARIO, environment=DEMO_ENV, policy=policy)


def _medians(summaries: list[dict[str, Any]]) -> str:
    import statistics

    p50 = statistics.median(s["latency_ms"]["p50"] for s in summaries)
    p99 = statistics.median(s["latency_ms"]["p99"] for s in summaries)
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (medians)"


def _explain(result: GateResult, verdict: str) -> str:
    shown = [m for m in result.comparison.metrics if m.verdict == verdict]
    shown.sort(key=lambda m: (m.metric not in _HEADLINE, m.metric))
    if not shown:
        return f"nothing {verdict} ({result.verdict})"
    parts = []
    for m in shown[:2]:
        low, high = m.interval_rel or (float("nan"), float("nan"))
        change = f"{100 * (m.change_rel or 0):+.0f} %"
        parts.append(
            f"{m.metric} {m.baseline:.1f} -> {m.candidate:.1f} ms "
            f"({change}, interval {100 * low:+.0f} to {100 * high:+.0f} %)"
        )
    more = f" and {len(shown) - 2} more" if len(shown) > 2 else ""
    return f"{verdict}: " + "; ".join(parts) + more
