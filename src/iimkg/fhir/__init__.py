"""HL7 FHIR R4 in: one intake adapter that reads Bundles, single resources and Bulk Data NDJSON into treatment plans.

``convert_files`` reads and converts into the format-neutral plan model (:mod:`iimkg.plans.model`), which
:mod:`iimkg.plans.turtle` writes; :class:`~iimkg.fhir.bulk.BulkExport` does the same for a Bulk Data export a batch
of patients at a time, in bounded memory; :class:`~iimkg.fhir.intake.FhirAdapter` hands plan validation the plans as RDF
plus what could not be read (docs/fhir.md).
"""

from iimkg.fhir.convert import convert, convert_files
from iimkg.fhir.intake import FhirAdapter
from iimkg.fhir.reading import is_fhir_file, read_fhir

__all__ = ["FhirAdapter", "convert", "convert_files", "is_fhir_file", "read_fhir"]
