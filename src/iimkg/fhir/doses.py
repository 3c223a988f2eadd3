"""Daily doses in mg and durations in days from FHIR ``Dosage``, ``Timing`` and ``Medication`` strengths.

A plan states one daily dose in mg per prescription (``iim:dailyDoseMg``). FHIR states a dose per administration
(``doseAndRate.doseQuantity`` or ``doseRange``) and how often (``timing.repeat`` or a ``timing.code`` such as BID).
The daily dose is the dose times the administrations per day. For a drug given less often than once a day
(methotrexate once a week, an infusion every two weeks) the plan vocabulary takes the dose on the days it is
given, so that is what is stated. Masses convert from g, µg/ug/mcg and ng; a dose in tablets, capsules or mL is
converted through the strength of the medication (``Medication.ingredient.strength``, or a single strength in an
RxNorm-style name such as "methotrexate 2.5 MG Oral Tablet"). Anything else is not guessed: the caller reports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["Dose", "Strength", "daily_dose", "duration_days", "mass_in_mg", "strength_from_medication",
           "strength_from_name"]

# Milligrams per unit of mass (UCUM codes and the spellings EHRs use).
_MASS_MG: dict[str, Decimal] = {
    "mg": Decimal(1), "milligram": Decimal(1), "milligrams": Decimal(1),
    "g": Decimal(1000), "gram": Decimal(1000), "grams": Decimal(1000), "gm": Decimal(1000),
    "ug": Decimal("0.001"), "µg": Decimal("0.001"), "μg": Decimal("0.001"), "mcg": Decimal("0.001"),
    "microgram": Decimal("0.001"), "micrograms": Decimal("0.001"),
    "ng": Decimal("0.000001"),
}
# Units of presentation: a dose counted in them needs the medication's strength per unit.
_PRESENTATION = {
    "tab": "tablet", "tabs": "tablet", "tablet": "tablet", "tablets": "tablet", "{tbl}": "tablet",
    "{tablet}": "tablet", "{tablets}": "tablet", "cap": "capsule", "caps": "capsule", "capsule": "capsule",
    "capsules": "capsule", "{capsule}": "capsule", "{cap}": "capsule", "1": "unit", "{each}": "unit",
    "each": "unit", "ea": "unit", "{unit}": "unit", "ml": "mL", "milliliter": "mL", "millilitre": "mL",
}
# Days per UCUM time unit, for periods and durations.
_DAYS: dict[str, Decimal] = {
    "s": Decimal(1) / 86400, "min": Decimal(1) / 1440, "h": Decimal(1) / 24, "d": Decimal(1), "wk": Decimal(7),
    "mo": Decimal(30), "a": Decimal(365),
}
_DURATION_UNITS = {"day": "d", "days": "d", "week": "wk", "weeks": "wk", "month": "mo", "months": "mo",
                   "year": "a", "years": "a", "hour": "h", "hours": "h"}
# HL7 v3 GTSAbbreviation timing codes: administrations per period (in days).
_TIMING_CODES: dict[str, tuple[int, Decimal]] = {
    "QD": (1, Decimal(1)), "AM": (1, Decimal(1)), "PM": (1, Decimal(1)), "BED": (1, Decimal(1)),
    "BID": (2, Decimal(1)), "TID": (3, Decimal(1)), "QID": (4, Decimal(1)), "QOD": (1, Decimal(2)),
    "Q1H": (24, Decimal(1)), "Q2H": (12, Decimal(1)), "Q3H": (8, Decimal(1)), "Q4H": (6, Decimal(1)),
    "Q6H": (4, Decimal(1)), "Q8H": (3, Decimal(1)), "WK": (1, Decimal(7)), "MO": (1, Decimal(30)),
}
_NAME_STRENGTH = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(MG|MCG|G|UG)(?![\w/])", re.IGNORECASE)
_PER_ML = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(MG|MCG|G|UG)\s*/\s*ML\b", re.IGNORECASE)


@dataclass(frozen=True)
class Strength:
    """How many mg one unit of presentation holds (per tablet, per capsule, per mL)."""

    mg: Decimal
    per: str  # "tablet", "capsule", "unit" or "mL"
    source: str


@dataclass(frozen=True)
class Dose:
    """A daily dose, or why there is none. ``schedule`` says how it was read ("40 mg once a day")."""

    mg_per_day: Decimal | None
    schedule: str = ""
    problem: str | None = None
    note: str | None = None


def mass_in_mg(quantity: Any) -> Decimal | None:
    """A FHIR Quantity of mass in mg, or None if it is not a mass in a unit we know."""
    value = _number(quantity.get("value")) if isinstance(quantity, dict) else None
    factor = _MASS_MG.get(_unit(quantity)) if value is not None else None
    return value * factor if value is not None and factor is not None else None


def strength_from_medication(medication: Any) -> Strength | None:
    """The strength of a single-ingredient Medication (``ingredient[0].strength`` as mass per presentation unit)."""
    ingredients = [i for i in _list(medication, "ingredient") if isinstance(i, dict) and "strength" in i]
    if len(ingredients) != 1:
        return None
    ratio = ingredients[0]["strength"]
    numerator = ratio.get("numerator") if isinstance(ratio, dict) else None
    denominator = ratio.get("denominator") if isinstance(ratio, dict) else None
    mg = mass_in_mg(numerator)
    per = _PRESENTATION.get(_unit(denominator)) if isinstance(denominator, dict) else None
    amount = _number(denominator.get("value", 1)) if isinstance(denominator, dict) else None
    if mg is None or per is None or not amount:
        return None
    return Strength(mg / amount, per, "the Medication's ingredient strength")


def strength_from_name(name: str) -> Strength | None:
    """The strength in a product name that states exactly one ("prednisone 20 MG Oral Tablet": 20 mg per tablet;
    "methotrexate 25 MG/ML Injectable Solution": 25 mg per mL); None for combinations or no strength."""
    per_ml = _PER_ML.findall(name)
    if len(per_ml) == 1 and len(_NAME_STRENGTH.findall(_PER_ML.sub("", name))) == 0:
        value, unit = per_ml[0]
        return Strength(Decimal(value) * _MASS_MG[unit.lower()], "mL", f'the strength in "{name}"')
    found = _NAME_STRENGTH.findall(name)
    if len(found) != 1 or per_ml:
        return None
    value, unit = found[0]
    lowered = name.lower()
    per = "capsule" if "capsule" in lowered else "tablet" if "tablet" in lowered else "unit"
    return Strength(Decimal(value) * _MASS_MG[unit.lower()], per, f'the strength in "{name}"')


def daily_dose(dosages: list[dict[str, Any]], strength: Strength | None) -> Dose:
    """The daily dose in mg of dosage instructions given together (one ``sequence``): their doses summed.

    :returns: a :class:`Dose` with ``mg_per_day``, or with ``problem`` saying what could not be read.
    """
    total = Decimal(0)
    schedules: list[str] = []
    notes: list[str] = []
    intermittent = False
    for dosage in dosages:
        dose, schedule, problem, note = _one_dosage(dosage, strength)
        if problem is not None:
            return Dose(None, problem=problem)
        assert dose is not None
        total += dose[0]
        intermittent = intermittent or dose[1]
        schedules.append(schedule)
        if note:
            notes.append(note)
    if not schedules:
        return Dose(None, problem="no dosage instruction; daily dose not stated")
    schedule = " + ".join(schedules)
    if intermittent and len(dosages) == 1:
        schedule += ": the dose on the days it is given"
    return Dose(_tidy(total), schedule, note="; ".join(notes) or None)


def _one_dosage(dosage: dict[str, Any], strength: Strength | None
                ) -> tuple[tuple[Decimal, bool] | None, str, str | None, str | None]:
    text = dosage.get("text") if isinstance(dosage.get("text"), str) else None
    quantity, note = _dose_quantity(dosage)
    if quantity is None:
        if note:
            return None, "", note, None
        given = f' (given only as text: "{text}")' if text else ""
        return None, "", f"no dose quantity{given}; daily dose not stated", None
    value = _number(quantity.get("value"))
    if value is None and quantity.get("value") is not None:
        shown = str(quantity.get("value"))
        shown = shown if len(shown) <= 20 else shown[:20] + "…"
        return None, "", f"the dose quantity's value {shown} is not a usable number; daily dose not stated", None
    if value is None or value <= 0:
        return None, "", "the dose quantity has no positive value; daily dose not stated", None
    unit = _unit(quantity)
    shown = quantity.get("unit") or quantity.get("code") or "(no unit)"
    mg: Decimal | None = None
    if unit in _MASS_MG:
        mg = value * _MASS_MG[unit]
        dose_text = f"{_show(value)} {shown}"
    elif unit in _PRESENTATION:
        per = _PRESENTATION[unit]
        if strength is None or not _same_presentation(strength.per, per):
            return None, "", (f"the dose is {_show(value)} {shown} and the medication's strength per {per} is not "
                              f"given; daily dose not stated"), None
        mg = value * strength.mg
        dose_text = f"{_show(value)} {shown} of {_show(strength.mg)} mg"
    else:
        return None, "", f"the dose unit {shown!r} can't be converted to mg; daily dose not stated", None
    per_day, when = _per_day(dosage.get("timing"))
    if per_day is None:
        return None, "", f"{when}; daily dose not stated", None
    intermittent = per_day < 1
    daily = mg if intermittent else mg * per_day
    return (daily, intermittent), f"{dose_text} {when}", None, note


def _same_presentation(one: str, other: str) -> bool:
    """A strength per tablet fits a dose in tablets, or in units ("1", "{each}"), but not one in mL."""
    return one == other or ("unit" in (one, other) and "mL" not in (one, other))


def _dose_quantity(dosage: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The dose per administration: ``doseQuantity``, else the upper end of ``doseRange`` (with a note)."""
    for dose_and_rate in _list(dosage, "doseAndRate"):
        if not isinstance(dose_and_rate, dict):
            continue
        quantity = dose_and_rate.get("doseQuantity")
        if isinstance(quantity, dict):
            return quantity, None
        dose_range = dose_and_rate.get("doseRange")
        if isinstance(dose_range, dict) and isinstance(dose_range.get("high"), dict):
            return dose_range["high"], "the upper end of the dose range is taken"
    return None, None


