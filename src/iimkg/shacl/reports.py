"""Write a validation result for people (text), programs (JSON), CI (JUnit XML, SARIF) or RDF tools (the SHACL report).

SARIF 2.1.0 is what code-scanning services (GitHub's upload-sarif) read, so findings show on a pull request.
"""

from __future__ import annotations

import enum
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from iimkg.core.prefixes import compress
from iimkg.core.vocab import IIM
from iimkg.shacl.findings import Finding, FindingStats, Rule, Severity, ValidationResult
from iimkg.shacl.locate import Locator
from iimkg.shacl.spill import FindingSorter

__all__ = ["SARIF_SCHEMA", "ReportFormat", "render_report", "sarif_log", "write_report"]

# how json.dumps(..., ensure_ascii=False) writes a string, keys and values alike (json's C function where built)
_json_string: Callable[[str], str] = json.encoder.encode_basestring
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
    return "".join(_pieces(result, ReportFormat(fmt)))


def write_report(result: ValidationResult, fmt: ReportFormat | str, out: IO[str]) -> None:
    """Write :func:`render_report`'s text to ``out``, a piece at a time (text, JSON, JUnit and SARIF a finding or a
    plan at a time, Turtle a result at a time for plans), so that a report of millions of findings is never one
    string in memory."""
    for piece in _pieces(result, ReportFormat(fmt)):
        out.write(piece)


def _pieces(result: ValidationResult, fmt: ReportFormat) -> Iterator[str]:
    if fmt is ReportFormat.JSON:
        return _json_pieces(result)
    if fmt is ReportFormat.JUNIT:
        return _junit_pieces(result)
    if fmt is ReportFormat.TURTLE:
        if result.report_turtle is not None:
            return result.report_turtle()
        return iter([str(result.graph.serialize(format="turtle"))])
    if fmt is ReportFormat.SARIF:
        return _sarif_pieces(result)
    return _text_pieces(result)


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
    failing = result.failing_count()
    verdict = (f"FAIL: {_plural(failing, 'finding')} at or above {result.fail_on.value}" if failing
               else f"PASS: nothing at or above {result.fail_on.value}")
    return (f"{checked} checked against {_plural(len(result.rules), 'rule')} in {result.seconds:.1f} s: "
            f"{_counts_text(result.counts())}. {verdict}.")


def _by_severity(findings: Iterable[Finding]) -> Iterator[tuple[Severity, list[Finding]]]:
    """The findings of each severity that has any, worst first."""
    groups: dict[Severity, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.severity, []).append(finding)
    for severity in Severity:
        if severity in groups:
            yield severity, groups[severity]


def _by_file(result: ValidationResult) -> Iterator[tuple[str, Iterator[Finding]]]:
    """Each checked file with its findings, read in one pass (findings come file by file, in the order of
    ``result.files``); a file with none gets an empty iterator."""
    if isinstance(result.findings, list):  # in memory: in any order a caller gave
        grouped = _grouped_by_file(result)
        for file in result.files:
            yield file, iter(grouped.get(file, ()))
        return
    findings = iter(result.findings)
    pending = next(findings, None)

    def own(file: str) -> Iterator[Finding]:
        nonlocal pending
        while pending is not None and pending.file == file:
            yield pending
            pending = next(findings, None)

    for file in result.files:
        while pending is not None and pending.file != file and pending.file not in result.files:
            pending = next(findings, None)  # a finding of no checked file is in no report section
        if pending is not None and pending.file == file:
            yield file, own(file)
            for _ in own(file):  # what the caller left unread
                pass
        else:
            yield file, iter(())


