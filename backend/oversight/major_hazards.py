"""Identification and grading of major hazard installations, after GB 18218-2018
《危险化学品重大危险源辨识》.

One unit (a production unit or a storage unit) holds substances, each named either by the
standard's Table 1 (a named chemical: by CAS number, or by its entry number where the CAS
number is missing or shared) or by a Table 2 hazard category. The unit is a major hazard when

    S = q1/Q1 + q2/Q2 + ... + qn/Qn >= 1

with q the quantity present and Q its critical quantity. A major hazard is graded by

    R = α (β1·q1/Q1 + β2·q2/Q2 + ... + βn·qn/Qn)

β from Table 3 for the toxic gases it lists, otherwise from Table 4 by hazard category; α from
Table 5 by the people outside the unit's boundary within 500 m; the grade from Table 6
(I R >= 100, II 50 <= R < 100, III 10 <= R < 50, IV R < 10).

For a Table 1 chemical not in Table 3 the standard takes β from Table 4 by the chemical's
hazard category; the data file gives each such chemical its usual category
(``beta_class``), and a caller whose process puts it in another one (a flammable liquid kept
above its boiling point is W5.1, not W5.3) names that with ``beta_category``.

The tables are in ``gb18218.json`` beside this module. Arithmetic is exact (fractions of the
decimal values given), so a sum that is exactly 1 or an R exactly on a grade bound is not
lost to rounding.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any, Literal

from backend.core.errors import BadInput

__all__ = [
    "SOURCE",
    "Assessment",
    "AssessmentLine",
    "Category",
    "MajorHazardInputError",
    "NamedSubstance",
    "Substance",
    "alpha_for",
    "assess",
    "categories",
    "grade_for",
    "named_substances",
]

Grade = Literal[1, 2, 3, 4]
BetaBasis = Literal["table3", "table4"]


class MajorHazardInputError(BadInput):
    """A unit's substances or head count that the standard cannot be applied to."""


@dataclass(frozen=True)
class NamedSubstance:
    """One row of Table 1."""

    entry: int
    name_zh: str
    name_en: str
    aliases_zh: tuple[str, ...]
    cas_numbers: tuple[str, ...]
    critical_quantity_tonnes: float
    beta: float
    beta_basis: BetaBasis
    # The Table 2 code β is read from when it is not in Table 3 (None for Table 3 gases).
    beta_class: str | None


@dataclass(frozen=True)
class Category:
    """One row of Table 2, with its β from Table 4."""

    code: str
    hazard_zh: str
    hazard_en: str
    description_zh: str
    description_en: str
    critical_quantity_tonnes: float
    beta: float


@dataclass(frozen=True)
class Substance:
    """A substance present in the unit: exactly one of ``cas_number``, ``entry`` (Table 1) or
    ``category`` (Table 2), and its quantity in tonnes (the largest that may be present).

    ``beta_category`` names the Table 4 category that sets β for a Table 1 chemical whose
    process conditions differ from its usual category; it is refused for Table 3 gases
    (their β is fixed) and for substances named by category (their category sets β).
    """

    quantity_tonnes: float
    cas_number: str | None = None
    entry: int | None = None
    category: str | None = None
    beta_category: str | None = None


@dataclass(frozen=True)
class AssessmentLine:
    entry: int | None
    category: str | None
    name_zh: str
    name_en: str
    quantity_tonnes: float
    critical_quantity_tonnes: float
    beta: float
    beta_basis: BetaBasis
    q_over_Q: float


@dataclass(frozen=True)
class Assessment:
    lines: tuple[AssessmentLine, ...]
    sum_q_over_Q: float
    alpha: float
    r_value: float
    is_major_hazard: bool
    grade: Grade | None

    @property
    def grade_roman(self) -> str | None:
        return None if self.grade is None else ("I", "II", "III", "IV")[self.grade - 1]


SOURCE = "GB 18218-2018"

# Table 5: people outside the boundary within 500 m -> α (lower bound of each band).
_ALPHA_BANDS: tuple[tuple[int, Fraction], ...] = (
    (100, Fraction(2)),
    (50, Fraction(3, 2)),
    (30, Fraction(6, 5)),
    (1, Fraction(1)),
    (0, Fraction(1, 2)),
)

# Table 6: R lower bound -> grade.
_GRADE_BOUNDS: tuple[tuple[int, Grade], ...] = ((100, 1), (50, 2), (10, 3))


