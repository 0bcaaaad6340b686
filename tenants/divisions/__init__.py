"""GB/T 2260 administrative division codes and the jurisdiction hierarchy.

A code is six digits: province (``320000``), prefecture (``320100``) or county (``320102``).
Only codes of the dataset in ``gb2260.csv`` exist (see ``PROVENANCE.md`` beside it): a code of
the right shape that names no division (``320199``) is refused like a malformed one. The file
is read once, on first use.

A jurisdiction covers every code that begins with its significant prefix, so a province covers
its prefectures and counties. The four municipalities (北京 ``110000`` …) have no prefecture
in the data: their districts are children of the municipality itself.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Literal

from backend.core.errors import BadInput

_CODE = re.compile(r"^[1-9]\d{5}$")

Level = Literal["province", "city", "county"]


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: Level
    parent_code: str | None


@dataclass(frozen=True)
class _Table:
    by_code: dict[str, Division]
    children: dict[str | None, tuple[Division, ...]]


def _level(code: str, parent: str | None) -> Level:
    if parent is None:
        return "province"
    return "city" if code.endswith("00") else "county"


@cache
def _table() -> _Table:
    text = files(__name__).joinpath("gb2260.csv").read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    next(reader)  # code,name,parent
    by_code: dict[str, Division] = {}
    kids: dict[str | None, list[Division]] = {}
    for code, name, parent in reader:
        division = Division(code, name, _level(code, parent or None), parent or None)
        by_code[code] = division
        kids.setdefault(division.parent_code, []).append(division)
    return _Table(by_code, {k: tuple(v) for k, v in kids.items()})


# English names of the provincial-level divisions (the dataset names divisions in Chinese
# only; prefectures and counties have no English name here).
_PROVINCES_EN = {
    "110000": "Beijing",
    "120000": "Tianjin",
    "130000": "Hebei",
    "140000": "Shanxi",
    "150000": "Inner Mongolia",
    "210000": "Liaoning",
    "220000": "Jilin",
    "230000": "Heilongjiang",
    "310000": "Shanghai",
    "320000": "Jiangsu",
    "330000": "Zhejiang",
    "340000": "Anhui",
    "350000": "Fujian",
    "360000": "Jiangxi",
    "370000": "Shandong",
    "410000": "Henan",
    "420000": "Hubei",
    "430000": "Hunan",
    "440000": "Guangdong",
    "450000": "Guangxi",
    "460000": "Hainan",
    "500000": "Chongqing",
    "510000": "Sichuan",
    "520000": "Guizhou",
    "530000": "Yunnan",
    "540000": "Tibet",
    "610000": "Shaanxi",
    "620000": "Gansu",
    "630000": "Qinghai",
    "640000": "Ningxia",
    "650000": "Xinjiang",
    "710000": "Taiwan",
    "810000": "Hong Kong",
    "820000": "Macao",
}


def english_name(code: str) -> str | None:
    """The English name of a provincial-level division; None for the others."""
    return _PROVINCES_EN.get(code)


def is_valid(code: object) -> bool:
    """Whether ``code`` is a division of the dataset."""
    return isinstance(code, str) and code in _table().by_code


def validate_division(code: object) -> str:
    """``code`` if it names a division; ``BadInput`` otherwise."""
    if not isinstance(code, str) or not _CODE.match(code):
        raise BadInput(f"division code must be six digits (GB/T 2260), got {code!r}")
    if code not in _table().by_code:
        raise BadInput(f"division code {code} names no division of GB/T 2260")
    return code


def division(code: str) -> Division:
    """The division ``code`` names; ``BadInput`` for a code that names none."""
    return _table().by_code[validate_division(code)]


def provinces() -> tuple[Division, ...]:
    """Provinces, autonomous regions, municipalities and SARs, by code."""
    return _table().children.get(None, ())


def children(code: str) -> tuple[Division, ...]:
    """The divisions directly inside ``code``, by code (a county has none)."""
    return _table().children.get(validate_division(code), ())


def ancestors(code: str) -> tuple[Division, ...]:
    """The divisions ``code`` lies in, its province first (a province has none)."""
    table = _table()
    chain: list[Division] = []
    parent = division(code).parent_code
    while parent is not None:
        above = table.by_code[parent]
        chain.append(above)
        parent = above.parent_code
    return tuple(reversed(chain))


def division_prefix(code: str) -> str:
    """The prefix every code inside this division shares: 320000 → 32, 320100 → 3201."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def covers(jurisdiction: str, code: str) -> bool:
    return code.startswith(division_prefix(jurisdiction))


def division_level(code: str) -> Level:
    return division(code).level
