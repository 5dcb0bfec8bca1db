"""Scenarios from the config: ``load.scenarios.<name>`` turned into the :class:`LoadSpec` the
engine runs, for one environment.

>>> loaded = load_config("redline.yaml")                     # doctest: +SKIP
>>> scenario_names(loaded)                                   # doctest: +SKIP
['normal', 'peak', 'stress']
>>> spec = scenario_spec(loaded, "normal", env="staging")    # doctest: +SKIP
>>> spec.target, spec.executor.rate                          # doctest: +SKIP
('http://10.0.0.5:8000', 20.0)

The config's checks have already held the scenario to its executor's rules (see
:func:`redline.config.checks.check_load`), so this module only translates:
a service name becomes its ``url:``, a data file an absolute path, defaults fill
what the scenario leaves out.

:data:`PRESETS` are the three ready examples for the demo system (``normal``,
``peak``, ``stress``); :func:`presets_yaml` gives them as the ``load:`` section
``redline demo`` writes into its project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from redline._errors import UsageError
from redline.load.spec import Executor, LoadSpec, RequestCheck, RequestSpec, Stage

if TYPE_CHECKING:
    from redline.config.loader import LoadedConfig
    from redline.config.schema import Config, LoadCheck, LoadRequest, Scenario

__all__ = ["PRESETS", "presets_yaml", "scenario_names", "scenario_spec"]

_T = TypeVar("_T")
# k6's default cap on a per-vu-iterations run: long enough to finish, short enough to end.
PER_VU_ITERATIONS_MAX_DURATION = 600.0


def scenario_names(loaded: LoadedConfig) -> list[str]:
    """The scenarios the config declares, in the order written (environments add none)."""
    load = loaded.raw.get("load")
    scenarios = load.get("scenarios") if isinstance(load, dict) else None
    return list(scenarios) if isinstance(scenarios, dict) else []


def scenario_spec(loaded: LoadedConfig, name: str, env: str | None = None) -> LoadSpec:
    """The load test scenario ``name`` describes in environment ``env``.

    Raises :class:`~redline.UsageError` (exit 2) for a scenario the config does not
    declare, naming the closest one and those it does; :class:`~redline.ConfigInvalidError`
    when the config has problems. Secrets are decrypted only when the scenario uses one.
    """
    names = scenario_names(loaded)
    if name not in names:
        raise _unknown(name, names, loaded)
    config = loaded.config(env)
    if _masked(config, name):
        config = loaded.runtime_config(env)
    return _spec(name, config.load.scenarios[name], config, loaded.base_dir, env)


def _unknown(name: str, names: list[str], loaded: LoadedConfig) -> UsageError:
    from redline.config.diagnostics import closest

    if not names:
        return UsageError(
            f"there is no scenario '{name}': {loaded.display} declares no scenarios",
            hint="add one under load: scenarios: (see docs/load-testing.md), "
            "or test a URL without a config: redline load run URL",
        )
    close = closest(name, names)
    known = f"scenarios: {', '.join(names)}"
    return UsageError(
        f"there is no scenario '{name}' in {loaded.display}",
        hint=f"did you mean '{close}'? {known}" if close else known,
    )


def _masked(config: Config, name: str) -> bool:
    """Whether the scenario (or the service it targets) holds a secret's stand-in."""
    from redline.redact import MASK

    scenario = config.load.scenarios[name]
    service = config.services.get(scenario.target)
    return MASK in repr(scenario.model_dump()) or (
        service is not None and MASK in (service.url or "")
    )


