"""redline.secrets: encryption round trip, keys, the tamper check, rotation and crash recovery."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from redline._errors import SecretsError, SecretsKeyError, SecretsTamperedError
from redline.config.schema import Config, SecretsConfig
from redline.redact import REDACTOR, Redactor
from redline.secrets import (
    SecretsFile,
    generate_key,
    key_id,
    pending_key_path,
    rotate_key,
    secrets_for,
)
from redline.secrets._format import compute_mac

SENTINEL = "S3NT1NEL-not-for-output-9f8e7d"
FILE = "redline.secrets.yaml"


@pytest.fixture(autouse=True)
def _in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Messages name files relative to the working directory, as a user would see them.
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / ".redline" / "secrets.key"
    path.parent.mkdir()
    path.write_bytes(generate_key() + b"\n")
    return path


@pytest.fixture
def opener(tmp_path: Path, key_file: Path, redactor: Redactor) -> Callable[..., SecretsFile]:
    """Open the project's secrets file the way the CLI does (key file, no variable)."""

    def open_(**kwargs: object) -> SecretsFile:
        options: dict[str, object] = {"key_file": key_file, "environ": {}, "redactor": redactor}
        options.update(kwargs)
        return SecretsFile.open(tmp_path / FILE, **options)  # type: ignore[arg-type]

    return open_


@pytest.fixture
def populated(opener: Callable[..., SecretsFile]) -> Path:
    sf = opener()
    sf.set("staging", "DATABASE_URL", "postgresql://app:staging-pw@db/app")
    sf.set("staging", "API_TOKEN", SENTINEL)
    sf.set("production", "DATABASE_URL", "postgresql://app:prod-pw@db/app")
    sf.save()
    return sf.path


def no_secret_in(exc: BaseException) -> None:
    for text in (str(exc), repr(exc), str(exc.args)):
        assert SENTINEL not in text
        assert "staging-pw" not in text


# -- keys ----------------------------------------------------------------------------------------


def test_key_id_names_a_key_without_revealing_it() -> None:
    key = generate_key()
    kid = key_id(key)
    assert re.fullmatch(r"k-[0-9a-f]{12}", kid)
    assert key_id(key) == kid
    assert key_id(generate_key()) != kid
    assert kid[2:] not in key.decode()
    Fernet(key)  # a real Fernet key


def test_key_repr_never_shows_the_key(opener: Callable[..., SecretsFile], key_file: Path) -> None:
    key = opener().find_key()
    assert key is not None
    material = key_file.read_bytes().strip().decode()
    assert material not in repr(key)
    assert key.id in repr(key)


# -- round trip ----------------------------------------------------------------------------------


def test_round_trip(
    populated: Path, opener: Callable[..., SecretsFile], redactor: Redactor
) -> None:
    sf = opener()
    assert sf.exists
    assert sf.environments() == ["production", "staging"]
    assert sf.names("staging") == ["API_TOKEN", "DATABASE_URL"]
    assert sf.names("nowhere") == []
    assert sf.get("staging", "API_TOKEN") == SENTINEL
    assert sf.values("production") == {"DATABASE_URL": "postgresql://app:prod-pw@db/app"}
    assert sf.values("nowhere") == {}
    assert SENTINEL in redactor
    assert redactor.scrub(f"token={SENTINEL}") == "token=***"


def test_decrypted_values_go_to_the_process_redactor_by_default(
    populated: Path, key_file: Path
) -> None:
    sf = SecretsFile.open(populated, key_file=key_file, environ={})
    assert sf.get("production", "DATABASE_URL") == "postgresql://app:prod-pw@db/app"
    assert "postgresql://app:prod-pw@db/app" in REDACTOR


