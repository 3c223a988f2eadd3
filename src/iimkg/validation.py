"""Validation as users call it: treatment plans in every format the package reads, and the ontology gate.

The one place where plan validation (:mod:`iimkg.plans`) meets the intake adapters (:mod:`iimkg.fhir`), so that
neither imports the other; the CLI, the Python API and the benchmarks call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iimkg.fhir.intake import FhirAdapter
from iimkg.plans.intake import Adapter
from iimkg.plans.validate import validate_plans as _validate_plans
from iimkg.shacl.findings import ValidationResult
from iimkg.shacl.qc import validate_ontology

__all__ = ["ADAPTERS", "validate_ontology", "validate_plans"]

ADAPTERS: tuple[Adapter, ...] = (FhirAdapter(),)


def validate_plans(paths: Sequence[Path], **options: Any) -> ValidationResult:
    """:func:`iimkg.plans.validate.validate_plans` with every intake adapter of the package (FHIR R4)."""
    options.setdefault("adapters", ADAPTERS)
    return _validate_plans(paths, **options)
