"""`.pre-commit-hooks.yaml`: the hooks pre-commit users install run real redline commands."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.cli import _COMMANDS
from tests.helpers import CliResult

Cli = Callable[..., CliResult]

MANIFEST = Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml"

# pre-commit's manifest schema (pre_commit/clientlib.py, 3.x): a key outside it is
# ignored with a warning at best, so a typo would silently change what a hook does.
REQUIRED = {"id", "name", "entry", "language"}
KNOWN = REQUIRED | {
    "alias",
    "files",
    "exclude",
    "types",
    "types_or",
    "exclude_types",
    "additional_dependencies",
    "args",
    "always_run",
    "fail_fast",
    "pass_filenames",
    "description",
    "language_version",
    "log_file",
    "minimum_pre_commit_version",
    "require_serial",
    "stages",
    "verbose",
}
STAGES = {
    "commit-msg",
    "manual",
    "post-checkout",
    "post-commit",
    "post-merge",
    "post-rewrite",
    "pre-commit",
    "pre-merge-commit",
    "pre-push",
    "pre-rebase",
    "prepare-commit-msg",
}


def hooks() -> list[dict[str, Any]]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, list) and data, "the manifest is a non-empty list of hooks"
    return data


def by_id(hook_id: str) -> dict[str, Any]:
    return next(h for h in hooks() if h["id"] == hook_id)


def test_every_hook_has_the_keys_pre_commit_requires() -> None:
    ids = [h["id"] for h in hooks()]
    assert ids == ["redline-gate", "redline-config-check"]
    for hook in hooks():
        assert hook.keys() >= REQUIRED, hook
        assert hook.keys() <= KNOWN, hook.keys() - KNOWN
        assert all(isinstance(hook[k], str) and hook[k] for k in REQUIRED)
        assert hook["language"] == "python"  # pre-commit pip-installs this repository
        assert set(hook.get("stages", [])) <= STAGES
        assert hook["pass_filenames"] is False  # neither command takes file names


def test_the_gate_hook_is_a_quick_gate_on_push() -> None:
    gate = by_id("redline-gate")
    assert gate["entry"] == "redline gate"
    assert gate["always_run"] is True
    assert gate["stages"] == ["pre-push", "manual"]
    assert "reads the store" in gate["description"]


def test_the_config_hook_runs_when_redline_yaml_changes() -> None:
    files = re.compile(by_id("redline-config-check")["files"])
    for path in ("redline.yaml", "redline.yml", "deploy/redline.yaml"):
        assert files.search(path), path
    for path in ("redline.yaml.bak", "myredline.yaml", "redline.secrets.yaml", "README.md"):
        assert not files.search(path), path


@pytest.mark.parametrize("hook_id", ["redline-gate", "redline-config-check"])
def test_each_entry_is_a_real_redline_command(cli: Cli, hook_id: str) -> None:
    program, *args = shlex.split(by_id(hook_id)["entry"])
    assert program == "redline"  # the console script pyproject.toml installs
    assert args and args[0] in _COMMANDS
    r = cli(*args, "--help")
    assert r.code == 0, r.text
    assert r.out.startswith(f"Usage: redline {' '.join(args)} ")


def test_config_check_hook_fails_a_broken_config(cli: Cli, write: Callable[..., Path]) -> None:
    args = shlex.split(by_id("redline-config-check")["entry"])[1:]
    write("redline.yaml", "project: shop\n")
    assert cli(*args).code == 0
    write("redline.yaml", "project: shop\nservices:\n  api:\n    chekcs: []\n")
    r = cli(*args)
    assert r.code == 5 and "RL104" in r.err, r.text


def test_gate_hook_without_runs_cannot_decide(cli: Cli, write: Callable[..., Path]) -> None:
    args = shlex.split(by_id("redline-gate")["entry"])[1:]
    write("redline.yaml", "project: shop\n")
    r = cli(*args)
    assert r.code == 2, r.text  # undecided, never a pass
    assert "nothing to gate" in r.err and "Traceback" not in r.text
