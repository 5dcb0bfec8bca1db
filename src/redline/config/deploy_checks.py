"""Rules over each service's ``deploy:`` that one key alone cannot say.

- **RL123 unknown-placeholder**: a recipe or hook command uses a ``{name}`` that a deploy
  does not fill (a typo would otherwise fail in the middle of a deploy).
- **RL124 unknown-check**: ``verify.shadow`` names a check the service does not have.
- **RL122 unknown-scenario**: ``verify.soak.scenario`` names no load scenario.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from redline.config.diagnostics import Diagnostic, closest
from redline.config.source import Path as Path_
from redline.config.source import SourceMap

__all__ = ["check_deploy"]

_COMMANDS = {
    "command": ("deploy", "rollback"),
    "releases": ("populate", "start", "stop", "reload"),
}
_HOOKS = ("before_switch", "after_switch", "on_failure", "after_rollback")


def check_deploy(
    data: dict[str, Any], smap: SourceMap, display: Callable[[Path_], str]
) -> list[Diagnostic]:
    """The cross-key rules over one environment's merged ``services.*.deploy``."""
    out: list[Diagnostic] = []
    services = data.get("services")
    load = data.get("load")
    scenarios = load.get("scenarios") if isinstance(load, dict) else None
    for name, service in services.items() if isinstance(services, dict) else ():
        deploy = service.get("deploy") if isinstance(service, dict) else None
        if not isinstance(deploy, dict):
            continue
        at: Path_ = ("services", name, "deploy")

        def report(sub: Path_, rule: str, message: str, hint: str, at: Path_ = at) -> None:
            path = (*at, *sub)
            out.append(smap.diagnostic(rule, message, smap.value(path), display(path), hint))

        for sub, command in _commands(deploy):
            # the recipes' own reading of a command, so config check and deploy agree
            from redline.deploy.recipes import PLACEHOLDERS, unknown_placeholders

            for placeholder in unknown_placeholders(command):
                close = closest(placeholder, PLACEHOLDERS)
                report(
                    sub,
                    "unknown-placeholder",
                    f"'{{{placeholder}}}' is not filled by a deploy",
                    (f"did you mean '{{{close}}}'? " if close else "")
                    + "known: "
                    + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                    + "; write {{ and }} for literal braces",
                )
        found = deploy.get("verify")
        verify: dict[str, Any] = found if isinstance(found, dict) else {}
        listed = service.get("checks") or []
        checks = [str(c["name"]) for c in listed if isinstance(c, dict) and "name" in c]
        for i, shadow in enumerate(verify.get("shadow") or []):
            if isinstance(shadow, str) and shadow not in checks:
                close = closest(shadow, checks)
                report(
                    ("verify", "shadow", i),
                    "unknown-check",
                    f"service '{name}' has no check '{shadow}'",
                    f"did you mean '{close}'?" if close else f"its checks: {', '.join(checks)}",
                )
        soak = verify.get("soak")
        scenario = soak.get("scenario") if isinstance(soak, dict) else None
        known = list(scenarios) if isinstance(scenarios, dict) else []
        if isinstance(scenario, str) and scenario not in known:
            report(
                ("verify", "soak", "scenario"),
                "unknown-scenario",
                f"soak scenario '{scenario}' is not declared under load.scenarios",
                f"declared: {', '.join(known)}" if known else "declare it under load.scenarios",
            )
    return out


def _commands(deploy: dict[str, Any]) -> Iterator[tuple[Path_, str]]:
    for recipe, keys in _COMMANDS.items():
        section = deploy.get(recipe)
        if isinstance(section, dict):
            for key in keys:
                if isinstance(section.get(key), str):
                    yield (recipe, key), section[key]
    hooks = deploy.get("hooks")
    for hook in _HOOKS:
        commands = hooks.get(hook) if isinstance(hooks, dict) else None
        for i, command in enumerate(commands if isinstance(commands, list) else []):
            if isinstance(command, str):
                yield ("hooks", hook, i), command
