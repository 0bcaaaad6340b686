"""Treatment primitives: every mask format, pseudonyms, generalization, small-cell suppression."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.core.errors import BadInput
from privacy import masking
from privacy.masking import (
    age_band,
    generalize_point,
    generalize_to_hour,
    mask_bank_card,
    mask_credit_code,
    mask_email,
    mask_id_number,
    mask_landline,
    mask_mobile,
    mask_name,
    mask_plate,
    pseudonymize,
    suppress_small_cells,
)

MASKS: list[tuple[Callable[[str], str], str, str]] = [
    (mask_mobile, "13812341234", "138****1234"),
    (mask_mobile, "138-1234-1234", "138-****-1234"),
    (mask_mobile, "138 1234 1234", "138 **** 1234"),
    (mask_mobile, " 19912345678\n", "199****5678"),
    (mask_mobile, "１３８１２３４１２３４", "138****1234"),
    (mask_id_number, "32010219900307123X", "3201**********123X"),
    (mask_id_number, "32010219900307123x", "3201**********123X"),
    (mask_id_number, "110105194912310021", "1101**********0021"),  # bad checksum: still masked
    (mask_id_number, "110105 19491231 002X", "1101** ******** 002X"),
    (mask_id_number, "320102900307123", "3201*******7123"),
    (mask_name, "张三", "张*"),
    (mask_name, "王小明", "王**"),
    (mask_name, "欧阳娜娜", "欧阳**"),
    (mask_name, "司马光", "司马*"),
    (mask_name, "欧阳", "欧*"),
    (mask_name, "李", "*"),
    (mask_name, "买买提·艾力", "买**·**"),
    (mask_name, "John Smith", "J*** *****"),
    (mask_email, "zhang@example.com", "z***@example.com"),
    (mask_email, "a@b.cn", "a***@b.cn"),
    (mask_email, "13812341234@139.com", "1***@139.com"),
    (mask_email, "zhang.san+alarm@mail.example.com.cn", "z***@mail.example.com.cn"),
    (mask_bank_card, "6222021234567890", "************7890"),
    (mask_bank_card, "6222 0212 3456 7890", "**** **** **** 7890"),
    (mask_bank_card, "6222-0212-3456-7890-123", "****-****-****-***0-123"),
    (mask_bank_card, "4111111111111", "*********1111"),
    (mask_landline, "010-62345678", "010-****5678"),
    (mask_landline, "0571-7654321", "0571-***4321"),
    (mask_landline, "(0571)7654321", "(0571)***4321"),
    (mask_landline, "(010) 62345678", "(010) ****5678"),
    (mask_landline, "01062345678", "010****5678"),
    (mask_landline, "057187654321", "0571****4321"),
    (mask_landline, "010-62345678-8001", "010-****5678-8001"),
    (mask_plate, "京A12345", "京A***45"),
    (mask_plate, "京A·12345", "京A·***45"),
    (mask_plate, "藏T-57903", "藏T-***03"),
    (mask_plate, "粤BD12345", "粤B****45"),
    (mask_plate, "沪a12345", "沪A***45"),
    (mask_credit_code, "914403001922038216", "9144**********8216"),
    (mask_credit_code, "9144030071526726xg", "9144**********26XG"),
]


@pytest.mark.parametrize(("mask", "raw", "masked"), MASKS)
def test_mask_format(mask: Callable[[str], str], raw: str, masked: str) -> None:
    assert mask(raw) == masked


@pytest.mark.parametrize(("mask", "raw", "masked"), MASKS)
def test_masking_a_masked_value_changes_nothing(
    mask: Callable[[str], str], raw: str, masked: str
) -> None:
    assert mask(masked) == masked
    assert mask(mask(raw)) == mask(raw)


def test_bank_card_masks_keep_only_the_last_four_digits() -> None:
    for raw, _ in [(r, m) for f, r, m in MASKS if f is mask_bank_card]:
        masked = mask_bank_card(raw)
        assert [c for c in masked if c.isdigit()] == [c for c in raw if c.isdigit()][-4:]
        assert len(masked) == len(raw)


BAD: list[tuple[Callable[[str], str], object]] = [
    (mask_mobile, "12812341234"),  # no 12x mobile prefix
    (mask_mobile, "1381234123"),
    (mask_mobile, "138123412345"),
    (mask_mobile, "138-1234 1234"),  # mixed separators
    (mask_mobile, "****1234123"),
    (mask_mobile, ""),
    (mask_mobile, 13812341234),
    (mask_id_number, "3201021990030712"),
    (mask_id_number, "32010219900307123Y"),
    (mask_id_number, "X2010219900307123X"),
    (mask_id_number, "110105  19491231 002X"),
    (mask_name, ""),
    (mask_name, "   "),
    (mask_name, "张3"),
    (mask_name, "zhang@example.com"),
    (mask_name, "张" * 65),
    (mask_name, None),
    (mask_email, "zhang@"),
    (mask_email, "@example.com"),
    (mask_email, "zhang@example"),
    (mask_email, "zh ang@example.com"),
    (mask_email, "zhang@@example.com"),
    (mask_email, "zhang@-example.com"),
    (mask_email, "**@example.com"),
    (mask_bank_card, "622202123456"),  # 12 digits
    (mask_bank_card, "62220212345678901234"),  # 20 digits
    (mask_bank_card, "6222021234567***"),
    (mask_bank_card, "6222_0212_3456_7890"),
    (mask_landline, "010-1234567"),  # Beijing numbers have 8 digits
    (mask_landline, "0571-123456"),
    (mask_landline, "0171-7654321"),  # no area code starts 01 but 010
    (mask_landline, "13812341234"),
    (mask_plate, "A京12345"),
    (mask_plate, "京A1234"),
    (mask_plate, "港A12345"),
    (mask_plate, "京A1234567"),
    (mask_credit_code, "91440300192203821"),
    (mask_credit_code, "9144030019220382I6"),  # I is not in the GB 32100 character set
    (mask_credit_code, "91440300192203821OS"),
]


@pytest.mark.parametrize(("mask", "value"), BAD)
def test_bad_input_is_refused_without_echoing_it(mask: Callable[[str], str], value: object) -> None:
    with pytest.raises(BadInput) as caught:
        mask(value)  # type: ignore[arg-type]
    assert caught.value.message
    if isinstance(value, str) and len(value) > 3:
        assert value not in caught.value.message


def test_compound_surnames_include_the_common_ones() -> None:
    assert {"欧阳", "司马", "诸葛", "上官", "慕容", "皇甫", "令狐"} <= masking.COMPOUND_SURNAMES
    assert all(len(surname) == 2 for surname in masking.COMPOUND_SURNAMES)


# --- pseudonyms ----------------------------------------------------------------------------------

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


def test_pseudonym_shape_and_stability() -> None:
    first = pseudonymize(KEY_A, "张三")
    assert first == pseudonymize(KEY_A, "  张三 ")
    assert first.startswith("P-") and len(first) == 14
    assert set(first[2:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert pseudonymize(KEY_A, "张三", prefix="W").startswith("W-")


def test_pseudonyms_differ_across_keys_values_and_prefixes() -> None:
    assert pseudonymize(KEY_A, "张三") != pseudonymize(KEY_B, "张三")
    assert pseudonymize(KEY_A, "张三") != pseudonymize(KEY_A, "李四")
    assert pseudonymize(KEY_A, "张三")[2:] != pseudonymize(KEY_A, "张三", prefix="W")[2:]


def test_pseudonyms_do_not_collide_on_many_values() -> None:
    values = [f"1{n:010d}" for n in range(20_000)]
    assert len({pseudonymize(KEY_A, v) for v in values}) == len(values)


def test_pseudonym_is_nfc_normalised() -> None:
    composed, decomposed = "Zoë", "Zoe\u0308"
    assert pseudonymize(KEY_A, composed) == pseudonymize(KEY_A, decomposed)


@pytest.mark.parametrize(
    ("key", "value", "prefix"),
    [
        (b"short", "张三", "P"),
        ("a string key of enough length", "张三", "P"),
        (KEY_A, "", "P"),
        (KEY_A, "   ", "P"),
        (KEY_A, 42, "P"),
        (KEY_A, "张三", "p"),
        (KEY_A, "张三", "TOOLONGPREFIX"),
        (KEY_A, "张三", "P-"),
    ],
)
def test_pseudonymize_refuses_bad_input(key: object, value: object, prefix: str) -> None:
    with pytest.raises(BadInput):
        pseudonymize(key, value, prefix=prefix)  # type: ignore[arg-type]


# --- generalization -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lon", "cell", "centre"),
    [
        (31.23456, 121.47123, 0.01, (31.235, 121.475)),
        (31.23, 121.47, 0.01, (31.235, 121.475)),  # on the lower edge: this cell
        (-0.005, -179.999, 0.01, (-0.005, -179.995)),
        (-33.86785, 151.20732, 0.1, (-33.85, 151.25)),
        (90, 180, 0.01, (89.995, 179.995)),
        (-90, -180, 0.5, (-89.75, -179.75)),
        (39.9, 116.4, 1, (39.5, 116.5)),
    ],
)
def test_generalize_point(lat: float, lon: float, cell: float, centre: tuple[float, float]) -> None:
    assert generalize_point(lat, lon, cell) == pytest.approx(centre, abs=1e-12)


@given(
    st.floats(-90, 90, allow_nan=False),
    st.floats(-180, 180, allow_nan=False),
    st.sampled_from([1, 0.5, 0.25, 0.1, 0.05, 0.01, 0.001]),
)
def test_generalized_point_is_its_cell_centre_and_stable(
    lat: float, lon: float, cell: float
) -> None:
    g_lat, g_lon = generalize_point(lat, lon, cell)
    assert abs(g_lat - lat) <= cell / 2 + 1e-9 and abs(g_lon - lon) <= cell / 2 + 1e-9
    assert -90 < g_lat < 90 and -180 < g_lon < 180
    assert generalize_point(g_lat, g_lon, cell) == (g_lat, g_lon)


@pytest.mark.parametrize(
    ("lat", "lon", "cell"),
    [
        (91, 0, 0.01),
        (0, -180.5, 0.01),
        (float("nan"), 0, 0.01),
        (0, float("inf"), 0.01),
        (0, 0, 0),
        (0, 0, 0.03),  # does not divide a degree
        (0, 0, 2),
        (True, 0, 0.01),
        ("31.2", 121.4, 0.01),
    ],
)
def test_generalize_point_refuses_bad_input(lat: object, lon: object, cell: object) -> None:
    with pytest.raises(BadInput):
        generalize_point(lat, lon, cell)  # type: ignore[arg-type]


def test_generalize_to_hour_keeps_the_zone_and_is_idempotent() -> None:
    cst = timezone(timedelta(hours=8))
    moment = datetime(2024, 11, 28, 9, 30, 15, 123456, tzinfo=cst)
    hour = generalize_to_hour(moment)
    assert hour == datetime(2024, 11, 28, 9, tzinfo=cst)
    assert generalize_to_hour(hour) == hour
    assert generalize_to_hour(datetime(2024, 1, 1, 23, 59, 59)) == datetime(2024, 1, 1, 23)
    with pytest.raises(BadInput):
        generalize_to_hour(date(2024, 11, 28))  # type: ignore[arg-type]
    with pytest.raises(BadInput):
        generalize_to_hour("2024-11-28T09:30:15")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "kwargs", "band"),
    [
        (0, {}, "0-9"),
        (34, {}, "30-39"),
        (39, {}, "30-39"),
        (79, {}, "70-79"),
        (80, {}, "80+"),
        (150, {}, "80+"),
        (34, {"width": 5}, "30-34"),
        (67, {"width": 5, "top": 65}, "65+"),
        (date(1990, 3, 1), {"today": date(2024, 2, 29)}, "30-39"),  # 33, birthday not yet
        (date(1984, 2, 29), {"today": date(2024, 2, 28)}, "30-39"),  # Feb 29 birthday: still 39
        (date(1984, 2, 29), {"today": date(2024, 2, 29)}, "40-49"),
        (datetime(2000, 1, 1, tzinfo=UTC), {"today": date(2024, 6, 1)}, "20-29"),
        ("30-39", {}, "30-39"),
        ("80+", {}, "80+"),
    ],
)
def test_age_band(value: int | date | str, kwargs: dict[str, object], band: str) -> None:
    assert age_band(value, **kwargs) == band  # type: ignore[arg-type]
    assert age_band(age_band(value, **kwargs), **kwargs) == band  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "kwargs"),
    [
        (-1, {}),
        (151, {}),
        (True, {}),
        (34.5, {}),
        (date(2030, 1, 1), {"today": date(2024, 1, 1)}),
        ("30-35", {}),
        ("30-39", {"width": 5}),
        ("90+", {}),
        ("thirty", {}),
        (34, {"width": 0}),
        (34, {"top": 75}),
    ],
)
def test_age_band_refuses_bad_input(value: object, kwargs: dict[str, object]) -> None:
    with pytest.raises(BadInput):
        age_band(value, **kwargs)  # type: ignore[arg-type]


# --- small-cell suppression -----------------------------------------------------------------


def test_counts_below_k_are_withheld() -> None:
    counts = {"北区": 12, "南区": 4, "东区": 0, "西区": 5}
    assert suppress_small_cells(counts) == {"北区": 12, "南区": None, "东区": None, "西区": 5}
    assert suppress_small_cells(counts, k=13) == dict.fromkeys(counts)
    assert suppress_small_cells({}) == {}


def test_with_a_published_total_a_lone_small_cell_takes_another_with_it() -> None:
    counts = {"a": 3, "b": 10, "c": 7, "d": 40}
    out = suppress_small_cells(counts, total_published=True)
    # total 60 minus the shown 10 and 40 leaves 10 for two cells: neither is recoverable.
    assert out == {"a": None, "b": 10, "c": None, "d": 40}


def test_withheld_cells_must_add_up_to_k_when_a_total_is_published() -> None:
    out = suppress_small_cells({"a": 1, "b": 1, "c": 7, "d": 20}, total_published=True)
    assert out == {"a": None, "b": None, "c": None, "d": 20}
    assert suppress_small_cells({"a": 2}, total_published=True) == {"a": None}


@given(
    st.dictionaries(st.text(max_size=3), st.integers(0, 30), max_size=8),
    st.integers(1, 10),
    st.booleans(),
)
def test_suppression_properties(counts: dict[str, int], k: int, total: bool) -> None:
    out = suppress_small_cells(counts, k, total_published=total)
    assert out.keys() == counts.keys()
    assert all(out[key] is None for key, count in counts.items() if count < k)
    assert all(out[key] in (None, count) for key, count in counts.items())
    assert suppress_small_cells(out, k, total_published=total) == out
    withheld = [counts[key] for key, value in out.items() if value is None]
    if total and withheld and len(withheld) < len(counts):
        assert len(withheld) >= 2 and sum(withheld) >= k


@pytest.mark.parametrize(
    ("counts", "k"),
    [({"a": -1}, 5), ({"a": 2.5}, 5), ({"a": True}, 5), ({"a": 3}, 0), ([("a", 3)], 5)],
)
def test_suppression_refuses_bad_input(counts: object, k: int) -> None:
    with pytest.raises(BadInput):
        suppress_small_cells(counts, k)  # type: ignore[arg-type]


def test_random_names_mask_to_surname_and_stars() -> None:
    rng = random.Random(5)
    given_chars = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超"
    for _ in range(200):
        surname = rng.choice(["张", "王", "李", "欧阳", "司马", "诸葛"])
        name = surname + "".join(rng.choice(given_chars) for _ in range(rng.randint(1, 2)))
        masked = mask_name(name)
        assert masked.startswith(surname) and len(masked) == len(name)
        assert set(masked[len(surname) :]) == {"*"}
