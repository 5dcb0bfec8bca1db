"""Rules that span keys, which a schema alone cannot state.

They read the raw data defensively (any part may have the wrong shape; the
schema reports that), so one broken section never hides another's problems.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path as Path_
from pathlib import PurePath
from typing import Any

from redline.config.diagnostics import Diagnostic, closest
from redline.config.source import Path, SourceMap, format_path

__all__ = ["check_env", "check_load", "check_raw"]


def _diag(
    smap: SourceMap,
    path: Path,
    rule: str,
    message: str,
    hint: str = "",
    *,
    key: bool = False,
    display: Callable[[Path], str] = format_path,
) -> Diagnostic:
    mark = smap.key(path) if key else smap.value(path)
    return smap.diagnostic(rule, message, mark, display(path), hint)


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = closest(name, choices)
    if close:
        return f"did you mean '{close}'?"
    return f"known: {', '.join(sorted(choices))}" if choices else "none are declared"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def check_raw(data: dict[str, Any], smap: SourceMap, base_dir: PurePath) -> list[Diagnostic]:
    """Rules over the file as written: environments and the contract."""
    out: list[Diagnostic] = []
    services = list(_mapping(data.get("services")))
    envs = _mapping(data.get("environments"))
    for env, spec in envs.items():
        env_file = _mapping(spec).get("env_file")
        if isinstance(env_file, str) and not Path_(base_dir, env_file).is_file():
            out.append(
                _diag(
                    smap,
                    ("environments", env, "env_file"),
                    "missing-file",
                    f"env_file '{env_file}' does not exist (looked in {base_dir or '.'})",
                    "create it, or fix the path (relative to the config file)",
                )
            )
        overrides = _mapping(_mapping(spec).get("services"))
        for name in overrides:
            if name not in services:
                out.append(
                    _diag(
                        smap,
                        ("environments", env, "services", name),
                        "unknown-service",
                        f"environment '{env}' overrides service '{name}', which is not declared",
                        _did_you_mean(name, services),
                        key=True,
                    )
                )
        declared = _mapping(_mapping(data.get("load")).get("scenarios"))
        load_overrides = _mapping(_mapping(_mapping(spec).get("load")).get("scenarios"))
        for name in load_overrides:
            if name not in declared:
                out.append(
                    _diag(
                        smap,
                        ("environments", env, "load", "scenarios", name),
                        "unknown-scenario",
                        f"environment '{env}' overrides scenario '{name}', which is not declared",
                        _did_you_mean(name, list(declared)),
                        key=True,
                    )
                )
    for var, spec in _mapping(data.get("variables")).items():
        required_in = _mapping(spec).get("required_in")
        if not isinstance(required_in, list):
            continue
        for i, env in enumerate(required_in):
            if isinstance(env, str) and env not in envs:
                out.append(
                    _diag(
                        smap,
                        ("variables", var, "required_in", i),
                        "unknown-environment",
                        f"required_in names environment '{env}', which is not declared",
                        _did_you_mean(env, list(envs)),
                    )
                )
    return out


def check_env(
    data: dict[str, Any], smap: SourceMap, display: Callable[[Path], str]
) -> list[Diagnostic]:
    """Rules over one environment's merged services: dependencies and check names."""
    out: list[Diagnostic] = []
    services = _mapping(data.get("services"))
    graph: dict[str, list[str]] = {}
    for name, spec in services.items():
        deps = _mapping(spec).get("depends_on")
        graph[name] = []
        if not isinstance(deps, list):
            continue
        for i, dep in enumerate(deps):
            path: Path = ("services", name, "depends_on", i)
            if not isinstance(dep, str):
                continue  # the schema reports the type
            if dep == name:
                out.append(
                    _diag(
                        smap,
                        path,
                        "dependency-cycle",
                        f"service '{name}' depends on itself",
                        "remove it from its own depends_on",
                        display=display,
                    )
                )
            elif dep not in services:
                out.append(
                    _diag(
                        smap,
                        path,
                        "unknown-dependency",
                        f"service '{name}' depends on '{dep}', which is not declared",
                        _did_you_mean(dep, [s for s in services if s != name]),
                        display=display,
                    )
                )
            else:
                graph[name].append(dep)
        out.extend(_duplicate_check_names(name, _mapping(spec).get("checks"), smap, display))
    for cycle in _cycles(graph):
        first = cycle[0]
        index = graph[first].index(cycle[1])
        out.append(
            _diag(
                smap,
                ("services", first, "depends_on", index),
                "dependency-cycle",
                "depends_on forms a cycle: " + " -> ".join([*cycle, first]),
                "remove one of these dependencies; a cycle can never start",
                display=display,
            )
        )
    return out


