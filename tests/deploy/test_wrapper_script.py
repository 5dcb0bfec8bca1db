"""`scripts/deploy-and-verify.sh`, the handoff's entry point: a thin wrapper over
`redline deploy`, run as a user would against a tiny real config (real commands, real
checks, a real store)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.test_deploy_cli import CONFIG, serving

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "deploy-and-verify.sh"


def wrapper(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    env["PYTHON"] = sys.executable  # the interpreter redline is installed in
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "site").mkdir()
    (tmp_path / "redline.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def test_the_script_is_executable() -> None:
    assert os.access(SCRIPT, os.X_OK)


@pytest.mark.parametrize("args", [(), ("1.0",), ("", "prod"), ("--plan", "prod")])
def test_missing_arguments_print_the_usage_and_exit_2(project: Path, args: tuple[str, ...]) -> None:
    r = wrapper(project, *args)
    assert r.returncode == 2, r
    assert "usage: deploy-and-verify.sh VERSION ENV [redline deploy options...]" in r.stderr
    assert r.stdout == ""
    assert not (project / "site" / "current").exists()  # nothing ran
    assert not (project / "store.db").exists()


def test_a_good_deploy_exits_0_and_a_bad_one_3(project: Path) -> None:
    good = wrapper(project, "1.0", "prod")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "1.0 is live in prod" in good.stdout
    assert serving(project) == "1.0"
    bad = wrapper(project, "1.1-bad", "prod", "--reason", "ticket 42", "--json")
    assert bad.returncode == 3, bad.stdout + bad.stderr
    assert '"rolled_back_to": "1.0"' in bad.stdout  # extra options reach redline deploy
    assert serving(project) == "1.0"


def test_its_exit_code_is_redlines(project: Path) -> None:
    r = wrapper(project, "1.0", "nope")
    assert r.returncode == 2 and "no environment 'nope'" in r.stderr  # as `redline deploy`
    config = project / "redline.yaml"
    config.write_text(config.read_text() + "unknown_key: 1\n")
    broken = wrapper(project, "1.0", "prod")
    assert broken.returncode == 5  # an invalid config, as `redline deploy` says