def _exact(value: Any) -> Fraction:
    """A table value or a quantity as the decimal it was written as (0.3 is 3/10)."""
    if isinstance(value, Fraction):
        return value
    return Fraction(Decimal(str(value)))


@dataclass(frozen=True)
class _Tables:
    by_entry: Mapping[int, NamedSubstance]
    by_cas: Mapping[str, tuple[int, ...]]
    by_code: Mapping[str, Category]
    table3_by_cas: Mapping[str, Fraction]
    exact_q: Mapping[int | str, Fraction]
    exact_beta: Mapping[int | str, Fraction]


@cache
def _tables() -> _Tables:
    raw = json.loads(
        resources.files(__package__).joinpath("gb18218.json").read_text(encoding="utf-8")
    )
    by_code: dict[str, Category] = {}
    exact_q: dict[int | str, Fraction] = {}
    exact_beta: dict[int | str, Fraction] = {}
    for row in raw["table2"]:
        by_code[row["code"]] = Category(
            code=row["code"],
            hazard_zh=row["hazard_zh"],
            hazard_en=row["hazard_en"],
            description_zh=row["description_zh"],
            description_en=row["description_en"],
            critical_quantity_tonnes=float(row["q"]),
            beta=float(row["beta"]),
        )
        exact_q[row["code"]] = _exact(row["q"])
        exact_beta[row["code"]] = _exact(row["beta"])
    table3 = {row["cas"]: _exact(row["beta"]) for row in raw["table3"]}
    by_entry: dict[int, NamedSubstance] = {}
    by_cas: dict[str, list[int]] = {}
    for row in raw["table1"]:
        no = row["no"]
        cas_numbers = tuple(row["cas"])
        in_table3 = [table3[cas] for cas in cas_numbers if cas in table3]
        if in_table3:
            beta, basis, beta_class = in_table3[0], "table3", None
        else:
            beta_class = row["beta_class"]
            beta, basis = exact_beta[beta_class], "table4"
        by_entry[no] = NamedSubstance(
            entry=no,
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            aliases_zh=tuple(row["aliases_zh"]),
            cas_numbers=cas_numbers,
            critical_quantity_tonnes=float(row["q"]),
            beta=float(beta),
            beta_basis=basis,
            beta_class=beta_class,
        )
        exact_q[no] = _exact(row["q"])
        exact_beta[no] = beta
        for cas in cas_numbers:
            by_cas.setdefault(cas, []).append(no)
    return _Tables(
        by_entry=by_entry,
        by_cas={cas: tuple(entries) for cas, entries in by_cas.items()},
        by_code=by_code,
        table3_by_cas=table3,
        exact_q=exact_q,
        exact_beta=exact_beta,
    )


def named_substances() -> tuple[NamedSubstance, ...]:
    """Table 1 in the standard's order, with each chemical's β."""
    return tuple(_tables().by_entry.values())


def categories() -> tuple[Category, ...]:
    """Table 2 in the standard's order, with each category's β (Table 4)."""
    return tuple(_tables().by_code.values())


def alpha_for(people_within_500m: int) -> float:
    """Table 5's α for the people outside the boundary within 500 m."""
    return float(_alpha(people_within_500m))


def grade_for(r_value: float) -> Grade:
    """Table 6's grade of a major hazard with this R (1 is the most severe)."""
    return _grade(_exact(r_value))


def assess(substances: Sequence[Substance], people_within_500m: int) -> Assessment:
    """Identify and grade one unit. Refused (``MajorHazardInputError``) when a substance is
    not named exactly once, is unknown to the standard, or has a quantity that is not a
    positive finite number, or when the head count is not a non-negative whole number."""
    alpha = _alpha(people_within_500m)
    if not substances:
        raise MajorHazardInputError("A unit needs at least one substance to assess.")
    tables = _tables()
    lines: list[AssessmentLine] = []
    total = Fraction(0)
    weighted = Fraction(0)
    for index, substance in enumerate(substances):
        quantity = _quantity(substance.quantity_tonnes, index)
        key, name_zh, name_en, basis = _identify(tables, substance, index)
        beta = tables.exact_beta[key]
        if substance.beta_category is not None:
            beta, basis = _beta_override(tables, substance, key, index), "table4"
        critical = tables.exact_q[key]
        ratio = quantity / critical
        total += ratio
        weighted += beta * ratio
        lines.append(
            AssessmentLine(
                entry=key if isinstance(key, int) else None,
                category=key if isinstance(key, str) else None,
                name_zh=name_zh,
                name_en=name_en,
                quantity_tonnes=float(quantity),
                critical_quantity_tonnes=float(critical),
                beta=float(beta),
                beta_basis=basis,
                q_over_Q=float(ratio),
            )
        )
    r_value = alpha * weighted
    is_major = total >= 1
    return Assessment(
        lines=tuple(lines),
        sum_q_over_Q=float(total),
        alpha=float(alpha),
        r_value=float(r_value),
        is_major_hazard=is_major,
        grade=_grade(r_value) if is_major else None,
    )


