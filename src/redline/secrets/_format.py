"""The secrets file on disk: parse it, write it, and compute its MAC.

The layout keeps names readable and values encrypted, so a diff shows which
secrets changed without showing what they are::

    redline_secrets: 1
    key_id: k-1a2b3c4d5e6f
    environments:
      staging:
        DATABASE_URL: ENC[gAAAAAB...]
    mac: 9f...

The MAC is HMAC-SHA256, keyed by a subkey derived from the secrets key with
HKDF, over a canonical encoding of the version, the key id and every
(environment, name, token) triple, so adding, removing, swapping or editing any
entry, or changing the key id, is detected.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field

import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from redline._errors import SecretsError
from redline.config.source import load_yaml

__all__ = [
    "ENV_NAME",
    "FORMAT_VERSION",
    "SECRET_NAME",
    "Document",
    "compute_mac",
    "parse_document",
    "render_document",
]

FORMAT_VERSION = 1
ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEY_ID = re.compile(r"^k-[0-9a-f]{12}$")
_MAC = re.compile(r"^[0-9a-f]{64}$")
_TOKEN = re.compile(r"^ENC\[([A-Za-z0-9_=-]+)\]$")
_MAC_INFO = b"redline secrets file mac v1"
_HEADER = (
    "# redline encrypted secrets: names are readable, values are Fernet tokens.\n"
    "# Edit with `redline secrets set NAME --env ENV`; do not edit by hand.\n"
)
_TOP_KEYS = ("redline_secrets", "key_id", "environments", "mac")


@dataclass
class Document:
    """The parsed content of a secrets file: tokens, not values."""

    key_id: str | None = None
    mac: str | None = None
    # environment -> secret name -> Fernet token (without the ENC[...] wrapper)
    entries: dict[str, dict[str, str]] = field(default_factory=dict)
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)


def compute_mac(material: bytes, key_id: str, entries: dict[str, dict[str, str]]) -> str:
    """HMAC-SHA256 (hex) of the whole file's meaning, keyed from the secrets key."""
    subkey = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_MAC_INFO).derive(material)
    canonical = json.dumps(
        {
            "redline_secrets": FORMAT_VERSION,
            "key_id": key_id,
            "entries": sorted(
                [env, name, token]
                for env, names in entries.items()
                for name, token in names.items()
            ),
            "environments": sorted(entries),
        },
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hmac.new(subkey, canonical.encode("ascii"), hashlib.sha256).hexdigest()


def _problem(file: str, line: int, message: str, hint: str | None = None) -> SecretsError:
    where = f"{file}:{line}" if line else file
    return SecretsError(
        f"{where}: {message}",
        hint=hint or "restore the file from version control; change it only with `redline secrets`",
    )


def parse_document(text: str, file: str) -> Document:
    """``text`` as a secrets document; a :class:`SecretsError` with file:line if it is not one."""
    data, smap, diags = load_yaml(text, file)
    if diags:
        d = diags[0]
        raise _problem(file, d.line, d.message, d.hint or None)
    if not isinstance(data, dict) or "redline_secrets" not in data:
        raise _problem(file, 1, "this is not a redline secrets file (no `redline_secrets:` key)")

    def line(*path: str) -> int:
        mark = smap.key(path)
        return mark.line if mark else 0

    for name in data:
        if name not in _TOP_KEYS:
            raise _problem(file, line(name), f"unknown key '{name}' in a secrets file")
    version = data["redline_secrets"]
    if version != FORMAT_VERSION:
        raise _problem(
            file,
            line("redline_secrets"),
            f"secrets file format {version!r} is not one this redline reads (it reads 1)",
            "upgrade redline, or restore a file written by this version",
        )
    doc = Document()
    kid = data.get("key_id")
    if not isinstance(kid, str) or not _KEY_ID.match(kid):
        raise _problem(file, line("key_id"), "`key_id` is missing or not of the form k-<12 hex>")
    doc.key_id = kid
    mac = data.get("mac")
    if not isinstance(mac, str) or not _MAC.match(mac):
        raise _problem(file, line("mac"), "`mac` is missing or not 64 hex digits")
    doc.mac = mac
    envs = data.get("environments") or {}
    if not isinstance(envs, dict):
        raise _problem(file, line("environments"), "`environments` must be a mapping")
    for env, names in envs.items():
        if not ENV_NAME.match(env):
            raise _problem(file, line("environments", env), f"'{env}' is not an environment name")
        if not isinstance(names, dict):
            raise _problem(
                file, line("environments", env), f"environment '{env}' must map names to values"
            )
        doc.lines[(env,)] = line("environments", env)
        tokens: dict[str, str] = {}
        for name, value in names.items():
            at = line("environments", env, name)
            if not SECRET_NAME.match(name):
                raise _problem(file, at, f"'{name}' in environment '{env}' is not a secret name")
            m = _TOKEN.match(value) if isinstance(value, str) else None
            if m is None:
                # The value is deliberately not quoted: a hand-edited plaintext secret must
                # not end up in a message.
                raise _problem(
                    file,
                    at,
                    f"the value of '{name}' in environment '{env}' is not an encrypted "
                    "value ENC[...]",
                    "set values with `redline secrets set NAME --env ENV`, never by hand; "
                    "if a plaintext value was written here, treat it as leaked and change it",
                )
            tokens[name] = m.group(1)
            doc.lines[(env, name)] = at
        doc.entries[env] = tokens
    return doc


def _yaml_key(name: str) -> str:
    # Names like `on`, `1` or `null` would be read back as other types: quote them.
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name) is not None
    if plain and yaml.safe_load(name) == name:
        return name
    return json.dumps(name)


def _yaml_scalar(text: str) -> str:
    return text if yaml.safe_load(text) == text else json.dumps(text)


def render_document(key_id: str, mac: str, entries: dict[str, dict[str, str]]) -> str:
    """The file's text: sorted environments and names, one line per secret."""
    out = [_HEADER, f"redline_secrets: {FORMAT_VERSION}\n", f"key_id: {key_id}\n"]
    if entries:
        out.append("environments:\n")
        for env in sorted(entries):
            names = entries[env]
            if not names:
                out.append(f"  {_yaml_key(env)}: {{}}\n")
                continue
            out.append(f"  {_yaml_key(env)}:\n")
            out.extend(f"    {_yaml_key(n)}: ENC[{names[n]}]\n" for n in sorted(names))
    else:
        out.append("environments: {}\n")
    out.append(f"mac: {_yaml_scalar(mac)}\n")
    return "".join(out)
