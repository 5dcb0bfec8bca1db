"""A secret value never appears in any output, exception, report or stored row.

Sentinel values are set through every source a secret can come from (the encrypted
secrets file, an env_file, the process environment) and every command is run,
including its error paths; only `redline secrets get` may print one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from redline import ConfigInvalidError, EnvironmentManager, load_config
from redline.redact import REDACTOR
from redline.secrets import SecretsFile, generate_key
from tests.helpers import CliResult

Cli = Callable[..., CliResult]
IN_FILE = "S3NT1NEL-secrets-file-0a1b2c"
IN_ENV_FILE = "S3NT1NEL-env-file-3d4e5f"
IN_PROCESS = "S3NT1NEL-process-6a7b8c"
SENTINELS = (IN_FILE, IN_ENV_FILE, IN_PROCESS)

CONFIG = """
project: leaks
environments:
  staging: {env_file: .env.staging}
  production: {env_file: .env.production}
variables:
  DB_URL: {type: dsn, required: true, secret: true}
  API_TOKEN: {required: true, secret: true}
  SHARED: {secret: true, pattern: "[0-9]+"}
services:
  api:
    checks:
      - http: {url: "http://127.0.0.1:1/health?token=${API_TOKEN}", headers: {X-Key: "${SHARED}"}}
  db:
    checks:
      - postgres: {dsn: "postgresql://app:${DB_URL}@db/x"}
