"""The three renderings of diagnostics."""

from __future__ import annotations

import json

from redline.config.diagnostics import RULES, Diagnostic, render_github, render_human, render_json

D = Diagnostic(
    "unknown-key",
    "unknown key 'urll'",
    "redline.yaml",
    7,
    9,
    "services.api.checks[0].http.urll",
    "did you mean 'url'?",
    source_line="        urll: http://x",
)


def test_human_has_location_rule_source_caret_and_hint() -> None:
    text = render_human([D])
    assert "redline.yaml:7:9: error RL104 [unknown-key] at services.api.checks[0].http.urll" in text
    lines = text.splitlines()
    assert lines[1].endswith("urll: http://x")
    assert lines[2].index("^") == lines[1].index("urll")
    assert "hint: did you mean 'url'?" in text
    assert text.endswith("1 error(s), 0 warning(s)")


def test_json_is_versioned() -> None:
    doc = json.loads(render_json([D], file="redline.yaml"))
    assert doc["schema_version"] == 1 and doc["ok"] is False and doc["errors"] == 1
    [d] = doc["diagnostics"]
    assert d["code"] == "RL104" and d["line"] == 7 and d["col"] == 9 and "source_line" not in d


def test_github_annotations_escape_their_properties() -> None:
    d = Diagnostic("yaml-syntax", "bad: thing\nnext", "dir,x/redline.yaml", 3, 1)
    line = render_github([d])
    assert line.startswith(
        "::error file=dir%2Cx/redline.yaml,line=3,col=1,title=RL101 yaml-syntax::"
    )
    assert "bad: thing%0Anext" in line


def test_rule_codes_are_unique_and_stable() -> None:
    codes = [r.code for r in RULES.values()]
    assert len(codes) == len(set(codes))
    assert RULES["duplicate-key"].code == "RL103"
    assert RULES["undefined-variable"].code == "RL109"
