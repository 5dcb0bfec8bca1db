"""redline's generic JSON: the layout docs/regressions.md documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from redline._errors import DataError
from redline.importers import parse_results
from redline.importers.generic_json import JSON_SCHEMA

from .conftest import DATA

FILE = DATA / "generic.json"


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def _one(**run: Any) -> dict[str, Any]:
    return {"schema_version": 1, "runs": [{"name": "api", **run}]}


def test_each_entry_is_a_run_with_its_metadata() -> None:
    first, second = parse_results("json", FILE)
    assert (first.name, first.environment, first.commit, first.branch) == (
        "checkout",
        "staging",
        "9f1c2e7",
        "main",
    )
    assert (first.version, first.host, first.status) == ("1.4.2", "ci-7", "ok")
    assert first.started_at == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert second.status == "fail" and second.version == "1.4.3"
    metrics = {m.name: (m.value, m.unit, m.direction) for m in first.metrics}
    assert metrics == {
        "p99_ms": (41.0, "ms", "lower"),
        "rps": (1520.5, "1/s", "higher"),
        "error_rate": (0.001, None, "lower"),  # direction from the name
    }
    assert dict(first.summary)["attributes"] == {"runner": "gha"}
    assert first.fingerprint != second.fingerprint


def test_runs_without_time_keep_file_order(tmp_path: Path) -> None:
    doc = {
        "schema_version": 1,
        "runs": [
            {"name": "a", "metrics": [{"name": "x_ms", "value": 1}]},
            {"name": "a", "metrics": [{"name": "x_ms", "value": 2}]},
        ],
    }
    first, second = parse_results("json", _write(tmp_path, doc))
    assert first.started_at < second.started_at


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"schema_version": 2, "runs": []},
            "schema_version is 2; this redline reads 1",
        ),
        ({"schema_version": 1, "runs": []}, "'runs' must be a list with at least one run"),
        (_one(metrics=[]), "runs[0] has no metrics"),
        (
            _one(metric=[{"name": "x", "value": 1}]),
            "runs[0] has an unknown field 'metric'",
        ),
        (_one(metrics=[{"name": "x", "value": "1"}]), "runs[0].metrics[0]: x is '1', not a number"),
        (_one(metrics=[{"name": "x"}]), "runs[0].metrics[0] (x) has no value"),
        (
            _one(metrics=[{"name": "x", "value": 1, "direction": "down"}]),
            "runs[0].metrics[0].direction is 'down'",
        ),
        (
            _one(time="yesterday", metrics=[{"name": "x", "value": 1}]),
            "runs[0].time: time 'yesterday' is not ISO 8601",
        ),
        (
            _one(commit=1234, metrics=[{"name": "x", "value": 1}]),
            "runs[0].commit is 1234, not a string",
        ),
        (
            _one(status="great", metrics=[{"name": "x", "value": 1}]),
            "runs[0].status is 'great'",
        ),
        (
            _one(metrics=[{"name": "x", "value": 1}, {"name": "x", "value": 2}]),
            "metric 'x' appears twice in run 'api'",
        ),
    ],
)
def test_mistakes_are_named_where_they_are(tmp_path: Path, doc: Any, message: str) -> None:
    path = _write(tmp_path, doc)
    with pytest.raises(DataError) as caught:
        parse_results("json", path)
    assert str(path) in caught.value.message
    assert message in caught.value.message
    assert caught.value.hint


def test_a_misspelt_field_gets_a_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, _one(comit="abc", metrics=[{"name": "x", "value": 1}]))
    with pytest.raises(DataError) as caught:
        parse_results("json", path)
    assert caught.value.hint is not None and "did you mean 'commit'?" in caught.value.hint


def test_a_name_from_the_option(tmp_path: Path) -> None:
    doc = {"schema_version": 1, "runs": [{"metrics": [{"name": "x_ms", "value": 1}]}]}
    (run,) = parse_results("json", _write(tmp_path, doc), name="nightly")
    assert run.name == "nightly"
    with pytest.raises(DataError, match=r"runs\[0\] has no name"):
        parse_results("json", _write(tmp_path, doc))


def test_the_documented_schema_accepts_what_the_importer_reads() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(JSON_SCHEMA)
    validator = jsonschema.Draft202012Validator(JSON_SCHEMA)
    assert list(validator.iter_errors(json.loads(FILE.read_text()))) == []
    wrong = _one(metric=[{"name": "x", "value": 1}])
    assert list(validator.iter_errors(wrong))  # the schema refuses what the importer refuses
