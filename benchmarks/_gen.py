"""Generate a large, valid ``redline.yaml`` for benchmarks.

>>> from _gen import generate
>>> text = generate(services=50, checks=10, envs=3)   # ~2,600 lines, block style
>>> text.count("\\n") > 2000
True

The file looks like a real fleet's config: a variable contract, per-environment
``vars`` and service overrides, services that depend on earlier ones (so the
graph is acyclic), and checks mixing http, tcp, postgres, redis and command
probes with ``${VAR}`` interpolation, timeouts, retries and latency limits.
The output is deterministic for given arguments, so figures are comparable.

Run it as a script to write a file: ``python benchmarks/_gen.py > redline.yaml``
(``--services``, ``--checks``, ``--envs`` change the size).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["generate"]

_ENV_NAMES = ("local", "staging", "production", "canary", "perf", "dr", "qa", "demo")
_BASES = (
    "api", "auth", "billing", "catalog", "search", "orders", "payments", "inventory",
    "notify", "gateway",
)  # fmt: skip
_KINDS = ("api", "db", "cache", "worker", "api")
_LATENCIES = ("100ms", "250ms", "500ms", "1s")
_TIMEOUTS = ("2s", "5s", "10s")
_PATHS = ("health", "ready", "live", "metrics", "version", "status")


def _service_names(count: int) -> list[str]:
    return [f"{_BASES[i % len(_BASES)]}-{i:02d}" for i in range(count)]


def _var(name: str) -> str:
    return f"SVC_{name.upper().replace('-', '_')}_PORT"


def _check(svc: str, index: int, kind: str) -> list[str]:
    """One check as block-style lines (indented for a service's ``checks:`` list)."""
    port = "${" + _var(svc) + "}"
    rotation = {
        "api": ("http", "http", "http", "tcp", "command"),
        "db": ("postgres", "tcp", "postgres", "command", "http"),
        "cache": ("redis", "tcp", "redis", "http", "command"),
        "worker": ("command", "http", "redis", "tcp", "postgres"),
    }[kind]
    protocol = rotation[index % len(rotation)]
    # Names are optional; about a third of checks go without one, as in real files.
    fields = [] if index % 3 == 2 else [f"name: {protocol}-{index}"]
    if index % 3 == 0:
        fields.append(f"timeout: {_TIMEOUTS[index % len(_TIMEOUTS)]}")
    if index % 4 == 1:
        fields.append(f"retries: {1 + index % 3}")
    if index % 7 == 6:
        fields.append("severity: warning")
    fields.append(f"{protocol}:")
    lines = [f"- {fields[0]}", *(f"  {f}" for f in fields[1:])]
    if protocol == "http":
        path = _PATHS[index % len(_PATHS)]
        lines += [
            f'    url: "${{API_HOST}}:{port}/{svc}/{path}"',
            f"    status: {'2xx' if index % 2 else 200}",
            f"    max_latency: {_LATENCIES[index % len(_LATENCIES)]}",
        ]
        if index % 5 == 0:
            lines.append('    contains: "ok"')
    elif protocol == "tcp":
        lines += [f'    host: "{svc}.${{INTERNAL_DOMAIN}}"', f'    port: "{port}"']
    elif protocol == "postgres":
        lines += ['    dsn: "${DATABASE_URL}"']
        if index % 2:
            lines.append(f"    query: SELECT count(*) FROM {svc.replace('-', '_')}_jobs")
    elif protocol == "redis":
        lines += ['    url: "${REDIS_URL}"']
    else:
        lines += [f"    run: ./bin/healthcheck --service {svc} --level ${{LOG_LEVEL}}"]
    return lines


def _service(i: int, name: str, names: list[str], checks: int) -> list[str]:
    kind = _KINDS[i % len(_KINDS)]
    lines = [f"  {name}:", f"    kind: {kind}"]
    if i % 2 == 0:
        lines.append(f'    description: "{name} ({kind}), owned by team {_BASES[i % 4]}"')
    deps = sorted({names[i - 1], names[i // 2]}) if i else []
    if deps:
        lines.append(f"    depends_on: [{', '.join(deps)}]")
    lines.append("    checks:")
    for c in range(checks):
        lines += [f"      {line}" for line in _check(name, c, kind)]
    return lines


def _env_vars(env: str, e: int, names: list[str]) -> list[str]:
    host = "127.0.0.1" if env == "local" else f"{env}.internal.example.com"
    lines = [
        f"  {env}:",
        f"    description: {env} deployment",
        "    vars:",
        f'      API_HOST: "http://{host}"',
        f'      INTERNAL_DOMAIN: "{env}.svc.cluster.local"',
        f'      REDIS_URL: "redis://cache.{env}.svc.cluster.local:6379/0"',
        f'      LOG_LEVEL: "{"debug" if env == "local" else "info"}"',
    ]
    return lines


def _env_overrides(e: int, names: list[str]) -> list[str]:
    """A few services differ per environment: a url, a description, a stricter check list."""
    if e == 0 or len(names) < 3:
        return []
    picked = names[e :: max(1, len(names) // 3)][:3]
    lines = ["    services:"]
    for j, name in enumerate(picked):
        lines.append(f"      {name}:")
        if j == 0:
            lines.append(f'        url: "${{API_HOST}}/{name}"')
        elif j == 1:
            lines.append(f'        description: "{name}, scaled out in this environment"')
        else:
            lines += [
                "        checks:",
                "          - name: http-0",
                "            timeout: 1s",
                "            retries: 3",
                "            http:",
                f'              url: "${{API_HOST}}/{name}/health"',
                "              status: 200",
                "              max_latency: 150ms",
            ]
    return lines


def generate(services: int = 50, checks: int = 10, envs: int = 3) -> str:
    """A valid ``redline.yaml`` of ``services`` x ``checks`` x ``envs``, as text."""
    if not 1 <= envs <= len(_ENV_NAMES):
        raise ValueError(f"envs must be 1..{len(_ENV_NAMES)}")
    names = _service_names(services)
    env_names = _ENV_NAMES[:envs]
    lines = [
        "# Generated by benchmarks/_gen.py: "
        f"{services} services x {checks} checks x {envs} environments.",
        "project: benchmark-fleet",
        "",
        "environments:",
    ]
    for e, env in enumerate(env_names):
        lines += _env_vars(env, e, names)
        lines += _env_overrides(e, names)
    lines += [
        "",
        "variables:",
        "  API_HOST:",
        "    type: url",
        "    required: true",
        "    description: Base URL of the edge",
        "  INTERNAL_DOMAIN:",
        "    type: str",
        "    required: true",
        "  DATABASE_URL:",
        "    type: dsn",
        f"    required_in: [{', '.join(env_names[1:])}]" if envs > 1 else "    required: false",
        '    default: "postgresql://app@127.0.0.1:5432/app"',
        "  REDIS_URL:",
        "    type: url",
        "    required: true",
        "  LOG_LEVEL:",
        "    type: enum",
        "    values: [debug, info, warning, error]",
        "    default: info",
    ]
    lines += [
        f"  {_var(n)}: {{type: int, min: 1, max: 65535, default: {8000 + i}}}"
        for i, n in enumerate(names)
    ]
    lines += ["", "services:"]
    for i, name in enumerate(names):
        lines += _service(i, name, names, checks)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--checks", type=int, default=10)
    parser.add_argument("--envs", type=int, default=3)
    args = parser.parse_args(argv)
    sys.stdout.write(generate(args.services, args.checks, args.envs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
