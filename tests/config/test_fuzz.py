"""Fuzzing the loader: any input yields diagnostics or a valid config, never another exception."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redline.config.loader import check_config
from tests.helpers import SHOP

fuzz = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _check(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "redline.yaml"
    path.write_bytes(data)
    loaded, diags = check_config(path, environ={})
    for d in diags:
        assert d.rule and d.message
    if loaded is not None and not any(d.severity == "error" for d in diags):
        for env in loaded.environment_names() or [None]:
            loaded.config(env)


@fuzz
@given(st.binary(max_size=400))
def test_any_bytes(tmp_path: Path, data: bytes) -> None:
    _check(tmp_path, data)


_TOKENS = st.sampled_from(
    [
        ":",
        " ",
        "  ",
        "\n",
        "\t",
        "-",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&a",
        "*a",
        "<<",
        "!!binary",
        "'",
        '"',
        "${X}",
        "${",
        "#",
        "? ",
        "|",
        ">",
        "project",
        "services",
        "checks",
        "http",
        "url",
        "depends_on",
        "environments",
        "vars",
        "1",
        "1.5",
        "true",
        "null",
        "~",
        "250ms",
        "api",
        "db",
    ]
)


@fuzz
@given(st.lists(_TOKENS, max_size=60))
def test_yaml_shaped_noise(tmp_path: Path, tokens: list[str]) -> None:
    _check(tmp_path, "".join(tokens).encode())


@fuzz
@given(
    st.integers(min_value=0, max_value=len(SHOP) - 1),
    st.integers(min_value=1, max_value=12),
    st.sampled_from(["", ":", "\t", " ", "-", "{", "'", "${", "x", "\n  "]),
)
def test_mutations_of_a_real_config(tmp_path: Path, at: int, cut: int, insert: str) -> None:
    (tmp_path / ".env.staging").write_text("API_URL=http://x\n")
    _check(tmp_path, (SHOP[:at] + insert + SHOP[at + cut :]).encode())