def _duplicate_check_names(
    service: str, checks: Any, smap: SourceMap, display: Callable[[Path], str]
) -> Iterator[Diagnostic]:
    if not isinstance(checks, list):
        return
    seen: dict[str, int] = {}
    for i, check in enumerate(checks):
        name = _mapping(check).get("name")
        if not isinstance(name, str):
            continue
        if name in seen:
            yield _diag(
                smap,
                ("services", service, "checks", i, "name"),
                "duplicate-name",
                f"service '{service}' has two checks named '{name}' "
                f"(first is checks[{seen[name]}])",
                "give each check its own name",
                display=display,
            )
        else:
            seen[name] = i


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each elementary cycle once, found by depth-first search (starting from sorted names)."""
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 on stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if dep == node:
                continue
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :]
                key = frozenset(cycle)
                if key not in seen_sets:
                    seen_sets.add(key)
                    found.append(cycle)
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


# -- load scenarios ----------------------------------------------------------------------

# What each executor needs and what else it takes (besides what every scenario takes).
_EXECUTOR_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "constant-arrival-rate": (("rate", "duration"), ("max_connections", "max_queue")),
    "ramping-arrival-rate": (("stages",), ("start_rate", "max_connections", "max_queue")),
    "constant-vus": (("vus", "duration"), ("think_time",)),
    "ramping-vus": (("stages",), ("start_vus", "think_time")),
    "per-vu-iterations": (("vus",), ("iterations", "duration", "think_time")),
}
_SCHEDULE_KEYS = sorted({k for req, opt in _EXECUTOR_KEYS.values() for k in (*req, *opt)})
_EXAMPLES = {
    "rate": "rate: 50/s",
    "duration": "duration: 30s",
    "stages": "stages: [{duration: 10s, target: 100/s}]",
    "vus": "vus: 10",
}
_VUS_STAGES = {"stages": "stages: [{duration: 10s, target: 20}]"}


def check_load(
    data: dict[str, Any], smap: SourceMap, display: Callable[[Path], str], base_dir: PurePath
) -> list[Diagnostic]:
    """Rules over one environment's merged ``load.scenarios``: what each executor needs and
    takes, what iterations do, where they go, data files and thresholds."""
    out: list[Diagnostic] = []
    services = _mapping(data.get("services"))
    for name, spec in _mapping(_mapping(data.get("load")).get("scenarios")).items():
        if isinstance(spec, dict):
            at = _Scenario(name, spec, smap, display)
            _executor_keys(at)
            _action(at)
            _target(at, services)
            _requests(at)
            _thresholds(at)
            data_file = spec.get("data_file")
            if isinstance(data_file, str) and not Path_(base_dir, data_file).is_file():
                at.report(
                    ("data_file",),
                    "missing-file",
                    f"data_file '{data_file}' does not exist (looked in {base_dir or '.'})",
                    "create it (a CSV with a header row), or fix the path "
                    "(relative to the config file)",
                )
            out.extend(at.found)
    return out


class _Scenario:
    """One scenario's raw data and the diagnostics found in it."""

    def __init__(
        self, name: str, spec: dict[str, Any], smap: SourceMap, display: Callable[[Path], str]
    ) -> None:
        self.name, self.spec, self.smap, self.display = name, spec, smap, display
        self.path: Path = ("load", "scenarios", name)
        self.found: list[Diagnostic] = []

    def report(
        self, sub: Path, rule: str, message: str, hint: str, *, key: bool = False, at: Path = ()
    ) -> None:
        """A problem at ``sub`` (shown as its path), marked at ``at`` when given."""
        path = (*self.path, *sub)
        mark = self.smap.key(path) if key else self.smap.value(path)
        if at:
            mark = self.smap.value((*self.path, *at))
        self.found.append(self.smap.diagnostic(rule, message, mark, self.display(path), hint))


