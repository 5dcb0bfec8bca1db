"""The public surface is one sorted __all__; every name resolves; import stays light."""

from __future__ import annotations

import subprocess
import sys

import redline

PINNED = [
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


def test_all_is_pinned_and_sorted() -> None:
    assert redline.__all__ == PINNED
    assert redline.__all__ == sorted(redline.__all__)


def test_every_public_name_resolves() -> None:
    for name in redline.__all__:
        assert getattr(redline, name) is not None, name


def test_error_tree() -> None:
    assert issubclass(redline.ConfigError, redline.RedlineError)
    assert issubclass(redline.ConfigError, ValueError)
    assert issubclass(redline.ConfigNotFoundError, FileNotFoundError)
    assert issubclass(redline.StoreUnavailableError, ConnectionError)
    for name in (
        "ConfigInvalidError",
        "SecretsKeyError",
        "SecretsTamperedError",
        "StoreSchemaError",
    ):
        assert issubclass(getattr(redline, name), redline.RedlineError)
    assert redline.ConfigError("x").exit_code == 5
    assert redline.StoreError("x").exit_code == 2


def test_import_is_lazy() -> None:
    code = (
        "import sys, redline\n"
        "heavy = [m for m in ('pydantic', 'yaml', 'sqlalchemy', 'rich', 'httpx', 'cryptography')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