def _alpha(people: int) -> Fraction:
    if isinstance(people, bool) or not isinstance(people, numbers.Integral):
        raise MajorHazardInputError(
            "The number of people within 500 m must be a whole number.", field="peopleWithin500m"
        )
    if people < 0:
        raise MajorHazardInputError(
            "The number of people within 500 m cannot be negative.", field="peopleWithin500m"
        )
    return next(alpha for bound, alpha in _ALPHA_BANDS if people >= bound)


def _grade(r_value: Fraction) -> Grade:
    return next((grade for bound, grade in _GRADE_BOUNDS if r_value >= bound), 4)


def _quantity(value: object, index: int) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise MajorHazardInputError(
            "A quantity must be a number of tonnes.", field="quantityTonnes", index=index
        )
    if not math.isfinite(float(value)) or value <= 0:
        raise MajorHazardInputError(
            "A quantity must be a positive, finite number of tonnes.",
            field="quantityTonnes",
            index=index,
        )
    return _exact(value)


def _identify(
    tables: _Tables, substance: Substance, index: int
) -> tuple[int | str, str, str, BetaBasis]:
    given = [
        name
        for name, value in (
            ("casNumber", substance.cas_number),
            ("entry", substance.entry),
            ("category", substance.category),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise MajorHazardInputError(
            "Name each substance by exactly one of a CAS number, a Table 1 entry or a Table 2 "
            "category.",
            index=index,
            given=given,
        )
    if substance.category is not None:
        category = tables.by_code.get(str(substance.category).strip().upper())
        if category is None:
            raise MajorHazardInputError(
                f"{substance.category!r} is not a category of {SOURCE} Table 2.",
                field="category",
                index=index,
            )
        return category.code, category.hazard_zh, category.hazard_en, "table4"
    if substance.cas_number is not None:
        cas = str(substance.cas_number).strip()
        entries = tables.by_cas.get(cas, ())
        if not entries:
            raise MajorHazardInputError(
                f"CAS {cas} is not a named chemical of {SOURCE} Table 1; "
                "name it by its Table 2 hazard category.",
                field="casNumber",
                index=index,
            )
        if len(entries) > 1:
            raise MajorHazardInputError(
                f"CAS {cas} is several entries of {SOURCE} Table 1 with different critical "
                f"quantities; name the entry ({', '.join(map(str, entries))}).",
                field="casNumber",
                index=index,
                entries=list(entries),
            )
        named = tables.by_entry[entries[0]]
    else:
        entry = substance.entry
        named_or_none = (
            tables.by_entry.get(entry)
            if isinstance(entry, int) and not isinstance(entry, bool)
            else None
        )
        if named_or_none is None:
            raise MajorHazardInputError(
                f"{entry!r} is not an entry of {SOURCE} Table 1 (1 to {len(tables.by_entry)}).",
                field="entry",
                index=index,
            )
        named = named_or_none
    return named.entry, named.name_zh, named.name_en, named.beta_basis


def _beta_override(tables: _Tables, substance: Substance, key: int | str, index: int) -> Fraction:
    if isinstance(key, str):
        raise MajorHazardInputError(
            "A substance named by category takes β from that category; "
            "give no separate β category.",
            field="betaCategory",
            index=index,
        )
    if tables.by_entry[key].beta_basis == "table3":
        raise MajorHazardInputError(
            f"{tables.by_entry[key].name_zh} is a toxic gas of {SOURCE} Table 3, whose β is fixed.",
            field="betaCategory",
            index=index,
        )
    code = str(substance.beta_category).strip().upper()
    if code not in tables.by_code:
        raise MajorHazardInputError(
            f"{substance.beta_category!r} is not a category of {SOURCE} Table 4.",
            field="betaCategory",
            index=index,
        )
    return tables.exact_beta[code]
