"""Where each variable's value comes from, in one documented order.

For one environment, a name is looked up in these layers, highest first:

1. the process environment (so CI can override anything),
2. the encrypted secrets file's entries for that environment,
3. the environment's ``vars`` in ``redline.yaml``,
4. the environment's ``env_file``,
5. the ``default`` of the variable in the contract.

Every value remembers where it was set (file:line, or which source), so
``redline config explain`` can say which layer won and what it shadowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from redline.config.diagnostics import Diagnostic
from redline.config.dotenv import EnvEntry, parse_dotenv
from redline.config.source import Mark, SourceMap
from redline.redact import MASK, REDACTOR

if TYPE_CHECKING:
    from redline.config.schema import Config
    from redline.secrets import SecretsFile

__all__ = ["LAYERS", "Layer", "VarValue", "VariableSources", "build_sources", "read_env_file"]

Layer = Literal["process", "secrets", "vars", "env_file", "default"]
LAYERS: tuple[Layer, ...] = ("process", "secrets", "vars", "env_file", "default")
_LAYER_NAMES = {
    "process": "process environment",
    "secrets": "secrets file",
    "vars": "environment vars",
    "env_file": "env_file",
    "default": "contract default",
}


@dataclass(frozen=True)
class VarValue:
    """One value of one variable, and where it was set."""

    name: str
    value: str
    layer: Layer
    mark: Mark | None = None
    secret: bool = False
    origin: str = ""

    @property
    def source(self) -> str:
        return _LAYER_NAMES[self.layer]

    @property
    def where(self) -> str:
        """``file:line:col`` when the value was written in a file, else its origin."""
        return str(self.mark) if self.mark else (self.origin or self.source)

    @property
    def shown(self) -> str:
        """The value as it may be printed: secrets masked."""
        return MASK if self.secret else self.value


@dataclass
class VariableSources:
    """Every value one environment can see, by layer."""

    env: str | None
    layers: dict[Layer, dict[str, VarValue]] = field(default_factory=dict)

    def lookup(self, name: str) -> VarValue | None:
        for layer in LAYERS:
            value = self.layers.get(layer, {}).get(name)
            if value is not None:
                return value
        return None

    def candidates(self, name: str) -> list[VarValue]:
        """Every layer's value for ``name``, the winner first."""
        return [v for layer in LAYERS if (v := self.layers.get(layer, {}).get(name)) is not None]

    def names(self, *layers: Layer) -> set[str]:
        chosen = layers or LAYERS
        return {n for layer in chosen for n in self.layers.get(layer, {})}


def read_env_file(path: Path, display: str) -> tuple[dict[str, EnvEntry], list[Diagnostic]]:
    """Entries of a ``.env`` file and its problems; a missing file is one diagnostic."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, [
            Diagnostic(
                "file-unreadable",
                f"env_file '{display}' does not exist",
                display,
                hint="create it, or fix env_file: in redline.yaml",
            )
        ]
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return {}, [
            Diagnostic("file-unreadable", f"cannot read env_file '{display}': {reason}", display)
        ]
    return parse_dotenv(text, display)


def build_sources(
    config: Config,
    smap: SourceMap,
    base_dir: Path,
    env: str | None,
    environ: Mapping[str, str],
    secrets: SecretsFile | None,
    *,
    decrypt: bool = False,
) -> tuple[VariableSources, list[Diagnostic]]:
    """The layered values for ``env``; with ``decrypt=False`` secret values are placeholders."""
    declared = config.variables
    secret_names = {n for n, v in declared.items() if v.secret}
    sources = VariableSources(env)
    diags: list[Diagnostic] = []

    def put(
        layer: Layer,
        name: str,
        value: str,
        mark: Mark | None,
        origin: str = "",
        secret: bool = False,
    ) -> None:
        secret = secret or name in secret_names
        if secret and value != MASK:
            REDACTOR.add(value)
        sources.layers.setdefault(layer, {})[name] = VarValue(
            name, value, layer, mark, secret, origin
        )

    for name, value in environ.items():
        put("process", name, value, None)
    if secrets is not None and env is not None:
        origin = f"{secrets.path.name} [{env}] (key {secrets.key_id})"
        for name in secrets.names(env):
            put("secrets", name, secrets.get(env, name) if decrypt else MASK, None, origin, True)
    environment = config.environments.get(env) if env else None
    if environment is not None:
        for name, value in environment.vars.items():
            put("vars", name, value, smap.value(("environments", env or "", "vars", name)))
        if environment.env_file:
            path = base_dir / environment.env_file
            entries, file_diags = read_env_file(path, environment.env_file)
            diags.extend(_mask_lines(file_diags, secret_names))
            for e in entries.values():
                put("env_file", e.key, e.value, Mark(environment.env_file, e.line, e.col))
    for name, var in declared.items():
        if var.default is not None:
            put("default", name, var.default, smap.value(("variables", name, "default")))
    return sources, diags


def _mask_lines(diags: list[Diagnostic], secret_names: set[str]) -> list[Diagnostic]:
    """Diagnostics whose quoted .env line sets a secret show the line with the value masked."""
    from dataclasses import replace

    out = []
    for d in diags:
        key = d.source_line.strip().removeprefix("export ").split("=", 1)[0].strip()
        if key in secret_names and "=" in d.source_line:
            out.append(replace(d, source_line=d.source_line.split("=", 1)[0] + "=" + MASK))
        else:
            out.append(d)
    return out