def _executor_keys(s: _Scenario) -> None:
    executor = s.spec.get("executor")
    if not isinstance(executor, str) or executor not in _EXECUTOR_KEYS:
        return  # the schema reports it
    required, optional = _EXECUTOR_KEYS[executor]
    from redline.config.schema import Scenario

    # A misspelt key (`duraton:`) is reported as unknown with a "did you mean"; not twice.
    unknown = [k for k in s.spec if k not in Scenario.model_fields]
    for key in required:
        if key not in s.spec and not closest(key, unknown):
            example = (_VUS_STAGES if executor == "ramping-vus" else _EXAMPLES).get(key, key)
            s.report(
                (key,),
                "missing-key",
                f"scenario '{s.name}': {executor} needs `{key}:`",
                f"add `{example}` to the scenario",
                at=("executor",),
            )
    takes = (*required, *optional)
    for key in _SCHEDULE_KEYS:
        if key in s.spec and key not in takes:
            users = [e for e, (req, opt) in _EXECUTOR_KEYS.items() if key in (*req, *opt)]
            s.report(
                (key,),
                "executor-option",
                f"`{key}` does not apply to {executor} (it takes {', '.join(takes)})",
                f"remove it, or use executor: {' or '.join(users)}",
                key=True,
            )
    stages = s.spec.get("stages")
    if "stages" in takes and isinstance(stages, list):
        _stages(s, executor, stages)


def _stages(s: _Scenario, executor: str, stages: list[Any]) -> None:
    from redline.units import parse_duration

    total = 0.0
    for i, item in enumerate(stages):
        stage = _mapping(item)
        duration: Any = stage.get("duration")
        try:
            total += parse_duration(duration)
        except ValueError:
            total = math.inf  # the schema reports it
        target = stage.get("target")
        if target is None or isinstance(target, bool):
            continue
        written = str(target).strip()
        is_rate = "/" in written
        if executor == "ramping-vus" and is_rate:
            s.report(
                ("stages", i, "target"),
                "invalid-value",
                f"a ramping-vus stage target is a number of VUs, not a rate ({written})",
                "write the VUs to reach, e.g. target: 20; or use executor: ramping-arrival-rate",
            )
        elif executor == "ramping-vus" and (_number(written) or 0) > 0 and "." in written:
            s.report(
                ("stages", i, "target"),
                "invalid-value",
                f"a ramping-vus stage target is a whole number of VUs, not {written}",
                "write the VUs to reach, e.g. target: 20",
            )
        elif (
            executor == "ramping-arrival-rate" and not is_rate and _number(written) not in (0, None)
        ):
            s.report(
                ("stages", i, "target"),
                "invalid-value",
                f"a ramping-arrival-rate stage target is a rate: {written} per what?",
                f"write target: {written}/s (or 0 to ramp down to nothing)",
            )
    if not stages:
        example = (_VUS_STAGES if executor == "ramping-vus" else _EXAMPLES)["stages"]
        s.report(
            ("stages",),
            "invalid-value",
            f"scenario '{s.name}' has no stages",
            f"add one or more, e.g. {example}",
        )
    elif total == 0:
        s.report(
            ("stages",),
            "invalid-value",
            f"scenario '{s.name}': its stages last 0s in all",
            "give at least one stage a duration, e.g. {duration: 30s, target: ...}",
        )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _action(s: _Scenario) -> None:
    has_requests, has_flow = "requests" in s.spec, "flow" in s.spec
    if s.spec.get("requests") == [] and not has_flow:
        s.report(
            ("requests",),
            "requests-or-flow",
            f"scenario '{s.name}' sends nothing: its requests: list is empty",
            "add a request, e.g. requests: [{path: /health}]",
        )
    elif has_requests and has_flow:
        s.report(
            ("flow",),
            "requests-or-flow",
            f"scenario '{s.name}' has both requests: and flow:; an iteration does one or the other",
            "keep requests: for independent requests, or flow: for a scripted sequence",
            key=True,
        )
    elif not has_requests and not has_flow:
        s.report(
            (),
            "requests-or-flow",
            f"scenario '{s.name}' sends nothing: it needs requests: or flow:",
            "add requests: [{path: /health}], or flow: mypkg.flows:checkout "
            "(an async def flow(http, ctx))",
            key=True,
        )


