"""The findings model at the bottom of validation: severities, rules, findings and a run's result.

Every check — the ontology quality gate, the treatment-plan rules, what an intake adapter (FHIR) could not read —
reports in these terms, so the reports (text, JSON, JUnit) and the CLI's exit codes need to know no more.
"""

from __future__ import annotations

import enum
import functools
import operator
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iimkg.core.vocab import DCTERMS, IIMFHIR, IIMPLAN, IIMQC, RDFS_COMMENT, RDFS_LABEL, SH, STATEMENT_PREFIX

if TYPE_CHECKING:
    import rdflib


__all__ = ["FINDING_FIELDS", "CheckKind", "Finding", "FindingStats", "Rule", "Severity", "ValidationResult",
           "display_path", "finding_row", "rule_name", "rules_of"]


ENFORCES = IIMPLAN + "enforces"
RULE_KIND = IIMPLAN + "ruleKind"


class Severity(str, enum.Enum):
    """SHACL's three severities, named as ``--fail-on`` takes them; ROBOT's ERROR, WARN and INFO map onto them."""

    VIOLATION = "violation"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: violation 3, warning 2, info 1."""
        return {"violation": 3, "warning": 2, "info": 1}[self.value]

    @property
    def iri(self) -> str:
        return SH + self.value.capitalize()

    @classmethod
    def from_iri(cls, iri: str) -> Severity:
        """The severity of ``sh:Violation``, ``sh:Warning`` or ``sh:Info``; any other IRI counts as a violation."""
        local = iri.removeprefix(SH).lower()
        return cls(local) if local in {s.value for s in cls} else cls.VIOLATION

    def at_least(self, level: Severity) -> bool:
        return self.rank >= level.rank


class CheckKind(str, enum.Enum):
    """What a rule checks, read from the shapes (``iimplan:ruleKind``) rather than guessed from its name or source.

    ``quality``: the ontology quality gate; ``structural``: a plan is well formed (a drug, a dose, a date);
    ``clinical``: a plan gives the care the graph's statements call for; ``intake``: what an input adapter (FHIR)
    could not read.
    """

    QUALITY = "quality"
    STRUCTURAL = "structural"
    CLINICAL = "clinical"
    INTAKE = "intake"

    @classmethod
    def from_iri(cls, iri: str | None, default: CheckKind) -> CheckKind:
        """``iimplan:StructuralRule`` → structural, ``iimplan:ClinicalRule`` → clinical; otherwise ``default``."""
        local = (iri or "").removeprefix(IIMPLAN).removesuffix("Rule").lower()
        return cls(local) if local in {k.value for k in cls} else default


@dataclass(frozen=True, order=True)
class Rule:
    """One shape of a shapes graph, as a report lists it (a JUnit test case, a line in the summary)."""

    name: str
    iri: str
    label: str
    severity: Severity
    source: str | None
    comment: str | None = None
    statements: tuple[str, ...] = ()
    kind: CheckKind = CheckKind.QUALITY


@dataclass(frozen=True)
class Finding:
    """One result of the SHACL report, flattened for people and CI.

    ``rule`` is the shape's local name (``missing_label``), ``source`` what the rule rests on (for the quality gate,
    the ROBOT check it mirrors; for a plan rule, its citation), ``file`` the file the focus node was read from.
    ``plan`` (the plan the focus node belongs to: its ``dcterms:identifier``, else its IRI; ``plan_iri`` is the
    IRI), ``statement`` (the seed statements a plan rule enforces, such as ``S30, S31``; ``None`` if it rests on
    other sources only) and ``statements`` (every statement it enforces: ``S30, S31, R080a``) are for
    treatment-plan checks and stay ``None`` for the quality gate.
    """

    severity: Severity
    rule: str
    message: str
    focus: str
    file: str
    source: str | None
    value: str | None = None
    path: str | None = None
    plan: str | None = None
    statement: str | None = None
    statements: str | None = None
    plan_iri: str | None = None

    def sort_key(self) -> tuple[str, int, str, str, str, str]:
        return (self.plan or "", -self.severity.rank, self.rule, self.focus, self.value or "", self.message)

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "message": self.message,
            "focus": self.focus,
            "plan": self.plan,
            "file": self.file,
            "source": self.source,
            "statement": self.statement,
            "value": self.value,
            "path": self.path,
        } | ({"plan_iri": self.plan_iri, "statements": self.statements} if self.plan is not None else {})


# A finding's fields in order: the row spill files hold (iimkg.shacl.spill) and FindingStats counts.
FINDING_FIELDS = tuple(f.name for f in fields(Finding))
finding_row: Callable[[Finding], tuple[Any, ...]] = operator.attrgetter(*FINDING_FIELDS)
_SEVERITY, _RULE, _FILE, _PLAN, _SOURCE = (FINDING_FIELDS.index(name)
                                           for name in ("severity", "rule", "file", "plan", "source"))


@dataclass
class FindingStats:
    """What reports say before the findings: counts by file and severity, plans with findings, and each rule's
    findings by file (JUnit and SARIF list rules before results). Gathered in report order, a finding at a time."""

    total: int = 0
    counts: Counter[tuple[str, Severity]] = field(default_factory=Counter)
    file_plans: Counter[str] = field(default_factory=Counter)  # plans with findings, by file
    rule_counts: Counter[tuple[str, str, Severity]] = field(default_factory=Counter)  # (file, rule, severity)
    # the severity and source of the last finding of each rule (a rule the shapes do not list is reported with them)
    last_of_rule: dict[str, tuple[Severity, str | None]] = field(default_factory=dict)
    _plans: set[int] = field(default_factory=set, repr=False)  # hashes of plan names (some 60 bytes a plan)
    _file_plans: set[int] = field(default_factory=set, repr=False)
    _file: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, findings: Iterable[Finding]) -> FindingStats:
        """Counted from findings in any order (a list in memory: plans with findings counted with a set a file)."""
        stats = cls()
        plans: dict[str, set[str]] = {}
        for finding in findings:
            stats.add(finding)
            if finding.plan:
                plans.setdefault(finding.file, set()).add(finding.plan)
        stats.file_plans = Counter({file: len(named) for file, named in plans.items()})
        return stats

    def add(self, finding: Finding) -> None:
        """Count ``finding``; findings come file by file (as reports order them)."""
        self.add_row(finding_row(finding))

    def add_row(self, row: tuple[Any, ...]) -> None:
        """:meth:`add` for a finding's fields (:data:`FINDING_FIELDS`), as spill files hold them."""
        severity, rule, file, plan = row[_SEVERITY], row[_RULE], row[_FILE], row[_PLAN]
        self.total += 1
        self.counts[file, severity] += 1
        self.rule_counts[file, rule, severity] += 1
        self.last_of_rule[rule] = (severity, row[_SOURCE])
        if file != self._file:
            self._file, self._file_plans = file, set()
        if plan:
            key = hash(plan)
            if key not in self._file_plans:
                self._file_plans.add(key)
                self.file_plans[file] += 1
                self._plans.add(key)
            if len(self._file_plans) > 1 and not plan.startswith("_:"):
                # a named plan's findings are contiguous in a file: only the one being read is kept (blank-node
                # plans sort together, interleaved: theirs are kept for the file)
                self._file_plans = {key}

    @property
    def plans(self) -> int:
        """Plans with findings (of every file)."""
        return len(self._plans)


