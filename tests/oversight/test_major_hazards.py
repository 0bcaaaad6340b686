"""GB 18218-2018 identification and grading: the standard's formulas on worked units, its
tables' shape, and refusals of what the standard cannot be applied to."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from backend.core.errors import BadInput
from backend.oversight.major_hazards import (
    MajorHazardInputError,
    Substance,
    alpha_for,
    assess,
    categories,
    grade_for,
    named_substances,
)

CHLORINE = "7782-50-5"
AMMONIA = "7664-41-7"
METHANOL = "67-56-1"
HYDROGEN = "1333-74-0"
BENZENE = "71-43-2"


def cas_check_digit_ok(cas: str) -> bool:
    head, middle, check = cas.split("-")
    digits = (head + middle)[::-1]
    return sum(i * int(d) for i, d in enumerate(digits, start=1)) % 10 == int(check)


def test_chlorine_worked_example() -> None:
    result = assess([Substance(quantity_tonnes=10, cas_number=CHLORINE)], people_within_500m=60)

    (line,) = result.lines
    assert (line.name_zh, line.entry, line.critical_quantity_tonnes) == ("氯", 12, 5)
    assert (line.beta, line.beta_basis, line.q_over_Q) == (4, "table3", 2)
    assert result.sum_q_over_Q == 2
    assert result.alpha == 1.5
    assert result.r_value == 12  # 1.5 · 4 · 10/5
    assert result.is_major_hazard
    assert result.grade == 3
    assert result.grade_roman == "III"


def test_below_the_critical_quantities_is_not_a_major_hazard() -> None:
    result = assess(
        [
            Substance(quantity_tonnes=2, cas_number=CHLORINE),  # 0.4
            Substance(quantity_tonnes=250, cas_number=METHANOL),  # 0.5
        ],
        people_within_500m=500,
    )

    assert result.sum_q_over_Q == pytest.approx(0.9)
    assert not result.is_major_hazard
    assert result.grade is None
    assert result.r_value == pytest.approx(2 * (4 * 0.4 + 1 * 0.5))


def test_several_substances_are_summed_each_with_its_own_beta() -> None:
    result = assess(
        [
            Substance(quantity_tonnes=5, cas_number=AMMONIA),  # Q 10, β 2 (Table 3)
            Substance(quantity_tonnes=1000, cas_number=METHANOL),  # Q 500, β 1 (W5.3)
            Substance(quantity_tonnes=4, category="W5.1"),  # Q 10, β 1.5
        ],
        people_within_500m=120,
    )

    assert [(line.critical_quantity_tonnes, line.beta) for line in result.lines] == [
        (10, 2),
        (500, 1),
        (10, 1.5),
    ]
    assert [line.q_over_Q for line in result.lines] == [0.5, 2, 0.4]
    assert result.sum_q_over_Q == pytest.approx(2.9)
    assert result.alpha == 2
    assert result.r_value == pytest.approx(2 * (2 * 0.5 + 1 * 2 + 1.5 * 0.4))  # 7.2
    assert result.grade == 4
    assert result.lines[2].category == "W5.1"
    assert result.lines[2].name_zh == "易燃液体"


def test_a_sum_of_exactly_one_is_a_major_hazard() -> None:
    # 0.7 + 0.2 + 0.1 is 0.9999999999999999 in floating point; the standard's "≥ 1" must still hold.
    result = assess(
        [
            Substance(quantity_tonnes=0.7, category="W1.1"),  # 0.7/1 = 0.7
            Substance(quantity_tonnes=10, cas_number=BENZENE),  # 10/50 = 0.2
            Substance(quantity_tonnes=0.5, cas_number=HYDROGEN),  # 0.5/5 = 0.1
        ],
        people_within_500m=0,
    )

    assert result.is_major_hazard
    assert result.sum_q_over_Q == 1


def test_flammable_gases_and_explosives_take_their_table_4_beta() -> None:
    hydrogen = assess([Substance(quantity_tonnes=10, cas_number=HYDROGEN)], 0).lines[0]
    tnt = assess([Substance(quantity_tonnes=10, cas_number="118-96-7")], 0).lines[0]

    assert (hydrogen.beta, hydrogen.beta_basis) == (1.5, "table4")
    assert tnt.beta == 2


def test_process_conditions_can_name_another_beta_category() -> None:
    # Benzene kept above its boiling point is W5.1: β 1.5 instead of 1; its Q stays Table 1's.
    result = assess(
        [Substance(quantity_tonnes=100, cas_number=BENZENE, beta_category="w5.1")],
        people_within_500m=10,
    )

    (line,) = result.lines
    assert (line.critical_quantity_tonnes, line.beta) == (50, 1.5)
    assert result.r_value == 3


def test_entries_without_a_unique_cas_are_named_by_entry() -> None:
    gas = assess([Substance(quantity_tonnes=40, entry=13)], 0).lines[0]  # 煤气, no CAS
    wet = assess([Substance(quantity_tonnes=25, entry=41)], 0).lines[0]  # 硝化纤维素(含水≥25%)

    assert (gas.name_zh.startswith("煤气"), gas.critical_quantity_tonnes, gas.q_over_Q) == (
        True,
        20,
        2,
    )
    assert (wet.critical_quantity_tonnes, wet.q_over_Q) == (50, 0.5)


@pytest.mark.parametrize(
    ("people", "alpha"),
    [(0, 0.5), (1, 1.0), (29, 1.0), (30, 1.2), (49, 1.2), (50, 1.5), (99, 1.5), (100, 2.0)],
)
def test_alpha_bands(people: int, alpha: float) -> None:
    assert alpha_for(people) == alpha


@pytest.mark.parametrize(
    ("r_value", "grade"),
    [(9.99, 4), (10, 3), (49.99, 3), (50, 2), (99.99, 2), (100, 1), (1000, 1)],
)
def test_grade_bounds_are_half_open(r_value: float, grade: int) -> None:
    assert grade_for(r_value) == grade


@pytest.mark.parametrize(
    ("methanol_tonnes", "grade"),
    [(4999, 4), (5000, 3), (24999, 3), (25000, 2), (49999, 2), (50000, 1)],
)
def test_grade_of_an_assessed_unit_at_each_bound(methanol_tonnes: int, grade: int) -> None:
    # Methanol: Q 500 t, β 1; 1–29 people: α 1, so R = tonnes / 500.
    result = assess([Substance(quantity_tonnes=methanol_tonnes, cas_number=METHANOL)], 5)

    assert result.r_value == methanol_tonnes / 500
    assert result.grade == grade


@pytest.mark.parametrize(
    ("substance", "field"),
    [
        (Substance(quantity_tonnes=1, cas_number="50-00-1"), "casNumber"),
        (Substance(quantity_tonnes=1, cas_number="7732-18-5"), "casNumber"),  # water
        (Substance(quantity_tonnes=1, cas_number="9004-70-0"), "casNumber"),  # six entries
        (Substance(quantity_tonnes=1, category="W12"), "category"),
        (Substance(quantity_tonnes=1, entry=86), "entry"),
        (Substance(quantity_tonnes=1, entry=0), "entry"),
        (Substance(quantity_tonnes=0, cas_number=CHLORINE), "quantityTonnes"),
        (Substance(quantity_tonnes=-1, cas_number=CHLORINE), "quantityTonnes"),
        (Substance(quantity_tonnes=math.nan, cas_number=CHLORINE), "quantityTonnes"),
        (Substance(quantity_tonnes=math.inf, cas_number=CHLORINE), "quantityTonnes"),
        (Substance(quantity_tonnes=Decimal("NaN"), cas_number=CHLORINE), "quantityTonnes"),  # type: ignore[arg-type]
        (Substance(quantity_tonnes="5", cas_number=CHLORINE), "quantityTonnes"),  # type: ignore[arg-type]
        (Substance(quantity_tonnes=1, cas_number=CHLORINE, beta_category="W2"), "betaCategory"),
        (Substance(quantity_tonnes=1, category="W2", beta_category="W5.1"), "betaCategory"),
        (Substance(quantity_tonnes=1, cas_number=BENZENE, beta_category="X9"), "betaCategory"),
    ],
)
def test_refusals_name_the_field(substance: Substance, field: str) -> None:
    with pytest.raises(MajorHazardInputError) as refused:
        assess([Substance(quantity_tonnes=1, cas_number=AMMONIA), substance], 10)

    assert refused.value.details["field"] == field
    assert refused.value.details["index"] == 1
    assert isinstance(refused.value, BadInput)
    assert refused.value.code == "BAD_USER_INPUT"


def test_an_ambiguous_cas_lists_the_entries_to_choose_from() -> None:
    with pytest.raises(MajorHazardInputError, match="6484-52-2") as refused:
        assess([Substance(quantity_tonnes=1, cas_number="6484-52-2")], 0)

    assert refused.value.details["entries"] == [43, 44]


@pytest.mark.parametrize(
    "substance",
    [
        Substance(quantity_tonnes=1),
        Substance(quantity_tonnes=1, cas_number=CHLORINE, category="J1"),
        Substance(quantity_tonnes=1, cas_number=CHLORINE, entry=12),
    ],
)
def test_a_substance_is_named_exactly_once(substance: Substance) -> None:
    with pytest.raises(MajorHazardInputError, match="exactly one"):
        assess([substance], 0)


@pytest.mark.parametrize("people", [-1, 2.5, True])
def test_the_head_count_is_a_non_negative_whole_number(people: int) -> None:
    with pytest.raises(MajorHazardInputError) as refused:
        assess([Substance(quantity_tonnes=1, cas_number=CHLORINE)], people)

    assert refused.value.details["field"] == "peopleWithin500m"


def test_an_empty_unit_is_refused() -> None:
    with pytest.raises(MajorHazardInputError, match="at least one"):
        assess([], 0)


def test_table_1_has_the_standards_85_entries_in_order() -> None:
    table = named_substances()

    assert [row.entry for row in table] == list(range(1, 86))
    assert all(row.critical_quantity_tonnes > 0 and row.beta >= 1 for row in table)
    assert all(row.name_zh and row.name_en for row in table)
    by_entry = {row.entry: row for row in table}
    assert (by_entry[6].name_zh, by_entry[6].critical_quantity_tonnes) == ("碳酰氯", 0.3)
    assert (by_entry[52].critical_quantity_tonnes, by_entry[66].critical_quantity_tonnes) == (
        50,
        200,
    )


def test_table_1_cas_numbers_pass_their_check_digit_and_are_shared_only_by_grades() -> None:
    owners: dict[str, list[int]] = {}
    for row in named_substances():
        for cas in row.cas_numbers:
            assert cas_check_digit_ok(cas), (row.entry, cas)
            owners.setdefault(cas, []).append(row.entry)

    shared = {cas: entries for cas, entries in owners.items() if len(entries) > 1}
    # Nitrocellulose and ammonium nitrate are listed in several grades, one CAS each.
    assert shared == {"9004-70-0": [37, 38, 39, 40, 41, 42], "6484-52-2": [43, 44]}
    assert [row.entry for row in named_substances() if not row.cas_numbers] == [13, 45, 74]


def test_table_3_gases_carry_their_beta() -> None:
    betas = {row.name_zh: row.beta for row in named_substances() if row.beta_basis == "table3"}

    assert betas == {
        "氨": 2,
        "二氧化氮": 10,
        "二氧化硫": 2,
        "碳酰氯": 20,
        "环氧乙烷": 2,
        "磷化氢": 20,
        "硫化氢": 5,
        "氯化氢(无水)": 3,
        "氯": 4,
        "溴甲烷": 3,
        "氟化氢": 5,
        "氰化氢": 10,
        "异氰酸甲酯": 20,
    }


def test_table_2_categories_with_their_table_4_beta() -> None:
    table = {row.code: (row.critical_quantity_tonnes, row.beta) for row in categories()}

    assert table == {
        "J1": (5, 4),
        "J2": (50, 1),
        "J3": (50, 2),
        "J4": (50, 2),
        "J5": (500, 1),
        "W1.1": (1, 2),
        "W1.2": (10, 2),
        "W1.3": (50, 2),
        "W2": (10, 1.5),
        "W3": (150, 1),
        "W4": (50, 1),
        "W5.1": (10, 1.5),
        "W5.2": (50, 1),
        "W5.3": (1000, 1),
        "W5.4": (5000, 1),
        "W6.1": (10, 1.5),
        "W6.2": (50, 1),
        "W7.1": (10, 1.5),
        "W7.2": (50, 1),
        "W8": (50, 1),
        "W9.1": (50, 1),
        "W9.2": (200, 1),
        "W10": (200, 1),
        "W11": (200, 1),
    }
    assert all(row.hazard_zh and row.description_zh and row.description_en for row in categories())
    codes = {row.code for row in categories()}
    assert {row.beta_class for row in named_substances() if row.beta_class} <= codes
