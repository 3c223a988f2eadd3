"""The findings model at the bottom of validation: severities, rules, findings and a run's result.

Every check — the ontology quality gate, the treatment-plan rules, what an intake adapter (FHIR) could not read —
reports in these terms, so the reports (text, JSON, JUnit) and the CLI's exit codes need to know no more.
"""

from __future__ import annotations

import enum
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iimkg.core.vocab import DCTERMS, IIMFHIR, IIMPLAN, IIMQC, RDFS_COMMENT, RDFS_LABEL, SH, STATEMENT_PREFIX

if TYPE_CHECKING:
    import rdflib

    from iimkg.shacl.spill import FindingStats

__all__ = ["CheckKind", "Finding", "Rule", "Severity", "ValidationResult", "display_path", "rule_name", "rules_of"]


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
    """

    files: list[str]
    rules: list[Rule]
    findings: Sequence[Finding]
    fail_on: Severity
    report: rdflib.Graph | Callable[[], rdflib.Graph] = field(repr=False)
    seconds: float = 0.0
    plans: int | None = None

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
        from iimkg.shacl.spill import FindingStats

        kept = getattr(self.findings, "stats", None)
        if isinstance(kept, FindingStats):
            return kept
        cached = self.__dict__.get("_stats")
        if cached is None or cached[0] is not self.findings or cached[1] != len(self.findings):
            cached = (self.findings, len(self.findings), FindingStats.of(self.findings))
            self.__dict__["_stats"] = cached
        return cached[2]

    def close(self) -> None:
        """Remove the files of spilled findings, if any (also done when garbage-collected, or at exit)."""
        close = getattr(self.findings, "close", None)
        if callable(close):
            close()


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
