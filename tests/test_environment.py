"""EnvironmentManager: the variable contract and drift between environments."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from redline import EnvironmentManager, load_config

CONTRACT = """
project: p
variable_prefixes: [SHOP_]
environments:
  staging: {env_file: .env.staging}
  production: {env_file: .env.production, vars: {SHOP_MODE: live}}
variables:
  SHOP_DB: {type: dsn, required: true, secret: true}
  SHOP_WORKERS: {type: int, min: 1, max: 64, default: 4}
  SHOP_TIMEOUT: {type: duration, max: 60}
  SHOP_DEBUG: {type: bool}
  SHOP_URL: {type: url, required_in: [production]}
  SHOP_MODE: {type: enum, values: [test, live]}
  SHOP_REGION: {pattern: "[a-z]{2}-[a-z]+-[0-9]"}
  SHOP_RATIO: {type: float}
  SHOP_HOME: {type: path}
"""


def manager(write: Callable[..., Path], staging: str, production: str = "") -> EnvironmentManager:
    write(".env.staging", staging)
    write(".env.production", production)
    return EnvironmentManager(load_config(write("redline.yaml", CONTRACT), environ={}))


def found(diags: list) -> list[tuple[str, str, int]]:
    return [(d.rule, Path(d.file).name, d.line) for d in diags]


def test_a_good_environment_passes(write: Callable[..., Path]) -> None:
    m = manager(
        write,
        "SHOP_DB=postgresql://u@h/db\nSHOP_MODE=test\nSHOP_REGION=eu-west-1\n"
        "SHOP_DEBUG=true\nSHOP_RATIO=0.5\nSHOP_HOME=/srv\nSHOP_TIMEOUT=30s\n"
        "GITHUB_TOKEN=outside-the-prefix-is-fine\n",
    )
    assert m.check("staging") == []


def test_every_kind_of_problem_with_file_and_line(write: Callable[..., Path]) -> None:
    m = manager(
        write,
        "SHOP_WORKERS=100\nSHOP_TIMEOUT=2m\nSHOP_DEBUG=maybe\nSHOP_MODE=tets\n"
        "SHOP_REGION=EU\nSHOP_RATIO=half\nSHOP_WORKRES=3\nSHOP_WORKERS=0\nBROKEN\n",
    )
    diags = m.check("staging")
    assert sorted(found(diags)) == sorted(
        [
            ("var-missing", "redline.yaml", 7),  # SHOP_DB declared at line 7
            ("var-out-of-range", ".env.staging", 8),  # SHOP_WORKERS=0 (the last one wins)
            ("var-out-of-range", ".env.staging", 2),  # 2m > 60s
            ("var-wrong-type", ".env.staging", 3),  # maybe
            ("var-wrong-type", ".env.staging", 4),  # tets not in enum
            ("var-out-of-range", ".env.staging", 5),  # pattern
            ("var-wrong-type", ".env.staging", 6),  # half
            ("var-unknown", ".env.staging", 7),  # typo under the prefix
            ("env-duplicate-key", ".env.staging", 8),
            ("env-no-value", ".env.staging", 9),
        ]
    )
    by_rule = {d.rule: d for d in diags}
    assert by_rule["var-unknown"].hint == "did you mean 'SHOP_WORKERS'?"
    assert "did you mean 'test'" in next(d.message for d in diags if "SHOP_MODE" in d.message)


def test_required_in_applies_only_there(write: Callable[..., Path]) -> None:
    m = manager(write, "SHOP_DB=postgresql://h/db\n", "SHOP_DB=postgresql://h/prod\n")
    assert m.check("staging") == []
    assert [d.message for d in m.check("production")] == [
        "SHOP_URL is required in production but has no value"
    ]


def test_empty_values(write: Callable[..., Path]) -> None:
    m = manager(write, "SHOP_DB=\nSHOP_MODE=\n")
    diags = m.check("staging")
    assert [(d.rule, d.severity) for d in diags] == [
        ("var-empty", "error"),
        ("var-empty", "warning"),
    ]


def test_secret_values_never_appear_in_messages(write: Callable[..., Path]) -> None:
    m = manager(write, "SHOP_DB=not a dsn S3NT1NEL\n")
    [d] = m.check("staging")
    assert d.rule == "var-wrong-type"
    assert "S3NT1NEL" not in d.message + d.hint + d.source_line


def test_drift_between_environments(write: Callable[..., Path]) -> None:
    m = manager(
        write,
        "SHOP_DB=postgresql://h/S3NT1NELdb\nSHOP_WORKERS=4\nEXTRA=1\nSHOP_RATIO=0.5\n",
        "SHOP_DB=postgresql://h/S3NT1NELdb\nSHOP_WORKERS=four\nSHOP_URL=https://shop\nSHOP_RATIO=0.7\n",
    )
    report = m.diff("staging", "production")
    got = sorted((d.rule, d.message) for d in report.diagnostics)
    assert got == sorted(
        [
            ("drift-missing", "EXTRA is set in staging but not in production"),
            ("drift-missing", "SHOP_MODE is set in production but not in staging"),
            ("drift-missing", "SHOP_URL is set in production but not in staging"),
            ("drift-type", "SHOP_WORKERS is int in staging but not int in production"),
            (
                "drift-shared-secret",
                "staging's SHOP_DB and production's SHOP_DB hold the same secret value",
            ),
        ]
    )
    assert report.drifted and report.secrets_compared
    assert all("S3NT1NEL" not in d.message + d.source_line for d in report.diagnostics)


def test_no_drift(write: Callable[..., Path]) -> None:
    m = manager(write, "SHOP_DB=postgresql://h/a\nSHOP_MODE=live\n", "SHOP_DB=postgresql://h/b\n")
    report = m.diff("staging", "production")
    assert [d.message for d in report.diagnostics] == [
        "SHOP_URL is set in production but not in staging"
    ] or report.diagnostics == []


def test_a_tampered_secrets_file_is_an_error_not_a_pass(write: Callable[..., Path], tmp_path: Path) -> None:
    from redline.secrets import SecretsFile, generate_key

    key = generate_key()
    write(".env.staging", "SHOP_MODE=test\n")
    write(".env.production", "")
    path = write("redline.yaml", CONTRACT)
    sf = SecretsFile.new(tmp_path / "redline.secrets.yaml", key=key)
    sf.set("staging", "SHOP_DB", "postgresql://h/db")
    sf.save()
    environ = {"REDLINE_SECRETS_KEY": key.decode()}
    assert EnvironmentManager(load_config(path, environ=environ)).check("staging") == []
    # No key at all: a warning that secret values were not checked.
    [d] = EnvironmentManager(load_config(path, environ={})).check("staging")
    assert (d.rule, d.severity) == ("secrets-unreadable", "warning")
    # A tampered file: an error, whatever the key.
    text = (tmp_path / "redline.secrets.yaml").read_text()
    token_start = text.index("ENC[") + 10
    flipped = "A" if text[token_start] != "A" else "B"
    (tmp_path / "redline.secrets.yaml").write_text(text[:token_start] + flipped + text[token_start + 1:])
    [d] = EnvironmentManager(load_config(path, environ=environ)).check("staging")
    assert (d.rule, d.severity) == ("secrets-unreadable", "error")
