"""Validation as users call it: treatment plans in every format the package reads, and the ontology gate.

The one place where plan validation (:mod:`iimkg.plans`) meets the intake adapters (:mod:`iimkg.fhir`), so that
neither imports the other; the CLI, the Python API and the benchmarks call these.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iimkg.core.kinds import Engine
from iimkg.fhir.bulk import is_bulk_export
from iimkg.fhir.intake import BulkPlans, FhirAdapter
from iimkg.fhir.manifest import expand_manifests
from iimkg.plans.intake import Adapter
from iimkg.plans.validate import validate_plans as _validate_plans
from iimkg.shacl.findings import Severity, ValidationResult
from iimkg.shacl.qc import validate_ontology

__all__ = ["ADAPTERS", "validate_ontology", "validate_plans"]

ADAPTERS: tuple[Adapter, ...] = (FhirAdapter(),)


def validate_plans(paths: Sequence[Path], **options: Any) -> ValidationResult:
    """:func:`iimkg.plans.validate.validate_plans` with every intake adapter of the package (FHIR R4).

    A FHIR Bulk Data export on its own (every file NDJSON, the default engine and adapters) is streamed: converted
    a batch of patients at a time and each batch's plans handed to the checker as they come
    (:func:`iimkg.plans.units.check_units`), so that memory stays bounded however large the export. A Bulk Data
    manifest (``manifest.json``) stands for the files it lists (:mod:`iimkg.fhir.manifest`).
    """
    options.setdefault("adapters", ADAPTERS)
    files = list(dict.fromkeys(expand_manifests([Path(p) for p in paths])))
    if (is_bulk_export(files) and options["adapters"] is ADAPTERS and not options.get("input_format")
            and Engine(options.get("engine") or Engine.OXIGRAPH) is Engine.OXIGRAPH):
        return _validate_bulk(files, **{k: v for k, v in options.items()
                                        if k not in ("adapters", "engine", "input_format")})
    return _validate_plans(files, **options)


def _validate_bulk(files: list[Path], *, strict: bool = False, fail_on: Severity | str = Severity.VIOLATION,
                   **options: Any) -> ValidationResult:
    """Check a Bulk Data export's plans as they are converted; the conversion's notes join the findings."""
    from iimkg.plans.units import check_units

    started = time.perf_counter()
    stream = BulkPlans(files, strict=strict)

    from iimkg.fhir.intake import fhir_rules
    from iimkg.plans.intake import Intake

    def notes() -> Intake:  # what the conversion could not read, known once every unit is checked
        return Intake(findings=stream.findings(), rules=fhir_rules(strict=strict))

    checked = check_units(stream.units(), fail_on=fail_on, files=files, intake=notes, **options)
    checked.seconds = time.perf_counter() - started
    return checked
