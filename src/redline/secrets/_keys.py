"""Secrets keys: how they are made, named, found, checked and written.

A key is a Fernet key: urlsafe base64 of 32 random bytes. Its *key id*
(``k-`` and 12 hex digits) names it in files, messages and output; the id is a
hash of the key under a fixed context, so it can be shown anywhere without
revealing anything about the key. The key itself is never printed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet

from redline._errors import SecretsKeyError

__all__ = [
    "Key",
    "KeySource",
    "display_path",
    "fsync_dir",
    "generate_key",
    "key_id",
    "parse_key",
    "pending_key_path",
    "read_key_file",
    "resolve_key",
    "write_private_file",
]

_KEY_ID_CONTEXT = b"redline secrets key id v1\x00"
KeySource = Literal["env", "file", "given"]


def generate_key() -> bytes:
    """A new random Fernet key (44 bytes of urlsafe base64).

    >>> len(generate_key())
    44
    """
    return Fernet.generate_key()


def _raw(key: bytes) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key)
    except (binascii.Error, ValueError):
        raise ValueError("not urlsafe base64") from None
    if len(raw) != 32:
        raise ValueError("not 32 bytes")
    return raw


def key_id(key: bytes) -> str:
    """The public name of ``key``: ``k-`` and the first 12 hex digits of a hash of it.

    Safe to print, store and commit; equal ids mean (almost surely) the same key.
    """
    digest = hashlib.sha256(_KEY_ID_CONTEXT + _raw(key)).hexdigest()
    return f"k-{digest[:12]}"


def parse_key(text: str | bytes, *, label: str, for_file: str) -> bytes:
    """``text`` as a Fernet key, or a :class:`SecretsKeyError` naming ``label`` (where it was)."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    data = data.strip()
    try:
        _raw(data)
    except ValueError:
        raise SecretsKeyError(
            f"{label} is not a valid redline secrets key "
            f"(urlsafe base64 of 32 bytes), so it cannot decrypt {for_file}",
            hint="a key is 44 characters ending in '='; `redline secrets init` writes one",
        ) from None
    return data


@dataclass(frozen=True)
class Key:
    """A key together with where it was found. Its ``repr`` never shows the key."""

    material: bytes = field(repr=False)
    source: KeySource
    where: str

    def __repr__(self) -> str:
        return f"Key(id={self.id!r}, source={self.source!r}, where={self.where!r})"

    @property
    def id(self) -> str:
        return key_id(self.material)

    @property
    def label(self) -> str:
        """``the key in REDLINE_SECRETS_KEY``, ``the key in .redline/secrets.key``, ..."""
        return "the given key" if self.source == "given" else f"the key in {self.where}"


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, else absolute."""
    try:
        absolute = path.resolve()
        return str(absolute.relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def pending_key_path(key_file: Path) -> Path:
    """Where a rotation puts the new key before it replaces ``key_file``."""
    return key_file.with_name(key_file.name + ".new")


def read_key_file(path: Path, *, for_file: str) -> Key | None:
    """The key in ``path``, ``None`` if there is no such file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretsKeyError(
            f"cannot read the key file {display_path(path)} for {for_file}: {exc.strerror}",
            hint="check the file's owner and permissions (it should be mode 0600)",
        ) from None
    where = display_path(path)
    return Key(parse_key(data, label=f"the key in {where}", for_file=for_file), "file", where)


def resolve_key(
    *,
    key_env: str,
    key_file: Path | None,
    environ: Mapping[str, str],
    for_file: str,
) -> Key | None:
    """The key to use: the variable ``key_env`` when set and not empty, else ``key_file``."""
    value = environ.get(key_env, "").strip()
    if value:
        return Key(
            parse_key(value, label=f"the key in {key_env}", for_file=for_file), "env", key_env
        )
    if key_file is not None:
        return read_key_file(key_file, for_file=for_file)
    return None


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600.

    A temporary file in the same directory is written, fsynced and renamed over
    ``path``, and the directory is fsynced, so after a crash ``path`` holds either
    the old content or the new one, never a mixture.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
