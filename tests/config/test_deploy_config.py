"""`deploy:` per service: one recipe, hooks, the schema guard, verification; and its diagnostics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from redline.config.loader import check_config, load_config

GOOD = """\
project: shop
environments:
  prod: {}
deploy: {lock_ttl: 10m, max_consecutive_auto_rollbacks: 3}
load:
  scenarios:
    smoke: {target: api, executor: constant-arrival-rate, rate: 5/s, duration: 5s,
            requests: [{path: /}]}
services:
  api:
    url: http://127.0.0.1:8000
    checks:
      - name: health
        http: {url: "http://127.0.0.1:8000/health"}
      - name: items
        http: {url: "http://127.0.0.1:8000/items"}
    deploy:
      releases:
        root: /srv/api
        populate: "tar -xzf /artifacts/api-{version}.tgz -C {release_dir}"
        shared: [log, config/app.env]
        reload: "kill -HUP $(cat {current}/pid)"
      hooks:
        before_switch: ["./migrate.sh {version} {env}"]
      schema: {dsn: "postgresql://app@db/app", min: "0003", max: 5}
      verify:
        smoke: {deadline: 90s}
        soak: {duration: 2m, interval: 20s, scenario: smoke,
               thresholds: {http_req_duration: ["p(95)<300"]}}
        policy: {failure_limit: 1, inconclusive: hold}
        shadow: [items]
  worker:
    deploy:
      command: {deploy: "./deploy.sh {service} {version}", rollback: "./deploy.sh {previous_version}"}
"""


def test_a_full_deploy_section_resolves(write: Callable[..., Path]) -> None:
    config = load_config(write("redline.yaml", GOOD), environ={}).config("prod")
    api = config.services["api"].deploy
    assert api is not None and api.releases is not None and api.command is None
    assert api.releases.shared == ["log", "config/app.env"] and api.releases.keep_releases == 5
    assert api.schema_ is not None and (api.schema_.min, api.schema_.max) == ("0003", "5")
    assert api.verify.smoke.deadline == 90.0
    assert api.verify.soak is not None and api.verify.soak.interval == 20.0
    assert api.verify.policy.failure_limit == 1 and api.verify.policy.inconclusive == "hold"
    assert api.verify.shadow == ["items"]
    worker = config.services["worker"].deploy
    assert worker is not None and worker.command is not None
    assert worker.command.timeout == 600.0 and worker.verify.soak is None
    assert (config.deploy.lock_ttl, config.deploy.max_consecutive_auto_rollbacks) == (600.0, 3)


def _problems(write: Callable[..., Path], text: str) -> list[tuple[str, str, str]]:
    _, diags = check_config(write("redline.yaml", text), environ={})
    return [(d.code, d.rule, d.message) for d in diags if d.severity == "error"]


def test_one_recipe_not_both_or_neither(write: Callable[..., Path]) -> None:
    both = GOOD.replace(
        '      command: {deploy: "./deploy.sh {service} {version}", rollback: "./deploy.sh {previous_version}"}',
        '      command: {deploy: "x"}\n      releases: {root: /srv, populate: y}',
    )
    [(code, _, message)] = _problems(write, both)
    assert code == "RL107" and "one recipe" in message
    neither = GOOD.replace(
        '      command: {deploy: "./deploy.sh {service} {version}", rollback: "./deploy.sh {previous_version}"}',
        "      hooks: {}",
    )
    [(code, _, message)] = _problems(write, neither)
    assert "one recipe" in message


def test_unknown_placeholders_checks_and_scenarios_are_named(write: Callable[..., Path]) -> None:
    bad = (
        GOOD.replace("{release_dir}", "{releasedir}")
        .replace("./migrate.sh {version}", "./migrate.sh {verison}")
        .replace("shadow: [items]", "shadow: [itemz]")
        .replace("scenario: smoke", "scenario: smok")
    )
    found = _problems(write, bad)
    assert sorted((c, r) for c, r, _ in found) == [
        ("RL122", "unknown-scenario"),
        ("RL123", "unknown-placeholder"),
        ("RL123", "unknown-placeholder"),
        ("RL124", "unknown-check"),
    ]
    messages = " | ".join(m for _, _, m in found)
    assert "'{releasedir}'" in messages and "'{verison}'" in messages
    assert "no check 'itemz'" in messages and "'smok'" in messages


def test_literal_braces_are_not_placeholders(write: Callable[..., Path]) -> None:
    text = GOOD.replace("./deploy.sh {service} {version}", "./deploy.sh {version} '{{json}}'")
    assert _problems(write, text) == []


def test_unknown_keys_and_bad_values(write: Callable[..., Path]) -> None:
    text = GOOD.replace("policy: {failure_limit: 1, inconclusive: hold}",
                        "policy: {failure_limit: -1, inconclusive: wait, retries: 2}")  # fmt: skip
    rules = sorted(r for _, r, _ in _problems(write, text))
    assert rules.count("unknown-key") == 1 and len(rules) == 3


def test_shell_braces_are_left_alone(write: Callable[..., Path]) -> None:
    text = GOOD.replace(
        "./deploy.sh {service} {version}",
        "./deploy.sh {version} && awk '{print $1}' /tmp/x && echo {a,b}",
    )
    assert _problems(write, text) == []