@dataclass
class ValidationResult:
    """Findings for every file checked, the rules they were checked against, and the SHACL report graph.

    ``conforms`` is judged against ``fail_on``: a report with only warnings conforms when failing on violations,
    as pyshacl's ``allow_warnings`` has it; the ``sh:conforms`` of :attr:`graph` agrees. ``report`` is the report
    graph, or a function that builds it: plan validation builds it only when asked (a hundred thousand plans make
    a large graph). ``plans`` counts the plans checked (``None`` for the quality gate).

    ``findings`` is a list, or, for a run that found more than fits in memory, a sequence read from disk
    (:class:`iimkg.shacl.spill.SpilledFindings`: iteration, ``len`` and indexing; :meth:`close` removes its files).
    Either way :meth:`stats` gives the counts reports print before the findings, without a pass over them.
    ``report_turtle``, when given, writes :attr:`graph` as Turtle a piece at a time (plan validation: a report of
    millions of results is never a graph in memory); else the Turtle report is :attr:`graph` serialised.
    ``on_close``: what else :meth:`close` removes (the raw results the report graph is made from, if on disk).
    """

    files: list[str]
    rules: list[Rule]
    findings: Sequence[Finding]
    fail_on: Severity
    report: rdflib.Graph | Callable[[], rdflib.Graph] = field(repr=False)
    seconds: float = 0.0
    plans: int | None = None
    report_turtle: Callable[[], Iterator[str]] | None = field(default=None, repr=False)
    on_close: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def graph(self) -> rdflib.Graph:
        """The SHACL validation report graph (one ``sh:ValidationReport`` per file, named by ``dcterms:source``)."""
        if callable(self.report):
            self.report = self.report()
        return self.report

    @property
    def conforms(self) -> bool:
        return not self.failing_count()

    def failing(self, file: str | None = None) -> list[Finding]:
        """Findings at or above :attr:`fail_on` (in ``file`` if given)."""
        return [f for f in self.findings if f.severity.at_least(self.fail_on) and file in (None, f.file)]

    def failing_count(self, file: str | None = None) -> int:
        """How many findings are at or above :attr:`fail_on` (in ``file`` if given)."""
        counts = self.counts(file)
        return sum(counts[s] for s in Severity if s.at_least(self.fail_on))

    def counts(self, file: str | None = None) -> dict[Severity, int]:
        """Findings per severity, every severity present (zero if none)."""
        counted = self.stats().counts
        if file is None:
            return {s: sum(n for (_, severity), n in counted.items() if severity is s) for s in Severity}
        return {s: counted.get((file, s), 0) for s in Severity}

    def stats(self) -> FindingStats:
        """Counts by file, severity and rule, and plans with findings (kept with spilled findings; else counted
        once, and again if the list has changed length)."""

        kept = getattr(self.findings, "stats", None)
        if isinstance(kept, FindingStats):
            return kept
        cached = self.__dict__.get("_stats")
        if cached is None or cached[0] is not self.findings or cached[1] != len(self.findings):
            cached = (self.findings, len(self.findings), FindingStats.of(self.findings))
            self.__dict__["_stats"] = cached
        return cached[2]

    def close(self) -> None:
        """Remove the files of spilled findings and results, if any (also done when garbage-collected, or at exit);
        the report graph and Turtle report can't be made after."""
        close = getattr(self.findings, "close", None)
        if callable(close):
            close()
        if self.on_close is not None:
            self.on_close()

    def __enter__(self) -> ValidationResult:
        return self

    def __exit__(self, *exc: object) -> None:
        """``with validate_plans(paths) as result:`` closes the result at the end of the block: a run that spilled
        to disk leaves nothing behind even in a process that exits without running finalizers."""
        self.close()


