"""Write a validation result for people (text), programs (JSON), CI (JUnit XML, SARIF) or RDF tools (the SHACL report).

SARIF 2.1.0 is what code-scanning services (GitHub's upload-sarif) read, so findings show on a pull request.
"""

from __future__ import annotations

import enum
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from iimkg.core.prefixes import compress
from iimkg.core.vocab import IIM
from iimkg.shacl.findings import Finding, Rule, Severity, ValidationResult
from iimkg.shacl.locate import Locator

__all__ = ["SARIF_SCHEMA", "ReportFormat", "render_report", "sarif_log", "write_report"]

_IRI = re.compile(r"(?:https?|file|urn):[^\s\"<>]*[^\s\"<>;,.)]")


class ReportFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"
    TURTLE = "turtle"
    SARIF = "sarif"


def render_report(result: ValidationResult, fmt: ReportFormat | str = ReportFormat.TEXT) -> str:
    """The result as text in ``fmt``.

    ``text``: per file (and, for plans, per plan), findings grouped by severity (worst first), one line each with
    rule, message and source (for the quality gate also the focus node; for plans the statement IDs), then a
    summary. ``json``: ``{"conforms", "findings": [...], "summary": {...}}`` with full IRIs.
    ``junit``: one ``testsuite`` per file and one ``testcase`` per rule, failing where the rule has findings at or
    above the fail-on level. ``turtle``: the SHACL validation report graph(s). ``sarif``: SARIF 2.1.0, one result
    per finding (see :func:`_sarif`).
    """
    fmt = ReportFormat(fmt)
    if fmt is ReportFormat.JSON:
        return "".join(_json_pieces(result))
    if fmt is ReportFormat.JUNIT:
        return _junit(result)
    if fmt is ReportFormat.TURTLE:
        return str(result.graph.serialize(format="turtle"))
    if fmt is ReportFormat.SARIF:
        return json.dumps(sarif_log(result), indent=2, ensure_ascii=False) + "\n"
    return _text(result)


def write_report(result: ValidationResult, fmt: ReportFormat | str, out: IO[str]) -> None:
    """Write :func:`render_report`'s text to ``out``; JSON a finding at a time, so that a report of millions of
    findings is never one string in memory."""
    fmt = ReportFormat(fmt)
    if fmt is ReportFormat.JSON:
        for piece in _json_pieces(result):
            out.write(piece)
    else:
        out.write(render_report(result, fmt))


def short(value: str) -> str:
    """An IRI as a CURIE when the prefix map knows its namespace, else unchanged."""
    if value.startswith("_:"):
        return value
    return compress(value) or value


def show_value(value: str) -> str:
    """A value on one line: an IRI or CURIE as a CURIE, anything else quoted with its tabs and newlines escaped."""
    if re.fullmatch(r"[A-Za-z][\w.+-]*:\S*", value):
        return short(value)
    return json.dumps(value, ensure_ascii=False)


def shorten_iris(text: str) -> str:
    """Every IRI inside ``text`` written as a CURIE where the prefix map allows."""
    return _IRI.sub(lambda match: short(match.group(0)), text)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _counts_text(counts: dict[Severity, int]) -> str:
    return ", ".join(_plural(counts[s], s.value) for s in Severity)


def _summary_line(result: ValidationResult, checked: str) -> str:
    """``3 files checked against 30 rules in 0.4 s: …. PASS: …`` (``checked`` says what was checked)."""
    failing = len(result.failing())
    verdict = (f"FAIL: {_plural(failing, 'finding')} at or above {result.fail_on.value}" if failing
               else f"PASS: nothing at or above {result.fail_on.value}")
    return (f"{checked} checked against {_plural(len(result.rules), 'rule')} in {result.seconds:.1f} s: "
            f"{_counts_text(result.counts())}. {verdict}.")


def _by_severity(findings: Sequence[Finding]) -> Iterator[tuple[Severity, list[Finding]]]:
    """The findings of each severity that has any, worst first."""
    for severity in Severity:
        group = [f for f in findings if f.severity is severity]
        if group:
            yield severity, group


def _files_with_findings(result: ValidationResult, lines: list[str]) -> Iterator[tuple[str, list[Finding]]]:
    """Each checked file with its findings; a file with none gets its "no findings" line in ``lines`` instead."""
    for file in result.files:
        findings = [f for f in result.findings if f.file == file]
        if findings:
            yield file, findings
        else:
            lines += [f"{file}: no findings", ""]


