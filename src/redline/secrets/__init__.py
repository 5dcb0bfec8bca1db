"""Encrypted secrets: readable names, Fernet-encrypted values, one MAC over the file.

In the spirit of sops, the secrets file is meant to be committed: a diff shows
which secrets changed in which environment, never what they are. Values are
Fernet tokens under one key (from the variable ``REDLINE_SECRETS_KEY`` or the
key file ``.redline/secrets.key``); an HMAC over every entry detects any edit
made outside redline. Every decrypted value is registered with
:data:`redline.redact.REDACTOR`, so the CLI masks it wherever it would appear.

>>> from redline.secrets import SecretsFile, generate_key
>>> sf = SecretsFile.open(Path("redline.secrets.yaml"), key=generate_key())  # doctest: +SKIP
>>> sf.set("staging", "DATABASE_URL", "postgresql://app:s3cret@db/app")    # doctest: +SKIP
>>> sf.save()                                                              # doctest: +SKIP
"""

from __future__ import annotations

from redline.secrets._file import MIN_VALUE_LENGTH, SecretsFile, secrets_for
from redline.secrets._keys import Key, generate_key, key_id, pending_key_path
from redline.secrets._rotation import Rotation, rotate_key

__all__ = [
    "MIN_VALUE_LENGTH",
    "Key",
    "Rotation",
    "SecretsFile",
    "generate_key",
    "key_id",
    "pending_key_path",
    "rotate_key",
    "secrets_for",
]