def _text_pieces(result: ValidationResult) -> Iterator[str]:
    if result.plans is not None:
        yield from _plan_text(result)
        return
    grouped = _grouped_by_file(result)
    for file in result.files:
        findings = grouped.get(file)
        if not findings:
            yield f"{file}: no findings\n\n"
            continue
        yield f"{file}: {_counts_text(result.counts(file))}\n"
        for severity, group in _by_severity(findings):
            yield f"  {severity.value} ({len(group)})\n"
            rule_width = max(len(f.rule) for f in group)
            focus_width = min(max(len(short(f.focus)) for f in group), 40)
            for finding in group:
                line = f"    {finding.rule:<{rule_width}}  {short(finding.focus):<{focus_width}}  "
                line += shorten_iris(finding.message)
                if finding.value is not None:
                    line += f"  value {show_value(finding.value)}"
                if finding.source:
                    line += f"  [{finding.source}]"
                yield line + "\n"
        yield "\n"
    yield _summary_line(result, _plural(len(result.files), "file")) + "\n"


def _grouped_by_file(result: ValidationResult) -> dict[str, list[Finding]]:
    """The quality gate's findings by file (a few hundred: they are not spilled, nor need to come file by file)."""
    grouped: dict[str, list[Finding]] = {}
    for finding in result.findings:
        grouped.setdefault(finding.file, []).append(finding)
    return grouped


def _plan_text(result: ValidationResult) -> Iterator[str]:
    """Per file, per plan with findings, findings by severity: rule, message, then [statements; source].

    Plans come in the order of their first finding, those about no one plan last. Findings come by plan, so one
    plan's are held at a time; blank-node plans (ordered by what does not depend on their random labels, so
    interleaved) and findings about no plan are held for the file.
    """
    stats = result.stats()
    for file, findings in _by_file(result):
        first = next(findings, None)
        if first is None:
            yield f"{file}: no findings\n\n"
            continue
        named = stats.file_plans.get(file, 0)
        yield f"{file}: {_plural(named, 'plan')} with findings; {_counts_text(result.counts(file))}\n"
        unplanned: list[Finding] = []
        blank: dict[str, list[Finding]] = {}
        current: list[Finding] = []
        for finding in _chain(first, findings):
            plan = finding.plan or ""
            if not plan:
                unplanned.append(finding)
                continue
            if plan.startswith("_:"):
                blank.setdefault(plan, []).append(finding)
                continue
            if current and current[0].plan != plan:
                yield from _plan_lines(current, file)
                current = []
            if blank:
                if current:
                    yield from _plan_lines(current, file)
                    current = []
                for group in blank.values():
                    yield from _plan_lines(group, file)
                blank = {}
            current.append(finding)
        if current:
            yield from _plan_lines(current, file)
        for group in blank.values():
            yield from _plan_lines(group, file)
        if unplanned:
            yield from _plan_lines(unplanned, file)
        yield "\n"
    yield _summary_line(result, f"{_plural(len(result.files), 'file')}, {_plural(result.plans or 0, 'plan')}") + "\n"


def _chain(first: Finding, rest: Iterator[Finding]) -> Iterator[Finding]:
    yield first
    yield from rest


def _plan_lines(own: list[Finding], file: str) -> Iterator[str]:
    """One plan's section of the text report (``own``: its findings; about no one plan if they have none)."""
    plan = own[0].plan or ""
    yield f"  plan {short(plan)}\n" if plan else "  not about one plan\n"
    for severity, group in _by_severity(own):
        yield f"    {severity.value} ({len(group)})\n"
        width = max(len(f.rule) for f in group)
        for finding in group:
            line = f"      {finding.rule:<{width}}  {shorten_iris(finding.message)}"
            if finding.focus != (finding.plan_iri or finding.plan):
                line += f"  (at {_within(finding.focus, file)})"
            cited = "; ".join(part for part in (finding.statements, finding.source) if part)
            if cited:
                line += f"  [{cited}]"
            yield line + "\n"


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
        "failing": result.failing_count(),
    }
    if result.plans is not None:
        summary["plans"] = result.plans
        summary["plans_with_findings"] = result.stats().plans
        summary["seconds"] = round(result.seconds, 3)
    return summary


def _json_pieces(result: ValidationResult) -> Iterator[str]:
    """``json.dumps({"conforms", "findings", "summary"}, indent=2)``, written a finding at a time (the same text:
    a finding's values are strings or null, so its lines only need the indent of their place in the list)."""
    yield '{\n  "conforms": ' + json.dumps(result.conforms) + ',\n  "findings": '
    yield from _json_list((f.to_json() for f in result.findings), "  ")
    summary = json.dumps(_summary(result), indent=2, ensure_ascii=False)
    yield ',\n  "summary": ' + summary.replace("\n", "\n  ") + "\n}\n"


