"""Knob parsing: environment spellings, admin patches, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.demo import Knobs
from redline.demo._dburl import normalize_db_url, redact_db_url


def test_from_env_reads_every_knob() -> None:
    knobs = Knobs.from_env(
        {
            "DEMO_LATENCY": "50ms",
            "DEMO_ERROR_RATE": "0.1",
            "DEMO_CPU_BURN": "5ms",
            "DEMO_SLOW_QUERY": "100ms",
            "DEMO_CACHE": "on",
            "DEMO_CACHE_TTL": "2s",
            "DEMO_VERSION": "1.2.0",
            "DEMO_HEALTH_FAIL": "1",
            "DEMO_HEALTH_LATENCY": "20ms",
            "DEMO_SEED": "7",
            "UNRELATED": "x",
        }
    )
    assert knobs == Knobs(
        latency=0.05,
        error_rate=0.1,
        cpu_burn=0.005,
        slow_query=0.1,
        cache=True,
        cache_ttl=2.0,
        version="1.2.0",
        health_fail=True,
        health_latency=0.02,
        seed=7,
    )


def test_defaults_do_nothing() -> None:
    knobs = Knobs.from_env({})
    assert (knobs.latency, knobs.error_rate, knobs.cpu_burn, knobs.slow_query) == (0, 0, 0, 0)
    assert not knobs.cache and not knobs.health_fail


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"latency": "50"}, "latency: '50' has no unit"),
        ({"latency": True}, "latency: expected a duration"),
        ({"latency": "2m"}, "longer than the 60s"),
        ({"error_rate": 1.5}, "error_rate: must be between 0 and 1"),
        ({"error_rate": "lots"}, "expected a fraction"),
        ({"cache": "maybe"}, "cache: expected on/off"),
        ({"seed": "x"}, "seed: expected an integer"),
        ({"version": ""}, "version: expected a version string"),
        ({"latncy": "5ms"}, "unknown knob(s) latncy"),
    ],
)
def test_patch_rejects_bad_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Knobs().patch(changes)


def test_env_error_names_the_variable() -> None:
    with pytest.raises(ValueError, match="DEMO_ERROR_RATE: must be between"):
        Knobs.from_env({"DEMO_ERROR_RATE": "2"})


def test_percent_rate_and_round_trips() -> None:
    knobs = Knobs().patch({"error_rate": "25%", "latency": "1s", "cache": "off"})
    assert knobs.error_rate == 0.25
    assert Knobs().patch(knobs.to_dict()) == knobs
    assert Knobs.from_env(knobs.to_env()) == knobs
    assert Knobs().to_dict()["latency"] == "0"


def test_db_urls() -> None:
    assert normalize_db_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_db_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert normalize_db_url("sqlite:///x.db") == f"sqlite:///{Path('x.db').resolve()}"
    assert normalize_db_url("sqlite:///:memory:") == "sqlite:///:memory:"
    assert normalize_db_url("/tmp/x.db") == "sqlite:////tmp/x.db"
    assert (
        redact_db_url("postgresql+psycopg://u:pw@h:5432/d") == "postgresql+psycopg://u:***@h:5432/d"
    )
    with pytest.raises(ValueError, match="unsupported database URL scheme 'mysql'"):
        normalize_db_url("mysql://h/d")