def test_file_layout_is_readable_names_and_encrypted_values(
    populated: Path, key_file: Path
) -> None:
    text = populated.read_text()
    assert text.startswith("# redline encrypted secrets")
    assert "redline_secrets: 1\n" in text
    assert f"key_id: {key_id(key_file.read_bytes().strip())}\n" in text
    assert re.search(r"^mac: [0-9a-f]{64}$", text, re.M)
    assert text.index("  production:") < text.index("  staging:")
    staging = text[text.index("  staging:") :]
    assert staging.index("    API_TOKEN: ENC[") < staging.index("    DATABASE_URL: ENC[gAAAA")
    assert text.count("ENC[") == 3
    assert SENTINEL not in text
    assert "pw@" not in text
    assert stat.S_IMODE(populated.stat().st_mode) == 0o600
    assert [p.name for p in populated.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_missing_file_is_an_empty_set_of_secrets(tmp_path: Path) -> None:
    sf = SecretsFile.open(tmp_path / FILE, environ={})
    assert not sf.exists
    assert sf.key_id is None
    assert sf.environments() == []
    assert sf.names("staging") == []
    assert "no key id yet" in repr(sf) or "key_id=None" in repr(sf)


def test_names_need_no_key_but_values_do(populated: Path, redactor: Redactor) -> None:
    sf = SecretsFile.open(populated, environ={}, redactor=redactor)
    assert sf.names("staging") == ["API_TOKEN", "DATABASE_URL"]
    with pytest.raises(SecretsKeyError) as info:
        sf.get("staging", "API_TOKEN")
    assert f"no key to decrypt {FILE} (key id {sf.key_id})" in str(info.value)
    assert "set REDLINE_SECRETS_KEY" in str(info.value)
    assert "redline secrets init" in str(info.value)


def test_missing_key_names_the_variable_and_key_file(populated: Path, tmp_path: Path) -> None:
    sf = SecretsFile.open(populated, key_file=tmp_path / "nope.key", environ={})
    with pytest.raises(SecretsKeyError) as info:
        sf.unlock()
    assert "set REDLINE_SECRETS_KEY or create" in str(info.value)
    assert "nope.key" in str(info.value)
    assert sf.key_id is not None and sf.key_id in str(info.value)


def test_the_variable_takes_precedence_over_the_key_file(
    populated: Path, key_file: Path, redactor: Redactor
) -> None:
    right = key_file.read_text().strip()
    key_file.write_bytes(generate_key())  # the file now holds a stranger
    sf = SecretsFile.open(
        populated, key_file=key_file, environ={"REDLINE_SECRETS_KEY": right}, redactor=redactor
    )
    assert sf.get("staging", "API_TOKEN") == SENTINEL
    custom = SecretsFile.open(
        populated, key_env="MY_KEY", key_file=None, environ={"MY_KEY": right}, redactor=redactor
    )
    assert custom.get("staging", "API_TOKEN") == SENTINEL


def test_a_wrong_variable_is_explained_when_the_key_file_is_right(
    populated: Path, key_file: Path
) -> None:
    stranger = generate_key().decode()
    sf = SecretsFile.open(populated, key_file=key_file, environ={"REDLINE_SECRETS_KEY": stranger})
    with pytest.raises(SecretsKeyError) as info:
        sf.unlock()
    text = str(info.value)
    assert "takes precedence" in text
    assert key_id(stranger.encode()) in text and str(sf.key_id) in text
    assert stranger not in text


@pytest.mark.parametrize("where", ["env", "file"])
def test_a_malformed_key_names_where_it_came_from_and_the_file(
    populated: Path, key_file: Path, where: str
) -> None:
    bad = "not-a-key-at-all-but-long-enough-to-look-like-one"
    environ = {"REDLINE_SECRETS_KEY": bad} if where == "env" else {}
    if where == "file":
        key_file.write_text(bad)
    sf = SecretsFile.open(populated, key_file=key_file, environ=environ)
    with pytest.raises(SecretsKeyError) as info:
        sf.get("staging", "API_TOKEN")
    text = str(info.value)
    assert ("REDLINE_SECRETS_KEY" if where == "env" else "secrets.key") in text
    assert FILE in text and str(sf.key_id) in text
    assert "not a valid redline secrets key" in text
    assert bad not in text and bad not in repr(info.value)


def test_a_wrong_key_names_both_key_ids(populated: Path, redactor: Redactor) -> None:
    stranger = generate_key()
    sf = SecretsFile.open(populated, key=stranger, redactor=redactor)
    with pytest.raises(SecretsKeyError) as info:
        sf.get("staging", "API_TOKEN")
    text = str(info.value)
    assert f"(key id {key_id(stranger)})" in text
    assert f"{FILE} was encrypted with (key id {sf.key_id})" in text
    no_secret_in(info.value)


# -- changing values ------------------------------------------------------------------------------


def test_set_replaces_and_delete_removes(
    populated: Path, opener: Callable[..., SecretsFile]
) -> None:
    sf = opener()
    sf.set("staging", "API_TOKEN", "a-new-token-value")
    sf.delete("production", "DATABASE_URL")
    sf.save()
    again = opener()
    assert again.get("staging", "API_TOKEN") == "a-new-token-value"
    assert again.environments() == ["staging"]  # an environment without secrets disappears
    with pytest.raises(SecretsError, match="no secret 'DATABASE_URL' in environment 'production'"):
        again.delete("production", "DATABASE_URL")
    with pytest.raises(SecretsError, match="environment 'staging' has: API_TOKEN, DATABASE_URL"):
        again.get("staging", "NOPE")


def test_saving_an_unchanged_file_does_not_rewrite_it(
    populated: Path, opener: Callable[..., SecretsFile]
) -> None:
    before = populated.stat().st_mtime_ns
    populated.chmod(0o400)  # a rewrite would still work (rename), but the mode would change
    opener().save()
    assert populated.stat().st_mtime_ns == before
    assert stat.S_IMODE(populated.stat().st_mode) == 0o400


@pytest.mark.parametrize(
    ("env", "name", "value", "message"),
    [
        ("stag ing", "X_KEY", SENTINEL, "not an environment name"),
        ("staging", "1BAD", SENTINEL, "not a secret name"),
        ("staging", "with-dash", SENTINEL, "not a secret name"),
        ("staging", "SHORT", "abc", "shorter than 4 characters"),
    ],
)
def test_set_rejects_bad_names_and_unmaskable_values(
    opener: Callable[..., SecretsFile], env: str, name: str, value: str, message: str
) -> None:
    with pytest.raises(SecretsError, match=message) as info:
        opener().set(env, name, value)
    no_secret_in(info.value)


def test_names_that_yaml_would_misread_are_quoted(
    opener: Callable[..., SecretsFile], tmp_path: Path
) -> None:
    sf = opener()
    sf.set("on", "null", "value-for-on")
    sf.set("2024", "X", "value-for-2024")
    sf.save()
    assert '  "on":\n    "null": ENC[' in (tmp_path / FILE).read_text()
    again = opener()
    assert again.environments() == ["2024", "on"]
    assert again.get("on", "null") == "value-for-on"


def test_a_new_file_is_created_under_the_key(
    opener: Callable[..., SecretsFile], key_file: Path
) -> None:
    sf = opener()
    sf.save()
    again = opener()
    assert again.exists
    assert again.key_id == key_id(key_file.read_bytes().strip())
    assert again.verify() == []


def test_multi_line_values_survive(opener: Callable[..., SecretsFile]) -> None:
    pem = "-----BEGIN KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7\n-----END KEY-----\n"
    sf = opener()
    sf.set("production", "TLS_KEY", pem)
    sf.save()
    assert opener().get("production", "TLS_KEY") == pem


# -- the tamper check -----------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return re.findall(r"ENC\[([^\]]+)\]", text)


def _edit_token(text: str) -> str:
    token = _tokens(text)[0]
    middle = len(token) // 2
    flipped = "A" if token[middle] != "A" else "B"
    return text.replace(token, token[:middle] + flipped + token[middle + 1 :])


def _swap_between_envs(text: str) -> str:
    lines = text.splitlines(keepends=True)
    prod = next(i for i, line in enumerate(lines) if "DATABASE_URL" in line)
    stag = max(i for i, line in enumerate(lines) if "DATABASE_URL" in line)
    a, b = _tokens(lines[prod])[0], _tokens(lines[stag])[0]
    lines[prod] = lines[prod].replace(a, b)
    lines[stag] = lines[stag].replace(b, a)
    return "".join(lines)


def _delete_entry(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if "API_TOKEN" not in line)


def _add_entry(text: str) -> str:
    line = next(line for line in text.splitlines(keepends=True) if "API_TOKEN" in line)
    return text.replace(line, line + line.replace("API_TOKEN", "API_TOKEN_COPY"))


def _change_mac(text: str) -> str:
    mac = re.search(r"^mac: (\w+)$", text, re.M)
    assert mac
    flipped = "a" if mac.group(1)[-1] != "a" else "b"
    return text.replace(mac.group(1), mac.group(1)[:-1] + flipped)


@pytest.mark.parametrize(
    "tamper",
    [_edit_token, _swap_between_envs, _delete_entry, _add_entry, _change_mac],
    ids=["edit-token", "swap-envs", "delete-entry", "add-entry", "change-mac"],
)
def test_tampering_is_detected(
    populated: Path, opener: Callable[..., SecretsFile], tamper: Callable[[str], str]
) -> None:
    text = populated.read_text()
    populated.write_text(tamper(text))
    sf = opener()
    with pytest.raises(SecretsTamperedError) as info:
        sf.get("production", "DATABASE_URL")
    message = str(info.value)
    assert f"{FILE} (key id {sf.key_id}) failed its integrity check" in message
    assert "added, removed or changed outside redline" in message
    assert "restore it from version control" in message
    no_secret_in(info.value)
    assert sf.verify() == [message]
    # a tampered file cannot be blessed by re-saving it
    with pytest.raises(SecretsTamperedError):
        sf.set("staging", "OTHER", "other-value")


def test_an_edited_token_is_named_by_environment_and_name(
    populated: Path, opener: Callable[..., SecretsFile]
) -> None:
    populated.write_text(_edit_token(populated.read_text()))
    with pytest.raises(SecretsTamperedError) as info:
        opener().unlock()
    assert "the value of 'DATABASE_URL' in environment 'production' does not decrypt" in str(
        info.value
    )


def test_changing_the_key_id_is_tampering_not_a_wrong_key(
    populated: Path, opener: Callable[..., SecretsFile]
) -> None:
    text = populated.read_text()
    old = re.search(r"^key_id: (k-\w+)$", text, re.M)
    assert old
    populated.write_text(text.replace(old.group(1), "k-000000000000"))
    with pytest.raises(SecretsTamperedError, match=f"key_id was changed from {old.group(1)}"):
        opener().get("staging", "API_TOKEN")


def test_a_damaged_token_under_a_valid_mac_is_named(
    populated: Path, opener: Callable[..., SecretsFile], key_file: Path
) -> None:
    # Someone holding the key re-signed a file with a broken token: the MAC passes, the
    # value itself still fails, and the error names it without showing anything secret.
    sf = opener()
    doc = sf._doc
    doc.entries["production"]["DATABASE_URL"] = Fernet(generate_key()).encrypt(b"x").decode()
    material = key_file.read_bytes().strip()
    assert sf.key_id is not None
    doc.mac = compute_mac(material, sf.key_id, doc.entries)
    assert sf.get("staging", "API_TOKEN") == SENTINEL
    with pytest.raises(SecretsTamperedError) as info:
        sf.get("production", "DATABASE_URL")
    assert "'DATABASE_URL' in environment 'production'" in str(info.value)
    assert len(sf.verify()) == 1


# -- malformed files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("redline_secrets: 1\nkey_id: [unclosed\n", f"{FILE}:3", "expected"),
        ("just: a mapping\n", f"{FILE}:1", "not a redline secrets file"),
        ("redline_secrets: 2\nkey_id: k-0\n", f"{FILE}:1", "format 2"),
        ("redline_secrets: 1\nkey_id: k-000000000000\nextra: 1\n", f"{FILE}:3", "unknown key"),
        (
            "redline_secrets: 1\nkey_id: k-000000000000\nenvironments:\n  staging:\n"
            f"    X: {SENTINEL}\nmac: {'a' * 64}\n",
            f"{FILE}:5",
            "not an encrypted value ENC",
        ),
        (
            "redline_secrets: 1\nkey_id: k-000000000000\nenvironments:\n  staging: {}\n"
            "  staging: {}\n",
            f"{FILE}:5",
            "appears twice",
        ),
    ],
    ids=["yaml-syntax", "not-secrets", "version", "unknown-key", "plaintext", "duplicate"],
)
def test_a_malformed_file_is_reported_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, where: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / FILE).write_text(text)
    with pytest.raises(SecretsError) as info:
        SecretsFile.open(Path(FILE), environ={})
    assert str(info.value).startswith(f"{where}")
    assert message in str(info.value)
    no_secret_in(info.value)