def _json_list(items: Iterable[Any], indent: str) -> Iterator[str]:
    """A list of ``items`` as ``json.dumps(..., indent=2)`` writes it at ``indent``, an item at a time."""
    separator = "[\n" + indent + "  "
    for item in items:
        yield separator + _json_item(item, indent)
        separator = ",\n" + indent + "  "
    yield "[]" if separator.startswith("[") else "\n" + indent + "]"


def _json_item(item: Any, indent: str) -> str:
    """One item of :func:`_json_list`. A finding (a dict of strings or null) is written line by line with the
    encoder's own string function, the text ``json.dumps`` gives: with ``indent`` json uses its pure-Python encoder,
    16 µs a finding, the report's longest step after the checks (4 s for 250,000 findings); this takes a quarter of
    that. Anything else goes to ``json.dumps``."""
    if type(item) is dict and item and all(type(k) is str and (v is None or type(v) is str) for k, v in item.items()):
        inner = indent + "    "
        return ("{\n" + ",\n".join(f"{inner}{_json_string(k)}: {'null' if v is None else _json_string(v)}"
                                    for k, v in item.items()) + "\n" + indent + "  }")
    return json.dumps(item, indent=2, ensure_ascii=False).replace("\n", "\n" + indent + "  ")


def _junit_pieces(result: ValidationResult) -> Iterator[str]:
    """One ``testsuite`` per file and one ``testcase`` per rule: the XML ``ElementTree`` writes, indented, but
    written a test case at a time. Test cases list findings by rule, so the findings are put in that order first
    (:class:`iimkg.shacl.spill.FindingSorter`: on disk when they are many); counts come from :meth:`stats`."""
    stats = result.stats()
    order = {file: position for position, file in enumerate(result.files)}
    suites = []
    for file in result.files:
        rules = _rules_for(result.rules, _file_rules(stats, file))
        named = [rule.name for rule in rules]  # a name given twice: its findings under the first
        counts = [(rule, *(_rule_counts(result, stats, file, rule.name) if rule.name not in named[:number]
                           else (0, 0))) for number, rule in enumerate(rules)]
        suites.append((file, counts, sum(1 for _, failing, _ in counts if failing)))
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    root = _tag("testsuites", name="iimkg validate", tests=str(sum(len(c) for _, c, _ in suites)),
                failures=str(sum(f for _, _, f in suites)))
    if not suites:
        yield root + " />\n"
        return
    yield root + ">\n"
    index: dict[str, int] = {}
    for rule in result.rules:
        index.setdefault(rule.name, len(index))
    sorter = FindingSorter(lambda f: (order[f.file], index.get(f.rule, len(index)), f.rule,
                                      not f.severity.at_least(result.fail_on)), unique=False)
    sorter.extend(f for f in result.findings if f.file in order)
    by_rule = iter(sorter.finish())
    try:
        for file, counts, failures in suites:
            yield "  " + _tag("testsuite", name=file, tests=str(len(counts)), failures=str(failures), errors="0",
                              skipped="0") + ">\n"
            yield "    <properties>\n      " + _tag("property", name="fail-on", value=result.fail_on.value) + \
                " />\n    </properties>\n"
            for rule, failing, passing in counts:
                case = _tag("testcase", classname=file, name=rule.name)
                if not failing and not passing:
                    yield f"    {case} />\n"
                    continue
                yield f"    {case}>\n"
                if failing:
                    first = next(by_rule)
                    message = f"{_plural(failing, first.severity.value)}: {rule.label}"
                    yield "      " + _tag("failure", type=first.severity.value, message=message) + ">"
                    yield _cdata(_finding_line(first)) + "\n"
                    for _ in range(failing - 1):
                        yield _cdata(_finding_line(next(by_rule))) + "\n"
                    yield "</failure>\n"
                if passing:
                    first = next(by_rule)
                    yield "      <system-out>" + _cdata(
                        f"{_plural(passing, first.severity.value)} below the fail-on level "
                        f"({result.fail_on.value}):\n" + _finding_line(first)) + "\n"
                    for _ in range(passing - 1):
                        yield _cdata(_finding_line(next(by_rule))) + "\n"
                    yield "</system-out>\n"
                yield "    </testcase>\n"
            yield "  </testsuite>\n"
    finally:
        close = getattr(by_rule, "close", None)
        if callable(close):
            close()
        sorter.close()
    yield "</testsuites>\n"


