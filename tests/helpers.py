"""Helpers shared by the tests: run the real CLI; the issue's example config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> CliResult:
    """Run `python -m redline ARGS` as a user would, in ``cwd``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "redline", *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


SHOP = """
project: shop
environments:
  local: {vars: {API_URL: "http://127.0.0.1:8000"}}
  staging: {env_file: .env.staging}
variables:
  DATABASE_URL: {type: dsn, required: true, secret: true}
  WORKERS: {type: int, min: 1, max: 64, default: 4}
services:
  api:
    depends_on: [db]
    checks:
      - name: health
        http: {url: "${API_URL}/health", status: 200, max_latency: 100ms}
  db:
    checks:
      - postgres: {dsn: "${DATABASE_URL}", query: "SELECT 1"}
"""
