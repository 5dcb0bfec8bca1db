"""A gate decision as a pull-request comment (Markdown), JUnit XML and GitHub annotations.

Each starts from :meth:`GateResult.to_dict`, so every format shows the same figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redline.analysis.gate import GateResult

__all__ = ["github_annotations", "junit_xml", "markdown", "metric_cells"]

_MARK = {
    "regressed": "❌ regressed",
    "improved": "✅ improved",
    "unchanged": "unchanged",
    "inconclusive": "❔ inconclusive",
    "changed": "changed",
}
_HEADLINE = {
    "pass": "✅ no regression",
    "regressed": "❌ regression",
    "undecided": "❔ could not decide",
}


def _num(value: float | None, unit: str | None = None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return f"{text} {unit}" if unit else text


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def _interval(pair: list[float | None] | None) -> str:
    if not pair or pair[0] is None or pair[1] is None:
        return "n/a"
    return f"{pair[0]:+.1f} … {pair[1]:+.1f} %"


def metric_cells(m: dict[str, Any]) -> list[str]:
    """metric, baseline, candidate, change, interval, verdict: one table row."""
    verdict = m["verdict"] if m.get("gated") else f"{m['verdict']} (not gated)"
    return [
        m["metric"],
        _num(m["baseline"], m["unit"]),
        _num(m["candidate"], m["unit"]),
        _pct(m["change_pct"]),
        _interval(m["interval"]),
        verdict,
    ]


def _order(data: dict[str, Any]) -> list[dict[str, Any]]:
    rank = {"regressed": 0, "inconclusive": 1, "improved": 2, "changed": 3, "unchanged": 4}
    return sorted(
        data["metrics"], key=lambda m: (not m["gated"], rank.get(m["verdict"], 9), m["metric"])
    )


def markdown(result: GateResult) -> str:
    """A pull-request comment: the verdict, then a table of every metric, worst first."""
    data = result.to_dict()
    cand = data["candidate"]
    what = f"`{data['name']}`" + (f" in `{data['environment']}`" if data["environment"] else "")
    at = f" at `{cand['commit'][:12]}`" if cand["commit"] else ""
    lines = [
        f"### redline gate: {_HEADLINE[data['verdict']]}",
        "",
        f"{what}{at}: {len(cand['runs'])} candidate run(s) against the baseline "
        f"({data['baseline']['why']}).",
        "",
        "| metric | baseline | candidate | change | interval | verdict |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for m in _order(data):
        cells = metric_cells(m)
        cells[-1] = _MARK.get(m["verdict"], m["verdict"]) + ("" if m["gated"] else " (not gated)")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    for m in _order(data):
        if m["gated"] and m["verdict"] in ("regressed", "inconclusive"):
            lines.append(f"- **{m['metric']}**: {m['reason']}")
    fdr = data["fdr"]
    setting = f"FDR {fdr['q']:g} (Benjamini-Hochberg)" if fdr["q"] else "no FDR correction"
    lines += [
        "",
        f"<sub>Mann-Whitney tests (Student's t on the log scale where runs are too few for "
        f"ranks) at alpha {data['alpha']:g}, {setting} over {fdr['tests']} metric(s); "
        f"intervals are {100 * (1 - data['alpha']):g} %.</sub>",
    ]
    for note in data["notes"]:
        lines.append(f"<sub>note: {note}</sub>")
    return "\n".join(lines) + "\n"


def junit_xml(result: GateResult) -> str:
    """A test case per gated metric: a regression fails it, an undecided one errors."""
    from xml.etree import ElementTree as ET

    data = result.to_dict()
    suite = ET.Element("testsuite", name=f"redline.gate.{data['name']}")
    failures = errors = 0
    for m in _order(data):
        if not m["gated"]:
            continue
        case = ET.SubElement(suite, "testcase", classname=data["name"], name=m["metric"])
        if m["verdict"] == "regressed":
            failures += 1
            ET.SubElement(case, "failure", message=m["reason"], type="regressed").text = m["reason"]
        elif m["verdict"] == "inconclusive" and data["inconclusive"] == "fail":
            errors += 1
            ET.SubElement(case, "error", message=m["reason"], type="inconclusive").text = m[
                "reason"
            ]
        else:
            ET.SubElement(case, "system-out").text = f"{m['verdict']}: {m['reason']}"
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def github_annotations(result: GateResult) -> str:
    """Workflow commands: an error per regression, a warning per undecided metric, a
    notice per improvement."""
    from redline.config.diagnostics import gh_escape

    data = result.to_dict()
    out = []
    level = {"regressed": "error", "inconclusive": "warning", "improved": "notice"}
    for m in _order(data):
        kind = level.get(m["verdict"])
        if kind is None or (not m["gated"] and kind != "notice"):
            continue
        title = f"{data['name']}: {m['metric']} {m['verdict']}"
        out.append(f"::{kind} title={gh_escape(title)}::{gh_escape(m['reason'])}")
    headline = _HEADLINE[data["verdict"]]
    out.append(
        f"::notice title=redline gate::{gh_escape(headline + ' — ' + data['baseline']['why'])}"
    )
    return "\n".join(out)
