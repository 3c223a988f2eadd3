"""Classify an ontology with HermiT and return the subclass axioms it infers, for the ``-full`` release artefact."""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.vocab import OWL, RDFS
from iimkg.graph.reason import OWL_NOTHING, java_version
from iimkg.release.graph import ReleaseError

__all__ = ["inferred_subclass_axioms"]

OWL_THING = OWL + "Thing"


def inferred_subclass_axioms(triples: Sequence[ox.Triple]) -> list[ox.Triple]:
    """``rdfs:subClassOf`` triples between named classes that HermiT infers and the triples do not assert.

    Only direct superclasses are returned (HermiT's classification, as owlready2 reports it after
    ``sync_reasoner_hermit``), so asserting them adds no redundant edge that the reasoner already had.

    :raises ReasonerUnavailableError: if Java is missing.
    :raises ReleaseError: if the ontology is inconsistent or has unsatisfiable classes.
    """
    java_version()
    import owlready2

    asserted = {(t.subject.value, t.object.value) for t in triples
                if t.predicate.value == RDFS + "subClassOf" and isinstance(t.subject, ox.NamedNode)
                and isinstance(t.object, ox.NamedNode)}
    with tempfile.TemporaryDirectory(prefix="iimkg-classify-") as tmp:
        path = Path(tmp) / "ontology.nt"
        path.write_bytes(ox.serialize(list(triples), format=ox.RdfFormat.N_TRIPLES) or b"")
        world = owlready2.World()
        # owlready2 prints warnings about punned classes ("ignoring cyclic type of") that tell a user nothing.
        chatter = io.StringIO()
        try:
            with contextlib.redirect_stderr(chatter), contextlib.redirect_stdout(chatter):
                world.get_ontology(path.as_uri()).load()
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0,
                                               ignore_unsupported_datatypes=True)
                unsatisfiable = sorted(c.iri for c in world.inconsistent_classes() if c.iri != OWL_NOTHING)
                inferred: set[tuple[str, str]] = set()
                for cls in world.classes():
                    for parent in cls.is_a:
                        if isinstance(parent, owlready2.ThingClass) and parent.iri != OWL_THING \
                                and (cls.iri, parent.iri) not in asserted:
                            inferred.add((cls.iri, parent.iri))
        except owlready2.OwlReadyInconsistentOntologyError as error:
            raise ReleaseError("HermiT finds the ontology inconsistent, so it cannot be released; "
                               f"`iimkg reason` shows the details ({str(error).strip()[:200]})") from None
        except (owlready2.OwlReadyError, TypeError, ValueError, OSError) as error:
            # owlready2 also fails with plain TypeErrors on some punning patterns; say so instead of a traceback.
            raise ReleaseError(f"owlready2 could not read or classify the ontology: {error}") from None
        finally:
            world.close()
    if unsatisfiable:
        raise ReleaseError(f"HermiT finds {len(unsatisfiable)} unsatisfiable classes, so the ontology cannot "
                           f"be released: {', '.join(unsatisfiable[:5])}")
    return [ox.Triple(ox.NamedNode(child), ox.NamedNode(RDFS + "subClassOf"), ox.NamedNode(parent))
            for child, parent in sorted(inferred)]
