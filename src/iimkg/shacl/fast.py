"""Evaluate a SHACL shapes graph over a pyoxigraph store with one query per constraint, for all focus nodes at once.

pyshacl runs each SPARQL-based constraint once per focus node with ``$this`` pre-bound; with a hundred thousand
plans that is millions of queries (and as many parses of the query text). This engine runs the same SELECT once
over the whole graph, with ``$this`` left free, and keeps the rows whose ``?this`` is a focus node of the shape:
for a query that binds ``$this`` in its own patterns (every constraint of ``shapes/treatment-plan.ttl`` does),
that gives the same rows as pre-binding. SHACL Core property shapes with the constraints our shapes use
(``sh:minCount``, ``sh:maxCount``, ``sh:class``, ``sh:datatype``, ``sh:minInclusive`` and its three siblings) are
compiled into grouped queries, or checked in Python with pyshacl's own comparison. SHACL-AF SPARQL rules become
SPARQL updates, run in ``sh:order``. Anything else (other constraint components, complex paths, other rule types,
``$PATH``) is left to pyshacl, over the same store, so every shapes graph gets an answer.

Results carry what pyshacl's report carries (focus node, source shape, severity, constraint component, path, value,
messages filled in the same way), so :mod:`iimkg.plans.validate` turns both into the same findings; the tests
compare them.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from iimkg.core.errors import ShapesError
from iimkg.core.vocab import OWL, RDF, RDFS, SH, XSD

if TYPE_CHECKING:
    import rdflib

__all__ = ["CompiledShapes", "RawResult", "compile_shapes"]

_TARGETS = ("targetClass", "targetNode", "targetObjectsOf", "targetSubjectsOf")
_DESCRIPTIVE = {"name", "description", "order", "group", "message", "severity", "deactivated", "defaultValue"}
_NODE_PARAMETERS = {*_TARGETS, "property", "sparql", "rule", *_DESCRIPTIVE}
_PROPERTY_PARAMETERS = {"path", "minCount", "maxCount", "class", "datatype", "minInclusive", "maxInclusive",
                        "minExclusive", "maxExclusive", *_DESCRIPTIVE}
_PREBOUND_OTHER = re.compile(r"[$?](?:PATH|shapesGraph|currentShape)\b")
_THIS = re.compile(r"\$this\b")


@dataclass(frozen=True)
class RawResult:
    """One validation result, as pyshacl would report it."""

    focus: Any
    shape: str  # the source shape's IRI, or _:id for a blank node
    severity: str
    component: str
    path: str | None
    value: Any | None
    messages: tuple[ox.Literal, ...]


@dataclass
class _Check:
    """One query that yields results for one constraint of one shape."""

    shape: str
    severity: str
    component: str
    query: str
    targets: tuple[str, ...]
    kind: str  # "sparql", "count", "class", "python"
    messages: tuple[ox.Literal, ...] = ()
    path: str | None = None
    is_property_shape: bool = False
    parameter: Any = None  # the constraint's value (datatype, bound) for the Python checks
    variables_order: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class _Rule:
    order: float
    shape: str
    update: str
    query: str  # the same as a CONSTRUCT query, to read (CompiledShapes.step_queries)


@dataclass
class CompiledShapes:
    """A shapes graph turned into queries; :meth:`run` evaluates it over a store."""

    rules: list[_Rule]
    checks: list[_Check]
    fallback: rdflib.Graph | None = field(default=None, repr=False)
    compiled_shapes: frozenset[Any] = frozenset()

    def run(self, store: ox.Store, timings: dict[str, float] | None = None) -> list[RawResult]:
        """Apply the rules, then every check, over the store's default graph, which must hold the ontology and the
        data: the rules add what they derive to it.

        One graph, not the union of named graphs: pyoxigraph reads the union of several graphs as a set (each
        pattern's matches across graphs are made distinct): on 2,000 plans, back to back on one core, the rules and
        checks took 1.58 ms a plan over the union of named graphs and 1.42 ms over one graph.

        :param timings: if given, the CPU seconds of each step (this process's: pyoxigraph evaluates a query in the
            calling thread) are added to it under the step's name (:meth:`step_names`); ``bench/rules.py`` shows
            where evaluation goes with it.
        :raises ShapesError: if a shape's query does not parse or does not bind ``$this``.
        """
        clock = _Clock(timings)
        names = self.step_names()
        for name, rule in zip(names[:len(self.rules)], self._ordered_rules(), strict=True):
            try:
                with clock(name):
                    store.update(rule.update)
            except SyntaxError as error:
                raise ShapesError(f"the rule of shape {_show(rule.shape)} does not parse as SPARQL: {error}") from None
        focus_cache: dict[tuple[str, ...], set[Any]] = {}
        results: list[RawResult] = []
        for name, check in zip(names[len(self.rules):], self.checks, strict=True):
            with clock(name):
                results.extend(_run_check(store, check, focus_cache))
        if self.fallback is not None:
            with clock("pyshacl fallback"):
                results.extend(_run_fallback(store, self.fallback))
        return results

    def step_names(self) -> list[str]:
        """A name for each rule (in the order they run) and each check, different for each: the shape's local name,
        what kind of step it is, and a number where a name would repeat (``Given rule 2``, ``patient_age python
        check 3``)."""
        def local(shape: str) -> str:
            return re.split(r"[/#]", shape)[-1] or shape

        steps = [(local(r.shape), "rule") for r in self._ordered_rules()] + [
            (local(c.shape), f"{c.kind} check") for c in self.checks]
        counts, seen = Counter(steps), Counter[tuple[str, str]]()
        names: list[str] = []
        for step in steps:
            seen[step] += 1
            number = f" {seen[step]}" if counts[step] > 1 else ""
            names.append(f"{step[0]} {step[1]}{number}")
        return names

    def step_queries(self) -> list[tuple[str, str]]:
        """Each step's name (:meth:`step_names`) and its SPARQL as a query, in the order :meth:`run` takes them: a
        rule as the CONSTRUCT of the update it runs (the same template and WHERE), a check as it runs. For tools that
        read the queries, such as ``oxigraph query --explain`` (``bench/rules.py --rows``); :meth:`run` is what
        evaluates them."""
        texts = [rule.query for rule in self._ordered_rules()] + [check.query for check in self.checks]
        return list(zip(self.step_names(), texts, strict=True))

    def _ordered_rules(self) -> list[_Rule]:
        return sorted(self.rules, key=lambda r: r.order)


class _Clock:
    """Adds the seconds of each timed step to a dict, or does nothing when there is none (the usual run)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.timings is None:
            yield
            return
        started = time.process_time()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.process_time() - started


def compile_shapes(shapes: rdflib.Graph) -> CompiledShapes:
    """Compile every shape the engine supports; the rest stays for pyshacl (:attr:`CompiledShapes.fallback`).

    :raises ShapesError: if a SPARQL rule has no construct query.
    """
    from rdflib import Literal, URIRef

    def sh(name: str) -> URIRef:
        return URIRef(SH + name)

    def params(node: Any) -> set[str]:
        return {str(p)[len(SH):] for p in shapes.predicates(node, None) if str(p).startswith(SH)}

    def literal(term: Any) -> ox.Literal:
        return ox.Literal(str(term), language=term.language) if term.language else ox.Literal(
            str(term), datatype=ox.NamedNode(str(term.datatype or XSD + "string")))

    def messages(node: Any) -> tuple[ox.Literal, ...]:
        return tuple(literal(m) for m in sorted(shapes.objects(node, sh("message")), key=str)
                     if isinstance(m, Literal))

    def deactivated(node: Any) -> bool:
        return any(str(v).lower() == "true" for v in shapes.objects(node, sh("deactivated")))

    def severity(node: Any) -> str:
        level = shapes.value(node, sh("severity"))
        return str(level) if level is not None else SH + "Violation"

    def prefixes(node: Any) -> str:
        table = {"rdf": RDF, "rdfs": RDFS, "owl": OWL}
        for holder in shapes.objects(node, sh("prefixes")):
            for declaration in shapes.objects(holder, sh("declare")):
                prefix, namespace = shapes.value(declaration, sh("prefix")), shapes.value(declaration, sh("namespace"))
                if prefix is not None and namespace is not None:
                    table[str(prefix)] = str(namespace)
        return "".join(f"PREFIX {p}: <{n}>\n" for p, n in table.items())

    def targets(node: Any) -> tuple[str, ...]:
        parts = []
        for index, cls in enumerate(sorted(shapes.objects(node, sh("targetClass")), key=str)):
            parts.append(f"{{ ?this a ?_t{index} . ?_t{index} <{RDFS}subClassOf>* {_sparql(cls)} }}")
        for target in sorted(shapes.objects(node, sh("targetNode")), key=str):
            parts.append(f"{{ BIND ({_sparql(target)} AS ?this) }}")
        for index, prop in enumerate(sorted(shapes.objects(node, sh("targetObjectsOf")), key=str)):
            parts.append(f"{{ ?_s{index} {_sparql(prop)} ?this }}")
        for index, prop in enumerate(sorted(shapes.objects(node, sh("targetSubjectsOf")), key=str)):
            parts.append(f"{{ ?this {_sparql(prop)} ?_o{index} }}")
        if (node, URIRef(RDF + "type"), URIRef(RDFS + "Class")) in shapes:
            parts.append(f"{{ ?this a ?_c . ?_c <{RDFS}subClassOf>* {_sparql(node)} }}")
        return tuple(parts)

    rules: list[_Rule] = []
    checks: list[_Check] = []
    unsupported: set[Any] = set()
    compiled: set[Any] = set()
    rule_unsupported = False

    shape_nodes = {s for t in _TARGETS for s in shapes.subjects(sh(t), None)}
    shape_nodes |= set(shapes.subjects(URIRef(RDF + "type"), sh("NodeShape")))
    for shape in sorted(shape_nodes, key=str):
        if deactivated(shape):
            continue
        target = targets(shape)
        node_checks: list[_Check] = []
        ok = params(shape) <= _NODE_PARAMETERS
        for rule_node in shapes.objects(shape, sh("rule")):
            construct = shapes.value(rule_node, sh("construct"))
            rule_params = params(rule_node) - {"order", "deactivated", "prefixes", "construct"}
            if deactivated(rule_node):
                continue
            if (rule_node, URIRef(RDF + "type"), sh("SPARQLRule")) not in shapes or construct is None or rule_params:
                rule_unsupported = True
                continue
            order = shapes.value(rule_node, sh("order"))
            update, query = _rule_texts(prefixes(rule_node), str(construct), target, shape)
            rules.append(_Rule(float(str(order)) if order is not None else 0.0, _shape_id(shape), update, query))
        for constraint in shapes.objects(shape, sh("sparql")):
            if deactivated(constraint):
                continue
            select = shapes.value(constraint, sh("select"))
            if select is None or _PREBOUND_OTHER.search(str(select)):
                ok = False
                continue
            text = prefixes(constraint) + _THIS.sub("?this", str(select))
            node_checks.append(_Check(
                shape=_shape_id(shape), severity=severity(shape), component=SH + "SPARQLConstraintComponent",
                query=text, targets=target, kind="sparql", messages=messages(constraint) + messages(shape)))
        for prop in shapes.objects(shape, sh("property")):
            if deactivated(prop):
                continue
            path = shapes.value(prop, sh("path"))
            prop_messages = messages(prop)
            if not params(prop) <= _PROPERTY_PARAMETERS or not isinstance(path, URIRef) or not prop_messages:
                ok = False
                continue
            node_checks.extend(_property_checks(shapes, prop, str(path), target, severity(prop), prop_messages))
        if ok and target:
            checks.extend(node_checks)
            compiled.add(shape)
        elif node_checks or not ok:
            unsupported.add(shape)
    fallback = None
    if unsupported or rule_unsupported:
        fallback = _deactivated_copy(shapes, compiled)
    return CompiledShapes(rules=rules, checks=checks, fallback=fallback, compiled_shapes=frozenset(compiled))


def _property_checks(shapes: rdflib.Graph, prop: Any, path: str, target: tuple[str, ...], severity: str,
                     messages: tuple[ox.Literal, ...]) -> Iterator[_Check]:
    from rdflib import URIRef

    def value(name: str) -> Any:
        return shapes.value(prop, URIRef(SH + name))

    def check(component: str, query: str, kind: str, parameter: Any = None) -> _Check:
        return _Check(shape=_shape_id(prop), severity=severity, component=SH + component, query=query,
                      targets=target, kind=kind, messages=messages, path=path, is_property_shape=True,
                      parameter=parameter)

    union = " UNION ".join(target)
    for name, comparison in (("minCount", "<"), ("maxCount", ">")):
        bound = value(name)
        if bound is None:
            continue
        if name == "minCount" and int(bound) == 1:
            # the common case as an anti-join, far cheaper than counting every focus node's values
            query = f"SELECT DISTINCT ?this WHERE {{ {{ {union} }} MINUS {{ ?this <{path}> ?_v }} }}"
        else:
            query = (f"SELECT ?this WHERE {{ {union} OPTIONAL {{ ?this <{path}> ?_v }} }} "
                     f"GROUP BY ?this HAVING (COUNT(DISTINCT ?_v) {comparison} {int(bound)})")
        yield check(f"{name[:1].upper()}{name[1:]}ConstraintComponent", query, "count")
    cls = value("class")
    if cls is not None:
        query = (f"SELECT DISTINCT ?this ?value WHERE {{ {{ {union} }} ?this <{path}> ?value . "
                 f"MINUS {{ ?value a ?_c . ?_c <{RDFS}subClassOf>* <{cls}> }} }}")
        yield check("ClassConstraintComponent", query, "class")
    # the Python checks test each distinct value once, then fetch the focus nodes of the values that fail
    values_query = f"SELECT DISTINCT ?value WHERE {{ {{ {union} }} ?this <{path}> ?value }}"
    for name in ("datatype", "minInclusive", "maxInclusive", "minExclusive", "maxExclusive"):
        parameter = value(name)
        if parameter is not None:
            yield check(f"{name[:1].upper()}{name[1:]}ConstraintComponent", values_query, "python", (name, parameter))


def _rule_texts(prefixes: str, construct: str, target: tuple[str, ...], shape: Any) -> tuple[str, str]:
    """``CONSTRUCT { T } WHERE { B }`` as the update ``INSERT { T } WHERE { { targets } B }`` (into the default
    graph), and as the same query: ``CONSTRUCT { T } WHERE { { targets } B }``."""
    text = _THIS.sub("?this", construct)
    start = re.search(r"\bCONSTRUCT\s*\{", text, re.IGNORECASE)
    if start is None:
        raise ShapesError(f"the rule of shape {_show(shape)} is not a CONSTRUCT query with a template")
    end = _matching_brace(text, start.end() - 1)
    where = re.compile(r"\s*WHERE\s*\{", re.IGNORECASE).match(text, end + 1)
    if where is None:
        raise ShapesError(f"the rule of shape {_show(shape)} has no WHERE clause after its template")
    template = text[start.end():end]
    body_end = _matching_brace(text, where.end() - 1)
    body = text[where.end():body_end]
    union = " UNION ".join(target) if target else "{ }"
    head = prefixes + text[:start.start()]
    point = _focus_join_point(body) if target else None
    if point is not None:
        # pyoxigraph joins in the written order: the rule's leading plain patterns (written to start from the
        # graph's few statements, then the focus node) are more selective than "every focus node", so the targets
        # join right after them; before any OPTIONAL, BIND or FILTER, so the solutions are the same.
        rest = f"WHERE {{{body[:point]}\n{{ {union} }}\n{body[point:]}" + text[body_end:]
    else:
        rest = f"WHERE {{\n{{ {union} }}\n" + text[where.end():]
    return (head + f"INSERT {{{template}}}\n" + rest, head + f"CONSTRUCT {{{template}}}\n" + rest)


_KEYWORD = re.compile(r"(?<![\w:])(?:OPTIONAL|UNION|MINUS|BIND|VALUES|SERVICE|GRAPH|SELECT|FILTER|EXISTS|NOT)\b",
                      re.IGNORECASE)
_FOCUS = re.compile(r"\?this\b")


def _focus_join_point(body: str) -> int | None:
    """Where in a rule's WHERE ``body`` the targets can join: after its leading plain part, if that binds ``?this``.

    The leading plain part is the groups and triples blocks before the first OPTIONAL, BIND, FILTER, UNION...
    (groups holding nothing but triple patterns). When one of them names ``?this``, every solution of that part
    binds it, so joining the targets there gives the solutions of joining them first. Anything not plainly a triple
    pattern (strings, lists, blank node brackets) stops the scan. ``None``: keep the targets first.
    """
    text = _blank_comments(body)
    i, bound = 0, False
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif text[i] == "{":
            end = _matching_brace(text, i)
            inner = text[i + 1:end]
            if (_KEYWORD.search(inner) or re.search(r"[{}()\[\]\"']", inner)
                    or re.match(r"\s*UNION\b", text[end + 1:], re.IGNORECASE)):
                break
            bound = bound or _FOCUS.search(inner) is not None
            i = end + 1
        else:
            block_end = text.find("{", i)
            block = text[i:] if block_end < 0 else text[i:block_end]
            keyword = _KEYWORD.search(block)
            plain = block if keyword is None else block[:keyword.start()]
            if re.search(r"[()\[\]\"']", plain):
                break
            bound = bound or _FOCUS.search(plain) is not None
            if keyword is not None or block_end < 0:
                i += len(plain)
                break
            i = block_end
    return i if bound else None


def _blank_comments(text: str) -> str:
    """``text`` with each ``#`` comment (outside IRIs and strings) blanked out, so that positions stay the same."""
    def blank(match: re.Match[str]) -> str:
        return match.group(1) + " " * (len(match.group(0)) - len(match.group(1)))

    return re.sub(r"(?m)^([^#\"'<\n]*(?:(?:<[^>\n]*>|\"[^\"\n]*\"|'[^'\n]*')[^#\"'<\n]*)*)#.*$", blank, text)


def _matching_brace(text: str, open_at: int) -> int:
    """The index of the ``}`` that closes the ``{`` at ``open_at``, skipping IRIs, strings and comments."""
    depth, i = 0, open_at
    while i < len(text):
        char = text[i]
        if char == "#":
            i = text.find("\n", i)
            if i < 0:
                break
        elif char == "<" and re.match(r"<[^\s<>\"{}|^`\\]*>", text[i:]):
            i = text.index(">", i)
        elif char in "\"'":
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else char
            i = text.index(quote, i + len(quote)) + len(quote) - 1
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ShapesError("a query's braces do not balance")


def _run_check(store: ox.Store, check: _Check, focus_cache: dict[tuple[str, ...], set[Any]]) -> list[RawResult]:
    try:
        solutions = store.query(check.query)
    except SyntaxError as error:
        raise ShapesError(f"the SPARQL of shape {_show(check.shape)} does not parse: {error.msg}") from None
    assert isinstance(solutions, ox.QuerySolutions)
    variables = [v.value for v in solutions.variables]
    rows = [[s[v] for v in variables] for s in solutions]
    if check.kind != "sparql":
        return list(_core_results(store, check, variables, rows))
    focus = focus_cache.get(check.targets)
    if focus is None:
        focus = _focus_nodes(store, check.targets)
        focus_cache[check.targets] = focus
    this_index = variables.index("this") if "this" in variables else None
    if this_index is None or any(row[this_index] is None for row in rows):
        raise ShapesError(
            f"the SPARQL of shape {_show(check.shape)} does not bind $this in its own patterns, so it cannot be "
            "run for all focus nodes at once; bind $this in a triple pattern, or validate with --engine rdflib")
    return list(_sparql_results(check, variables, [r for r in rows if r[this_index] in focus]))


def _focus_nodes(store: ox.Store, targets: tuple[str, ...]) -> set[Any]:
    if not targets:
        return set()
    query = f"SELECT DISTINCT ?this WHERE {{ {' UNION '.join(targets)} }}"
    result = store.query(query)
    assert isinstance(result, ox.QuerySolutions)
    return {s["this"] for s in result}


def _sparql_results(check: _Check, variables: list[str], rows: Iterable[list[Any]]) -> Iterator[RawResult]:
    """Rows to results as pyshacl makes them: one per distinct (this, path, value, other bindings)."""
    seen: set[tuple[Any, ...]] = set()
    failed: set[Any] = set()
    for row in rows:
        bound = {v: t for v, t in zip(variables, row, strict=True) if t is not None}
        this = bound.pop("this")
        if bound.pop("failure", None) is not None:
            if this in failed:
                continue
            failed.add(this)
            yield _result(check, this, None, this, bound)
            continue
        path = bound.pop("path", None)
        value = bound.pop("value", None)
        key = (this, path, value, tuple(sorted((k, str(v)) for k, v in bound.items())))
        if key in seen:
            continue
        seen.add(key)
        yield _result(check, this, path, value if value is not None else this, bound, (this, path, value))


def _result(check: _Check, this: Any, path: Any, value: Any, bound: Mapping[str, Any],
            special: tuple[Any, Any, Any] | None = None) -> RawResult:
    substitutions = dict(bound)
    if special is not None:
        for name, term in zip(("this", "path", "value"), special, strict=True):
            if term is not None:
                substitutions[name] = term
    texts = tuple(ox.Literal(_format_message(m.value, substitutions)) for m in check.messages)
    return RawResult(focus=this, shape=check.shape, severity=check.severity, component=check.component,
                     path=path.value if isinstance(path, ox.NamedNode) else check.path, value=value, messages=texts)


def _format_message(message: str, substitutions: Mapping[str, Any]) -> str:
    """Fill ``{?var}`` and ``{$var}`` as pyshacl 0.40 does (``re.sub`` with the value as the replacement).

    Where pyshacl would fail (a value that is not a valid replacement template, such as a label with a backslash),
    iimkg's pyshacl path fills only ``$this``, ``?value`` and ``?path``; so does this one.
    """
    texts = {name: _text(term) for name, term in substitutions.items()}
    if not any("\\" in text or "{" in text for text in texts.values()):
        # no value that re.sub would read as a template, nor one holding a placeholder a later substitution would
        # fill: one pass gives the same text, and a report has tens of thousands of messages
        return _PLACEHOLDER.sub(lambda match: texts.get(match.group(1), match.group(0)), message)
    try:
        for name, text in texts.items():
            message = re.sub("{[?$]" + re.escape(name) + "}", text, message)
        return message
    except re.error:
        def fill(match: re.Match[str]) -> str:
            term = substitutions.get(match.group(1)) if match.group(1) in {"this", "value", "path"} else None
            return _text(term) if term is not None else "another term"

        return _PLACEHOLDER.sub(fill, message)


_PLACEHOLDER = re.compile(r"\{[?$](\w+)\}")


def _text(term: Any) -> str:
    if isinstance(term, (ox.NamedNode, ox.BlankNode, ox.Literal)):
        return str(term.value)
    return str(term)


def _core_results(store: ox.Store, check: _Check, variables: list[str], rows: list[list[Any]]) -> Iterator[RawResult]:
    index = {v: i for i, v in enumerate(variables)}
    if check.kind == "count":
        for row in rows:
            yield RawResult(row[index["this"]], check.shape, check.severity, check.component, check.path, None,
                            check.messages)
        return
    if check.kind == "class":
        for row in rows:
            yield RawResult(row[index["this"]], check.shape, check.severity, check.component, check.path,
                            row[index["value"]], check.messages)
        return
    test = _python_test(check.parameter)
    failing = [row[index["value"]] for row in rows if not test(row[index["value"]])]
    if not failing:
        return
    union = " UNION ".join(check.targets)
    wanted = set(failing)
    solutions = store.query(f"SELECT DISTINCT ?this ?value WHERE {{ {{ {union} }} ?this <{check.path}> ?value }}")
    assert isinstance(solutions, ox.QuerySolutions)
    for solution in solutions:
        if solution["value"] in wanted:
            yield RawResult(solution["this"], check.shape, check.severity, check.component, check.path,
                            solution["value"], check.messages)


def _python_test(parameter: tuple[str, Any]) -> Callable[[Any], bool]:
    """pyshacl's own test for sh:datatype and the four range constraints, on rdflib's view of the value."""
    from pyshacl.rdfutil.compare import compare_literal
    from rdflib import Literal

    from iimkg.core.rdfterms import to_rdflib

    name, bound = parameter

    if name == "datatype":
        def datatype_ok(term: Any) -> bool:
            value = to_rdflib(term)
            if not isinstance(value, Literal):
                return False
            if value.datatype is None:
                return value.language is None and str(bound) == XSD + "string"
            if str(value.datatype) != str(bound) or getattr(value, "ill_typed", None) is True:
                return False
            return _python_type_matches(value.value, str(bound))
        return datatype_ok

    wanted = {"minInclusive": lambda c: c >= 0, "maxInclusive": lambda c: c <= 0,
              "minExclusive": lambda c: c > 0, "maxExclusive": lambda c: c < 0}[name]

    def in_range(term: Any) -> bool:
        value = to_rdflib(term)
        if not isinstance(value, Literal):
            return False
        if isinstance(value.value, str) != isinstance(bound.value, str):
            return False
        try:
            return bool(wanted(compare_literal(value, bound)))  # type: ignore[no-untyped-call]
        except (TypeError, NotImplementedError):
            return False
    return in_range


def _python_type_matches(value: Any, datatype: str) -> bool:
    """pyshacl's check that rdflib parsed a literal of a known datatype into the matching Python type."""
    import datetime
    from decimal import Decimal

    expected: dict[str, type | tuple[type, ...]] = {
        XSD + "string": (str, bytes), RDF + "langString": (str, bytes), XSD + "integer": int,
        XSD + "float": float, XSD + "decimal": Decimal, XSD + "boolean": bool, XSD + "date": datetime.date,
        XSD + "time": datetime.time, XSD + "dateTime": datetime.datetime}
    wanted = expected.get(datatype)
    return wanted is None or isinstance(value, wanted)


def _run_fallback(store: ox.Store, shapes: rdflib.Graph) -> list[RawResult]:
    """The shapes this engine does not compile, run by pyshacl over the same store."""
    import pyshacl
    from pyshacl.errors import ReportableRuntimeError, ShapeLoadError, ValidationFailure
    from rdflib import Graph, URIRef

    from iimkg.core.rdfterms import from_rdflib, to_oxigraph

    union = ox.Store()
    union.extend(ox.Quad(q.subject, q.predicate, q.object) for q in store)
    try:
        data: Any = union
        _, report, _ = pyshacl.validate(data, shacl_graph=shapes, advanced=True, inference="none",
                                        allow_warnings=True, allow_infos=True)
    except (ReportableRuntimeError, ShapeLoadError, ValidationFailure) as error:
        raise ShapesError(f"pyshacl could not run the shapes: {error}") from None
    if not isinstance(report, Graph):
        raise ShapesError(f"pyshacl could not run the shapes: {report}")

    def sh(name: str) -> URIRef:
        return URIRef(SH + name)

    results = []
    for node in report.subjects(URIRef(RDF + "type"), sh("ValidationResult")):
        value = report.value(node, sh("value"))
        path = report.value(node, sh("resultPath"))
        texts = tuple(ox.Literal(str(m)) for m in report.objects(node, sh("resultMessage")))
        results.append(RawResult(
            focus=to_oxigraph(from_rdflib(report.value(node, sh("focusNode")))),
            shape=_shape_id(report.value(node, sh("sourceShape"))),
            severity=str(report.value(node, sh("resultSeverity"))),
            component=str(report.value(node, sh("sourceConstraintComponent"))),
            path=str(path) if isinstance(path, URIRef) else None,
            value=to_oxigraph(from_rdflib(value)) if value is not None else None, messages=texts))
    return results


def _deactivated_copy(shapes: rdflib.Graph, compiled: set[Any]) -> rdflib.Graph:
    """The shapes graph with every compiled shape (and its rules) switched off, for pyshacl to run the rest."""
    from rdflib import Graph, Literal, URIRef

    copy = Graph()
    for triple in shapes:
        copy.add(triple)
    for shape in compiled:
        copy.add((shape, URIRef(SH + "deactivated"), Literal(True)))
        for prop in shapes.objects(shape, URIRef(SH + "property")):
            copy.add((prop, URIRef(SH + "deactivated"), Literal(True)))
        for rule in list(copy.objects(shape, URIRef(SH + "rule"))):
            copy.add((rule, URIRef(SH + "deactivated"), Literal(True)))
    return copy


def _sparql(term: Any) -> str:
    from rdflib import Literal, URIRef

    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, Literal):
        if term.language:
            return f"{_quote(str(term))}@{term.language}"
        return f"{_quote(str(term))}^^<{term.datatype or XSD + 'string'}>"
    raise ShapesError(f"a target must be an IRI or a literal, not {term!r}")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def _shape_id(node: Any) -> str:
    from rdflib import BNode

    return f"_:{node}" if isinstance(node, BNode) else str(node)


def _show(node: Any) -> str:
    return f"<{node}>" if not str(node).startswith("_:") else str(node)