def rules_of(shapes: rdflib.Graph, statement_ids: Mapping[str, str] | None = None, *,
             default_kind: CheckKind = CheckKind.QUALITY) -> list[Rule]:
    """The named shapes of a shapes graph with their label, severity, source and enforced statements, by name.

    :param statement_ids: the ID to show for each statement a plan rule enforces (``iimplan:enforces``), such as
        ``S31`` for ``iim:statement-S31a``; a statement missing from it shows as its IRI's local part.
    :param default_kind: the kind of a rule whose shape has no ``iimplan:ruleKind``.
    """
    from rdflib import URIRef

    severity = URIRef(SH + "severity")
    enforces = URIRef(ENFORCES)
    rules = []
    for shape in set(shapes.subjects(severity, None)):
        if not isinstance(shape, URIRef):
            continue
        level = shapes.value(shape, severity)
        label = shapes.value(shape, URIRef(RDFS_LABEL))
        sources = sorted(str(s) for s in shapes.objects(shape, URIRef(DCTERMS + "source")))
        comment = shapes.value(shape, URIRef(RDFS_COMMENT))
        statements: list[str] = []
        for statement in sorted(shapes.objects(shape, enforces), key=_statement_order):
            shown = (statement_ids or {}).get(str(statement)) or str(statement).removeprefix(STATEMENT_PREFIX)
            if shown not in statements:
                statements.append(shown)
        name = rule_name(str(shape))
        rules.append(Rule(
            name=name, iri=str(shape), label=str(label) if label is not None else name,
            severity=Severity.from_iri(str(level)), source="; ".join(sources) or None,
            comment=str(comment) if comment is not None else None, statements=tuple(statements),
            kind=CheckKind.from_iri(_str_or_none(shapes.value(shape, URIRef(RULE_KIND))), default_kind)))
    return sorted(rules)


def _str_or_none(term: object) -> str | None:
    return None if term is None else str(term)


def _statement_order(statement: object) -> tuple[int, str]:
    """Seed statements (S…) before the others (R…), each in the order of their IDs."""
    local = str(statement).removeprefix(STATEMENT_PREFIX)
    return (0 if local.startswith("S") else 1, local)


def rule_name(iri: str) -> str:
    """A shape's short name: its local name in the QC or plan namespace, else the part after the last ``/`` or ``#``."""
    for namespace in (IIMQC, IIMPLAN, IIMFHIR):
        if iri.startswith(namespace):
            return iri[len(namespace):]
    return iri.rstrip("/#").rsplit("#", 1)[-1].rsplit("/", 1)[-1] or iri


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies inside it, else as it is."""
    return _display_path(str(path), os.getcwd())


@functools.lru_cache(maxsize=1024)
def _display_path(path: str, cwd: str) -> str:
    """Cached: a report names the same few files once per finding, and resolving a path is a system call."""
    try:
        resolved = Path(path).resolve()
        return os.path.relpath(resolved, cwd) if resolved.is_relative_to(cwd) else path
    except (OSError, ValueError):
        return path