# -- rotation ------------------------------------------------------------------------------------


def test_rotate_re_encrypts_everything_and_retires_the_old_key(
    populated: Path, opener: Callable[..., SecretsFile], key_file: Path, redactor: Redactor
) -> None:
    old = key_file.read_bytes().strip()
    new = generate_key()
    sf = opener()
    before = populated.read_text()
    sf.rotate(new)
    assert sf.key_id == key_id(new)
    assert sf.get("staging", "API_TOKEN") == SENTINEL
    sf.save()
    after = populated.read_text()
    assert set(_tokens(after)).isdisjoint(_tokens(before))
    fresh = SecretsFile.open(populated, key=new, redactor=redactor)
    assert fresh.values("staging")["API_TOKEN"] == SENTINEL
    assert fresh.verify() == []
    with pytest.raises(SecretsKeyError) as info:
        SecretsFile.open(populated, key=old, redactor=redactor).get("staging", "API_TOKEN")
    assert f"(key id {key_id(old)}) is not the key" in str(info.value)
    assert f"(key id {key_id(new)})" in str(info.value)
    with pytest.raises(SecretsKeyError, match="the new key is the current key"):
        fresh.rotate(new)


def test_rotate_key_replaces_the_key_file(
    populated: Path, opener: Callable[..., SecretsFile], key_file: Path
) -> None:
    old_id = key_id(key_file.read_bytes().strip())
    result = rotate_key(opener())
    assert result.old_key_id == old_id
    assert result.new_key_id == key_id(key_file.read_bytes().strip()) != old_id
    assert result.secrets == 3 and not result.resumed and result.update_env is None
    assert not pending_key_path(key_file).exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert opener().get("staging", "API_TOKEN") == SENTINEL


