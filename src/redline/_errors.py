"""The one exception tree of redline.

Every error a user can cause is a subclass of :class:`RedlineError`, carries the
exit code the CLI returns for it and a hint that says what to do next::

    RedlineError                      (exit 2 unless a subclass says otherwise)
    ├── ConfigError(ValueError)       exit 5: the config cannot be used
    │   ├── ConfigNotFoundError       no file at the path, or not readable
    │   └── ConfigInvalidError        one or more diagnostics (file:line:col, rule, hint)
    │       └── UnknownEnvironmentError  exit 2: --env names no environment (or is missing)
    ├── EnvContractError(ValueError)  exit 5: an environment breaks the variable contract
    ├── SecretsError                  exit 5: secrets cannot be read or written
    │   ├── SecretsKeyError           key missing, malformed, or not the one the file needs
    │   └── SecretsTamperedError      a value or the file failed its integrity check
    ├── UsageError(ValueError)        exit 2: a command was asked for something it cannot do
    ├── DataError(ValueError)         exit 2: a data file or stored series cannot be analysed
    ├── StoreError                    exit 2: the store could not be used
    │   ├── StoreUnavailableError     the store URL does not connect
    │   └── StoreSchemaError          the store's schema is newer than this redline
    ├── DemoError                     exit 2: the demo system could not start
    └── DeployError                   exit 2: a deploy could not be planned or run
        ├── DeployLockedError         exit 6: another deploy holds the environment's lock
        └── RollbackError             exit 4: a rollback failed or was refused

Messages never contain secret values: errors are built from names, paths and
key ids, and the CLI passes every message through the redactor as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redline.config.diagnostics import Diagnostic

__all__ = [
    "ConfigError",
    "ConfigInvalidError",
    "ConfigNotFoundError",
    "DataError",
    "DemoError",
    "DeployError",
    "DeployLockedError",
    "EnvContractError",
    "RedlineError",
    "RollbackError",
    "SecretsError",
    "SecretsKeyError",
    "SecretsTamperedError",
    "StoreError",
    "StoreSchemaError",
    "StoreUnavailableError",
    "UnknownEnvironmentError",
    "UsageError",
]


class RedlineError(Exception):
    """Base of every error redline raises on purpose."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(RedlineError, ValueError):
    """The configuration cannot be used."""

    exit_code = 5


class ConfigNotFoundError(ConfigError, FileNotFoundError):
    """No config file where one was asked for, or it cannot be read."""


class ConfigInvalidError(ConfigError):
    """The config file has one or more problems, each a :class:`Diagnostic`."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        n = len(self.diagnostics)
        first = self.diagnostics[0].one_line() if self.diagnostics else ""
        more = f" (and {n - 1} more)" if n > 1 else ""
        hint = "run `redline config check` to see every problem"
        if n == 1 and self.diagnostics[0].hint:
            hint = self.diagnostics[0].hint
        super().__init__(f"{first}{more}", hint=hint)


class UnknownEnvironmentError(ConfigInvalidError):
    """``--env`` names no declared environment, or is missing where several exist."""

    exit_code = 2


class EnvContractError(RedlineError, ValueError):
    """An environment's variables break the declared contract."""

    exit_code = 5


class SecretsError(RedlineError):
    """Secrets cannot be read or written."""

    exit_code = 5


class SecretsKeyError(SecretsError):
    """The secrets key is missing, malformed, or not the key the file was written with."""


class SecretsTamperedError(SecretsError):
    """A secret value or the secrets file failed its integrity check."""


class UsageError(RedlineError, ValueError):
    """A command was asked for something it cannot do (an unknown environment or key)."""

    exit_code = 2


class DataError(RedlineError, ValueError):
    """Data to import, compare or analyse cannot be used: an empty or malformed file, a
    missing metric or baseline, too few points. The message names the file (and line)."""

    exit_code = 2


class StoreError(RedlineError):
    """The store could not be used."""

    exit_code = 2


class StoreUnavailableError(StoreError, ConnectionError):
    """The store URL does not connect."""


class StoreSchemaError(StoreError):
    """The store's schema is not one this version of redline can use."""


class DemoError(RedlineError):
    """The demo system could not be started or stopped."""

    exit_code = 2


class DeployError(RedlineError):
    """A deploy could not be planned or run (a bad recipe, a missing release)."""

    exit_code = 2


class DeployLockedError(DeployError):
    """Another deploy holds the environment's lock; the message names its owner and age."""

    exit_code = 6


class RollbackError(DeployError):
    """A rollback failed, or was refused before anything changed (e.g. the schema guard)."""

    exit_code = 4
