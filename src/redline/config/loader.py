"""Load ``redline.yaml``: every problem in one pass, each with file:line:col, rule and hint.

>>> loaded = load_config("redline.yaml", env="staging")      # doctest: +SKIP
>>> loaded.config("staging").services["api"].checks[0].http.url   # doctest: +SKIP
'http://10.0.0.5:8000/health'

The file is read once; each environment is then resolved on its own
(overrides merged, ``${VAR}`` expanded, models validated), and the problems of
all environments are merged, so a mistake shared by every environment is
reported once and one that only some have names them.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redline._errors import ConfigInvalidError, ConfigNotFoundError, UnknownEnvironmentError
from redline.config import checks as semantic
from redline.config.deploy_checks import check_deploy
from redline.config.diagnostics import Diagnostic, sort_key
from redline.config.interpolate import Problem, expand
from redline.config.schema import Config, SecretsConfig
from redline.config.source import Mark, SourceMap, format_path, load_yaml
from redline.config.source import Path as DataPath
from redline.config.validation import validate_model
from redline.config.variables import VariableSources, build_sources
from redline.redact import MASK

__all__ = [
    "DEFAULT_NAMES",
    "LoadedConfig",
    "check_config",
    "find_config",
    "load_config",
    "read_secrets_section",
]

DEFAULT_NAMES = ("redline.yaml", "redline.yml")
_INTERPOLATED = ("services", "store", "load")
# What a declared but unset variable stands in for while checking structure only:
# whether it is set is the environment contract's question (`redline env check`).
_SAMPLES = {
    "int": "1",
    "float": "1.0",
    "bool": "false",
    "duration": "1s",
    "url": "http://unset.invalid",
}


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config path: ``explicit``, else ``$REDLINE_CONFIG``, else ``./redline.yaml``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("REDLINE_CONFIG")
    if env:
        return Path(env)
    for name in DEFAULT_NAMES:
        if Path(name).exists():
            return Path(name)
    return Path(DEFAULT_NAMES[0])


@dataclass
class _Pass:
    """One environment's resolution: merged data, its marks, and how paths display."""

    env: str | None
    data: dict[str, Any]
    smap: SourceMap
    moved: dict[DataPath, DataPath] = field(default_factory=dict)
    interpolated: set[DataPath] = field(default_factory=set)

    def display(self, path: DataPath) -> str:
        for n in range(len(path), 0, -1):
            origin = self.moved.get(path[:n])
            if origin is not None:
                return format_path(origin + path[n:])
        return format_path(path)