def test_rotate_key_with_the_key_in_a_variable_writes_a_new_key_file(
    populated: Path, key_file: Path, tmp_path: Path, redactor: Redactor
) -> None:
    environ = {"REDLINE_SECRETS_KEY": key_file.read_text().strip()}
    sf = SecretsFile.open(populated, key_file=None, environ=environ, redactor=redactor)
    with pytest.raises(SecretsError, match="pass --new-key-file"):
        rotate_key(sf)
    target = tmp_path / "new.key"
    result = rotate_key(sf, new_key_file=target)
    assert result.update_env == "REDLINE_SECRETS_KEY"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert result.new_key_id == key_id(target.read_bytes().strip())
    with pytest.raises(SecretsKeyError, match="is not the key"):
        SecretsFile.open(populated, environ=environ).unlock()
    environ = {"REDLINE_SECRETS_KEY": target.read_text().strip()}
    assert SecretsFile.open(populated, environ=environ, redactor=redactor).values("staging")
    # a second rotation must not clobber the key file it would need
    with pytest.raises(SecretsError, match="refusing to overwrite a key file"):
        rotate_key(SecretsFile.open(populated, environ=environ), new_key_file=target)
    # resuming a finished rotation is harmless
    again = rotate_key(
        SecretsFile.open(populated, environ=environ), new_key_file=target, resume=True
    )
    assert again.resumed and again.new_key_id == result.new_key_id