def _target(s: _Scenario, services: dict[str, Any]) -> None:
    target = s.spec.get("target")
    if not isinstance(target, str):
        return  # the schema reports a missing or wrong target
    if target in services:
        if not isinstance(_mapping(services[target]).get("url"), str):
            s.report(
                ("target",),
                "invalid-value",
                f"scenario '{s.name}' targets service '{target}', which has no url:",
                f"set `url:` on service '{target}', or write the target as a URL",
            )
        return
    if re.match(r"https?://[^/?#\s]", target):
        return
    if "://" in target:
        s.report(
            ("target",),
            "invalid-value",
            f"target '{target}' is not an http:// or https:// URL",
            "load tests speak HTTP: write http://host:port or https://host",
        )
        return
    s.report(
        ("target",),
        "unknown-service",
        f"scenario '{s.name}' targets '{target}', which is neither a service nor a URL",
        _did_you_mean(target, list(services)) + " (or write a URL such as http://127.0.0.1:8080)",
    )


def _labels(requests: list[Any]) -> list[str]:
    """The names requests are measured under (as the engine labels them)."""
    out = []
    for item in requests:
        r = _mapping(item)
        name = r.get("name")
        method = r.get("method", "GET")
        out.append(name if isinstance(name, str) else f"{str(method).upper()} {r.get('path', '/')}")
    return out


def _requests(s: _Scenario) -> None:
    requests = s.spec.get("requests")
    if not isinstance(requests, list):
        return
    seen: dict[str, int] = {}
    for i, label in enumerate(_labels(requests)):
        if label in seen:
            named = isinstance(_mapping(requests[i]).get("name"), str)
            s.report(
                ("requests", i, "name") if named else ("requests", i),
                "duplicate-name",
                f"scenario '{s.name}' has two requests measured as '{label}' "
                f"(first is requests[{seen[label]}])",
                "give each request its own `name:`",
            )
        else:
            seen[label] = i


def _thresholds(s: _Scenario) -> None:
    thresholds = s.spec.get("thresholds")
    if not isinstance(thresholds, dict) or not thresholds:
        return
    from redline.load.thresholds import ThresholdError, parse_key, parse_threshold

    requests = s.spec.get("requests")
    labels = _labels(requests) if isinstance(requests, list) and "flow" not in s.spec else None
    for key, expressions in thresholds.items():
        try:
            _, tags = parse_key(key)
        except ThresholdError as exc:
            s.report(("thresholds", key), "bad-threshold", exc.message, exc.hint or "", key=True)
            continue
        for tag, value in tags:
            if tag == "name" and labels is not None and value not in labels:
                close = closest(value, labels)
                s.report(
                    ("thresholds", key),
                    "bad-threshold",
                    f"threshold {key} names request '{value}', which scenario '{s.name}' "
                    "does not send",
                    (f"did you mean '{close}'? " if close else "")
                    + f"its requests: {', '.join(labels)}",
                    key=True,
                )
        items: list[tuple[Any, Path]] = [(expressions, ())] if isinstance(expressions, str) else []
        if isinstance(expressions, list):
            items = [(e, (i,)) for i, e in enumerate(expressions)]
        for expression, index in items:
            if not isinstance(expression, str):
                continue  # the schema reports it
            try:
                parse_threshold(key, expression)
            except ThresholdError as exc:
                s.report(("thresholds", key, *index), "bad-threshold", exc.message, exc.hint or "")