def _text(result: ValidationResult) -> str:
    if result.plans is not None:
        return _plan_text(result)
    lines: list[str] = []
    for file, findings in _files_with_findings(result, lines):
        lines.append(f"{file}: {_counts_text(result.counts(file))}")
        for severity, group in _by_severity(findings):
            lines.append(f"  {severity.value} ({len(group)})")
            rule_width = max(len(f.rule) for f in group)
            focus_width = min(max(len(short(f.focus)) for f in group), 40)
            for finding in group:
                line = f"    {finding.rule:<{rule_width}}  {short(finding.focus):<{focus_width}}  "
                line += shorten_iris(finding.message)
                if finding.value is not None:
                    line += f"  value {show_value(finding.value)}"
                if finding.source:
                    line += f"  [{finding.source}]"
                lines.append(line)
        lines.append("")
    lines.append(_summary_line(result, _plural(len(result.files), "file")))
    return "\n".join(lines) + "\n"


def _plan_text(result: ValidationResult) -> str:
    """Per file, per plan with findings, findings by severity: rule, message, then [statements; source]."""
    lines: list[str] = []
    for file, findings in _files_with_findings(result, lines):
        plans = list(dict.fromkeys(f.plan or "" for f in findings))
        plans.sort(key=lambda plan: not plan)  # findings about no one plan (a skipped FHIR resource type) last
        named = sum(1 for plan in plans if plan)
        lines.append(f"{file}: {_plural(named, 'plan')} with findings; {_counts_text(result.counts(file))}")
        for plan in plans:
            own = [f for f in findings if (f.plan or "") == plan]
            lines.append(f"  plan {short(plan)}" if plan else "  not about one plan")
            for severity, group in _by_severity(own):
                lines.append(f"    {severity.value} ({len(group)})")
                width = max(len(f.rule) for f in group)
                for finding in group:
                    line = f"      {finding.rule:<{width}}  {shorten_iris(finding.message)}"
                    if finding.focus != (finding.plan_iri or finding.plan):
                        line += f"  (at {_within(finding.focus, file)})"
                    cited = "; ".join(part for part in (finding.statements, finding.source) if part)
                    if cited:
                        line += f"  [{cited}]"
                    lines.append(line)
        lines.append("")
    lines.append(_summary_line(result, f"{_plural(len(result.files), 'file')}, {_plural(result.plans or 0, 'plan')}"))
    return "\n".join(lines) + "\n"


def _within(iri: str, file: str) -> str:
    """A node of the file itself (``<#patient>`` in Turtle, a converted FHIR resource) as ``#patient``; the text
    report already names the file, and its absolute path would only make the line longer."""
    document = Path(file).resolve().as_uri() + "#"
    return iri[len(document) - 1:] if iri.startswith(document) else short(iri)


def _summary(result: ValidationResult) -> dict[str, object]:
    counts = result.counts()
    summary: dict[str, object] = {
        "files": len(result.files),
        "rules": len(result.rules),
        "findings": len(result.findings),
        **{s.value: counts[s] for s in Severity},
        "fail_on": result.fail_on.value,
        "failing": len(result.failing()),
    }
    if result.plans is not None:
        summary["plans"] = result.plans
        summary["plans_with_findings"] = len({f.plan for f in result.findings if f.plan})
        summary["seconds"] = round(result.seconds, 3)
    return summary


def _json_pieces(result: ValidationResult) -> Iterator[str]:
    """``json.dumps({"conforms", "findings", "summary"}, indent=2)``, written a finding at a time (the same text:
    a finding's values are strings or null, so its lines only need the indent of their place in the list)."""
    yield '{\n  "conforms": ' + json.dumps(result.conforms) + ',\n  "findings": '
    if result.findings:
        separator = "[\n    "
        for finding in result.findings:
            yield separator + json.dumps(finding.to_json(), indent=2, ensure_ascii=False).replace("\n", "\n    ")
            separator = ",\n    "
        yield "\n  ]"
    else:
        yield "[]"
    summary = json.dumps(_summary(result), indent=2, ensure_ascii=False)
    yield ',\n  "summary": ' + summary.replace("\n", "\n  ") + "\n}\n"