def test_new_key_file_is_refused_when_the_key_is_a_file(
    populated: Path, opener: Callable[..., SecretsFile], tmp_path: Path
) -> None:
    with pytest.raises(SecretsError, match="only for a key given in the variable"):
        rotate_key(opener(), new_key_file=tmp_path / "k")


def _crash_after_new_key(key_file: Path) -> bytes:
    new = generate_key()
    pending = pending_key_path(key_file)
    pending.write_bytes(new + b"\n")
    pending.chmod(0o600)
    return new


def test_crash_after_writing_the_new_key_then_resume(
    populated: Path, opener: Callable[..., SecretsFile], key_file: Path
) -> None:
    new = _crash_after_new_key(key_file)
    sf = opener()
    assert sf.get("staging", "API_TOKEN") == SENTINEL  # still opens with the old key
    assert sf.pending_rotation() == pending_key_path(key_file)
    result = rotate_key(opener(), resume=True)
    assert result.resumed and result.new_key_id == key_id(new)
    assert key_file.read_bytes().strip() == new
    assert not pending_key_path(key_file).exists()
    assert opener().get("staging", "API_TOKEN") == SENTINEL


def test_crash_after_re_encrypting_says_so_and_resume_finishes(
    populated: Path, opener: Callable[..., SecretsFile], key_file: Path
) -> None:
    old_id = key_id(key_file.read_bytes().strip())
    new = _crash_after_new_key(key_file)
    sf = opener()
    sf.rotate(new)
    sf.save()
    # the process dies here: the file is under the new key, the key file is the old one
    with pytest.raises(SecretsKeyError) as info:
        opener().get("staging", "API_TOKEN")
    text = str(info.value)
    assert "a key rotation of" in text and "was interrupted" in text
    assert key_id(new) in text and old_id in text
    assert "redline secrets rotate --resume" in text
    problem = opener().key_problem()
    assert problem is not None and "interrupted" in str(problem)
    # an ordinary rotate refuses rather than piling a second rotation on the first
    with pytest.raises(SecretsKeyError, match="interrupted"):
        rotate_key(opener())
    result = rotate_key(opener(), resume=True)
    assert result.resumed and result.new_key_id == key_id(new) and result.old_key_id == old_id
    assert opener().get("staging", "API_TOKEN") == SENTINEL
    assert not pending_key_path(key_file).exists()


