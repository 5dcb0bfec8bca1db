"""`redline deploy`, `rollback`, `recover`, `deploy unlock` from a real config: real commands,
real checks (a command probe reading what was deployed), a real store."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import CliResult, run_cli

CONFIG = """\
project: shop
store: sqlite:///store.db
environments:
  prod: {}
services:
  api:
    checks:
      - name: serving
        command: {run: "test -f current && ! grep -q bad current", cwd: site}
    deploy:
      command:
        deploy: "printf %s {version} > current"
        cwd: site
      verify:
        smoke: {deadline: 1s, interval: 200ms}
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "site").mkdir()
    (tmp_path / "redline.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def cli(cwd: Path, *args: str) -> CliResult:
    r = run_cli(*args, cwd=cwd)
    assert "Traceback" not in r.text, r.text
    return r


def serving(cwd: Path) -> str:
    return (cwd / "site" / "current").read_text()


def test_deploy_goes_live_then_a_bad_one_is_rolled_back(tmp_path: Path) -> None:
    cwd = _project(tmp_path)
    good = cli(cwd, "deploy", "1.0", "--env", "prod")
    assert good.code == 0, good.text
    assert "1.0 is live in prod" in good.out and serving(cwd) == "1.0"
    bad = cli(cwd, "deploy", "1.1-bad", "--env", "prod", "--json")
    assert bad.code == 3, bad.text
    doc = bad.json()
    assert doc["state"] == "rolled_back" and doc["rolled_back_to"] == "1.0"
    assert any("api/serving" in r or "serving" in r for r in doc["reasons"]), doc["reasons"]
    assert serving(cwd) == "1.0"
    history = cli(cwd, "releases", "--env", "prod", "--json").json()["releases"]
    assert [(r["version"], r["state"]) for r in history] == [
        ("1.1-bad", "rolled_back"),
        ("1.0", "live"),
    ]


def test_plan_changes_nothing(tmp_path: Path) -> None:
    cwd = _project(tmp_path)
    cli(cwd, "deploy", "1.0", "--env", "prod")
    plan = cli(cwd, "deploy", "2.0", "--env", "prod", "--plan")
    assert plan.code == 0 and "nothing will change" in plan.out
    assert "roll back to 1.0" in plan.out
    assert serving(cwd) == "1.0"
    assert len(cli(cwd, "releases", "--env", "prod", "--json").json()["releases"]) == 1


def test_rollback_by_hand_and_unlock(tmp_path: Path) -> None:
    cwd = _project(tmp_path)
    cli(cwd, "deploy", "1.0", "--env", "prod")
    cli(cwd, "deploy", "1.1", "--env", "prod")
    back = cli(cwd, "rollback", "--env", "prod")
    assert back.code == 0, back.text
    assert serving(cwd) == "1.0"
    refused = cli(cwd, "rollback", "--env", "prod", "--to", "0.9")
    assert refused.code == 4 and "0.9 is not a known good release" in refused.err
    assert "hint:" in refused.err
    free = cli(cwd, "deploy", "unlock", "--env", "prod")
    assert free.code == 0 and "it was free" in free.out
    assert cli(cwd, "recover", "--env", "prod").out.strip() == "nothing to recover in prod"


def test_bad_input(tmp_path: Path) -> None:
    cwd = _project(tmp_path)
    no_env = cli(cwd, "deploy", "1.0", "--env", "nope")
    assert no_env.code == 2 and "no environment 'nope'" in no_env.err  # a usage mistake
    no_service = cli(cwd, "deploy", "1.0", "--env", "prod", "--service", "web")
    assert no_service.code == 2 and "no service 'web'" in no_service.err
