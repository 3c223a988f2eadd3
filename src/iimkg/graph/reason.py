"""Run HermiT (bundled with owlready2) over the ontology: consistency and unsatisfiable classes."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import threading
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.errors import ReasonerUnavailableError
from iimkg.graph.loading import ontology_quads

__all__ = ["ReasonerReport", "java_version", "reason"]

OWL_NOTHING = "http://www.w3.org/2002/07/owl#Nothing"


@dataclass
class ReasonerReport:
    consistent: bool
    unsatisfiable: list[str] = field(default_factory=list)
    seconds: float = 0.0
    java: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.consistent and not self.unsatisfiable


def java_version() -> str:
    """The first line that ``java -version`` prints.

    :raises ReasonerUnavailableError: if there is no ``java`` on PATH.
    """
    java = shutil.which("java")
    if java is None:
        raise ReasonerUnavailableError(
            "HermiT needs Java, and no `java` is on PATH; install a Java runtime "
            "(e.g. `apt-get install default-jre-headless`) and try again")
    completed = subprocess.run([java, "-version"], capture_output=True, text=True, check=False, timeout=60)
    return (completed.stderr or completed.stdout).splitlines()[0] if (completed.stderr or completed.stdout) else java


def reason(path: Path | None = None) -> ReasonerReport:
    """Classify the shipped ontology (or ``path``) with HermiT.

    owlready2 reads no Turtle, so the triples go through a temporary N-Triples file; ``xsd:date``
    annotations are outside OWL 2's datatype map, so HermiT is told to ignore unsupported datatypes.

    :raises ReasonerUnavailableError: if Java is missing.
    :raises InputError: if ``path`` does not parse.
    """
    java = java_version()
    quads = ontology_quads(path)
    import owlready2

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="iimkg-reason-") as tmp:
        ntriples = Path(tmp) / "ontology.nt"
        ntriples.write_bytes(ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in quads],
                                          format=ox.RdfFormat.N_TRIPLES) or b"")
        world = owlready2.World()
        world.get_ontology(ntriples.as_uri()).load()
        try:
            with _owlready_files_in(tmp):
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0,
                                               ignore_unsupported_datatypes=True)
        except owlready2.OwlReadyInconsistentOntologyError as error:
            return ReasonerReport(False, [], time.perf_counter() - start, java, str(error).strip())
        unsatisfiable = sorted(c.iri for c in world.inconsistent_classes() if c.iri != OWL_NOTHING)
        world.close()
    return ReasonerReport(True, unsatisfiable, time.perf_counter() - start, java)


_OWLREADY_FILES = threading.Lock()


@contextmanager
def _owlready_files_in(folder: str) -> Iterator[None]:
    """owlready2 writes the ontology HermiT reads to a ``NamedTemporaryFile(delete=False)`` and removes it only when
    HermiT succeeds: an inconsistent ontology, or a Java error, left a copy of the user's ontology in the system's
    temporary folder on every run. Its files go into ``folder`` (ours, removed whatever happens) instead; only
    owlready2's reasoning module sees the change, one reasoner run at a time."""
    import owlready2.reasoning as reasoning

    with _OWLREADY_FILES:
        original = reasoning.tempfile
        reasoning.tempfile = types.SimpleNamespace(
            NamedTemporaryFile=functools.partial(tempfile.NamedTemporaryFile, dir=folder))
        try:
            yield
        finally:
            reasoning.tempfile = original
