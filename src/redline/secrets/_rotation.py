"""Key rotation that survives a crash at any point.

With the key in a key file ``K``, the steps are:

1. write the new key to ``K.new`` (mode 0600, fsynced);
2. re-encrypt the secrets file under the new key and replace it atomically;
3. rename ``K.new`` over ``K``.

After a crash between 1 and 2 the file still opens with ``K``; between 2 and 3
opening it says a rotation was interrupted. ``rotate_key(..., resume=True)``
finishes either. With the key in a variable, the new key is written to a file
the caller names and the user updates the variable: redline cannot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from redline._errors import SecretsError
from redline.secrets._file import SecretsFile
from redline.secrets._keys import (
    Key,
    display_path,
    fsync_dir,
    generate_key,
    pending_key_path,
    read_key_file,
    write_private_file,
)

__all__ = ["Rotation", "rotate_key"]


@dataclass(frozen=True)
class Rotation:
    """What a rotation did; ``update_env`` names a variable the user must now change."""

    file: str
    old_key_id: str | None
    new_key_id: str
    new_key_at: str
    secrets: int
    resumed: bool
    update_env: str | None = None


def rotate_key(
    sf: SecretsFile, *, new_key_file: Path | None = None, resume: bool = False
) -> Rotation:
    """Rotate ``sf`` to a new key and put the key where its users find it.

    The key in the variable ``sf.key_env`` cannot be changed by redline, so then
    ``new_key_file`` is required and receives the new key; otherwise the key file
    is replaced. ``resume`` finishes a rotation that was interrupted.
    """
    key = sf.find_key()
    if key is not None and key.source == "env":
        if new_key_file is None:
            raise SecretsError(
                f"the key of {sf.display} comes from the variable {sf.key_env}, which redline "
                "cannot change",
                hint="pass --new-key-file PATH: the new key is written there, then you set "
                f"{sf.key_env} to it",
            )
        return _rotate_env(sf, key, Path(new_key_file), resume=resume)
    if new_key_file is not None:
        raise SecretsError(
            "--new-key-file is only for a key given in the variable "
            f"{sf.key_env}; {sf.display} uses a key file, which rotation replaces in place",
            hint="run `redline secrets rotate` without --new-key-file",
        )
    if key is not None and key.source == "given":
        raise SecretsError(
            "the key was given directly, so there is no key file to rotate",
            hint="call SecretsFile.rotate(new_key) and save(), and store the new key yourself",
        )
    if sf.key_file is None:
        sf.unlock()  # raises the "no key" error that says where a key is looked for
        raise AssertionError("unreachable")  # pragma: no cover
    return _rotate_file(sf, sf.key_file, resume=resume)


def _count(sf: SecretsFile) -> int:
    return sum(len(sf.names(env)) for env in sf.environments())


def _rotate_file(sf: SecretsFile, key_file: Path, *, resume: bool) -> Rotation:
    pending_path = pending_key_path(key_file)
    shown = display_path(key_file)
    if resume:
        pending = read_key_file(pending_path, for_file=sf.label)
        if pending is None:
            raise SecretsError(
                f"nothing to resume: no rotation of {sf.display} was interrupted "
                f"(there is no {display_path(pending_path)})",
                hint="run `redline secrets rotate` to start one",
            )
        old = read_key_file(key_file, for_file=sf.label)
        old_id = None if old is None else old.id
        if sf.key_id != pending.id:
            # Interrupted before the file was re-encrypted: do it now.
            old_id = sf.unlock()
            sf.rotate(pending.material)
            sf.save()
        else:
            # Re-encrypted already: check the file really opens with the pending key first.
            check = SecretsFile.open(sf.path, key=pending.material)
            check.unlock()
        _promote(pending_path, key_file)
        return Rotation(sf.display, old_id, pending.id, shown, _count(sf), True)

    old_id = sf.unlock()
    new = generate_key()
    write_private_file(pending_path, new + b"\n")
    sf.rotate(new)
    sf.save()
    _promote(pending_path, key_file)
    return Rotation(sf.display, old_id, sf.unlock(), shown, _count(sf), False)


def _promote(pending_path: Path, key_file: Path) -> None:
    os.chmod(pending_path, 0o600)
    os.replace(pending_path, key_file)
    fsync_dir(key_file.parent)


def _rotate_env(sf: SecretsFile, key: Key, new_key_file: Path, *, resume: bool) -> Rotation:
    shown = display_path(new_key_file)
    if resume:
        pending = read_key_file(new_key_file, for_file=sf.label)
        if pending is None:
            raise SecretsError(
                f"nothing to resume: there is no new key in {shown}",
                hint="pass the --new-key-file of the interrupted rotation",
            )
        if sf.key_id == pending.id:
            SecretsFile.open(sf.path, key=pending.material).unlock()
            return Rotation(sf.display, key.id, pending.id, shown, _count(sf), True, sf.key_env)
        old_id = sf.unlock()
        sf.rotate(pending.material)
        sf.save()
        return Rotation(sf.display, old_id, pending.id, shown, _count(sf), True, sf.key_env)

    if new_key_file.exists():
        raise SecretsError(
            f"{shown} already exists; refusing to overwrite a key file",
            hint="choose another path, or add --resume to finish the rotation that wrote it",
        )
    old_id = sf.unlock()
    new = generate_key()
    write_private_file(new_key_file, new + b"\n")
    sf.rotate(new)
    sf.save()
    return Rotation(sf.display, old_id, sf.unlock(), shown, _count(sf), False, sf.key_env)
