"""redline: tells a team whether its services are deployed right and fast enough.

>>> import redline
>>> cfg = redline.load_config("redline.yaml")        # doctest: +SKIP

Public names are resolved lazily, so ``import redline`` stays cheap; each is
imported from its module the first time it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Config": "redline.config.schema",
    "ConfigError": "redline._errors",
    "ConfigInvalidError": "redline._errors",
    "ConfigNotFoundError": "redline._errors",
    "DataError": "redline._errors",
    "DemoError": "redline._errors",
    "DemoSystem": "redline.demo",
    "DeploymentValidator": "redline.validation",
    "Diagnostic": "redline.config.diagnostics",
    "EnvContractError": "redline._errors",
    "EnvironmentManager": "redline.environment",
    "HealthCheckResult": "redline.probes",
    "HealthChecker": "redline.health",
    "LoadedConfig": "redline.config.loader",
    "RedlineError": "redline._errors",
    "Redactor": "redline.redact",
    "SecretsError": "redline._errors",
    "SecretsFile": "redline.secrets",
    "SecretsKeyError": "redline._errors",
    "SecretsTamperedError": "redline._errors",
    "Store": "redline.store",
    "UsageError": "redline._errors",
    "ValidationReport": "redline.validation",
    "StoreError": "redline._errors",
    "StoreSchemaError": "redline._errors",
    "StoreUnavailableError": "redline._errors",
    "GatePolicy": "redline.analysis.gate",
    "LoadRun": "redline.load.runner",
    "LoadSpec": "redline.load.spec",
    "analyze_series": "redline.analysis.changepoints",
    "compare_many": "redline.analysis.compare",
    "compare_samples": "redline.analysis.compare",
    "import_results": "redline.importers",
    "judge": "redline.analysis.judge",
    "resolve_baseline": "redline.analysis.baseline",
    "run_gate": "redline.analysis.gate",
    "load_config": "redline.config.loader",
    "open_store": "redline.store",
    "parse_duration": "redline.units",
    "parse_rate": "redline.units",
    "parse_size": "redline.units",
}

__all__ = [
    "Config",
    "ConfigError",
    "ConfigInvalidError",
    "ConfigNotFoundError",
    "DataError",
    "DemoError",
    "DemoSystem",
    "DeploymentValidator",
    "Diagnostic",
    "EnvContractError",
    "EnvironmentManager",
    "GatePolicy",
    "HealthCheckResult",
    "HealthChecker",
    "LoadRun",
    "LoadSpec",
    "LoadedConfig",
    "Redactor",
    "RedlineError",
    "SecretsError",
    "SecretsFile",
    "SecretsKeyError",
    "SecretsTamperedError",
    "Store",
    "StoreError",
    "StoreSchemaError",
    "StoreUnavailableError",
    "UsageError",
    "ValidationReport",
    "__version__",
    "analyze_series",
    "compare_many",
    "compare_samples",
    "import_results",
    "judge",
    "load_config",
    "open_store",
    "parse_duration",
    "parse_rate",
    "parse_size",
    "resolve_baseline",
    "run_gate",
]

if TYPE_CHECKING:
    from redline._errors import (
        ConfigError,
        ConfigInvalidError,
        ConfigNotFoundError,
        DataError,
        DemoError,
        EnvContractError,
        RedlineError,
        SecretsError,
        SecretsKeyError,
        SecretsTamperedError,
        StoreError,
        StoreSchemaError,
        StoreUnavailableError,
        UsageError,
    )
    from redline.analysis.baseline import resolve_baseline
    from redline.analysis.changepoints import analyze_series
    from redline.analysis.compare import compare_many, compare_samples
    from redline.analysis.gate import GatePolicy, run_gate
    from redline.analysis.judge import judge
    from redline.config.diagnostics import Diagnostic
    from redline.config.loader import LoadedConfig, load_config
    from redline.config.schema import Config
    from redline.demo import DemoSystem
    from redline.environment import EnvironmentManager
    from redline.health import HealthChecker
    from redline.importers import import_results
    from redline.load.runner import LoadRun
    from redline.load.spec import LoadSpec
    from redline.probes import HealthCheckResult
    from redline.redact import Redactor
    from redline.secrets import SecretsFile
    from redline.store import Store, open_store
    from redline.units import parse_duration, parse_rate, parse_size
    from redline.validation import DeploymentValidator, ValidationReport


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'redline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
