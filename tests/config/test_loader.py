"""The config loader: valid files resolve per environment; every mistake is one diagnostic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from redline import ConfigInvalidError, ConfigNotFoundError, load_config
from redline.config.loader import check_config


def rules(diags: list) -> list[str]:
    return [d.rule for d in diags]


def test_issue_example_resolves_per_environment(shop: Path) -> None:
    loaded = load_config(shop, environ={})
    assert loaded.environment_names() == ["local", "staging"]
    local = loaded.config("local")
    assert local.services["api"].checks[0].http is not None
    assert local.services["api"].checks[0].http.url == "http://127.0.0.1:8000/health"
    assert local.services["api"].checks[0].http.max_latency == pytest.approx(0.1)
    assert local.services["api"].depends_on == ["db"]
    staging = loaded.config("staging")
    assert staging.services["api"].checks[0].http.url == "http://10.0.0.5:8000/health"


def test_process_environment_wins_over_every_file(shop: Path) -> None:
    loaded = load_config(shop, environ={"API_URL": "http://from-ci:1"})
    assert loaded.config("staging").services["api"].checks[0].http.url == "http://from-ci:1/health"
    winner = loaded.sources("staging").candidates("API_URL")
    assert [v.layer for v in winner] == ["process", "env_file"]


def test_precedence_vars_over_env_file_over_default(write: Callable[..., Path]) -> None:
    write(".env", "A=file\nB=file\n")
    path = write(
        "redline.yaml",
        """
        project: p
        environments:
          e: {env_file: .env, vars: {A: vars}}
        variables:
          A: {default: dflt}
          B: {default: dflt}
          C: {default: dflt}
        services:
          s:
            checks:
              - command: {run: "echo ${A} ${B} ${C} ${D:-none} $${A}"}
    """,
    )
    cfg = load_config(path, environ={}).config("e")
    assert cfg.services["s"].checks[0].command.run == "echo vars file dflt none ${A}"


def test_environment_overrides_merge_into_services(write: Callable[..., Path]) -> None:
    path = write(
        "redline.yaml",
        """
        project: p
        environments:
          prod:
            services:
              api:
                url: https://prod.example
                checks:
                  - tcp: {host: prod, port: 443}
          dev: {}
        services:
          api:
            url: http://dev
            kind: api
            checks:
              - http: {url: http://dev/health}
    """,
    )
    loaded = load_config(path, environ={})
    prod = loaded.config("prod").services["api"]
    assert prod.url == "https://prod.example"
    assert prod.kind == "api"
    assert [c.protocol for c in prod.checks] == ["tcp"]
    assert loaded.config("dev").services["api"].url == "http://dev"


def test_error_inside_an_override_points_at_the_override(write: Callable[..., Path]) -> None:
    path = write(
        "redline.yaml",
        """
        project: p
        environments:
          prod:
            services:
              api: {checks: [{http: {url: x, max_latency: fast}}]}
        services:
          api: {checks: [{http: {url: y}}]}
    """,
    )
    _, diags = check_config(path, environ={})
    [d] = diags
    assert d.rule == "bad-duration"
    assert (d.line, d.path) == (5, "environments.prod.services.api.checks[0].http.max_latency")


def test_seven_independent_mistakes_yield_exactly_seven_diagnostics(
    write: Callable[..., Path],
) -> None:
    path = write(
        "redline.yaml",
        """
        project: shop
        environments:
          local: {vars: {API_URL: "http://127.0.0.1:8000"}}
          staging: {vars: {API_URL: "http://10.0.0.5"}}
        variables:
          WORKERS: {type: integer, default: 4}
        services:
          api:
            depends_on: [db, cache]
            checks:
              - name: health
                http: {url: "${API_URL}/health", max_latency: 100}
                retries: many
          db:
            chekcs: []
            checks:
              - postgres: {dsn: "${DB_URL}"}
          db:
            kind: x
    """,
    )
    _, diags = check_config(path, environ={})
    assert sorted(rules(diags)) == sorted(
        [
            "invalid-value",  # type: integer
            "unknown-dependency",  # cache
            "bad-duration",  # max_latency: 100
            "wrong-type",  # retries: many
            "unknown-key",  # chekcs
            "undefined-variable",  # ${DB_URL}
            "duplicate-key",  # db twice
        ]
    )
    for d in diags:
        assert (
            d.file.endswith("redline.yaml") and d.line > 0 and d.col > 0 and d.code.startswith("RL")
        )
    by_rule = {d.rule: d for d in diags}
    assert by_rule["unknown-key"].hint == "did you mean 'checks'?"
    assert by_rule["unknown-key"].line == 15
    assert by_rule["invalid-value"].hint.startswith("did you mean 'int'?")
    assert by_rule["duplicate-key"].message.startswith("key 'db' appears twice")
    assert by_rule["undefined-variable"].path == "services.db.checks[0].postgres.dsn"
    # The same mistake in both environments is reported once, not once per environment.
    assert "(in environment" not in by_rule["undefined-variable"].message


def test_mistake_in_one_environment_names_it(write: Callable[..., Path]) -> None:
    path = write(
        "redline.yaml",
        """
        project: p
        environments:
          a: {vars: {URL: "http://a"}}
          b: {}
        services:
          s: {checks: [{http: {url: "${URL}"}}]}
    """,
    )
    _, diags = check_config(path, environ={})
    [d] = diags
    assert d.rule == "undefined-variable"
    assert d.message.endswith("(in environment b)")


def test_duplicate_keys_at_any_depth(write: Callable[..., Path]) -> None:
    path = write(
        "redline.yaml",
        """
        project: p
        project: q
        services:
          s:
            checks:
              - http:
                  url: http://x
                  url: http://y
    """,
    )
    _, diags = check_config(path, environ={})
    assert [(d.rule, d.line) for d in diags] == [("duplicate-key", 2), ("duplicate-key", 8)]


def test_tabs_are_reported_per_line_and_the_rest_still_checked(tmp_path: Path) -> None:
    path = tmp_path / "redline.yaml"
    path.write_text("project: p\nservices:\n\ts:\n\t\tkind: api\n\t\tbogus: 1\n")
    _, diags = check_config(path, environ={})
    assert [(d.rule, d.line) for d in diags] == [
        ("tab-indent", 3),
        ("tab-indent", 4),
        ("tab-indent", 5),
        ("unknown-key", 5),
    ]


def test_malformed_yaml_gives_line_and_column(write: Callable[..., Path]) -> None:
    path = write(
        "redline.yaml",
        """
        project: p
        services:
          api: {checks: [
        other: 1
    """,
    )
    loaded, diags = check_config(path, environ={})
    assert loaded is None
    [d] = diags
    assert d.rule == "yaml-syntax" and d.line >= 3 and d.col > 0 and d.hint


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("- a\n- b\n", "not-a-mapping"),
        ("project: p\nservices: [1]\n", "wrong-type"),
        ("project: p\nservices: {s: {checks: [{}]}}\n", "check-protocol"),
        ("project: p\nservices: {s: {checks: [{tcp: {host: h}}]}}\n", "missing-key"),
        ("project: p\nservices: {s: {depends_on: [s]}}\n", "dependency-cycle"),
        ("project: p\nservices: {s: {checks: [{http: {url: 'x${'}}]}}\n", "bad-interpolation"),
        ("project: p\nenvironments: {e: {services: {nope: {}}}}\n", "unknown-service"),
        ("project: p\nenvironments: {e: {env_file: missing.env}}\n", "missing-file"),
        ("project: p\nvariables: {X: {required_in: [prod]}}\n", "unknown-environment"),
        ("project: p\nvariables: {X: {type: enum}}\n", "invalid-value"),
        ("project: p\nvariables: {1X: {}}\n", "invalid-value"),
        ("project: p\nservices: {s: {checks: [{http: {url: u, status: 99}}]}}\n", "invalid-value"),
        (
            "project: p\nservices: {s: {checks: [{http: {url: u, max_body: lots}}]}}\n",
            "bad-duration",
        ),
    ],
)
def test_each_rule(tmp_path: Path, text: str, rule: str) -> None:
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    _, diags = check_config(path, environ={})
    assert rules(diags) == [rule], diags


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigNotFoundError) as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.exit_code == 5
    assert "redline init" in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigNotFoundError, match="is a directory"):
        load_config(tmp_path)
    with pytest.raises(ConfigNotFoundError, match="cannot read"):
        load_config("/proc/self/mem")  # reading it fails even for root
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"project: caf\xe9\n")
    _, diags = check_config(bad)
    assert [(d.rule, d.line, d.col) for d in diags] == [("file-unreadable", 1, 13)]


def test_load_config_raises_with_every_diagnostic(write: Callable[..., Path]) -> None:
    path = write("redline.yaml", "project: p\nbogus: 1\nservices: {s: {kindd: x}}\n")
    with pytest.raises(ConfigInvalidError) as info:
        load_config(path)
    assert len(info.value.diagnostics) == 2
    assert info.value.exit_code == 5


def test_env_required_when_several(shop: Path) -> None:
    loaded = load_config(shop, environ={})
    with pytest.raises(ConfigInvalidError, match="choose one with --env"):
        loaded.config()
    with pytest.raises(ConfigInvalidError, match="did you mean 'staging'"):
        loaded.config("stagin")


def test_alias_bomb_stays_cheap(tmp_path: Path) -> None:
    lines = ["project: p", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 30)]
    path = tmp_path / "redline.yaml"
    path.write_text("\n".join(lines) + "\n")
    _, diags = check_config(path, environ={})
    assert {d.rule for d in diags} == {"unknown-key"}


def test_merge_keys(write: Callable[..., Path]) -> None:
    path = write(
        "redline.yaml",
        """
        project: p
        x-check: &check {timeout: 2s, retries: 1}
        services:
          s:
            checks:
              - <<: *check
                http: {url: http://h}
    """,
    )
    loaded, diags = check_config(path, environ={})
    assert diags == []
    assert loaded is not None
    check = loaded.config().services["s"].checks[0]
    assert (check.timeout, check.retries) == (2.0, 1)


def test_store_url_precedence(write: Callable[..., Path], tmp_path: Path) -> None:
    path = write("redline.yaml", """
        project: p
        store: sqlite:///data/${DB:-main}.db
        environments:
          a: {store: "postgresql://u:pw@db/a"}
          b: {}
    """)
    loaded = load_config(path, environ={})
    assert loaded.store_url("a") == "postgresql://u:pw@db/a"
    assert loaded.store_url("b") == f"sqlite:///{tmp_path}/data/main.db"  # beside the config
    assert loaded.store_url("b", cli_value="sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(ConfigInvalidError, match="choose one with --env"):
        loaded.store_url()  # the top-level store needs a variable: which environment's?
    env_loaded = load_config(path, environ={"REDLINE_STORE_URL": "sqlite:///env.db", "DB": "x"})
    assert env_loaded.store_url("a") == "sqlite:///env.db"
    plain = write("plain.yaml", "project: p\n")
    assert load_config(plain, environ={}).store_url() == f"sqlite:///{tmp_path}/.redline/redline.db"
