"""Shared fixtures: run the real CLI, write config files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import SHOP, CliResult, run_cli


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., CliResult]:
    def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> CliResult:
        return run_cli(*args, cwd=tmp_path, env=env, stdin=stdin)

    return run


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a dedented file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def shop(write: Callable[[str, str], Path]) -> Path:
    """The issue's example config, with its .env.staging."""
    write(".env.staging", "API_URL=http://10.0.0.5:8000\nDATABASE_URL=postgresql://app@db/shop\n")
    return write("redline.yaml", SHOP)