@dataclass
class LoadedConfig:
    """A config file read and checked; ``config(env)`` gives the resolved model."""

    path: Path
    raw: dict[str, Any]
    smap: SourceMap
    environ: Mapping[str, str]
    diagnostics: list[Diagnostic]
    _models: dict[str | None, Config] = field(default_factory=dict, repr=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def display(self) -> str:
        return self.smap_file

    @property
    def smap_file(self) -> str:
        return next(iter(self.smap.lines), str(self.path))

    def environment_names(self) -> list[str]:
        envs = self.raw.get("environments")
        return list(envs) if isinstance(envs, dict) else []

    def default_env(self, env: str | None = None) -> str | None:
        """``env`` if given; the only environment if there is one; else none."""
        if env is not None:
            return env
        names = self.environment_names()
        return names[0] if len(names) == 1 else None

    def config(self, env: str | None = None) -> Config:
        """The validated model for ``env``, overrides merged and variables expanded."""
        env = self.default_env(env)
        self.require_env(env)
        if env not in self._models:
            model, diags = _resolve(self, env, _static_lookup(self, env))
            if model is None:
                raise ConfigInvalidError(diags)
            self._models[env] = model
        return self._models[env]

    def runtime_config(self, env: str | None = None) -> Config:
        """Like :meth:`config`, with real values: secrets decrypted (and registered for redaction).

        Raises :class:`~redline.SecretsKeyError` when a secret is needed and no key is at hand.
        """
        env = self.default_env(env)
        self.require_env(env)
        sources = self.sources(env, decrypt=True)

        def lookup(name: str) -> str | None:
            value = sources.lookup(name)
            return None if value is None else value.value

        model, diags = _resolve(self, env, lookup)
        if model is None:
            # Real values were expanded: keep every secret among them out of the exception.
            from dataclasses import replace

            from redline.redact import REDACTOR

            raise ConfigInvalidError([replace(d, message=REDACTOR.scrub(d.message)) for d in diags])
        return model

    def sources(self, env: str | None, *, decrypt: bool = False) -> VariableSources:
        """Every variable value ``env`` can see, with where each was set."""
        env = self.default_env(env)
        self.require_env(env)
        base = self._base_model()
        return build_sources(
            base,
            self.smap,
            self.base_dir,
            env,
            self.environ,
            self.secrets() if self.has_secrets_file() else None,
            decrypt=decrypt,
        )[0]

    def store_url(self, env: str | None = None, cli_value: str | None = None) -> str:
        """The store for ``env``: ``--store`` > ``REDLINE_STORE_URL`` > the environment's
        ``store:`` > the top-level ``store:`` > ``.redline/redline.db`` beside the config."""
        from redline.store.urls import resolve_store_url

        env = self.default_env(env)
        top = self.raw.get("store")
        if env is None and self.environment_names():
            # Without an environment only a plain top-level store can be used as it is.
            if isinstance(top, str) and "${" in top:
                self.require_env(env)
            configured = top if isinstance(top, str) else None
        else:
            configured = _store_of(self.config(env), env)
            if configured is not None and MASK in configured:
                # The URL needs a secret (a password): only then is the key needed.
                configured = _store_of(self.runtime_config(env), env)
        return resolve_store_url(cli_value, configured, self.base_dir, environ=self.environ)

    def secrets(self) -> Any:
        """The secrets file named by the config (values stay encrypted until asked for)."""
        from redline.secrets import secrets_for

        return secrets_for(self._base_model(), self.base_dir, self.environ)

    def has_secrets_file(self) -> bool:
        """Whether the config's secrets file exists (without importing the crypto stack)."""
        return (self.base_dir / self._base_model().secrets.file).is_file()

    def resolved(self, env: str | None) -> dict[str, Any]:
        """The resolved config as plain data, secret values masked, for display."""
        env = self.default_env(env)
        self.require_env(env)
        sources = self.sources(env)
        one = _make_pass(self.raw, self.smap, env)
        _interpolate(one, lambda name: _shown(sources, name), [])
        return one.data

    def _base_model(self) -> Config:
        # The variables, environments and secrets sections are never interpolated, so any
        # environment's model describes them; the first one validated will do.
        if self._models:
            return next(iter(self._models.values()))
        return self.config(self.default_env() or next(iter(self.environment_names()), None))

    def require_env(self, env: str | None) -> None:
        """Raise unless ``env`` names an environment (or is None in a config without any)."""
        names = self.environment_names()
        if env is None and names:
            raise _unknown_env(self, None, names)
        if env is not None and env not in names:
            raise _unknown_env(self, env, names)


def _store_of(model: Config, env: str | None) -> str | None:
    environment = model.environments.get(env) if env else None
    return (environment.store if environment else None) or model.store


def _unknown_env(
    loaded: LoadedConfig, env: str | None, names: list[str]
) -> UnknownEnvironmentError:
    from redline.config.diagnostics import closest

    mark = loaded.smap.key(("environments",)) or Mark(loaded.smap_file, 1, 1)
    if env is None:
        message = (
            f"this config has several environments; choose one with --env ({', '.join(names)})"
        )
        hint = f"add --env {names[0]}"
    else:
        message = f"there is no environment '{env}'"
        close = closest(env, names)
        hint = f"did you mean '{close}'?" if close else f"declared: {', '.join(names) or 'none'}"
    diag = loaded.smap.diagnostic("unknown-environment", message, mark, "environments", hint)
    return UnknownEnvironmentError([diag])


def _shown(sources: VariableSources, name: str) -> str | None:
    value = sources.lookup(name)
    return None if value is None else value.shown


def _read(path: Path) -> tuple[str | None, str, list[Diagnostic]]:
    display = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigNotFoundError(
            f"no config file at {display}",
            hint="run `redline init` to write a starter config, "
            "or pass -c PATH / set REDLINE_CONFIG",
        ) from None
    except IsADirectoryError:
        raise ConfigNotFoundError(
            f"{display} is a directory, not a config file", hint="pass the YAML file itself with -c"
        ) from None
    except OSError as exc:
        raise ConfigNotFoundError(
            f"cannot read {display}: {exc.strerror}", hint="check the file's permissions"
        ) from None
    try:
        return data.decode("utf-8-sig"), display, []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return (
            None,
            display,
            [
                Diagnostic(
                    "file-unreadable",
                    f"byte 0x{data[exc.start]:02x} is not UTF-8 text",
                    display,
                    line,
                    col,
                    "",
                    "save the file as UTF-8",
                )
            ],
        )


def check_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[LoadedConfig | None, list[Diagnostic]]:
    """Read and check a config without raising for its problems (``redline config check``)."""
    # Building the tree makes many small objects and no cycles; the collector would only
    # rescan everything imported so far (measured: half the time of a cold check).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _check_config(path, env, environ)
    finally:
        if paused:
            gc.enable()


def _check_config(
    path: str | os.PathLike[str] | None, env: str | None, environ: Mapping[str, str] | None
) -> tuple[LoadedConfig | None, list[Diagnostic]]:
    file = find_config(path)
    text, display, diags = _read(file)
    environ = dict(os.environ if environ is None else environ)
    if text is None:
        return None, diags
    data, smap, yaml_diags = load_yaml(text, display)
    diags.extend(yaml_diags)
    if data is None:
        return None, _finish(diags)
    if not isinstance(data, dict):
        diags.append(
            Diagnostic(
                "not-a-mapping",
                "the file must be a mapping of keys (project:, services:, ...)",
                display,
                1,
                1,
                "",
                "start with `project: NAME` on the first line",
            )
        )
        return None, _finish(diags)
    loaded = LoadedConfig(file, data, smap, environ, [])
    envs: list[str | None] = list(loaded.environment_names()) or [None]
    if env is not None:
        if env not in envs:
            diags.extend(_unknown_env(loaded, env, [e for e in envs if e]).diagnostics)
            return None, _finish(diags)
        envs = [env]
    diags.extend(semantic.check_raw(data, smap, loaded.base_dir))
    per_env: dict[tuple[Any, ...], tuple[Diagnostic, set[str | None]]] = {}
    for name in envs:
        model, env_diags = _resolve(loaded, name, _static_lookup(loaded, name))
        if model is not None:
            loaded._models[name] = model
        for d in env_diags:
            key = (d.rule, d.file, d.line, d.col, d.path, d.message)
            per_env.setdefault(key, (d, set()))[1].add(name)
    for d, seen in per_env.values():
        names = ", ".join(sorted(str(e) for e in seen))
        some = len(seen) < len(envs)
        diags.append(_with_message(d, f"{d.message} (in environment {names})") if some else d)
    loaded.diagnostics = _finish(diags)
    return loaded, loaded.diagnostics


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Read a config; raise :class:`ConfigInvalidError` listing every problem if it has any."""
    loaded, diags = check_config(path, env=env, environ=environ)
    errors = [d for d in diags if d.severity == "error"]
    if errors and all(d.rule == "unknown-environment" for d in errors):
        raise UnknownEnvironmentError(errors)  # --env names none: a usage mistake, exit 2
    if loaded is None or errors:
        raise ConfigInvalidError(diags)
    return loaded


def _finish(diags: list[Diagnostic]) -> list[Diagnostic]:
    unique = list(dict.fromkeys(diags))
    return sorted(unique, key=sort_key)


def _with_message(d: Diagnostic, message: str) -> Diagnostic:
    from dataclasses import replace

    return replace(d, message=message)


def _make_pass(raw: dict[str, Any], smap: SourceMap, env: str | None) -> _Pass:
    # Top-level `x-` keys hold YAML anchors for reuse, as in docker compose; they are not config.
    # Interpolation builds new containers, so only what an override changes is copied here.
    data = {k: v for k, v in raw.items() if not k.startswith("x-")}
    one = _Pass(env, data, smap)
    envs = raw.get("environments")
    overrides = envs.get(env, {}) if isinstance(envs, dict) and env else {}
    services = overrides.get("services") if isinstance(overrides, dict) else None
    load = overrides.get("load") if isinstance(overrides, dict) else None
    if not (isinstance(services, dict) and services) and not (isinstance(load, dict) and load):
        return one
    one.smap = SourceMap(dict(smap.values), dict(smap.keys), smap.lines)
    if isinstance(load, dict) and load:
        _merge_load(data, load, env, one)
    base = data.get("services")
    if not isinstance(services, dict) or not isinstance(base, dict):
        return one
    base = data["services"] = dict(base)
    for name, override in services.items():
        src: DataPath = ("environments", env or "", "services", name)
        dst: DataPath = ("services", name)
        if name not in base or not isinstance(override, dict) or not isinstance(base[name], dict):
            continue  # an unknown service is reported by the semantic checks
        base[name] = copy.deepcopy(base[name])
        _merge(base[name], copy.deepcopy(override), src, dst, one)
    return one


def _merge_load(data: dict[str, Any], load: dict[str, Any], env: str | None, one: _Pass) -> None:
    base = data.get("load", {})
    if not isinstance(base, dict):
        return  # the schema reports the type
    base = data["load"] = copy.deepcopy(base)
    override = copy.deepcopy(load)
    declared, named = base.get("scenarios"), override.get("scenarios")
    if isinstance(named, dict):
        # A scenario the file does not declare is reported by the semantic checks.
        override["scenarios"] = {
            k: v for k, v in named.items() if isinstance(declared, dict) and k in declared
        }
    _merge(base, override, ("environments", env or "", "load"), ("load",), one)


def _merge(
    target: dict[str, Any], override: dict[str, Any], src: DataPath, dst: DataPath, one: _Pass
) -> None:
    """Deep-merge mappings; lists and scalars replace. Marks follow the override."""
    for key, value in override.items():
        s, d = (*src, key), (*dst, key)
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, s, d, one)
            continue
        target[key] = value
        one.smap.graft(one.smap, s, d)
        one.moved[d] = s


def _interpolate(one: _Pass, lookup: Callable[[str], str | None], diags: list[Diagnostic]) -> None:
    # A YAML alias is one object under many paths: expand it once (an alias bomb stays cheap,
    # and a mistake inside it is reported once, where it was written).
    done: dict[int, Any] = {}

    def walk(value: Any, path: DataPath) -> Any:
        if isinstance(value, (dict, list)):
            key = id(value)
            if key not in done:
                done[key] = _walk_container(value, path)
            return done[key]
        if isinstance(value, str):
            if "$" not in value:
                return value
            out, problems = expand(value, lookup)
            if out != value:
                one.interpolated.add(path)
            for p in problems:
                diags.append(_interp_diag(one, path, p, value))
            return out
        return value

    def _walk_container(value: dict[str, Any] | list[Any], path: DataPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        return [walk(v, (*path, i)) for i, v in enumerate(value)]

    for key in _INTERPOLATED:
        if key in one.data:
            one.data[key] = walk(one.data[key], (key,))


def _interp_diag(one: _Pass, path: DataPath, problem: Problem, value: str) -> Diagnostic:
    kind, name, message = problem.kind, problem.name, problem.message
    mark = one.smap.value(path)
    if mark is not None:  # point at the `${` itself, not the start of the string
        mark = dataclasses.replace(mark, col=one.smap.column_of(mark, value, problem.offset))
    rule = {"malformed": "bad-interpolation"}.get(kind, "undefined-variable")
    if kind == "undefined":
        hint = (
            f"declare {name} under variables:, set it in the environment's vars, "
            f"or write ${{{name}:-default}}"
        )
    elif kind == "required":
        hint = f"set {name} for this environment"
    else:
        hint = "write ${NAME} or ${NAME:-default}; $$ is a literal $"
    return one.smap.diagnostic(rule, message, mark, one.display(path), hint)


def _resolve(
    loaded: LoadedConfig, env: str | None, lookup: Callable[[str], str | None]
) -> tuple[Config | None, list[Diagnostic]]:
    """Merge overrides, expand variables and validate, for one environment."""
    one = _make_pass(loaded.raw, loaded.smap, env)
    diags: list[Diagnostic] = []
    _interpolate(one, lookup, diags)
    _anchor_commands(one.data, loaded.base_dir)
    model, model_diags = validate_model(Config, one.data, one.smap, one.display, one.interpolated)
    diags.extend(model_diags)
    diags.extend(semantic.check_env(one.data, one.smap, one.display))
    diags.extend(semantic.check_load(one.data, one.smap, one.display, loaded.base_dir))
    diags.extend(check_deploy(one.data, one.smap, one.display))
    return (model if not diags else None), diags


def _anchor_commands(data: dict[str, Any], base_dir: Path) -> None:
    """Commands run in the config file's directory; a relative ``cwd`` is relative to it."""
    services = data.get("services")
    for service in services.values() if isinstance(services, dict) else ():
        checks = service.get("checks") if isinstance(service, dict) else None
        for check in checks if isinstance(checks, list) else ():
            command = check.get("command") if isinstance(check, dict) else None
            if isinstance(command, dict):
                cwd = command.get("cwd")
                if cwd is None or isinstance(cwd, str):
                    command["cwd"] = str((base_dir / (cwd or ".")).resolve())


def _contract(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    variables = raw.get("variables")
    if not isinstance(variables, dict):
        return {}
    return {k: v if isinstance(v, dict) else {} for k, v in variables.items()}


def _static_lookup(loaded: LoadedConfig, env: str | None) -> Callable[[str], str | None]:
    """Values for checking structure: secrets and unset declared variables are stand-ins."""
    # The contract is read from the raw data: it is validated with everything else, so
    # here only what parses is used.
    contract = _contract(loaded.raw)
    raw_envs = loaded.raw.get("environments")
    raw_env = raw_envs.get(env) if isinstance(raw_envs, dict) and env else None
    env_vars = raw_env.get("vars") if isinstance(raw_env, dict) else None
    file_values: dict[str, str] = {}
    if isinstance(raw_env, dict) and isinstance(raw_env.get("env_file"), str):
        from redline.config.dotenv import parse_dotenv

        try:
            text = (loaded.base_dir / raw_env["env_file"]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""  # reported by the semantic checks
        file_values = {k: e.value for k, e in parse_dotenv(text, raw_env["env_file"])[0].items()}
    in_secrets_file = _secret_names(loaded, env)
    declared_secret = {n for n, spec in contract.items() if spec.get("secret") is True}

    def lookup(name: str) -> str | None:
        value = _static_value(name)
        # A secret's value never reaches a message: checking structure needs only a stand-in.
        if value is not None and name in declared_secret:
            return MASK
        return value

    def _static_value(name: str) -> str | None:
        if name in loaded.environ:
            return loaded.environ[name]
        if name in in_secrets_file:
            return MASK
        if isinstance(env_vars, dict) and name in env_vars:
            return str(env_vars[name])
        if name in file_values:
            return file_values[name]
        spec = contract.get(name)
        if spec is None:
            return None
        if spec.get("default") is not None:
            return str(spec["default"])
        return _SAMPLES.get(str(spec.get("type", "str")), "")

    return lookup


def _secret_names(loaded: LoadedConfig, env: str | None) -> set[str]:
    if env is None:
        return set()
    section, _ = _secrets_section(loaded.raw.get("secrets"), loaded.smap)
    if not (loaded.base_dir / section.file).is_file():
        return set()  # and cryptography is never imported
    from redline._errors import RedlineError
    from redline.secrets import secrets_for

    try:
        return set(secrets_for(section, loaded.base_dir, loaded.environ).names(env))
    except RedlineError:  # an unreadable secrets file is `secrets check`'s to report
        return set()


def _secrets_section(raw: Any, smap: SourceMap) -> tuple[SecretsConfig, list[Diagnostic]]:
    model, diags = validate_model(
        SecretsConfig, raw if raw is not None else {}, smap, lambda p: format_path(("secrets", *p))
    )
    return (model or SecretsConfig()), diags


def read_secrets_section(
    path: str | os.PathLike[str] | None = None,
) -> tuple[SecretsConfig, Path]:
    """Only the ``secrets:`` section of a config, and the directory its paths are relative to.

    The secrets commands use this so that they work whatever else the config holds. With no
    config file (and none asked for) the defaults apply in the working directory.
    """
    file = find_config(path)
    if path is None and not file.is_file():
        return SecretsConfig(), Path.cwd()
    text, display, diags = _read(file)
    if text is None:
        raise ConfigInvalidError(diags)
    data, smap, diags = load_yaml(text, display)
    if data is None:
        raise ConfigInvalidError(diags)
    raw = data.get("secrets") if isinstance(data, dict) else None
    # Marks are recorded from the document root; shift them under `secrets`.
    section_map = SourceMap(lines=smap.lines)
    section_map.graft(smap, ("secrets",), ())
    section, section_diags = _secrets_section(raw, section_map)
    if section_diags:
        raise ConfigInvalidError(section_diags)
    return section, file.resolve().parent
