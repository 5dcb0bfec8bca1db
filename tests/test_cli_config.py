"""`redline init`, `redline config ...` and `redline env ...`, run as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.helpers import CliResult, run_cli

Cli = Callable[..., CliResult]


def test_init_then_check_is_clean(cli: Cli, tmp_path: Path) -> None:
    r = cli("init", "--project", "shop")
    assert r.code == 0, r.text
    assert "wrote redline.yaml" in r.out
    text = (tmp_path / "redline.yaml").read_text()
    assert text.startswith("# redline.yaml") and 'project: "shop"' in text
    r = cli("init")
    assert r.code == 2 and "already exists" in r.err and "--force" in r.err
    r = cli("config", "check")
    assert r.code == 0, r.text
    assert r.out.startswith("redline.yaml: ok (1 services; local)")


def test_check_reports_every_problem_and_exits_5(cli: Cli, write: Callable[..., Path]) -> None:
    write("redline.yaml", "project: p\nservices:\n  api:\n    chekcs: []\n    depends_on: [db]\n")
    r = cli("config", "check")
    assert r.code == 5
    assert "Traceback" not in r.text
    assert "redline.yaml:4:5: error RL104 [unknown-key] at services.api.chekcs" in r.err
    assert "hint: did you mean 'checks'?" in r.err
    assert "RL110" in r.err and "2 error(s)" in r.err

    doc = cli("config", "check", "--json").json()
    assert doc["ok"] is False and doc["errors"] == 2
    assert {d["code"] for d in doc["diagnostics"]} == {"RL104", "RL110"}

    gh = cli("config", "check", "--format", "github")
    assert gh.code == 5
    assert gh.out.splitlines()[0].startswith("::error file=redline.yaml,line=4,col=5,title=RL104")


def test_config_path_from_flag_and_environment(cli: Cli, write: Callable[..., Path]) -> None:
    write("conf/app.yaml", "project: p\n")
    assert cli("-c", "conf/app.yaml", "config", "check").code == 0
    assert cli("config", "check", "-c", "conf/app.yaml").code == 0
    assert cli("config", "check", env={"REDLINE_CONFIG": "conf/app.yaml"}).code == 0
    r = cli("config", "check")
    assert r.code == 5
    assert "error: no config file at redline.yaml" in r.err
    assert "redline init" in r.err and "Traceback" not in r.err
    r = cli("config", "check", "--json")
    assert r.code == 5 and r.json()["error"]["type"] == "ConfigNotFoundError"


def test_show_resolves_and_masks_secrets(cli: Cli, shop: Path) -> None:
    r = cli("config", "show", "--env", "staging")
    assert r.code == 0, r.text
    assert "url: http://10.0.0.5:8000/health" in r.out
    assert "dsn: '***'" in r.out
    assert "app@db" not in r.out
    doc = cli("config", "show", "--env", "local", "--json").json()
    assert (
        doc["config"]["services"]["api"]["checks"][0]["http"]["url"]
        == "http://127.0.0.1:8000/health"
    )
    r = cli("config", "show")
    assert r.code == 2 and "choose one with --env" in r.err


def test_explain_variable_and_key(cli: Cli, shop: Path) -> None:
    r = cli("config", "explain", "API_URL", "--env", "staging", env={"API_URL": "http://ci:1"})
    assert r.code == 0, r.text
    assert "API_URL = http://ci:1" in r.out
    assert "set by:  process environment\n" in r.out
    assert "shadows: env_file at .env.staging:1:9 = http://10.0.0.5:8000" in r.out
    assert "used at: services.api.checks[0].http.url" in r.out

    doc = cli(
        "config", "explain", "services.api.checks[0].http.url", "--env", "local", "--json"
    ).json()
    assert doc["value"] == "http://127.0.0.1:8000/health"
    assert doc["written_as"] == "${API_URL}/health"
    assert doc["set_at"].endswith("redline.yaml:13:21")
    assert doc["variables"][0]["where"].endswith("redline.yaml:3:27")

    secret = cli("config", "explain", "DATABASE_URL", "--env", "staging")
    assert secret.code == 0 and "DATABASE_URL = ***" in secret.out and "app@db" not in secret.text
    assert cli("config", "explain", "services.nope", "--env", "local").code == 2


def test_schema_is_json_schema_for_editors(cli: Cli) -> None:
    r = cli("config", "schema")
    assert r.code == 0
    schema = json.loads(r.out)
    assert schema["title"] == "redline.yaml"
    assert "services" in schema["properties"]
    http = schema["$defs"]["HttpCheck"]["properties"]
    assert http["max_latency"]["anyOf"][0]["type"] == "string"


def test_env_check_and_diff_exit_codes(cli: Cli, shop: Path, write: Callable[..., Path]) -> None:
    r = cli("env", "check", "--env", "local")
    assert r.code == 1
    assert "RL210 [var-missing] at variables.DATABASE_URL" in r.err
    assert cli("env", "check", "--env", "staging").code == 0
    doc = cli("env", "check", "--json").json()
    assert doc["environments"] == ["local", "staging"] and doc["errors"] == 1
    r = cli("env", "diff", "local", "staging")
    assert r.code == 1
    assert "DATABASE_URL is set in staging but not in local" in r.out
    assert cli("env", "check", "--env", "prod").code == 2


def test_dotenv_problems_through_the_cli(cli: Cli, shop: Path, write: Callable[..., Path]) -> None:
    write(".env.staging", "API_URL=http://x\nAPI_URL=http://y\nDATABASE_URL='postgresql://open\n")
    r = cli("env", "check", "--env", "staging")
    assert r.code == 1
    assert ".env.staging:2:1: error RL201 [env-duplicate-key]" in r.err
    assert ".env.staging:3:" in r.err and "RL203" in r.err
    assert "postgresql://open" not in r.err  # the line sets a secret: shown masked


def test_internal_errors_are_short_and_masked(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from redline.redact import REDACTOR\n"
        "from redline.cli._output import handle_errors\n"
        "REDACTOR.add('S3NT1NEL-secret')\n"
        "def boom(): raise RuntimeError('failed with S3NT1NEL-secret inside')\n"
        "sys.exit(handle_errors(boom, []))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 70
    assert "internal error: RuntimeError: failed with *** inside" in proc.stderr
    assert "S3NT1NEL" not in proc.stderr and "Traceback" not in proc.stderr


def test_usage_mistakes(cli: Cli) -> None:
    r = cli()
    assert r.code == 0 and r.out.startswith("Usage: redline") and "Exit codes" in r.out
    r = cli("confg")
    assert r.code == 2 and "Did you mean 'config'?" in r.err and "Traceback" not in r.err
    r = cli("config", "check", "--bogus")
    assert r.code == 2 and "No such option '--bogus'" in r.err
    assert "see `redline config check --help`" in r.err


def test_store_commands_use_the_configs_store(
    cli: Cli, write: Callable[..., Path], tmp_path: Path
) -> None:
    write("redline.yaml", "project: p\nstore: sqlite:///state/r.db\n")
    r = cli("store", "upgrade", "--json")
    assert r.code == 0, r.text
    assert (tmp_path / "state" / "r.db").exists()
    doc = cli("store", "info", "--json").json()
    assert doc["revision"] == doc["head"] and doc["url"].endswith("state/r.db")
    write("bad.yaml", "project: p\nstore: postgresql://app:hunter22@127.0.0.1:1/x\n")
    r = cli("-c", "bad.yaml", "store", "info")
    assert r.code == 2
    assert "connection refused" in r.err and "hunter22" not in r.err and "Traceback" not in r.err


def test_init_quotes_awkward_project_names(cli: Cli, tmp_path: Path) -> None:
    for name in ("yes", "2024", "my shop: #1"):
        assert cli("init", "--force", "--project", name).code == 0
        r = cli("config", "check", "--json")
        assert r.code == 0, r.text


def test_error_paths_keep_the_asked_format(cli: Cli, write: Callable[..., Path]) -> None:
    r = cli("config", "check", "--format", "json")
    assert r.code == 5 and r.json()["error"]["type"] == "ConfigNotFoundError"
    r = cli("config", "check", "--format", "github")
    assert r.code == 5 and r.out.startswith("::error title=ConfigNotFoundError::no config file")
    write("redline.yaml", "project: p\nenvironments: {a: {}, b: {}}\n")
    r = cli("env", "check", "--env", "c", "--format", "github")
    assert r.code == 2 and "::error file=redline.yaml,line=2" in r.out
    r = cli("config", "show")
    assert r.code == 2 and "choose one with --env" in r.err  # a usage mistake, not a bad config
    assert cli("config", "explain", "NOPE", "--env", "a").code == 2
    assert cli("config", "explain", "", "--env", "a").code == 2
    assert cli("env", "diff", "a", "a").code == 2


def test_a_config_without_environments_is_held_to_the_contract(
    cli: Cli, write: Callable[..., Path]
) -> None:
    write(
        "redline.yaml",
        """
        project: p
        variables:
          DATABASE_URL: {type: dsn, required: true}
          WORKERS: {type: int, default: 4}
    """,
    )
    r = cli("env", "check", env={"WORKERS": "abc"})
    assert r.code == 1
    assert "DATABASE_URL is required but has no value" in r.err
    assert "WORKERS must be int" in r.err
    assert cli("env", "check", env={"DATABASE_URL": "postgresql://h/db", "WORKERS": "2"}).code == 0


def test_an_unknown_env_is_a_usage_mistake_for_every_command(tmp_path: Path) -> None:
    """`validate`, `load`, `gate`... load the config for --env: a name it does not declare
    exits 2 (a usage mistake, as documented), not 5 (the config is fine)."""
    (tmp_path / "redline.yaml").write_text("project: p\nenvironments:\n  prod: {}\n")
    for args in (["validate", "--env", "prd"], ["env", "check", "--env", "prd"]):
        r = run_cli(*args, cwd=tmp_path)
        assert r.code == 2, (args, r.text)
        assert "there is no environment 'prd'" in r.err and "did you mean 'prod'" in r.err
