"""What a hazard report is about: the categories the public picks from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str


CATEGORIES: tuple[Category, ...] = (
    Category("major_accident_hazard", "重大事故隐患", "Major accident hazard"),
    Category("illegal_production", "非法违法生产经营", "Illegal production or business operation"),
    Category("occupational_hazard", "职业危害", "Occupational health hazard"),
    Category("fire_safety", "消防安全", "Fire safety"),
    Category("hazardous_chemicals", "危险化学品", "Hazardous chemicals"),
    Category("concealed_accident", "瞒报谎报事故", "Concealed or falsely reported accident"),
    Category("other", "其他", "Other"),
)
BY_CODE = {category.code: category for category in CATEGORIES}
