"""The .env reader accepts what compose does and reports what it lets through."""

from __future__ import annotations

from redline.config.dotenv import parse_dotenv


def test_accepted_forms() -> None:
    text = (
        "# comment\n"
        "A=1\n"
        "export B = two\n"
        "C='lit ${X} \\n'\n"
        'D="line1\\nline2 \\"q\\""\n'
        "E=value # trailing comment\n"
        "F=\n"
        'G="multi\n'
        'line"\n'
    )
    entries, diags = parse_dotenv(text, ".env")
    assert diags == []
    assert {k: e.value for k, e in entries.items()} == {
        "A": "1",
        "B": "two",
        "C": "lit ${X} \\n",
        "D": 'line1\nline2 "q"',
        "E": "value",
        "F": "",
        "G": "multi\nline",
    }
    assert entries["E"].line == 6


def test_problems_have_file_and_line() -> None:
    text = 'A=1\nB\nA=2\nC=\'open\nD=x"y\nE="a" b\n9X=1\n'
    entries, diags = parse_dotenv(text, ".env.staging")
    got = [(d.rule, d.line) for d in diags]
    assert ("env-no-value", 2) in got
    assert ("env-duplicate-key", 3) in got
    # A quote never closed is reported, and the lines after it are still read.
    assert ("env-bad-quoting", 4) in got
    assert ("env-bad-line", 7) in got
    assert all(d.file == ".env.staging" for d in diags)
    assert entries["A"].value == "2"


def test_stray_quotes_and_bad_keys() -> None:
    _, diags = parse_dotenv('D=x"y\nE="a" b\n9X=1\nK V=1\n', ".env")
    assert [(d.rule, d.line) for d in diags] == [
        ("env-bad-quoting", 1),
        ("env-bad-quoting", 2),
        ("env-bad-line", 3),
        ("env-bad-line", 4),
    ]