def _per_day(timing: Any) -> tuple[Decimal | None, str]:
    """Administrations per day of a Timing, and how it reads ("twice a day"); None and why if it can't tell."""
    if not isinstance(timing, dict):
        return None, "no timing (how often the dose is given)"
    found = timing.get("repeat")
    repeat: dict[str, Any] = found if isinstance(found, dict) else {}
    frequency = _number(repeat.get("frequency"))
    period = _number(repeat.get("period"))
    unit = repeat.get("periodUnit") if isinstance(repeat.get("periodUnit"), str) else None
    if frequency is None and period is None:
        for key in ("when", "timeOfDay"):
            times = repeat.get(key)
            if isinstance(times, list) and times:
                return Decimal(len(times)), _times(Decimal(len(times)), Decimal(1))
        if isinstance(repeat.get("dayOfWeek"), list) and repeat["dayOfWeek"]:
            days_a_week = Decimal(len(repeat["dayOfWeek"]))
            return days_a_week / 7, _times(days_a_week, Decimal(7))
        code = _timing_code(timing.get("code"))
        if code is not None:
            times, days = _TIMING_CODES[code]
            return Decimal(times) / days, _times(Decimal(times), days)
        return None, "the timing says neither how often nor over what period the dose is given"
    if period is None or unit not in _DAYS or period <= 0:
        return None, "the timing gives a frequency without a period in s, min, h, d, wk, mo or a"
    frequency = frequency if frequency is not None else Decimal(1)  # a period alone: once in it
    days = period * _DAYS[str(unit)]
    return frequency / days, _times(frequency, days)


