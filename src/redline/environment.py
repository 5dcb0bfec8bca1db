"""EnvironmentManager: every environment held to one variable contract, and drift between them.

>>> manager = EnvironmentManager(load_config("redline.yaml"))   # doctest: +SKIP
>>> manager.check("staging")                                    # doctest: +SKIP
[Diagnostic(rule='var-missing', message='DATABASE_URL is required in staging but ...', ...)]
>>> manager.diff("staging", "production")                       # doctest: +SKIP

Diagnostics point at the line that set a value (``.env.staging:4``, ``redline.yaml:12:7``)
or, for a missing value, at the variable's declaration. Secret values never appear
in a message: a wrong-typed secret is reported by name only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from redline._errors import SecretsError, SecretsKeyError
from redline.config.diagnostics import Diagnostic, closest
from redline.config.schema import Variable
from redline.config.source import Mark
from redline.config.variables import Layer, VariableSources, VarValue, build_sources
from redline.units import parse_duration

if TYPE_CHECKING:
    from redline.config.loader import LoadedConfig

__all__ = ["DriftReport", "EnvironmentManager", "infer_type", "type_error"]

_BOOLS = {"true", "false", "1", "0", "yes", "no", "on", "off"}
# Layers that differ between environments (the process environment is the same for both).
_FILE_LAYERS: tuple[Layer, ...] = ("secrets", "vars", "env_file", "default")


def type_error(spec: Variable, value: str) -> str | None:
    """Why ``value`` is not a valid ``spec.type`` (None when it is)."""
    kind = spec.type
    try:
        if kind == "int":
            int(value)
        elif kind == "float":
            float(value)
        elif kind == "bool" and value.lower() not in _BOOLS:
            return "expected true or false"
        elif kind == "duration":
            parse_duration(value)
        elif kind == "url":
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                return "expected an http:// or https:// URL with a host"
        elif kind == "dsn":
            parts = urlsplit(value)
            if not re.fullmatch(r"[a-z][a-z0-9+.-]*", parts.scheme) or not (
                parts.netloc or parts.path
            ):
                return "expected a connection URL like postgresql://user@host:5432/db"
        elif kind == "enum" and value not in spec.values:
            close = closest(value, spec.values)
            suggestion = f" (did you mean '{close}'?)" if close else ""
            return f"expected one of {', '.join(spec.values)}{suggestion}"
        elif kind == "path" and "\x00" in value:
            return "a path cannot contain a NUL byte"
    except ValueError as exc:
        return f"expected {'a whole number' if kind == 'int' else 'a ' + kind}" + (
            f": {exc}" if kind == "duration" else ""
        )
    return None


def _range_error(spec: Variable, value: str) -> str | None:
    number: float | None = None
    if spec.type in {"int", "float"}:
        number = float(value)
    elif spec.type == "duration":
        number = parse_duration(value)
    if number is not None:
        if spec.min is not None and number < spec.min:
            return f"is below the minimum {spec.min:g}"
        if spec.max is not None and number > spec.max:
            return f"is above the maximum {spec.max:g}"
    if spec.pattern and not re.fullmatch(spec.pattern, value):
        return f"does not match the pattern {spec.pattern}"
    return None


def infer_type(value: str) -> str:
    """A rough type of an undeclared value, to notice drift (``4`` vs ``four``)."""
    if re.fullmatch(r"[+-]?\d+", value):
        return "int"
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?", value):
        return "float"
    if value.lower() in {"true", "false", "yes", "no", "on", "off"}:
        return "bool"
    if re.fullmatch(r"https?://\S+", value):
        return "url"
    if re.fullmatch(r"[a-z][a-z0-9+.-]*://\S*", value):
        return "dsn"
    try:
        parse_duration(value)
        return "duration"
    except ValueError:
        return "str"


@dataclass(frozen=True)
class DriftReport:
    """What differs between two environments."""

    a: str
    b: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    secrets_compared: bool = True

    @property
    def drifted(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)


class EnvironmentManager:
    """Holds each environment of a loaded config to its variable contract."""

    def __init__(self, loaded: LoadedConfig) -> None:
        self.loaded = loaded
        self.config = loaded.config(
            loaded.default_env() or next(iter(loaded.environment_names()), None)
        )

    def environments(self) -> list[str]:
        return self.loaded.environment_names()

    def sources(
        self, env: str | None, *, decrypt: bool = True
    ) -> tuple[VariableSources, list[Diagnostic], bool]:
        """Values of ``env``, the problems met reading them, and whether secrets were decrypted.

        Without a key, secret values are stand-ins and a warning says so; with the wrong key
        or a tampered file, an error does (the contract cannot be trusted to hold).
        """
        loaded = self.loaded
        loaded.require_env(env)
        secrets = loaded.secrets() if loaded.has_secrets_file() else None
        args = (self.config, loaded.smap, loaded.base_dir, env, loaded.environ, secrets)
        problem: list[Diagnostic] = []
        encrypted = env is not None and secrets is not None and bool(secrets.names(env))
        if decrypt and encrypted:
            try:
                sources, diags = build_sources(*args, decrypt=True)
                return sources, diags, True
            except SecretsError as exc:
                missing = isinstance(exc, SecretsKeyError) and _no_key(secrets)
                problem.append(
                    self._diag(
                        "secrets-unreadable",
                        f"secret values were not checked: {exc.message}",
                        None,
                        hint=exc.hint or "run `redline secrets check`",
                        severity="warning" if missing else "error",
                    )
                )
        sources, diags = build_sources(*args, decrypt=False)
        return sources, problem + diags, not encrypted

    def check(self, env: str | None) -> list[Diagnostic]:
        """Every way ``env`` breaks the contract, plus its .env file's problems.

        ``env`` is None only in a config without environments: the process environment and
        the contract's defaults are then checked.
        """
        sources, diags, decrypted = self.sources(env)
        out = list(diags)
        for name, spec in self.config.variables.items():
            out.extend(self._check_one(env, name, spec, sources.lookup(name), decrypted))
        out.extend(self._unknown(sources))
        return out

    def _check_one(
        self, env: str | None, name: str, spec: Variable, found: VarValue | None, decrypted: bool
    ) -> list[Diagnostic]:
        required = spec.required or (env is not None and env in spec.required_in)
        decl = self.loaded.smap.key(("variables", name))
        if found is None:
            if not required:
                return []
            if env is None:
                hint = f"set {name} in the process environment, or give it a default"
            else:
                hint = (
                    f"set {name} in environments.{env}.vars, in {env}'s env_file, with "
                    f"`redline secrets set {name} --env {env}`, or in the process environment"
                )
            where = f" in {env}" if env else ""
            return [
                self._diag(
                    "var-missing",
                    f"{name} is required{where} but has no value",
                    decl,
                    f"variables.{name}",
                    hint,
                )
            ]
        at = found.mark
        if found.value == "":
            return [
                self._diag(
                    "var-empty",
                    f"{name} is set but empty (from {found.source})",
                    at,
                    f"variables.{name}",
                    f"give {name} a value",
                    severity="error" if required else "warning",
                )
            ]
        if found.layer == "secrets" and not decrypted:
            return []
        shown = "its value" if found.secret else f"'{found.value}'"
        problem = type_error(spec, found.value)
        if problem:
            return [
                self._diag(
                    "var-wrong-type",
                    f"{name} must be {spec.type}: {shown} is not ({problem})",
                    at,
                    f"variables.{name}",
                    f"fix the value set by {found.source}",
                    quote=not found.secret,
                )
            ]
        problem = _range_error(spec, found.value)
        if problem:
            return [
                self._diag(
                    "var-out-of-range",
                    f"{name}: {shown} {problem}",
                    at,
                    f"variables.{name}",
                    f"fix the value set by {found.source}",
                    quote=not found.secret,
                )
            ]
        return []

    def _unknown(self, sources: VariableSources) -> list[Diagnostic]:
        prefixes = tuple(self.config.variable_prefixes)
        if not prefixes:
            return []
        declared = list(self.config.variables)
        out = []
        for name in sorted(sources.names("process", "vars", "env_file", "secrets")):
            if not name.startswith(prefixes) or name in self.config.variables:
                continue
            value = sources.lookup(name)
            close = closest(name, declared, cutoff=0.7)
            hint = f"did you mean '{close}'?" if close else f"declare {name} under variables:"
            out.append(
                self._diag(
                    "var-unknown",
                    f"{name} is not declared, but starts with a declared prefix",
                    value.mark if value else None,
                    "",
                    hint,
                )
            )
        return out

    def diff(self, a: str, b: str) -> DriftReport:
        """Keys missing in one environment, types that differ, and secrets shared by both.

        Declared variables and those under a declared prefix drift as errors; any other
        key set in one environment's files only is a warning, its line never quoted.
        """
        if a == b:
            from redline._errors import UsageError

            raise UsageError(
                f"compare two different environments, not {a} with itself",
                hint=f"e.g. `redline env diff {a} OTHER`",
            )
        prefixes = tuple(self.config.variable_prefixes)

        def known(name: str) -> bool:
            return name in self.config.variables or bool(prefixes and name.startswith(prefixes))

        src_a, _, dec_a = self.sources(a)
        src_b, _, dec_b = self.sources(b)
        out: list[Diagnostic] = []
        names = sorted(
            src_a.names(*_FILE_LAYERS) | src_b.names(*_FILE_LAYERS) | set(self.config.variables)
        )
        for name in names:
            va, vb = _file_value(src_a, name), _file_value(src_b, name)
            if (va is None) != (vb is None):
                have, lack, v = (a, b, va) if va is not None else (b, a, vb)
                assert v is not None
                out.append(
                    self._diag(
                        "drift-missing",
                        f"{name} is set in {have} but not in {lack}",
                        v.mark,
                        "",
                        f"set {name} in {lack}, or remove it from {have}",
                        severity="error" if known(name) else "warning",
                        quote=known(name) and not v.secret,
                    )
                )
                continue
            if va is None or vb is None:
                continue
            if not (va.secret or vb.secret) or (dec_a and dec_b):
                ta, tb = self._kind(name, va.value), self._kind(name, vb.value)
                if ta != tb:
                    out.append(
                        self._diag(
                            "drift-type",
                            f"{name} is {ta} in {a} but {tb} in {b}",
                            vb.mark,
                            "",
                            "make both environments use one type",
                            quote=not vb.secret,
                        )
                    )
        compared = dec_a and dec_b
        if compared:
            out.extend(self._shared_secrets(a, src_a, b, src_b))
        elif src_a.names("secrets") or src_b.names("secrets"):
            out.append(
                self._diag(
                    "drift-shared-secret",
                    "secrets were not compared: no key to decrypt them",
                    None,
                    "",
                    "set the secrets key to compare them",
                    severity="warning",
                )
            )
        return DriftReport(a, b, out, compared)

    def _shared_secrets(
        self, a: str, src_a: VariableSources, b: str, src_b: VariableSources
    ) -> list[Diagnostic]:
        def digests(src: VariableSources) -> dict[str, str]:
            out = {}
            for name in src.names(*_FILE_LAYERS):
                v = src.lookup(name)
                if v is not None and v.secret and v.value:
                    out[hashlib.sha256(v.value.encode()).hexdigest()] = name
            return out

        da, db = digests(src_a), digests(src_b)
        return [
            self._diag(
                "drift-shared-secret",
                f"{a}'s {da[h]} and {b}'s {db[h]} hold the same secret value",
                None,
                "",
                f"give {b} its own value: `redline secrets set {db[h]} --env {b}`",
            )
            for h in sorted(set(da) & set(db), key=lambda h: da[h])
        ]

    def _kind(self, name: str, value: str) -> str:
        spec = self.config.variables.get(name)
        if spec is not None and spec.type not in {"str", "path"}:
            return spec.type if type_error(spec, value) is None else f"not {spec.type}"
        return infer_type(value)

    def _diag(
        self,
        rule: str,
        message: str,
        mark: Mark | None,
        path: str = "",
        hint: str = "",
        severity: str = "error",
        *,
        quote: bool = True,
    ) -> Diagnostic:
        file = mark.file if mark else self.loaded.smap_file
        return Diagnostic(
            rule,
            message,
            file,
            mark.line if mark else 0,
            mark.col if mark else 0,
            path,
            hint,
            severity="warning" if severity == "warning" else "error",
            source_line=self._line(mark) if quote else "",
        )

    def _line(self, mark: Mark | None) -> str:
        if mark is None:
            return ""
        line = self.loaded.smap.source_line(mark)
        if line or mark.file in self.loaded.smap.lines:
            return line
        try:
            lines = (self.loaded.base_dir / mark.file).read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return ""
        return lines[mark.line - 1] if 0 < mark.line <= len(lines) else ""


def _file_value(sources: VariableSources, name: str) -> VarValue | None:
    for layer in _FILE_LAYERS:
        value = sources.layers.get(layer, {}).get(name)
        if value is not None:
            return value
    return None


def _no_key(secrets: Any) -> bool:
    """Whether no key at all is at hand (as opposed to a wrong or malformed one)."""
    try:
        return secrets.find_key() is None
    except SecretsError:
        return False
