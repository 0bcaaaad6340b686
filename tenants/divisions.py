"""GB/T 2260 administrative division codes and the jurisdiction hierarchy.

A code is six digits: province (``320000``), city (``320100``) or county (``320102``). A
jurisdiction covers every code that begins with its significant prefix, so a province covers
its cities and counties.
"""

from __future__ import annotations

import re

from backend.core.errors import BadInput

_CODE = re.compile(r"^[1-9]\d{5}$")
# First two digits of the provinces, autonomous regions, municipalities and SARs of GB/T 2260.
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


def validate_division(code: object) -> str:
    if not isinstance(code, str) or not _CODE.match(code):
        raise BadInput(f"division code must be six digits (GB/T 2260), got {code!r}")
    if code[:2] not in _PROVINCES:
        raise BadInput(f"division code {code} names no province of GB/T 2260")
    return code


def division_prefix(code: str) -> str:
    """The prefix every code inside this division shares: 320000 → 32, 320100 → 3201."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def covers(jurisdiction: str, code: str) -> bool:
    return code.startswith(division_prefix(jurisdiction))


def division_level(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"