def _spec(name: str, s: Scenario, config: Config, base_dir: Path, env: str | None) -> LoadSpec:
    defaults = config.load.defaults
    service = config.services.get(s.target)
    if service is not None:
        if service.url is None:  # the config checks report this; a direct caller may not have
            raise UsageError(
                f"scenario '{name}' targets service '{s.target}', which has no url",
                hint=f"set url: on service '{s.target}', or write the target as a URL",
            )
        target = service.url
    else:
        target = s.target
    schedule: dict[str, Any] = {
        key: value
        for key in ("rate", "start_rate", "duration", "vus", "start_vus", "iterations")
        if (value := getattr(s, key)) is not None
    }
    if s.executor == "per-vu-iterations" and s.duration is None:
        schedule["duration"] = PER_VU_ITERATIONS_MAX_DURATION
    executor = Executor(
        s.executor,
        stages=tuple(Stage(st.duration, st.target) for st in s.stages or ()),
        think_time=s.think_time or 0.0,
        max_connections=_first(s.max_connections, defaults.max_connections),
        max_queue=_first(s.max_queue, defaults.max_queue),
        **schedule,
    )
    return LoadSpec(
        target=target,
        executor=executor,
        requests=tuple(_request(r) for r in s.requests or ()),
        flow=s.flow,
        name=name,
        timeout=_first(s.timeout, defaults.timeout),
        graceful_stop=_first(s.graceful_stop, defaults.graceful_stop),
        data_file=str((base_dir / s.data_file).resolve()) if s.data_file else None,
        thresholds={key: tuple(exprs) for key, exprs in s.thresholds.items()},
        tags=dict(s.tags),
    )


def _first(value: _T | None, default: _T) -> _T:
    return default if value is None else value


def _request(r: LoadRequest) -> RequestSpec:
    return RequestSpec(
        path=r.path,
        method=r.method,
        name=r.name,
        headers=dict(r.headers),
        query=dict(r.query),
        json=r.json_body,
        body=r.body,
        weight=r.weight,
        check=_check(r.check) if r.check is not None else None,
    )


def _check(c: LoadCheck) -> RequestCheck:
    codes = sorted({code for low, high in c.status for code in range(low, high + 1)})
    return RequestCheck(
        status=tuple(codes), contains=c.contains, json_path=c.json_path, equals=c.equals
    )


# -- presets for the demo system ---------------------------------------------------------

# Two requests the demo API serves (src/redline/demo/app.py): a page of items from its
# database, checked by its JSON, and its version, which never touches the database.
_DEMO_REQUESTS = """\
  requests:
    - name: items
      path: /items?limit=5
      weight: 3
      check: {status: 200, json_path: $.limit, equals: 5}
    - name: version
      path: /version
      headers: {X-Request-Id: "{{uuid}}"}
      check: {status: 200, contains: redline-demo}
"""

# Each is a YAML mapping of one scenario, as it reads under `load: scenarios:`.
PRESETS: Mapping[str, str] = {
    "normal": """\
normal:
  description: everyday traffic, steady (a few seconds, so the demo stays quick)
  target: api
  executor: constant-arrival-rate
  rate: 20/s
  duration: 5s
"""
    + _DEMO_REQUESTS
    + """\
  thresholds:
    http_req_failed: ["rate<0.01"]
    http_req_duration: ["p(99)<250"]
    checks: ["rate>0.99"]
""",
    "peak": """\
peak:
  description: the busiest hour, ramped up to and held
  target: api
  executor: ramping-arrival-rate
  start_rate: 20/s
  stages:
    - {duration: 3s, target: 60/s}
    - {duration: 5s, target: 60/s}
    - {duration: 2s, target: 20/s}
"""
    + _DEMO_REQUESTS
    + """\
  thresholds:
    http_req_failed: ["rate<0.02"]
    http_req_duration: ["p(99)<500", "p(95)<250"]
    "http_req_duration{name:items}": ["p(99)<500"]
""",
    "stress": """\
stress:
  description: past the peak until something gives; read where latency turns
  target: api
  executor: ramping-arrival-rate
  start_rate: 20/s
  stages:
    - {duration: 5s, target: 150/s}
    - {duration: 5s, target: 300/s}
    - {duration: 5s, target: 300/s}
    - {duration: 3s, target: 0}
  max_connections: 200
  max_queue: 2000
"""
    + _DEMO_REQUESTS
    + """\
  thresholds:
    http_req_failed: ["rate<0.05"]
    dropped_iterations: ["count<100"]
""",
}


def presets_yaml(names: Sequence[str] = tuple(PRESETS)) -> str:
    """The ``load:`` section of a config holding the presets ``names``, aimed at the demo
    system's ``api`` service.

    >>> presets_yaml(["normal"]).splitlines()[:4]
    ['load:', '  defaults: {timeout: 5s, graceful_stop: 2s}', '  scenarios:', '    normal:']
    """
    body = "".join(_indent(PRESETS[n], "    ") for n in names)
    return f"load:\n  defaults: {{timeout: 5s, graceful_stop: 2s}}\n  scenarios:\n{body}"


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line if line.strip() else line for line in text.splitlines(True))