def _junit(result: ValidationResult) -> str:
    suites = ET.Element("testsuites", name="iimkg validate")
    total_tests = total_failures = 0
    for file in result.files:
        findings = [f for f in result.findings if f.file == file]
        rules = _rules_for(result.rules, findings)
        suite = ET.SubElement(suites, "testsuite", name=file)
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="fail-on", value=result.fail_on.value)
        failures = 0
        for rule in rules:
            case = ET.SubElement(suite, "testcase", classname=file, name=rule.name)
            own = [f for f in findings if f.rule == rule.name]
            failing = [f for f in own if f.severity.at_least(result.fail_on)]
            passing = [f for f in own if not f.severity.at_least(result.fail_on)]
            if failing:
                failures += 1
                failure = ET.SubElement(case, "failure", type=failing[0].severity.value,
                                        message=f"{_plural(len(failing), failing[0].severity.value)}: {rule.label}")
                failure.text = "\n".join(_finding_line(f) for f in failing) + "\n"
            if passing:
                out = ET.SubElement(case, "system-out")
                out.text = (f"{_plural(len(passing), passing[0].severity.value)} below the fail-on level "
                            f"({result.fail_on.value}):\n" + "\n".join(_finding_line(f) for f in passing) + "\n")
        suite.set("tests", str(len(rules)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total_tests += len(rules)
        total_failures += failures
    suites.set("tests", str(total_tests))
    suites.set("failures", str(total_failures))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _rules_for(rules: Sequence[Rule], findings: Sequence[Finding]) -> list[Rule]:
    """Every rule of the shapes, plus any rule a finding names that the shapes did not list (user shapes)."""
    known = {rule.name for rule in rules}
    extra = {f.rule: f for f in findings if f.rule not in known}
    return list(rules) + [Rule(name, name, name, f.severity, f.source) for name, f in sorted(extra.items())]


def _finding_line(finding: Finding) -> str:
    if finding.plan is not None:
        cited = "; ".join(part for part in (finding.statements, finding.source) if part)
        return f"{short(finding.plan)}: {shorten_iris(finding.message)}" + (f" [{cited}]" if cited else "")
    line = f"{short(finding.focus)}: {shorten_iris(finding.message)}"
    if finding.value is not None:
        line += f" (value {show_value(finding.value)})"
    return line + (f" [{finding.source}]" if finding.source else "")


# ── SARIF 2.1.0 ──

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {Severity.VIOLATION: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
# Relative artifact URIs are resolved against this base, which GitHub's code scanning takes as the repository root.
SRCROOT = "%SRCROOT%"


def sarif_log(result: ValidationResult) -> dict[str, Any]:
    """The result as a SARIF 2.1.0 log: one run of iimkg, its rules in ``tool.driver.rules``, one result per finding.

    A result's ``ruleId`` is the rule's name and its ``level`` follows the severity (violation → error, warning →
    warning, info → note). Its location is the file the finding was read from, as a URI relative to the working
    directory (``%SRCROOT%``) when the file lies inside it, else an absolute ``file:`` URI; the focus node (a plan, a
    resource, an ontology term) is its logical location. RDF parsers do not report where a triple was read, so the
    ``region`` (line and column) is where the focus node is written as a subject, found again in the file's text
    (:mod:`iimkg.shacl.locate`); a finding whose place can't be known has none.
    """
    rules = _rules_for(result.rules, result.findings)
    index = {rule.name: position for position, rule in enumerate(rules)}
    locator = Locator()
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "iimkg",
            "informationUri": IIM,
            "rules": [_sarif_rule(rule) for rule in rules],
        }},
        "results": [_sarif_result(finding, index[finding.rule], locator, result.files) for finding in result.findings],
        "columnKind": "unicodeCodePoints",
        "properties": {"conforms": result.conforms, **_summary(result)},
    }
    version = _version()
    if version:
        run["tool"]["driver"]["version"] = version
    if any(_artifact(file).get("uriBaseId") for file in result.files):
        run["originalUriBaseIds"] = {SRCROOT: {"uri": Path.cwd().as_uri() + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("iimkg")
    except PackageNotFoundError:
        return None


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    """A ``reportingDescriptor``: the rule's label as its short description, the comment and source as its help."""
    help_lines = [rule.label]
    if rule.comment:
        help_lines.append(rule.comment)
    if rule.statements:
        help_lines.append(f"Enforces: {', '.join(rule.statements)}")
    if rule.source:
        help_lines.append(f"Source: {rule.source}")
    descriptor: dict[str, Any] = {
        "id": rule.name,
        "name": rule.name,
        "shortDescription": {"text": rule.label},
        "fullDescription": {"text": rule.comment or rule.label},
        "help": {"text": "\n\n".join(help_lines)},
        "defaultConfiguration": {"level": SARIF_LEVELS[rule.severity]},
        "properties": {"kind": rule.kind.value, "tags": [rule.kind.value]},
    }
    return descriptor


def _artifact(file: str) -> dict[str, str]:
    """An ``artifactLocation``: relative to ``%SRCROOT%`` when ``file`` is a relative path, else a ``file:`` URI."""
    path = Path(file)
    if path.is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": path.as_posix(), "uriBaseId": SRCROOT}


def _sarif_result(finding: Finding, rule_index: int, locator: Locator, files: Sequence[str]) -> dict[str, Any]:
    properties = {key: value for key, value in finding.to_json().items()
                  if key not in {"severity", "rule", "message", "file"} and value is not None}
    physical: dict[str, Any] = {"artifactLocation": _artifact(finding.file)}
    found = locator.find_among(finding.file, files, finding.focus)
    if found is not None:
        if found[0] != finding.file:  # the resource is in another file of the batch: it is shown there
            physical["artifactLocation"] = _artifact(found[0])
            properties["file"] = finding.file
        physical["region"] = {"startLine": found[1][0], "startColumn": found[1][1]}
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": SARIF_LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [{
            "physicalLocation": physical,
            "logicalLocations": [{"fullyQualifiedName": finding.focus}],
        }],
        "properties": properties,
    }
