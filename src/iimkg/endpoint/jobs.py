"""The messages between the HTTP process and its query workers: small frozen values that pickle cheaply."""

from __future__ import annotations

from dataclasses import dataclass, field

from iimkg.core.rdfterms import Term
from iimkg.queries.output import OutputFormat

__all__ = [
    "BAD_REQUEST",
    "NOT_ACCEPTABLE",
    "NOT_FOUND",
    "REFUSED",
    "Dataset",
    "Failure",
    "NamedJob",
    "Ok",
    "PageJob",
    "QueryJob",
    "Ready",
    "Reply",
    "Table",
    "UpdateJob",
    "WorkerSetup",
]

BAD_REQUEST, NOT_FOUND, NOT_ACCEPTABLE = 400, 404, 406
# SPARQL 1.1 Protocol §2.1.7 and §2.2.5: "services may also return a 500 response code if they refuse to
# execute a query" (an update): the status for every refusal here (update, SERVICE, too many results, timeout).
REFUSED = 500


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to start: the whole served dataset as N-Quads, and its limits.

    ``max_depth`` is the bracket nesting a query may have (``iimkg serve --max-depth``): a worker is a spawned
    process, which starts with :mod:`iimkg.core.limits`' defaults, so the HTTP process's limits travel here.
    """

    nquads: bytes
    max_results: int
    memory_bytes: int | None = None
    max_depth: int | None = None


@dataclass(frozen=True)
class Dataset:
    """An RDF dataset named by the protocol (``default-graph-uri``/``named-graph-uri``): graph IRIs only."""

    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueryJob:
    """Run a client's SPARQL query and serialise the result in the negotiated format."""

    text: str
    dataset: Dataset | None = None
    accept: str | None = None
    format: str | None = None


@dataclass(frozen=True)
class UpdateJob:
    """Check a SPARQL update (syntax, dataset conflicts) so that it can be refused with the right status."""

    text: str
    using: Dataset | None = None


@dataclass(frozen=True)
class NamedJob:
    """Run a named query with parameter values as a user types them (labels, CURIEs, IRIs)."""

    name: str
    parameters: tuple[tuple[str, str], ...]
    format: OutputFormat = OutputFormat.JSON


@dataclass(frozen=True)
class PageJob:
    """Run a client's SPARQL query for the HTML page: rows of terms, whatever the query form."""

    text: str


@dataclass(frozen=True)
class Ok:
    """A successful result: the response body and its media type, and how many rows or triples it holds."""

    body: bytes
    media_type: str
    count: int = 0


@dataclass(frozen=True)
class Table:
    """Rows for the HTML page; ``boolean`` is set for ``ASK``, ``graph`` for ``CONSTRUCT`` and ``DESCRIBE``.

    ``labels`` holds the English label (or the label with no language) of each IRI in the rows that has one in
    the served graph, so that the page shows people names, with the CURIE beside them.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[Term | None, ...], ...] = ()
    boolean: bool | None = None
    graph: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """A request that could not be answered: the HTTP status, a message for people, details for programs."""

    status: int
    message: str
    details: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Ready:
    """A worker's first message: it holds the dataset and says whether it is cut off from the network."""

    pid: int
    isolated: bool
    triples: int


Reply = Ok | Table | Failure
