"""Corners of the loader found in review: each mistake is one diagnostic, placed and explained."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from redline.config.diagnostics import Diagnostic
from redline.config.dotenv import parse_dotenv
from redline.config.loader import check_config
from redline.config.source import Mark, SourceMap, load_yaml
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]


def check(tmp_path: Path, text: str) -> list[Diagnostic]:
    path = tmp_path / "redline.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return check_config(path, environ={})[1]


def where(diags: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.rule, d.line, d.col) for d in diags]


def assert_explained(diags: list[Diagnostic]) -> None:
    for d in diags:
        assert d.file and d.line > 0 and d.col > 0 and d.hint, d
        assert "<unicode string>" not in d.message and "datetime" not in d.message, d


CHECK = "project: p\nservices: {{s: {{checks: [{{{}}}]}}}}\n"


# 1. A file with nothing in it still says where to add what is missing.


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_an_empty_file_points_at_its_first_line(tmp_path: Path, text: str) -> None:
    diags = check(tmp_path, text)
    assert where(diags) == [("missing-key", 1, 1)]
    assert diags[0].file.endswith("redline.yaml")
    assert_explained(diags)


# 2. A tag: a standard one that does not fit its text is judged once, by the schema.


@pytest.mark.parametrize(
    ("check_text", "rule", "message"),
    [
        (
            "http: {url: u}, waiver: {reason: r, until: 2024-13-45}",
            "invalid-value",
            "'2024-13-45' is not a date",
        ),
        ("http: {url: u}, retries: !!int abc", "wrong-type", "expected a whole number, got 'abc'"),
        ("http: {url: u, follow_redirects: !!bool maybe}", "wrong-type", "expected true or false"),
        ("http: {url: u}, waiver: {reason: r, until: !!timestamp soon}", "invalid-value", "soon"),
    ],
)
def test_a_standard_tag_that_does_not_fit_is_one_diagnostic(
    tmp_path: Path, check_text: str, rule: str, message: str
) -> None:
    diags = check(tmp_path, CHECK.format(check_text))
    assert [d.rule for d in diags] == [rule]
    assert message in diags[0].message
    assert_explained(diags)


def test_an_unknown_tag_is_named_without_pyyaml_internals(tmp_path: Path) -> None:
    diags = check(tmp_path, "project: !foo x\nservices: !!python/object {}\n")
    assert [(d.rule, d.line, d.message) for d in diags] == [
        ("wrong-type", 1, "unknown YAML tag '!foo'"),
        ("wrong-type", 2, "unknown YAML tag '!!python/object'"),
    ]
    assert {d.hint for d in diags} == {"remove the tag; redline.yaml uses plain YAML"}
    assert_explained(diags)


# 3. Every bad status code of a list, each at its own place.


def test_every_bad_status_code_is_reported_where_it_is(tmp_path: Path) -> None:
    diags = check(tmp_path, CHECK.format("http: {url: u, status: [200, 6xx, abc]}"))
    assert where(diags) == [("invalid-value", 2, 55), ("invalid-value", 2, 60)]
    assert [d.path for d in diags] == [
        "services.s.checks[0].http.status[1]",
        "services.s.checks[0].http.status[2]",
    ]
    assert "'6xx'" in diags[0].message and "'abc'" in diags[1].message
    # A single code is not shown as a list of one.
    [one] = check(tmp_path, CHECK.format("http: {url: u, status: 6xx}"))
    assert one.path == "services.s.checks[0].http.status"
    assert_explained([*diags, one])


# 4. A value of the wrong type says what to write; YAML's implicit types are named.


def test_wrong_type_has_a_hint(tmp_path: Path) -> None:
    [d] = check(tmp_path, CHECK.format('tcp: {host: h, port: "eighty"}'))
    assert (d.rule, d.message) == ("wrong-type", "expected a whole number, got 'eighty'")
    assert d.hint == "write a whole number, e.g. 5432"


def test_wrong_type_from_a_variable_names_the_variable_not_the_value(tmp_path: Path) -> None:
    [d] = check(tmp_path, CHECK.format('tcp: {host: h, port: "${PORT:-eighty}"}'))
    assert d.message == "expected a whole number, got text from a ${VAR}"
    assert d.hint == "the variable's value must be a whole number"


@pytest.mark.parametrize(
    ("value", "got", "hint"),
    [
        ("yes", "a boolean (YAML reads yes/no/on/off/true/false as booleans)", "quote it: 'yes'"),
        ("Off  # a comment", "a boolean (YAML reads yes/no/on/off/true/false", "quote it: 'Off'"),
        ("2024-01-01", "a date", "quote it: '2024-01-01'"),
        ("2024-01-01 10:00:00", "a date and time", "quote it: '2024-01-01 10:00:00'"),
    ],
)
def test_yaml_implicit_types_are_explained(tmp_path: Path, value: str, got: str, hint: str) -> None:
    [d] = check(tmp_path, f"project: {value}\n")
    assert d.rule == "wrong-type"
    assert d.message.startswith(f"expected a string, got {got}")
    assert d.hint == hint
    assert_explained([d])


# 5. Several documents in one file.


def test_a_second_document_is_explained(tmp_path: Path) -> None:
    [d] = check(tmp_path, "project: p\n---\nproject: q\n")
    assert (d.rule, d.line, d.col) == ("yaml-syntax", 2, 1)
    assert d.message == (
        "the file holds more than one YAML document ('---' starts another at line 2)"
    )
    assert "but found" not in d.message
    assert_explained([d])


# 6. The column of a ${VAR} inside its scalar (the loader's interpolation diagnostics use it).


@pytest.mark.parametrize(
    ("line", "col", "value", "offset", "want"),
    [
        ("  url: http://${HOST}:${PORT}/x", 8, "http://${HOST}:${PORT}/x", 15, 23),
        ('  url: "http://${HOST}"', 8, "http://${HOST}", 7, 16),
        ("  - {run: 'echo ${A} ${A}'}", 11, "echo ${A} ${A}", 10, 22),
        ("  run: echo $${A} ${A}", 8, "echo $${A} ${A}", 11, 19),
        ("  bad: x${", 8, "x${", 1, 9),
        # Not findable on the scalar's first line: the scalar's own column.
        ("  run: |", 8, "echo a\necho ${A}\n", 12, 8),
        ('  url: "\\u0024{A}"', 8, "${A}", 0, 8),
    ],
)
def test_column_of_a_reference(line: str, col: int, value: str, offset: int, want: int) -> None:
    smap = SourceMap(lines={"f": [line]})
    assert smap.column_of(Mark("f", 1, col), value, offset) == want
    assert smap.column_of(None, value, offset) == 0


# 7. Tabs: reported only where YAML refuses them, at the column in the file as written.


def test_a_tab_inside_a_block_scalar_is_content(tmp_path: Path) -> None:
    diags = check(
        tmp_path,
        """
        project: p
        services:
          s:
            checks:
              - command:
                  run: |
                    printf 'a\\tb\\n'
                    \tindented with a tab
                  contains: "a\tb"
              - tcp: {host: h,
        \tport: 1}
        """,
    )
    assert diags == []


def test_tabs_and_another_mistake_are_each_reported(tmp_path: Path) -> None:
    diags = check(
        tmp_path,
        "project: p\nservices:\n  s:\n\t kind: api\n\t bogus: 1\n  t: {checks: [{tcp: {port: 1}}]}\n",
    )
    assert where(diags) == [
        ("tab-indent", 4, 1),
        ("tab-indent", 5, 1),
        ("unknown-key", 5, 3),  # the column of `bogus` in the line as written
        ("missing-key", 6, 17),
    ]
    assert_explained(diags)


def test_a_tab_after_a_dash_is_reported_once(tmp_path: Path) -> None:
    diags = check(tmp_path, "project: p\nvariable_prefixes:\n  -\tAPP_\n")
    assert where(diags) == [("tab-indent", 3, 4)]


# 8. YAML 1.1 base-60 numbers are not numbers here.


@pytest.mark.parametrize("port", ["1:20", "1:20.5", "!!int 1:20"])
def test_sexagesimal_is_not_a_number(tmp_path: Path, port: str) -> None:
    diags = check(tmp_path, CHECK.format(f"tcp: {{host: h, port: {port}}}"))
    assert [(d.rule, d.message) for d in diags] == [
        ("wrong-type", f"expected a whole number, got '{port.rsplit(maxsplit=1)[-1]}'")
    ]


# 9. A mistake inside merged or aliased content is reported where it is written.


def test_mistakes_in_merged_and_aliased_content_point_at_the_anchor(tmp_path: Path) -> None:
    diags = check(
        tmp_path,
        """
        project: p
        x-check: &check
          timeout: 2s
          retries: many
        x-codes: &codes [200, 6xx]
        services:
          s:
            checks:
              - <<: *check
                http: {url: u, status: *codes}
              - retries: 1
                <<: [{retries: x, timeout: never}]
                tcp: {host: h, port: 1}
        """,
    )
    assert [(d.rule, d.line, d.col, d.path) for d in diags] == [
        ("wrong-type", 4, 12, "services.s.checks[0].retries"),
        ("invalid-value", 5, 23, "services.s.checks[0].http.status[1]"),
        ("bad-duration", 12, 36, "services.s.checks[1].timeout"),
    ]


# 10. The schema: no internal keys, contract consistency, and a JSON Schema that agrees.


def test_plugins_is_not_a_key_a_user_can_write(tmp_path: Path) -> None:
    diags = check(tmp_path, CHECK.format("http: {url: u}, plugins: {foo: {a: 1}}"))
    [d] = diags
    assert (d.rule, d.message, d.path) == (
        "unknown-key",
        "unknown key 'plugins'",
        "services.s.checks[0].plugins",
    )
    assert "plugins" not in d.hint and "http" in d.hint
    [typo] = check(tmp_path, CHECK.format("http: {url: u}, retires: 1"))
    assert typo.hint == "did you mean 'retries'?"


def test_the_contract_must_agree_with_itself(tmp_path: Path) -> None:
    diags = check(
        tmp_path,
        """
        project: p
        variables:
          A: {type: int, min: 10, max: 5}
          B: {type: int, default: abc}
          C: {type: enum, values: [x, y], default: z}
          D: {type: duration, default: 30s, min: 1, max: 2}
          E: {type: bool, default: yes}
          S: {type: url, secret: true, default: hunter2}
        """,
    )
    assert [(d.rule, d.path, d.line) for d in diags] == [
        ("invalid-value", "variables.A.max", 3),
        ("invalid-value", "variables.B.default", 4),
        ("invalid-value", "variables.C.default", 5),
        ("invalid-value", "variables.S.default", 8),
    ]
    assert diags[0].message == "min 10 is more than max 5"
    assert diags[1].col == diags[1].source_line.index("abc") + 1
    assert "did you mean" in diags[2].message or "x, y" in diags[2].message
    assert "hunter2" not in diags[3].message
    assert_explained(diags)


def _schema() -> dict[str, object]:
    r = run_cli("config", "schema", cwd=ROOT)
    assert r.code == 0, r.err
    doc: dict[str, object] = json.loads(r.out)
    return doc


def _docs_examples() -> list[str]:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    # The overview, and the x- anchors example (given a project so it stands alone).
    return [blocks[0], "project: p\n" + next(b for b in blocks if "x-check-defaults" in b)]


def test_the_json_schema_agrees_with_the_loader(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from _gen import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    validator = jsonschema.Draft202012Validator(_schema())
    for text in [*_docs_examples(), generate(services=6, checks=4, envs=2)]:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(text))]
        assert errors == [], text
    accepted = """
        project: p
        x-anything: {a: 1}
        health: {interval: 30s, jitter: 0, cache_ttl: 0.0}
        services:
          s:
            checks:
              - http: {url: u, max_latency: 1h30m, status: [200, 2xx, 300-399]}
                retry_backoff: 0
                timeout: "${TIMEOUT}"
                retries: "${RETRIES}"
              - tcp: {host: h, port: "${PORT}"}
        """
    path = tmp_path / "ok.yaml"
    path.write_text(textwrap.dedent(accepted))
    _, diags = check_config(path, environ={"TIMEOUT": "2s", "RETRIES": "2", "PORT": "80"})
    assert diags == []
    assert list(validator.iter_errors(yaml.safe_load(accepted))) == []
    rejected = yaml.safe_load(CHECK.format("http: {url: u}, plugins: {foo: {a: 1}}"))
    assert list(validator.iter_errors(rejected)), "a user-written plugins: key must be refused"


def test_the_rate_pattern_takes_every_unit_parse_rate_does() -> None:
    from redline.config.schema import Rate
    from redline.units import parse_rate

    pattern = next(m.json_schema["pattern"] for m in Rate.__metadata__ if hasattr(m, "json_schema"))
    units = ["ms", "s", "sec", "second", "m", "min", "minute", "h", "hour", "d"]
    for rate in [*(f"12/{u}" for u in units), "5/10s", "1.5/2h", " 4 / 2 s "]:
        parse_rate(rate)
        assert re.search(pattern, rate), rate


# 11. .env files as editors on every system save them.


def test_dotenv_with_a_byte_order_mark_and_crlf() -> None:
    text = '\ufeffA=1\r\nB="two\r\nlines"\r\nC=3 # c\r\n'
    entries, diags = parse_dotenv(text, ".env")
    assert diags == []
    assert {k: e.value for k, e in entries.items()} == {"A": "1", "B": "two\nlines", "C": "3"}
    assert entries["C"].line == 4


def test_dotenv_lines_end_only_at_line_breaks() -> None:
    entries, diags = parse_dotenv("A=one\u2028two\nB=x\x0cy\n", ".env")
    assert diags == []
    assert entries["A"].value == "one\u2028two"
    assert entries["B"].line == 2


def test_text_after_a_closing_quote_lines_below_is_shown_there() -> None:
    _, diags = parse_dotenv('A="first\nsecond"  stray\nB="x" y\n', ".env")
    assert [(d.line, d.col, d.source_line) for d in diags] == [
        (2, 10, 'second"  stray'),
        (3, 7, 'B="x" y'),
    ]


def test_load_yaml_control_character_has_a_place() -> None:
    _, _, diags = load_yaml("project: p\nx: a\x01b\n", "f.yaml")
    assert [(d.rule, d.line, d.col) for d in diags] == [("yaml-syntax", 2, 5)]
    assert "U+0001" in diags[0].message and diags[0].hint


def test_a_list_too_short_names_its_minimum_length_not_its_type() -> None:
    from pydantic import BaseModel, Field

    from redline.config.validation import validate_model

    class Scenario(BaseModel):
        requests: list[str] = Field(min_length=1)

    data, smap, _ = load_yaml("requests: []\n", "f.yaml")
    model, diags = validate_model(Scenario, data, smap, lambda loc: ".".join(map(str, loc)))
    assert model is None
    assert [d.message for d in diags] == ["a list is shorter than the minimum length 1"]
