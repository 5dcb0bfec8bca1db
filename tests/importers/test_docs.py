"""docs/regressions.md, "Importing results": its generic JSON example imports and its
JSON Schema is the one the code carries."""

from __future__ import annotations

import json
import re
from pathlib import Path

from redline.importers import parse_results
from redline.importers.generic_json import JSON_SCHEMA

DOC = Path(__file__).parents[2] / "docs" / "regressions.md"


def _section() -> str:
    text = DOC.read_text()
    start = text.index("## Importing results")
    return text[start : text.index("\n## ", start + 1)]


def _json_blocks() -> list[str]:
    return re.findall(r"```json\n(.*?)```", _section(), flags=re.S)


def test_the_example_imports(tmp_path: Path) -> None:
    example = tmp_path / "example.json"
    example.write_text(_json_blocks()[0])
    (run,) = parse_results("json", example)
    assert run.name == "checkout" and len(run.metrics) == 3


def test_the_schema_in_the_docs_is_the_codes() -> None:
    assert json.loads(_json_blocks()[1]) == JSON_SCHEMA
