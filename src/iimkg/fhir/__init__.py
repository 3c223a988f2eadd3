"""HL7 FHIR R4 in: read Bundles, single resources and Bulk Data NDJSON, and turn them into treatment plans.

``convert_files`` reads and converts; ``plan_turtle`` and ``plan_quads`` write the plans; every resource that could
not be read, or only approximately, is a :class:`Note` of the conversion (docs/fhir.md).
"""

from iimkg.fhir.convert import Conversion, Plan, convert, convert_files
from iimkg.fhir.reading import Located, is_fhir_file, read_fhir
from iimkg.plans.notes import Note, NoteKind
from iimkg.plans.turtle import plan_quads, plan_turtle

__all__ = [
    "Conversion",
    "Located",
    "Note",
    "NoteKind",
    "Plan",
    "convert",
    "convert_files",
    "is_fhir_file",
    "plan_quads",
    "plan_turtle",
    "read_fhir",
]
