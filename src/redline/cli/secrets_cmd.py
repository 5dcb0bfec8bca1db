"""``redline secrets``: init, set, get, delete, list, rotate, check.

Values are read from stdin (never from argv, where ``ps`` and shell history
would see them) and shown only by ``get``; everything else prints names, paths
and key ids, through the redactor like all CLI output.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import click

from redline._errors import SecretsError, SecretsKeyError
from redline.cli._output import (
    EXIT_CONFIG,
    EXIT_OK,
    config_option,
    config_path,
    echo,
    echo_json,
    json_option,
    print_table,
)
from redline.config.loader import read_secrets_section
from redline.config.schema import SecretsConfig
from redline.secrets import Key, SecretsFile, generate_key, rotate_key, secrets_for
from redline.secrets._keys import display_path, write_private_file

__all__ = ["secrets"]


def _open(ctx: click.Context) -> tuple[SecretsFile, SecretsConfig, Path]:
    config, base = read_secrets_section(config_path(ctx))
    return secrets_for(config, base), config, base


def _quiet_key(sf: SecretsFile) -> Key | None:
    try:
        return sf.find_key()
    except SecretsKeyError:
        return None


def _doc(**fields: Any) -> dict[str, Any]:
    return {"schema_version": 1, "ok": True, **fields}


@click.group()
def secrets() -> None:
    """Encrypted secrets: names readable, values encrypted, the file safe to commit.

    The key comes from the variable named by `secrets.key_env` (default
    REDLINE_SECRETS_KEY) or, when that is unset, from `secrets.key_file`
    (default .redline/secrets.key). Exit codes: 0 ok; 5 secrets unusable
    (missing or wrong key, tampered file).
    """


# -- init ------------------------------------------------------------------------------------


@secrets.command()
@click.option("--force", is_flag=True, help="Replace an existing key file with a new key.")
@config_option
@json_option
@click.pass_context
def init(ctx: click.Context, force: bool, as_json: bool) -> int:
    """Create a key (mode 0600) and an empty secrets file; keep the key out of git."""
    sf, config, base = _open(ctx)
    count = sum(len(sf.names(env)) for env in sf.environments())
    key_file = sf.key_file
    try:
        key = sf.find_key()
    except SecretsKeyError as exc:
        if not force:
            raise SecretsKeyError(
                exc.message, hint="fix it, or pass --force to replace the key file with a new key"
            ) from None
        key = None
    key_created = False
    if key is None or (force and key.source == "file"):
        if sf.key_file is None:
            raise SecretsKeyError(
                f"no key for {sf.display}: `secrets.key_file` is not set and {sf.key_env} is empty",
                hint=f"set {sf.key_env} to a key, or set `secrets.key_file` in the config",
            )
        if count:
            raise SecretsKeyError(
                f"{sf.display} holds {count} secret(s) encrypted with key {sf.key_id}; "
                "a new key would make them undecryptable",
                hint="use `redline secrets rotate` to change the key and keep the secrets"
                if force
                else f"get the key with id {sf.key_id} (set {sf.key_env} or put it in "
                f"{display_path(sf.key_file)}) instead of making a new one",
            )
        new = generate_key()
        write_private_file(sf.key_file, new + b"\n")
        key_created = True
        sf = secrets_for(config, base)
        key = sf.find_key()
    assert key is not None
    if sf.exists and sf.key_id != key.id and count:
        raise SecretsKeyError(
            f"{sf.display} already holds {count} secret(s) encrypted with key {sf.key_id}, "
            f"and {key.label} is another key ({key.id})",
            hint=f"get the key with id {sf.key_id} instead of making a new one",
        )
    file_created = not sf.exists or sf.key_id != key.id
    if file_created:
        # An empty file (or one under a discarded key with no secrets) is written afresh.
        SecretsFile.new(sf.path, key=key.material).save()
        sf = secrets_for(config, base)
    gitignore = _ignore_key_file(base, key_file) if key.source == "file" else None
    if as_json:
        echo_json(
            _doc(
                file=sf.display,
                key_id=key.id,
                key_source=key.source,
                key_at=key.where,
                key_created=key_created,
                file_created=file_created,
                gitignore=gitignore,
            )
        )
        return EXIT_OK
    if key_created:
        echo(f"created key {key.where} (key id {key.id}, mode 0600)")
    else:
        hint = " (pass --force to replace it)" if key.source == "file" else ""
        echo(f"using the existing key in {key.where} (key id {key.id}){hint}")
    if file_created:
        echo(f"created {sf.display} (no secrets yet)")
    else:
        echo(f"{sf.display} already exists and uses this key")
    if gitignore:
        echo(gitignore)
    if key_created:
        echo(
            "keep a copy of the key somewhere safe (a password manager): without it the "
            "secrets cannot be decrypted.\n"
            f"give it to CI as the variable {sf.key_env}; never commit it."
        )
    echo('next: printf %s "$VALUE" | redline secrets set NAME --env ENV')
    return EXIT_OK


def _ignore_key_file(base: Path, key_file: Path | None) -> str | None:
    """Make sure git ignores the key file (and its `.new` during rotation)."""
    if key_file is None:
        return None
    try:
        rel = key_file.resolve().relative_to(base.resolve())
    except ValueError:
        return f"{display_path(key_file)} is outside the project; keep it out of version control"
    entry = f"{rel.parts[0]}/" if len(rel.parts) > 1 else f"/{rel.as_posix()}*"
    gitignore = base / ".gitignore"
    try:
        text = gitignore.read_text(encoding="utf-8")
    except FileNotFoundError:
        gitignore.write_text(f"# redline: the secrets key must never be committed\n{entry}\n")
        return f"created .gitignore ignoring {entry}"
    bare = entry.strip("/*")
    present = {line.strip().strip("/*") for line in text.splitlines()}
    if bare in present:
        return None
    sep = "" if text.endswith("\n") or not text else "\n"
    with gitignore.open("a", encoding="utf-8") as fh:
        fh.write(f"{sep}# redline: the secrets key must never be committed\n{entry}\n")
    return f"added {entry} to .gitignore"


# -- set / get / delete ------------------------------------------------------------------------


def _read_value(name: str, env: str) -> str:
    stdin = sys.stdin
    if stdin.isatty():
        value: str = click.prompt(
            f"value of {name} in {env}", hide_input=True, confirmation_prompt=True, err=True
        )
        return value
    value = stdin.read()
    if value.endswith("\r\n"):
        value = value[:-2]
    elif value.endswith("\n"):
        value = value[:-1]
    if not value:
        raise SecretsError(
            f"no value for {name} on stdin",
            hint=f'pipe it in: printf %s "$VALUE" | redline secrets set {name} --env {env}',
        )
    return value


def _against_contract(ctx: click.Context, name: str, env: str) -> list[str]:
    """Typos the config would catch: an undeclared environment or variable (warnings only:
    the secrets commands work whatever state the rest of the config is in)."""
    from redline._errors import RedlineError
    from redline.config.diagnostics import closest
    from redline.config.loader import find_config, load_config

    path = config_path(ctx)
    if not (path or find_config().is_file()):
        return []
    try:
        loaded = load_config(path)
        variables = list(
            loaded.config(
                loaded.default_env() or next(iter(loaded.environment_names()), None)
            ).variables
        )
    except RedlineError:
        return []

    def unknown(kind: str, value: str, known: list[str]) -> str:
        close = closest(value, known)
        hint = f"; did you mean '{close}'?" if close else ""
        return f"{kind} '{value}' is not declared in {loaded.path}{hint}"

    out = []
    envs = loaded.environment_names()
    if envs and env not in envs:
        out.append(unknown("environment", env, envs))
    if variables and name not in variables:
        out.append(unknown("variable", name, variables))
    return out


@secrets.command("set")
@click.argument("name")
@click.option("--env", "env", required=True, help="Environment the secret belongs to.")
@config_option
@json_option
@click.pass_context
def set_(ctx: click.Context, name: str, env: str, as_json: bool) -> int:
    """Encrypt the value read from stdin as NAME in ENV (prompts without echo on a terminal)."""
    sf, _, _ = _open(ctx)
    sf.unlock()  # before reading the value: a wrong key should not cost the user a paste
    for warning in _against_contract(ctx, name, env):
        echo(f"warning: {warning}", err=True)
    existed = name in sf.names(env)
    value = _read_value(name, env)
    sf.set(env, name, value)
    sf.save()
    action = "updated" if existed else "added"
    if as_json:
        echo_json(_doc(file=sf.display, key_id=sf.key_id, env=env, name=name, action=action))
    else:
        echo(f"{action} {name} in {env} ({sf.display}, key id {sf.key_id})")
    return EXIT_OK


@secrets.command()
@click.argument("name")
@click.option("--env", "env", required=True, help="Environment the secret belongs to.")
@config_option
@json_option
@click.pass_context
def get(ctx: click.Context, name: str, env: str, as_json: bool) -> int:
    """Print the decrypted value of NAME in ENV: the one command that reveals a secret."""
    sf, _, _ = _open(ctx)
    value = sf.get(env, name)
    # Deliberately not through `echo`: the redactor would (rightly) mask it.
    if as_json:
        click.echo(
            json.dumps({"schema_version": 1, "ok": True, "env": env, "name": name, "value": value})
        )
    else:
        click.echo(value)
    return EXIT_OK


@secrets.command()
@click.argument("name")
@click.option("--env", "env", required=True, help="Environment the secret belongs to.")
@config_option
@json_option
@click.pass_context
def delete(ctx: click.Context, name: str, env: str, as_json: bool) -> int:
    """Remove NAME from ENV."""
    sf, _, _ = _open(ctx)
    sf.delete(env, name)
    sf.save()
    if as_json:
        echo_json(_doc(file=sf.display, key_id=sf.key_id, env=env, name=name, action="deleted"))
    else:
        echo(f"deleted {name} from {env} ({sf.display}, key id {sf.key_id})")
    return EXIT_OK


# -- list / check ------------------------------------------------------------------------------


@secrets.command("list")
@click.option("--env", "env", default=None, help="Only this environment.")
@config_option
@json_option
@click.pass_context
def list_(ctx: click.Context, env: str | None, as_json: bool) -> int:
    """Names of the secrets per environment, and the key id; never values. Needs no key."""
    sf, _, _ = _open(ctx)
    envs = [env] if env else sf.environments()
    problem = sf.key_problem() if sf.exists else None
    key = _quiet_key(sf)
    pending = sf.pending_rotation()
    if as_json:
        echo_json(
            _doc(
                file=sf.display,
                exists=sf.exists,
                key_id=sf.key_id,
                environments={e: sf.names(e) for e in envs},
                key={
                    "source": None if key is None else key.source,
                    "at": None if key is None else key.where,
                    "id": None if key is None else key.id,
                    "problem": None if problem is None else problem.message,
                },
                pending_rotation=None if pending is None else display_path(pending),
            )
        )
        return EXIT_OK
    if not sf.exists:
        echo(f"no secrets file {sf.display} yet; run `redline secrets init`")
        return EXIT_OK
    rows = [[e, n] for e in envs for n in sf.names(e)]
    if rows:
        print_table(f"{sf.display} (key id {sf.key_id})", ["environment", "name"], rows)
    else:
        where = f" in environment '{env}'" if env else ""
        echo(f"{sf.display} (key id {sf.key_id}): no secrets{where}")
    if problem is not None:
        echo(f"warning: {problem}", err=True)
    elif key is not None:
        echo(f"key: {key.where} (key id {key.id}, matches)")
    if pending is not None and problem is None:
        echo(
            f"warning: {display_path(pending)} is left from an unfinished rotation; run "
            "`redline secrets rotate --resume` to finish it, or delete it",
            err=True,
        )
    return EXIT_OK


@secrets.command()
@config_option
@json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> int:
    """Key present and matching, integrity check passes, every value decrypts (exit 0 or 5)."""
    sf, _, _ = _open(ctx)
    problems = sf.verify()
    warnings = []
    pending = sf.pending_rotation()
    if pending is not None and not problems:
        warnings.append(
            f"{display_path(pending)} is left from an unfinished rotation; run "
            "`redline secrets rotate --resume` to finish it, or delete it"
        )
    key = _quiet_key(sf)
    if key is not None and key.source == "file" and sf.key_file is not None:
        mode = stat.S_IMODE(os.stat(sf.key_file).st_mode)
        if mode & 0o077:
            warnings.append(
                f"{key.where} has mode {mode:04o}: other users can read the key; "
                f"run `chmod 600 {key.where}`"
            )
    count = sum(len(sf.names(e)) for e in sf.environments())
    ok = not problems
    if as_json:
        echo_json(
            {
                "schema_version": 1,
                "ok": ok,
                "file": sf.display,
                "key_id": sf.key_id,
                "key_at": None if key is None else key.where,
                "secrets": count,
                "environments": sf.environments(),
                "problems": problems,
                "warnings": warnings,
            }
        )
    elif ok:
        echo(
            f"ok: {sf.display} (key id {sf.key_id}): key from {key.where if key else '?'} "
            f"matches, integrity check passed, {count} secret(s) in "
            f"{len(sf.environments())} environment(s) decrypt"
        )
    else:
        for problem in problems:
            echo(f"error: {problem}", err=True)
    for warning in warnings if not as_json else []:
        echo(f"warning: {warning}", err=True)
    return EXIT_OK if ok else EXIT_CONFIG


# -- rotate ------------------------------------------------------------------------------------


@secrets.command()
@click.option(
    "--new-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the new key when the current one comes from the variable.",
)
@click.option("--resume", is_flag=True, help="Finish a rotation that was interrupted.")
@config_option
@json_option
@click.pass_context
def rotate(ctx: click.Context, new_key_file: Path | None, resume: bool, as_json: bool) -> int:
    """Re-encrypt every value under a new key; the old key stops working."""
    sf, _, _ = _open(ctx)
    result = rotate_key(sf, new_key_file=new_key_file, resume=resume)
    if as_json:
        echo_json(
            _doc(
                file=result.file,
                old_key_id=result.old_key_id,
                new_key_id=result.new_key_id,
                new_key_at=result.new_key_at,
                secrets=result.secrets,
                resumed=result.resumed,
                update_env=result.update_env,
            )
        )
        return EXIT_OK
    verb = "finished the interrupted rotation of" if result.resumed else "rotated"
    echo(
        f"{verb} {result.file}: {result.secrets} secret(s) now encrypted with key "
        f"{result.new_key_id} (was {result.old_key_id or 'unknown'}); "
        f"the new key is in {result.new_key_at}"
    )
    if result.update_env:
        echo(
            f"now set {result.update_env} to the key in {result.new_key_at} wherever it is set "
            f"(CI, deploy hosts, teammates), then delete {result.new_key_at}"
        )
    echo(
        f"the old key no longer decrypts {result.file}: commit the file, and give the new "
        "key to everyone (and every CI job) that had the old one"
    )
    return EXIT_OK