def _times(count: Decimal, days: Decimal) -> str:
    how = {1: "once", 2: "twice"}.get(int(count), f"{_show(count)} times") if count == int(count) else \
        f"{_show(count)} times"
    if days == 1:
        return f"{how} a day"
    if days == 7:
        return f"{how} a week"
    if days < 1:
        return f"{how} every {_show(_tidy(days * 24))} h"
    return f"{how} every {_show(_tidy(days))} days"


def _timing_code(code: Any) -> str | None:
    for coding in _list(code, "coding"):
        value = coding.get("code") if isinstance(coding, dict) else None
        if isinstance(value, str) and value.upper() in _TIMING_CODES:
            return value.upper()
    return None


def duration_days(quantity: Any) -> int | None:
    """A FHIR Duration in whole days (weeks 7, months 30, years 365), or None."""
    if not isinstance(quantity, dict):
        return None
    value = _number(quantity.get("value"))
    unit = _unit(quantity)
    unit = _DURATION_UNITS.get(unit, unit)
    if value is None or unit not in _DAYS or value <= 0:
        return None
    return max(1, int((value * _DAYS[unit]).to_integral_value()))


def _unit(quantity: Any) -> str:
    if not isinstance(quantity, dict):
        return ""
    code = quantity.get("code")
    unit = code if isinstance(code, str) and code.strip() else quantity.get("unit")
    return unit.strip().lower() if isinstance(unit, str) else ""


_MAX_EXPONENT = 9


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, (int, Decimal)):
            number = Decimal(value)
        elif isinstance(value, (float, str)):
            number = Decimal(str(value))
        else:
            return None
    except InvalidOperation:
        return None
    # A dose or duration outside 1e-9..1e9 is a typing or unit error, not a dose; left unread (and so reported), it
    # can't overflow the arithmetic (1E+999999999 mg times a unit factor raised decimal.Overflow).
    if not number.is_finite() or (number != 0 and abs(number.adjusted()) > _MAX_EXPONENT):
        return None
    return number


def _tidy(value: Decimal) -> Decimal:
    """Three decimals at most, no trailing zeros ("2.143", "40")."""
    rounded = value.quantize(Decimal("0.001")).normalize()
    return rounded.quantize(Decimal(1)) if rounded == rounded.to_integral_value() else rounded


def _show(value: Decimal) -> str:
    return format(_tidy(value), "f")


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, dict):
        return []
    found = value.get(key)
    return found if isinstance(found, list) else []