def _file_rules(stats: FindingStats, file: str) -> list[tuple[str, Severity, str | None]]:
    """The rules the findings of ``file`` name (name, severity and source of the last finding of each)."""
    names = dict.fromkeys(rule for (where, rule, _) in stats.rule_counts if where == file)
    return [(name, *stats.last_of_rule[name]) for name in names]


def _rule_counts(result: ValidationResult, stats: FindingStats, file: str, rule: str) -> tuple[int, int]:
    """How many findings of ``rule`` in ``file`` are at or above the fail-on level, and how many below."""
    failing = passing = 0
    for severity in Severity:
        count = stats.rule_counts.get((file, rule, severity), 0)
        if severity.at_least(result.fail_on):
            failing += count
        else:
            passing += count
    return failing, passing


def _tag(tag: str, **attributes: str) -> str:
    """An XML start tag without its end (``<tag a="…"``), escaped as ``ElementTree`` escapes attributes."""
    element = ET.Element(tag, attributes)
    return ET.tostring(element, encoding="unicode").removesuffix(" />")


def _cdata(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rules_for(rules: Sequence[Rule], named: Iterable[tuple[str, Severity, str | None]]) -> list[Rule]:
    """Every rule of the shapes, plus any rule findings name that the shapes did not list (user shapes); ``named``:
    the rules findings name, with the severity and source of the last finding of each."""
    known = {rule.name for rule in rules}
    extra = {name: (severity, source) for name, severity, source in named if name not in known}
    return list(rules) + [Rule(name, name, name, severity, source)
                          for name, (severity, source) in sorted(extra.items())]


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
    run, results = _sarif_run(result)
    run["results"] = list(results)
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


_RESULTS = "\x00results\x00"  # where the results go in the text of the log


def _sarif_pieces(result: ValidationResult) -> Iterator[str]:
    """:func:`sarif_log` as ``json.dumps(..., indent=2)`` writes it, a result at a time."""
    run, results = _sarif_run(result)
    run["results"] = _RESULTS
    text = json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2, ensure_ascii=False)
    head, tail = text.split(json.dumps(_RESULTS), 1)
    yield head
    yield from _json_list(results, _indent_of(head))
    yield tail + "\n"


def _indent_of(head: str) -> str:
    """The indent of the last line of ``head`` (the line of the ``"results"`` key)."""
    line = head.rsplit("\n", 1)[-1]
    return line[:len(line) - len(line.lstrip(" "))]


def _sarif_run(result: ValidationResult) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The run of the SARIF log (its ``results`` left out) and its results, made as they are read."""
    stats = result.stats()
    rules = _rules_for(result.rules, [(name, *last) for name, last in stats.last_of_rule.items()])
    index = {rule.name: position for position, rule in enumerate(rules)}
    locator = Locator()
    results = (_sarif_result(finding, index[finding.rule], locator, result.files) for finding in result.findings)
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "iimkg",
            "informationUri": IIM,
            "rules": [_sarif_rule(rule) for rule in rules],
        }},
        "results": None,
        "columnKind": "unicodeCodePoints",
        "properties": {"conforms": result.conforms, **_summary(result)},
    }
    version = _version()
    if version:
        run["tool"]["driver"]["version"] = version
    if any(_artifact(file).get("uriBaseId") for file in result.files):
        run["originalUriBaseIds"] = {SRCROOT: {"uri": Path.cwd().as_uri() + "/"}}
    return run, results


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
