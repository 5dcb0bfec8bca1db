"""``SecretsFile``: read names without a key, decrypt and change values with one."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from redline._errors import SecretsError, SecretsKeyError, SecretsTamperedError
from redline.redact import REDACTOR, Redactor
from redline.secrets._format import (
    ENV_NAME,
    SECRET_NAME,
    Document,
    compute_mac,
    parse_document,
    render_document,
)
from redline.secrets._keys import (
    Key,
    display_path,
    parse_key,
    pending_key_path,
    read_key_file,
    resolve_key,
    write_private_file,
)

if TYPE_CHECKING:
    from redline.config.schema import Config, SecretsConfig

__all__ = ["MIN_VALUE_LENGTH", "SecretsFile", "secrets_for"]

# The redactor cannot mask shorter values without masking ordinary words, so they are refused.
MIN_VALUE_LENGTH = 4
_RESTORE = "restore it from version control (e.g. `git checkout -- {file}`)"


class SecretsFile:
    """An encrypted secrets file: readable names, Fernet-encrypted values, one MAC over all.

    >>> sf = SecretsFile.open(Path("redline.secrets.yaml"))     # doctest: +SKIP
    >>> sf.names("staging")                                    # doctest: +SKIP
    ['DATABASE_URL']
    >>> sf.get("staging", "DATABASE_URL")                      # doctest: +SKIP
    'postgresql://app:...@db/app'

    Listing needs no key. The first call that needs one finds it (the variable
    ``key_env``, else ``key_file``), checks it is the file's key and verifies the
    file's MAC. Every value decrypted or set is registered with the redactor, so
    the CLI masks it in everything it prints.
    """

    def __init__(
        self,
        path: Path,
        document: Document,
        *,
        exists: bool,
        key_env: str,
        key_file: Path | None,
        environ: Mapping[str, str],
        key: Key | None,
        redactor: Redactor,
    ) -> None:
        self.path = path
        self.key_env = key_env
        self.key_file = key_file
        self._doc = document
        self._exists = exists
        self._environ = environ
        self._given = key
        self._key: Key | None = None
        self._redactor = redactor
        self._dirty = False

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        key_env: str = "REDLINE_SECRETS_KEY",
        key_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        key: bytes | None = None,
        redactor: Redactor | None = None,
    ) -> SecretsFile:
        """Read ``path`` without decrypting anything; a missing file holds no secrets.

        ``key`` overrides the variable and the key file (for tests and tools that
        hold the key already); ``environ`` defaults to ``os.environ``.
        """
        path = Path(path)
        shown = display_path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise SecretsError(f"cannot read the secrets file {shown}: {reason}") from None
        document = Document() if text is None else parse_document(text, shown)
        given = None
        if key is not None:
            for_file = f"{shown} (key id {document.key_id})"
            material = parse_key(key, label="the given key", for_file=for_file)
            given = Key(material, "given", "the given key")
        return cls(
            path,
            document,
            exists=text is not None,
            key_env=key_env,
            key_file=None if key_file is None else Path(key_file),
            environ=os.environ if environ is None else environ,
            key=given,
            redactor=REDACTOR if redactor is None else redactor,
        )

    @classmethod
    def new(cls, path: Path, *, key: bytes, redactor: Redactor | None = None) -> SecretsFile:
        """An empty set of secrets under ``key`` that ``save()`` writes to ``path``.

        Whatever ``path`` holds is replaced: callers check first that nothing is lost.
        """
        path = Path(path)
        material = parse_key(key, label="the given key", for_file=display_path(path))
        return cls(
            path,
            Document(),
            exists=False,
            key_env="",
            key_file=None,
            environ={},
            key=Key(material, "given", "the given key"),
            redactor=REDACTOR if redactor is None else redactor,
        )

    def __repr__(self) -> str:
        count = sum(len(names) for names in self._doc.entries.values())
        return (
            f"SecretsFile({display_path(self.path)!r}, key_id={self.key_id!r}, "
            f"environments={len(self._doc.entries)}, secrets={count})"
        )

    # -- reading without a key -------------------------------------------------------------

    @property
    def exists(self) -> bool:
        """Whether the file is on disk (a new project has none until the first save)."""
        return self._exists

    @property
    def key_id(self) -> str | None:
        """The id of the key every value is encrypted with; ``None`` for a new file."""
        return self._doc.key_id

    @property
    def display(self) -> str:
        return display_path(self.path)

    def environments(self) -> list[str]:
        """The environments that have secrets, sorted."""
        return sorted(self._doc.entries)

    def names(self, env: str) -> list[str]:
        """The names of ``env``'s secrets, sorted (empty for an unknown environment)."""
        return sorted(self._doc.entries.get(env, {}))

    def pending_rotation(self) -> Path | None:
        """The ``<key_file>.new`` left by an unfinished rotation, if there is one."""
        if self.key_file is None:
            return None
        pending = pending_key_path(self.key_file)
        return pending if pending.exists() else None

    def find_key(self) -> Key | None:
        """The key this file would be opened with, not yet checked against the file."""
        if self._given is not None:
            return self._given
        return resolve_key(
            key_env=self.key_env,
            key_file=self.key_file,
            environ=self._environ,
            for_file=self.label,
        )

    def key_problem(self) -> SecretsError | None:
        """Why the key cannot open this file (missing, malformed, another key), or ``None``."""
        try:
            key = self.find_key()
            if key is None:
                raise self._missing_key()
            if self.key_id is not None and key.id != self.key_id:
                raise self._mismatch(key, check_mac=False)
        except SecretsError as exc:
            return exc
        return None

    # -- with a key ------------------------------------------------------------------------

    def unlock(self) -> str:
        """Find the key, check it is this file's and verify the MAC; returns the key id."""
        return self._unlock().id

    def get(self, env: str, name: str) -> str:
        """The decrypted value of secret ``name`` in ``env``."""
        self._unlock()
        token = self._doc.entries.get(env, {}).get(name)
        if token is None:
            raise self._no_such(env, name)
        return self._decrypt(env, name, token)

    def values(self, env: str) -> dict[str, str]:
        """Every secret of ``env``, decrypted (empty for an environment without secrets)."""
        return {name: self.get(env, name) for name in self.names(env)}

    def set(self, env: str, name: str, value: str) -> None:
        """Encrypt ``value`` as secret ``name`` of ``env`` (added or replaced); then ``save()``."""
        if not ENV_NAME.match(env):
            raise SecretsError(
                f"'{env}' is not an environment name",
                hint="use letters, digits, '_', '.' and '-', starting with a letter or digit",
            )
        if not SECRET_NAME.match(name):
            raise SecretsError(
                f"'{name}' is not a secret name",
                hint="use letters, digits and '_', not starting with a digit (like DATABASE_URL)",
            )
        if not isinstance(value, str) or len(value) < MIN_VALUE_LENGTH:
            raise SecretsError(
                f"the value for {env}/{name} is shorter than {MIN_VALUE_LENGTH} characters",
                hint="values that short cannot be masked in output; they are not secrets",
            )
        self._redactor.add(value)
        key = self._unlock()
        token = Fernet(key.material).encrypt(value.encode("utf-8")).decode("ascii")
        self._doc.entries.setdefault(env, {})[name] = token
        if self._doc.key_id is None:
            self._doc.key_id = key.id
        self._dirty = True

    def delete(self, env: str, name: str) -> None:
        """Remove secret ``name`` from ``env``; then ``save()``."""
        self._unlock()
        names = self._doc.entries.get(env, {})
        if name not in names:
            raise self._no_such(env, name)
        del names[name]
        if not names:
            del self._doc.entries[env]
        self._dirty = True

    def rotate(self, new_key: bytes) -> None:
        """Re-encrypt every value under ``new_key``; then ``save()``.

        Afterwards this object (and the saved file) opens with ``new_key`` only.
        Writing the new key where users keep it is the caller's job: see
        :func:`redline.secrets.rotate_key`, which does both crash-safely.
        """
        old = self._unlock()
        new = Key(
            parse_key(new_key, label="the new key", for_file=self.label), "given", "the new key"
        )
        if new.id == old.id:
            raise SecretsKeyError(
                f"the new key is the current key of {self.display} ({old.id})",
                hint="rotate to a key made with `redline.secrets.generate_key()`",
            )
        both = MultiFernet([Fernet(new.material), Fernet(old.material)])
        rotated: dict[str, dict[str, str]] = {}
        for env, names in self._doc.entries.items():
            rotated[env] = {}
            for name, token in names.items():
                try:
                    rotated[env][name] = both.rotate(token.encode("ascii")).decode("ascii")
                except InvalidToken:
                    raise self._bad_token(env, name) from None
        self._doc.entries = rotated
        self._doc.key_id = new.id
        self._key = new
        self._dirty = True

    def save(self) -> None:
        """Write the file atomically (temporary file, fsync, rename) with mode 0600."""
        if self._exists and not self._dirty:
            return
        key = self._unlock()
        if self._doc.key_id is None:
            self._doc.key_id = key.id
        mac = compute_mac(key.material, self._doc.key_id, self._doc.entries)
        self._doc.mac = mac
        text = render_document(self._doc.key_id, mac, self._doc.entries)
        write_private_file(self.path, text.encode("utf-8"))
        self._exists = True
        self._dirty = False

    def verify(self) -> list[str]:
        """Every problem that stops this file being used: key, MAC, each value. Empty: all good."""
        if not self._exists:
            return [
                f"there is no secrets file {self.display}; run `redline secrets init` to create one"
            ]
        try:
            self._unlock()
        except SecretsError as exc:
            return [str(exc)]
        problems = []
        for env in self.environments():
            for name in self.names(env):
                try:
                    self.get(env, name)
                except SecretsError as exc:
                    problems.append(str(exc))
        return problems

    # -- internals -------------------------------------------------------------------------

    def _unlock(self) -> Key:
        if self._key is not None:
            return self._key
        key = self.find_key()
        if key is None:
            raise self._missing_key()
        doc = self._doc
        if doc.key_id is not None and doc.mac is not None:
            if key.id != doc.key_id:
                raise self._mismatch(key, check_mac=True)
            if not hmac.compare_digest(compute_mac(key.material, doc.key_id, doc.entries), doc.mac):
                raise self._tampered(key)
        self._key = key
        return key

    def _decrypt(self, env: str, name: str, token: str) -> str:
        key = self._unlock()
        try:
            value = Fernet(key.material).decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            # `from None`: a UnicodeDecodeError would carry the decrypted bytes.
            raise self._bad_token(env, name) from None
        self._redactor.add(value)
        return value

    @property
    def label(self) -> str:
        """The file and its key id, as messages name them."""
        if self.key_id is None:
            return f"{self.display} (new file, no key id yet)"
        return f"{self.display} (key id {self.key_id})"

    def _no_such(self, env: str, name: str) -> SecretsError:
        known = self.names(env)
        if known:
            hint = f"environment '{env}' has: {', '.join(known)}"
        elif self.environments():
            hint = f"environments with secrets: {', '.join(self.environments())}"
        else:
            hint = "the file has no secrets yet; add one with `redline secrets set NAME --env ENV`"
        return SecretsError(f"no secret '{name}' in environment '{env}' of {self.label}", hint=hint)

    def _missing_key(self) -> SecretsError:
        pending = self._pending_key()
        if pending is not None and pending.id == self.key_id:
            return self._interrupted(pending, None)
        places = f"set {self.key_env}"
        if self.key_file is not None:
            places += f" or create {display_path(self.key_file)}"
        if self.key_id is None:
            return SecretsKeyError(
                f"no key to encrypt {self.label}: {places}",
                hint="run `redline secrets init` to create a key and the file",
            )
        return SecretsKeyError(
            f"no key to decrypt {self.label}: {places}",
            hint="run `redline secrets init` for a new project; otherwise ask a teammate for "
            f"the key with id {self.key_id}",
        )

    def _pending_key(self) -> Key | None:
        pending = self.pending_rotation()
        if pending is None:
            return None
        try:
            return read_key_file(pending, for_file=self.label)
        except SecretsKeyError:
            return None

    def _interrupted(self, pending: Key, current: Key | None) -> SecretsKeyError:
        assert self.key_file is not None
        held = f"still holds the old key {current.id}" if current else "is missing"
        return SecretsKeyError(
            f"a key rotation of {self.display} was interrupted: the file is already encrypted "
            f"with the new key {pending.id} (in {pending.where}), but "
            f"{display_path(self.key_file)} {held}",
            hint=f"run `redline secrets rotate --resume` to finish it (it moves {pending.where} "
            "into place)",
        )

    def _mismatch(self, key: Key, *, check_mac: bool) -> SecretsError:
        doc = self._doc
        assert doc.key_id is not None
        if (
            check_mac
            and doc.mac is not None
            and hmac.compare_digest(compute_mac(key.material, key.id, doc.entries), doc.mac)
        ):
            # The MAC verifies under the key's own id: only the key_id line was changed.
            return SecretsTamperedError(
                f"{self.display} failed its integrity check: its key_id was changed from "
                f"{key.id} to {doc.key_id} outside redline",
                hint=_RESTORE.format(file=self.display),
            )
        pending = self._pending_key()
        if pending is not None and pending.id == doc.key_id:
            return self._interrupted(pending, key)
        message = (
            f"{key.label} (key id {key.id}) is not the key {self.display} was "
            f"encrypted with (key id {doc.key_id})"
        )
        hint = (
            f"use the key with id {doc.key_id}; if the file was rotated, use the new key "
            "(`redline secrets list` shows the file's key id without a key)"
        )
        if key.source == "env" and self.key_file is not None:
            try:
                on_disk = read_key_file(self.key_file, for_file=self.label)
            except SecretsKeyError:
                on_disk = None
            if on_disk is not None and on_disk.id == doc.key_id:
                hint = (
                    f"{display_path(self.key_file)} holds the right key, but {self.key_env} "
                    "takes precedence over it: unset the variable or set it to that key"
                )
        return SecretsKeyError(message, hint=hint)

    def _tampered(self, key: Key) -> SecretsTamperedError:
        # Name the entries whose tokens do not decrypt, if any; otherwise entries were
        # added, removed or moved, which only the MAC can tell.
        bad = []
        for env, names in sorted(self._doc.entries.items()):
            for name, token in sorted(names.items()):
                try:
                    value = Fernet(key.material).decrypt(token.encode("ascii")).decode("utf-8")
                except (InvalidToken, UnicodeDecodeError):
                    bad.append(f"'{name}' in environment '{env}'")
                    continue
                self._redactor.add(value)
        detail = f" (the value of {', '.join(bad)} does not decrypt)" if bad else ""
        return SecretsTamperedError(
            f"{self.label} failed its integrity check: an entry was added, removed or "
            f"changed outside redline{detail}",
            hint=_RESTORE.format(file=self.display),
        )

    def _bad_token(self, env: str, name: str) -> SecretsTamperedError:
        return SecretsTamperedError(
            f"the value of '{name}' in environment '{env}' of {self.label} failed its "
            "integrity check: its encrypted token was changed or damaged",
            hint=f"{_RESTORE.format(file=self.display)}, or set it again with "
            f"`redline secrets set {name} --env {env}`",
        )


def secrets_for(
    config: Config | SecretsConfig,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    *,
    redactor: Redactor | None = None,
) -> SecretsFile:
    """The secrets file a config names, with paths taken relative to ``base_dir``.

    ``base_dir`` is the directory of the config file. ``config`` is a whole
    :class:`~redline.config.schema.Config` or just its ``secrets:`` section.
    """
    from redline.config.schema import SecretsConfig

    section = config if isinstance(config, SecretsConfig) else config.secrets
    base = Path(base_dir)
    return SecretsFile.open(
        base / section.file,
        key_env=section.key_env,
        key_file=None if section.key_file is None else base / section.key_file,
        environ=environ,
        redactor=redactor,
    )