"""


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    yield
    REDACTOR.clear()


@pytest.fixture
def project(tmp_path: Path, write: Callable[..., Path]) -> dict[str, str]:
    key = generate_key()
    write("redline.yaml", CONFIG)
    write(".env.staging", f"API_TOKEN={IN_ENV_FILE}\nSHARED={IN_ENV_FILE}\n")
    write(".env.production", f"API_TOKEN={IN_ENV_FILE}\n")
    sf = SecretsFile.new(tmp_path / "redline.secrets.yaml", key=key)
    sf.set("staging", "DB_URL", IN_FILE)  # not a dsn: env check must say so without showing it
    sf.set("production", "DB_URL", IN_FILE)
    sf.save()
    return {"REDLINE_SECRETS_KEY": key.decode(), "SHARED": IN_PROCESS}


def assert_clean(*texts: str) -> None:
    for text in texts:
        for sentinel in SENTINELS:
            assert sentinel not in text, f"{sentinel} leaked into:\n{text}"


COMMANDS = [
    ("config", "check"),
    ("config", "check", "--json"),
    ("config", "check", "--format", "github"),
    ("config", "show", "--env", "staging"),
    ("config", "show", "--env", "production", "--json"),
    ("config", "explain", "DB_URL", "--env", "staging"),
    ("config", "explain", "API_TOKEN", "--env", "staging", "--json"),
    ("config", "explain", "SHARED", "--env", "staging"),
    ("config", "explain", "services.api.checks[0].http.url", "--env", "staging"),
    ("config", "explain", "services.db.checks[0].postgres.dsn", "--env", "production", "--json"),
    ("env", "check"),
    ("env", "check", "--json"),
    ("env", "check", "--format", "github"),
    ("env", "diff", "staging", "production"),
    ("env", "diff", "staging", "production", "--json"),
    ("secrets", "list"),
    ("secrets", "list", "--json"),
    ("secrets", "check"),
    ("secrets", "check", "--json"),
    ("store", "info"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_no_command_prints_a_secret(
    cli: Cli, project: dict[str, str], args: tuple[str, ...]
) -> None:
    r = cli(*args, env=project)
    assert "Traceback" not in r.err
    assert r.code in (0, 1, 5), r.text
    assert_clean(r.out, r.err)


def test_the_findings_are_real(cli: Cli, project: dict[str, str]) -> None:
    """The commands above do see the secrets: they report on them by name."""
    r = cli("env", "check", "--env", "staging", env=project)
    assert r.code == 1
    assert "DB_URL must be dsn: its value is not" in r.err
    assert "SHARED: its value does not match the pattern" in r.err
    r = cli("env", "diff", "staging", "production", env=project)
    assert "staging's DB_URL and production's DB_URL hold the same secret value" in r.out
    assert_clean(r.out, r.err)


def test_only_get_reveals(cli: Cli, project: dict[str, str]) -> None:
    r = cli("secrets", "get", "DB_URL", "--env", "staging", env=project)
    assert r.code == 0 and r.out.strip() == IN_FILE


def test_error_paths(cli: Cli, project: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "redline.yaml"
    text = path.read_text().replace("checks:\n      - http", "checkz:\n      - http", 1)
    path.write_text(
        text + "  bad:\n    checks: [{command: {run: 'echo ${API_TOKEN}', exit_code: x}}]\n"
    )
    for args in (
        ("config", "check"),
        ("config", "show", "--env", "staging"),
        ("env", "check", "--env", "staging"),
        ("config", "explain", "X", "--env", "staging"),
    ):
        r = cli(*args, env=project)
        assert r.code == 5, r.text
        assert "Traceback" not in r.err
        assert_clean(r.out, r.err)


def test_exceptions_and_library_results_hold_no_secret(
    project: dict[str, str], tmp_path: Path
) -> None:
    environ = dict(project)
    loaded = load_config(tmp_path / "redline.yaml", environ=environ)
    for env in ("staging", "production"):
        shown = repr(loaded.resolved(env))
        assert_clean(shown)
        cfg = loaded.runtime_config(env)  # real values, for the probes
        assert IN_FILE in cfg.services["db"].checks[0].postgres.dsn  # type: ignore[union-attr]
        assert IN_FILE in REDACTOR  # ... and known to the redactor from then on
    manager = EnvironmentManager(loaded)
    for d in manager.check("staging") + manager.diff("staging", "production").diagnostics:
        assert_clean(d.message, d.hint, d.source_line, repr(d))
    (tmp_path / ".env.staging").write_text(f"API_TOKEN={IN_ENV_FILE}\nSHARED=\n[{IN_ENV_FILE}\n")
    bad = load_config(tmp_path / "redline.yaml", environ=environ)
    with pytest.raises(ConfigInvalidError) as info:
        bad.config("nope")
    assert_clean(str(info.value), repr(info.value))
    for d in EnvironmentManager(bad).check("staging"):
        assert_clean(REDACTOR.scrub(d.one_line() + d.source_line))


def test_store_rows_hold_no_secret(cli: Cli, tmp_path: Path) -> None:
    """The demo records a run; neither the admin token nor any secret is in the store."""
    r = cli("demo", "--keep", "--json")
    assert r.code == 0, r.text
    try:
        token = (tmp_path / "redline-demo" / "system" / "admin-token").read_text().strip()
    finally:
        cli("demo", "--stop")
    data = (tmp_path / "redline-demo" / ".redline" / "redline.db").read_bytes()
    wal = tmp_path / "redline-demo" / ".redline" / "redline.db-wal"
    if wal.exists():
        data += wal.read_bytes()
    assert token.encode() not in data
    assert token not in r.text
    assert token not in (tmp_path / "redline-demo" / "redline.secrets.yaml").read_text()


def test_a_secret_in_a_typed_field_is_masked(cli: Cli, write: Callable[..., Path]) -> None:
    """A secret from an env_file, vars or the process environment, expanded where a duration,
    a status or a date belongs, is reported without its value."""
    write(".env.s", f"API_TOKEN={IN_ENV_FILE}\n")
    write("redline.yaml", """
        project: p
        environments: {s: {env_file: .env.s, vars: {OTHER: x}}}
        variables: {API_TOKEN: {secret: true}, ALSO: {secret: true}}
        services:
          a:
            checks:
              - http: {url: "http://x/${ALSO}", max_latency: "${API_TOKEN}", status: "${API_TOKEN}"}
                waiver: {reason: r, until: "${ALSO}"}
    """)
    for args in (("config", "check"), ("config", "check", "--json"), ("config", "show", "--env", "s"),
                 ("validate", "--env", "s", "--no-store")):
        r = cli(*args, env={"ALSO": IN_PROCESS})
        assert r.code == 5, r.text
        assert "'***' is not a duration" in r.text
        assert_clean(r.out, r.err)


def test_logging_is_scrubbed(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import logging, sys\n"
        "from redline.cli import main\n"
        "from redline.redact import REDACTOR\n"
        f"REDACTOR.add({IN_PROCESS!r})\n"
        "logging.basicConfig(stream=sys.stderr)\n"
        "import redline.cli as c\n"
        "from redline.redact import install_log_filter\n"
        "install_log_filter()\n"
        f"logging.getLogger('some.library').warning('connecting with %s', {IN_PROCESS!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "connecting with ***" in proc.stderr
    assert_clean(proc.stderr)