def test_a_lost_key_file_with_a_pending_key_is_an_interrupted_rotation(
    populated: Path, opener: Callable[..., SecretsFile], key_file: Path
) -> None:
    new = _crash_after_new_key(key_file)
    sf = opener()
    sf.rotate(new)
    sf.save()
    key_file.unlink()
    with pytest.raises(SecretsKeyError, match="interrupted.*is missing"):
        opener().unlock()
    rotate_key(opener(), resume=True)
    assert opener().get("staging", "API_TOKEN") == SENTINEL


def test_resume_without_an_interrupted_rotation(
    populated: Path, opener: Callable[..., SecretsFile]
) -> None:
    with pytest.raises(SecretsError, match="nothing to resume"):
        rotate_key(opener(), resume=True)


def test_a_rotation_killed_mid_way_is_recoverable(
    populated: Path, key_file: Path, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from redline.secrets import SecretsFile, generate_key, pending_key_path
        from redline.secrets._keys import write_private_file
        key_file = Path({str(key_file)!r})
        sf = SecretsFile.open(Path({str(populated)!r}), key_file=key_file, environ={{}})
        new = generate_key()
        write_private_file(pending_key_path(key_file), new + b"\\n")
        sf.rotate(new)
        sf.save()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, check=False)
    assert proc.returncode == -signal.SIGKILL
    sf = SecretsFile.open(populated, key_file=key_file, environ={})
    with pytest.raises(SecretsKeyError, match="interrupted"):
        sf.unlock()
    rotate_key(sf, resume=True)
    assert SecretsFile.open(populated, key_file=key_file, environ={}).verify() == []


# -- config --------------------------------------------------------------------------------------


def test_secrets_for_takes_paths_relative_to_the_config_directory(
    tmp_path: Path, redactor: Redactor
) -> None:
    config = Config(
        project="demo",
        secrets=SecretsConfig(file="conf/s.yaml", key_env="DEMO_KEY", key_file="keys/demo.key"),
    )
    sf = secrets_for(config, tmp_path, environ={}, redactor=redactor)
    assert sf.path == tmp_path / "conf" / "s.yaml"
    assert sf.key_file == tmp_path / "keys" / "demo.key"
    assert sf.key_env == "DEMO_KEY"
    section = SecretsConfig(key_file=None)
    only_env = secrets_for(section, tmp_path, environ={"REDLINE_SECRETS_KEY": ""})
    assert only_env.key_file is None
    with pytest.raises(SecretsKeyError) as info:
        only_env.set("staging", "X_KEY", "some-value")
    assert re.fullmatch(r"no key to encrypt .*: set REDLINE_SECRETS_KEY", info.value.message)


def test_nothing_secret_in_reprs(populated: Path, opener: Callable[..., SecretsFile]) -> None:
    sf = opener()
    sf.values("staging")
    assert SENTINEL not in repr(sf)
    assert "secrets=3" in repr(sf)


def test_a_mac_of_digits_only_is_still_read_as_text() -> None:
    from redline.secrets._format import parse_document, render_document

    text = render_document("k-0123456789ab", "1" * 64, {"staging": {"A_B": "gAAAA"}})
    doc = parse_document(text, FILE)
    assert doc.mac == "1" * 64
    assert doc.entries == {"staging": {"A_B": "gAAAA"}}
