"""``redline secrets``: the commands, their exit codes, and the never-in-output guarantee."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from redline.cli import cli, main
from redline.redact import REDACTOR
from redline.secrets import SecretsFile, generate_key, key_id, pending_key_path

SENTINEL = "S3NT1NEL-not-for-output-9f8e7d"
FILE = "redline.secrets.yaml"
KEY = Path(".redline/secrets.key")
# Variables that would leak into the command from the developer's shell.
_SCRUBBED = ("REDLINE_SECRETS_KEY", "REDLINE_CONFIG", "REDLINE_DEBUG", "MY_SECRETS_KEY")


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture(autouse=True)
def _forget_values() -> Iterator[None]:
    # In-process commands register what they decrypt with the process-wide redactor;
    # forget it so other tests' output is not masked by values from these.
    yield
    REDACTOR.clear()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "redline.yaml").write_text("project: demo\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
    """``redline ARGS`` in this process, through ``main`` and its error handler."""
    overrides: dict[str, str | None] = dict.fromkeys(_SCRUBBED)
    overrides.update(env or {})
    runner = CliRunner()
    with runner.isolation(input=input, env=overrides) as (out, err, _):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        else:  # pragma: no cover - main always exits
            code = -1
        sys.stdout.flush()
        sys.stderr.flush()
        return Run(code, out.getvalue().decode(), err.getvalue().decode())


def run_process(
    *args: str, cwd: Path, input: str | None = None, env: dict[str, str] | None = None
) -> Run:
    """``python -m redline ARGS`` in a fresh process: nothing registered with the redactor."""
    base = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    proc = subprocess.run(
        [sys.executable, "-m", "redline", *args],
        input=input,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **(env or {})},
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def init_with(project: Path, **values: str) -> None:
    assert run("secrets", "init").code == 0
    for spec, value in values.items():
        env, name = spec.split("__")
        assert run("secrets", "set", name, "--env", env, input=value + "\n").code == 0


# -- init ----------------------------------------------------------------------------------------


def test_init_creates_a_private_key_an_empty_file_and_a_gitignore(project: Path) -> None:
    result = run("secrets", "init")
    assert result.code == 0, result.err
    kid = key_id(KEY.read_bytes().strip())
    assert f"created key .redline/secrets.key (key id {kid}, mode 0600)" in result.out
    assert "created redline.secrets.yaml" in result.out
    assert KEY.read_bytes().strip().decode() not in result.text
    assert stat.S_IMODE(KEY.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(FILE).stat().st_mode) == 0o600
    assert ".redline/" in Path(".gitignore").read_text().splitlines()
    sf = SecretsFile.open(Path(FILE), key_file=KEY, environ={})
    assert sf.key_id == kid and sf.environments() == [] and sf.verify() == []


def test_init_appends_to_an_existing_gitignore_once(project: Path) -> None:
    Path(".gitignore").write_text("__pycache__/")
    assert run("secrets", "init").code == 0
    again = run("secrets", "init")
    assert again.code == 0
    assert "using the existing key" in again.out and "--force" in again.out
    lines = Path(".gitignore").read_text().splitlines()
    assert lines[0] == "__pycache__/"
    assert lines.count(".redline/") == 1


def test_init_keeps_a_key_unless_forced_and_never_discards_secrets(project: Path) -> None:
    assert run("secrets", "init").code == 0
    first = KEY.read_bytes()
    assert run("secrets", "init").code == 0
    assert KEY.read_bytes() == first
    forced = run("secrets", "init", "--force")
    assert forced.code == 0
    assert KEY.read_bytes() != first  # no secrets yet: a new key loses nothing
    assert run("secrets", "set", "TOKEN", "--env", "ci", input=SENTINEL).code == 0
    refused = run("secrets", "init", "--force")
    assert refused.code == 5
    assert "holds 1 secret(s)" in refused.err and "redline secrets rotate" in refused.err


def test_init_refuses_to_make_a_new_key_for_someone_elses_secrets(project: Path) -> None:
    init_with(project, staging__TOKEN=SENTINEL)
    KEY.unlink()  # a fresh clone: the file is committed, the key is not
    result = run("secrets", "init")
    assert result.code == 5
    assert "get the key with id" in result.err
    assert not KEY.exists()


def test_init_refuses_a_malformed_key_without_force(project: Path) -> None:
    KEY.parent.mkdir()
    KEY.write_text("garbage-that-is-not-a-key")
    result = run("secrets", "init")
    assert result.code == 5
    assert "not a valid redline secrets key" in result.err and "--force" in result.err
    assert run("secrets", "init", "--force").code == 0
    assert SecretsFile.open(Path(FILE), key_file=KEY, environ={}).verify() == []


def test_init_uses_the_key_in_the_variable(project: Path) -> None:
    key = generate_key().decode()
    result = run("secrets", "init", "--json", env={"REDLINE_SECRETS_KEY": key})
    assert result.code == 0
    doc = json.loads(result.out)
    assert doc["key_source"] == "env" and doc["key_id"] == key_id(key.encode())
    assert doc["key_created"] is False and doc["file_created"] is True
    assert not KEY.exists()
    assert key not in result.text


# -- set / get / delete / list -------------------------------------------------------------------


def test_set_get_list_delete(project: Path) -> None:
    assert run("secrets", "init").code == 0
    added = run("secrets", "set", "DATABASE_URL", "--env", "staging", input="postgres://a:b@c/d\n")
    assert added.code == 0, added.err
    assert added.out.startswith("added DATABASE_URL in staging")
    updated = run("secrets", "set", "DATABASE_URL", "--env", "staging", input="postgres://x@y/z")
    assert updated.out.startswith("updated DATABASE_URL in staging")
    assert run("secrets", "set", "DATABASE_URL", "--env", "prod", input="prod-url\r\n").code == 0

    got = run("secrets", "get", "DATABASE_URL", "--env", "staging")
    assert got.code == 0 and got.out == "postgres://x@y/z\n"
    doc = json.loads(run("secrets", "get", "DATABASE_URL", "--env", "prod", "--json").out)
    assert doc["value"] == "prod-url"  # one trailing newline (LF or CRLF) is not the value

    listed = run("secrets", "list")
    assert listed.code == 0
    assert re.search(r"prod\s.*DATABASE_URL", listed.out)
    assert re.search(r"staging\s.*DATABASE_URL", listed.out)
    assert "matches" in listed.out
    listed_json = json.loads(run("secrets", "list", "--json", "--env", "prod").out)
    assert listed_json["environments"] == {"prod": ["DATABASE_URL"]}
    assert listed_json["key"]["source"] == "file" and listed_json["key"]["problem"] is None

    deleted = run("secrets", "delete", "DATABASE_URL", "--env", "prod")
    assert deleted.code == 0
    assert run("secrets", "list", "--json").out.count("DATABASE_URL") == 1
    missing = run("secrets", "get", "DATABASE_URL", "--env", "prod")
    assert missing.code == 5 and "no secret 'DATABASE_URL' in environment 'prod'" in missing.err


def test_set_keeps_a_multi_line_value(project: Path) -> None:
    pem = "-----BEGIN KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEF\n-----END KEY-----"
    init_with(project, prod__TLS_KEY=pem)
    assert (
        json.loads(run("secrets", "get", "TLS_KEY", "--env", "prod", "--json").out)["value"] == pem
    )


def test_set_needs_a_value_on_stdin(project: Path) -> None:
    assert run("secrets", "init").code == 0
    result = run("secrets", "set", "TOKEN", "--env", "ci", input="")
    assert result.code == 5 and "no value for TOKEN on stdin" in result.err


def test_set_has_no_way_to_take_the_value_from_argv(project: Path) -> None:
    assert run("secrets", "init").code == 0
    result = run("secrets", "set", "TOKEN", SENTINEL, "--env", "ci", input="x")
    assert result.code == 2
    assert SENTINEL not in Path(FILE).read_text()


def test_list_without_a_file_or_key(project: Path) -> None:
    result = run("secrets", "list")
    assert result.code == 0 and "run `redline secrets init`" in result.out
    init_with(project, ci__TOKEN=SENTINEL)
    KEY.unlink()
    listed = run("secrets", "list")
    assert listed.code == 0 and "TOKEN" in listed.out
    assert "warning: no key to decrypt" in listed.err


def test_commands_read_the_secrets_section_of_the_config(project: Path) -> None:
    conf = project / "conf"
    conf.mkdir()
    (conf / "redline.yaml").write_text(
        "project: demo\nservices: {anything: {kind: api}}\n"
        "secrets:\n  file: vault.yaml\n  key_env: MY_SECRETS_KEY\n  key_file: keys/my.key\n"
    )
    assert run("-c", "conf/redline.yaml", "secrets", "init").code == 0
    assert (conf / "vault.yaml").exists() and (conf / "keys" / "my.key").exists()
    assert "keys/" in (conf / ".gitignore").read_text()
    key = (conf / "keys" / "my.key").read_text().strip()
    (conf / "keys" / "my.key").unlink()
    via_env = run(
        "secrets",
        "set",
        "TOKEN",
        "--env",
        "ci",
        "-c",
        "conf/redline.yaml",
        input=SENTINEL,
        env={"MY_SECRETS_KEY": key},
    )
    assert via_env.code == 0, via_env.err
    listed = run("secrets", "list", "--json", env={"REDLINE_CONFIG": "conf/redline.yaml"})
    assert json.loads(listed.out)["environments"] == {"ci": ["TOKEN"]}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("secrets: [1, 2]\n", "redline.yaml:1:10: error RL105 [wrong-type] at secrets"),
        ("secrets:\n  fiel: x\n", "redline.yaml:2:3: error RL104 [unknown-key] at secrets.fiel"),
        ("secrets: {file: [unclosed\n", "error RL101 [yaml-syntax]"),
    ],
)
def test_a_bad_secrets_section_is_a_config_error(project: Path, config: str, message: str) -> None:
    (project / "redline.yaml").write_text(config)
    result = run("secrets", "list")
    assert result.code == 5
    assert message in result.err


def test_an_explicit_missing_config_is_an_error(project: Path) -> None:
    result = run("-c", "nope.yaml", "secrets", "list")
    assert result.code == 5 and "no config file at nope.yaml" in result.err


def test_cli_runner_sees_the_group(project: Path) -> None:
    result = CliRunner().invoke(cli, ["secrets", "--help"])
    assert result.exit_code == 0
    for command in ("init", "set", "get", "delete", "list", "rotate", "check"):
        assert command in result.output


# -- errors and exit codes ----------------------------------------------------------------------


def test_missing_wrong_and_malformed_keys_exit_5_naming_file_and_key_id(project: Path) -> None:
    init_with(project, ci__TOKEN=SENTINEL)
    kid = SecretsFile.open(Path(FILE), environ={}).key_id
    assert kid is not None
    KEY.rename("elsewhere.key")
    missing = run("secrets", "get", "TOKEN", "--env", "ci")
    assert missing.code == 5
    assert (
        f"no key to decrypt {FILE} (key id {kid}): set REDLINE_SECRETS_KEY or create "
        ".redline/secrets.key" in missing.err
    )
    assert "redline secrets init" in missing.err
    stranger = generate_key().decode()
    wrong = run("secrets", "get", "TOKEN", "--env", "ci", env={"REDLINE_SECRETS_KEY": stranger})
    assert wrong.code == 5
    assert key_id(stranger.encode()) in wrong.err and kid in wrong.err
    bad = run("secrets", "get", "TOKEN", "--env", "ci", env={"REDLINE_SECRETS_KEY": "nope-nope"})
    assert bad.code == 5 and "REDLINE_SECRETS_KEY" in bad.err and kid in bad.err
    as_json = json.loads(run("secrets", "get", "TOKEN", "--env", "ci", "--json").out)
    assert as_json["ok"] is False and as_json["error"]["type"] == "SecretsKeyError"


def test_check_passes_then_fails_on_tampering(project: Path) -> None:
    init_with(project, ci__TOKEN=SENTINEL, prod__TOKEN="another-value")
    ok = run("secrets", "check")
    assert ok.code == 0 and ok.out.startswith("ok: ") and "2 secret(s)" in ok.out
    text = Path(FILE).read_text()
    lines = text.splitlines(keepends=True)
    ci = next(i for i, line in enumerate(lines) if "TOKEN" in line)
    prod = max(i for i, line in enumerate(lines) if "TOKEN" in line)
    lines[ci], lines[prod] = lines[prod], lines[ci]  # swap the values between environments
    Path(FILE).write_text("".join(lines))
    bad = run("secrets", "check")
    assert bad.code == 5
    assert "failed its integrity check" in bad.err
    doc = json.loads(run("secrets", "check", "--json").out)
    assert doc["ok"] is False and len(doc["problems"]) == 1
    tampered = run("secrets", "get", "TOKEN", "--env", "ci")
    assert tampered.code == 5 and "restore it from version control" in tampered.err


def test_check_without_a_file_or_key_fails(project: Path) -> None:
    assert run("secrets", "check").code == 5
    assert run("secrets", "init").code == 0
    assert run("secrets", "check").code == 0
    KEY.unlink()
    result = run("secrets", "check", "--json")
    assert result.code == 5
    assert "no key to decrypt" in json.loads(result.out)["problems"][0]


def test_check_warns_about_a_readable_key_file(project: Path) -> None:
    assert run("secrets", "init").code == 0
    KEY.chmod(0o644)
    result = run("secrets", "check")
    assert result.code == 0 and "chmod 600" in result.err


# -- rotation ------------------------------------------------------------------------------------


def test_rotate_with_a_key_file(project: Path) -> None:
    init_with(project, ci__TOKEN=SENTINEL)
    old = KEY.read_bytes().strip()
    result = run("secrets", "rotate")
    assert result.code == 0, result.err
    new = KEY.read_bytes().strip()
    assert new != old
    assert f"now encrypted with key {key_id(new)} (was {key_id(old)})" in result.out
    assert old.decode() not in result.text and new.decode() not in result.text
    assert run("secrets", "get", "TOKEN", "--env", "ci").out == SENTINEL + "\n"
    stale = run("secrets", "get", "TOKEN", "--env", "ci", env={"REDLINE_SECRETS_KEY": old.decode()})
    assert stale.code == 5 and "is not the key" in stale.err


def test_rotate_with_the_key_in_a_variable(project: Path) -> None:
    key = generate_key().decode()
    env = {"REDLINE_SECRETS_KEY": key}
    assert run("secrets", "init", env=env).code == 0
    assert run("secrets", "set", "TOKEN", "--env", "ci", input=SENTINEL, env=env).code == 0
    refused = run("secrets", "rotate", env=env)
    assert refused.code == 5 and "--new-key-file" in refused.err
    result = run("secrets", "rotate", "--new-key-file", "new.key", "--json", env=env)
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    new = Path("new.key").read_text().strip()
    assert doc["update_env"] == "REDLINE_SECRETS_KEY" and doc["new_key_id"] == key_id(new.encode())
    assert new not in result.text and key not in result.text
    # resuming a finished rotation only repeats what the user still has to do
    again = run("secrets", "rotate", "--new-key-file", "new.key", "--resume", env=env)
    assert again.code == 0 and "now set REDLINE_SECRETS_KEY to the key in new.key" in again.out
    done = run("secrets", "get", "TOKEN", "--env", "ci", env={"REDLINE_SECRETS_KEY": new})
    assert done.out == SENTINEL + "\n"


def test_rotate_tells_the_user_to_update_the_variable(project: Path) -> None:
    key = generate_key().decode()
    env = {"REDLINE_SECRETS_KEY": key}
    assert run("secrets", "init", env=env).code == 0
    result = run("secrets", "rotate", "--new-key-file", "new.key", env=env)
    assert "now set REDLINE_SECRETS_KEY to the key in new.key" in result.out


def test_an_interrupted_rotation_is_explained_and_resumable(project: Path) -> None:
    init_with(project, ci__TOKEN=SENTINEL)
    old_id = key_id(KEY.read_bytes().strip())
    new = generate_key()
    pending_key_path(KEY).write_bytes(new + b"\n")
    sf = SecretsFile.open(Path(FILE), key_file=KEY, environ={})
    sf.rotate(new)
    sf.save()  # ... and the process died before the key file was replaced

    got = run("secrets", "get", "TOKEN", "--env", "ci")
    assert got.code == 5
    assert "a key rotation of redline.secrets.yaml was interrupted" in got.err
    assert key_id(new) in got.err and old_id in got.err
    assert "redline secrets rotate --resume" in got.err
    listed = run("secrets", "list")
    assert listed.code == 0 and "interrupted" in listed.err

    resumed = run("secrets", "rotate", "--resume")
    assert resumed.code == 0, resumed.err
    assert resumed.out.startswith("finished the interrupted rotation of redline.secrets.yaml")
    assert run("secrets", "get", "TOKEN", "--env", "ci").out == SENTINEL + "\n"
    assert run("secrets", "check").code == 0
    assert not pending_key_path(KEY).exists()


def test_a_pending_key_from_an_earlier_crash_is_reported_by_check(project: Path) -> None:
    init_with(project, ci__TOKEN=SENTINEL)
    pending_key_path(KEY).write_bytes(generate_key() + b"\n")
    result = run("secrets", "check")
    assert result.code == 0 and "unfinished rotation" in result.err
    assert run("secrets", "rotate", "--resume").code == 0
    assert run("secrets", "check").err == ""


# -- the never-in-output guarantee ---------------------------------------------------------------


def test_the_sentinel_is_never_printed_except_by_get(tmp_path: Path) -> None:
    """A fresh process per command, so nothing is masked unless this run decrypted it."""
    (tmp_path / "redline.yaml").write_text("project: demo\n")
    outputs: list[tuple[str, Run]] = []

    def rp(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
        result = run_process(*args, cwd=tmp_path, input=input, env=env)
        outputs.append((" ".join(args), result))
        return result

    assert rp("secrets", "init").code == 0
    assert rp("secrets", "init", "--json").code == 0
    assert rp("secrets", "set", "API_TOKEN", "--env", "staging", input=SENTINEL + "\n").code == 0
    assert rp("secrets", "set", "API_TOKEN", "--env", "prod", "--json", input=SENTINEL).code == 0
    assert rp("secrets", "set", "OTHER", "--env", "prod", input="other-value").code == 0
    # error paths that hold the value when they fail
    assert rp("secrets", "set", "BAD-NAME", "--env", "prod", input=SENTINEL).code == 5
    assert rp("secrets", "set", "X", "--env", "bad env", input=SENTINEL, env={}).code == 5
    for extra in ([], ["--json"]):
        assert rp("secrets", "list", *extra).code == 0
        assert rp("secrets", "check", *extra).code == 0
    assert rp("secrets", "rotate").code == 0
    assert rp("secrets", "rotate", "--json").code == 0
    assert rp("secrets", "check").code == 0
    stranger = generate_key().decode()
    assert (
        rp(
            "secrets", "get", "API_TOKEN", "--env", "prod", env={"REDLINE_SECRETS_KEY": stranger}
        ).code
        == 5
    )
    assert rp("secrets", "get", "NOPE", "--env", "prod").code == 5
    secrets_file = tmp_path / FILE
    text = secrets_file.read_text()
    assert SENTINEL not in text
    token = re.findall(r"ENC\[([^\]]+)\]", text)[0]
    secrets_file.write_text(text.replace(token, token[:-8] + "AAAAAAA="))
    assert rp("secrets", "check").code == 5
    assert rp("secrets", "get", "OTHER", "--env", "prod").code == 5
    assert rp("secrets", "list").code == 0
    assert rp("secrets", "delete", "OTHER", "--env", "prod").code == 5

    for command, result in outputs:
        assert SENTINEL not in result.out, command
        assert SENTINEL not in result.err, command
    assert SENTINEL not in secrets_file.read_text()

    secrets_file.write_text(text)
    revealed = rp("secrets", "get", "API_TOKEN", "--env", "prod")
    assert revealed.out == SENTINEL + "\n"
    assert SENTINEL not in revealed.err


def test_an_unexpected_crash_after_decrypting_masks_the_value(project: Path) -> None:
    init_with(project, staging__API_TOKEN=SENTINEL)
    script = textwrap.dedent(
        """
        from redline.cli import main
        from redline.secrets import SecretsFile

        def broken_verify(self):
            value = self.get("staging", "API_TOKEN")
            raise RuntimeError(f"something went wrong near {value!r}: {value}")

        SecretsFile.verify = broken_verify
        main(["secrets", "check"])
        """
    )
    base = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=project,
        env=base,
        check=False,
    )
    assert proc.returncode == 70, proc.stderr
    assert "internal error: RuntimeError: something went wrong near '***': ***" in proc.stderr
    assert SENTINEL not in proc.stdout + proc.stderr


def test_set_prompts_without_echo_on_a_terminal(project: Path) -> None:
    assert run("secrets", "init").code == 0
    primary, secondary = os.openpty()
    try:
        base = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        proc = subprocess.Popen(
            [sys.executable, "-m", "redline", "secrets", "set", "TOKEN", "--env", "ci"],
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=project,
            env=base,
            start_new_session=True,
            text=True,
            bufsize=0,
        )
        os.close(secondary)
        assert proc.stderr is not None
        # getpass flushes pending input when it turns echo off: answer each prompt once shown.
        prompts = ""
        for prompt in ("value of TOKEN in ci: ", "Repeat for confirmation: "):
            while prompt not in prompts:
                chunk = os.read(proc.stderr.fileno(), 1024)
                assert chunk, prompts
                prompts += chunk.decode()
            os.write(primary, f"{SENTINEL}\n".encode())
        out, err = proc.communicate(timeout=60)
        err = prompts + err
    finally:
        os.close(primary)
    assert proc.returncode == 0, err
    assert "value of TOKEN in ci" in out + err
    assert SENTINEL not in out + err
    assert run("secrets", "get", "TOKEN", "--env", "ci").out == SENTINEL + "\n"


def test_set_warns_about_names_the_config_does_not_declare(project: Path) -> None:
    (project / "redline.yaml").write_text(
        "project: p\nenvironments: {staging: {}}\nvariables: {DB_PASSWORD: {secret: true}}\n"
    )
    assert run("secrets", "init").code == 0
    typo = run("secrets", "set", "DB_PASSWROD", "--env", "stagign", input=SENTINEL)
    assert typo.code == 0
    assert "environment 'stagign' is not declared" in typo.err and "did you mean 'staging'" in typo.err
    assert "did you mean 'DB_PASSWORD'" in typo.err
    right = run("secrets", "set", "DB_PASSWORD", "--env", "staging", input=SENTINEL)
    assert right.code == 0 and "warning" not in right.err
    assert SENTINEL not in typo.text + right.text
