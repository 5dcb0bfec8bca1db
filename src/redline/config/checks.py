"""Rules that span keys, which a schema alone cannot state.

They read the raw data defensively (any part may have the wrong shape; the
schema reports that), so one broken section never hides another's problems.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path as Path_
from pathlib import PurePath
from typing import Any

from redline.config.diagnostics import Diagnostic, closest
from redline.config.source import Path, SourceMap, format_path

__all__ = ["check_env", "check_raw"]


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
