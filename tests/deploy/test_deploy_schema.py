"""The schema guard in a real deploy: a rollback onto a newer database schema is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.test_deploy_cli import cli, serving
from tests.deploy.test_schema_guard import _set_revisions, pg_schema  # noqa: F401

CONFIG = """\
project: shop
store: sqlite:///store.db
environments:
  prod: {{}}
services:
  api:
    checks:
      - name: serving
        command: {{run: "test -f current && ! grep -q bad current", cwd: site}}
    deploy:
      command: {{deploy: "printf %s {{version}} > current", cwd: site}}
      schema: {{dsn: "{dsn}", min: "{low}", max: "{high}"}}
      verify:
        smoke: {{deadline: 1s, interval: 200ms}}
"""


@pytest.mark.postgres
def test_a_rollback_onto_a_newer_schema_is_refused(
    tmp_path: Path,
    pg_schema: tuple[str, str],  # noqa: F811
) -> None:
    dsn, _ = pg_schema
    (tmp_path / "site").mkdir()
    config = tmp_path / "redline.yaml"
    config.write_text(CONFIG.format(dsn=dsn, low="0001", high="0002"))
    _set_revisions(dsn, "0002")
    assert cli(tmp_path, "deploy", "1.0", "--env", "prod").code == 0
    # 2.0 migrates the database to 0003 and runs only on it; then it fails its checks
    config.write_text(CONFIG.format(dsn=dsn, low="0003", high="0003"))
    _set_revisions(dsn, "0003")
    out = cli(tmp_path, "deploy", "2.0-bad", "--env", "prod", "--json")
    assert out.code == 4, out.text
    reasons = " ".join(out.json()["reasons"])
    assert "rollback to 1.0 refused" in reasons
    assert "release 1.0 runs on schema 0001-0002" in reasons and "at 0003" in reasons
    assert serving(tmp_path) == "2.0-bad"  # nothing was changed by the refused rollback
    # by hand, too, before anything is recorded
    by_hand = cli(tmp_path, "rollback", "--env", "prod", "--to", "1.0")
    assert by_hand.code == 4 and "runs on schema 0001-0002" in by_hand.err
    # once the database is migrated down, the rollback goes through
    _set_revisions(dsn, "0002")
    assert cli(tmp_path, "rollback", "--env", "prod", "--to", "1.0").code == 0
    assert serving(tmp_path) == "1.0"
