"""Treatment primitives: mask, pseudonymize, generalize, suppress.

Pure functions with no I/O; the audience pipelines pick one per classified field. Bad input
raises :class:`~backend.core.errors.BadInput` with a zh-CN/English message that never repeats
the value.

Masking (``mask_*``) keeps just enough to recognise a value and hides the rest with ``*``:

==================  ==============================  ===================================
function            example in                      example out
==================  ==============================  ===================================
mask_mobile         ``13812341234``                 ``138****1234``
mask_id_number      ``32010219900307123X``          ``3201**********123X``
mask_name           ``张三`` / ``欧阳娜娜`` / ``李``     ``张*`` / ``欧阳**`` / ``*``
mask_email          ``zhang@example.com``           ``z***@example.com``
mask_bank_card      ``6222 0212 3456 7890``         ``**** **** **** 7890``
mask_landline       ``010-62345678``                ``010-****5678``
mask_plate          ``京A12345`` / ``粤BD12345``     ``京A***45`` / ``粤B****45``
mask_credit_code    ``91110108MA01ABCD2X``          ``9111**********CD2X``
==================  ==============================  ===================================

Rules every mask function follows:

- It checks the *shape* of the value, not its checksum: a mistyped ID number stored in a
  record is still masked rather than echoed or turned into an error. A value of the wrong
  shape (or not a string) raises :class:`~backend.core.errors.BadInput`.
- Separators the writer used (``138-1234-1234``, ``6222 0212 3456 7890``, ``京A·12345``)
  are kept, so the masked value still reads like the original; every hidden character
  becomes exactly one ``*`` except in e-mail, where the local part always shows ``***`` so
  its length is hidden too. Bank cards show only the last four digits.
- Masking is idempotent: a value already in the masked form comes back unchanged.
- Surrounding whitespace is dropped and full-width digits and letters are read as ASCII.

Pseudonymization: :func:`pseudonymize` is HMAC-SHA256 under a caller-supplied key (a
per-tenant key makes pseudonyms stable within the tenant and unlinkable across tenants). It
is deliberately *not* idempotent: a pseudonym is an opaque value, and treating strings that
look like pseudonyms specially would let a crafted raw value pass through unkeyed.

Generalization: :func:`generalize_point` (grid-cell centre), :func:`generalize_to_hour`,
:func:`age_band`. Suppression: :func:`suppress_small_cells` (k-threshold with secondary
suppression when a total is published).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import unicodedata
from collections.abc import Hashable, Mapping
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import TypeVar

from backend.core.errors import BadInput
from privacy.identifiers import PLATE_PROVINCES, to_halfwidth

__all__ = [
    "COMPOUND_SURNAMES",
    "age_band",
    "generalize_point",
    "generalize_to_hour",
    "mask_bank_card",
    "mask_credit_code",
    "mask_email",
    "mask_id_number",
    "mask_landline",
    "mask_mobile",
    "mask_name",
    "mask_plate",
    "pseudonymize",
    "suppress_small_cells",
]

K = TypeVar("K", bound=Hashable)

STAR = "*"


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise BadInput(f"{what}须为字符串 / {what} must be a string, got {type(value).__name__}")
    return to_halfwidth(value).strip()


def _bad(what: str, value: str) -> BadInput:
    # The offending value is not echoed: it may be exactly the personal data being protected.
    return BadInput(f"{what}格式无效 / not a valid {what} (length {len(value)})")


# --- telephone numbers ---------------------------------------------------------------------

_MOBILE = re.compile(r"(1[3-9]\d)([- ]?)[\d*]{4}\2(\d{4})", re.ASCII)


def mask_mobile(value: str) -> str:
    """``13812341234`` → ``138****1234``; ``138-1234-1234`` → ``138-****-1234``."""
    text = _text(value, "手机号 mobile")
    match = _MOBILE.fullmatch(text)
    if match is None:
        raise _bad("手机号 mobile number", text)
    head, sep, tail = match.groups()
    return f"{head}{sep}****{sep}{tail}"


_LANDLINE_SPLIT = re.compile(
    r"(?P<area>\(0\d{2,3}\)|0\d{2,3})(?P<sep>[- ]?)(?P<local>[\d*]{7,8})(?P<ext>-\d{1,6})?",
    re.ASCII,
)
_LANDLINE_BARE = re.compile(r"(?P<number>0[\d*]{9,10}\d)(?P<ext>-\d{1,6})?", re.ASCII)


def mask_landline(value: str) -> str:
    """``010-62345678`` → ``010-****5678``: area code and the last four digits stay.

    Also ``(0571)7654321`` and ``01062345678``; an extension (``-8001``) is kept as written,
    as it identifies no one without the main number.
    """
    text = _text(value, "固定电话 landline")
    area = sep = local = ext = ""
    match = _LANDLINE_SPLIT.fullmatch(text)
    if match is not None and (match["sep"] or match["area"].startswith("(")):
        area, sep, local, ext = match["area"], match["sep"], match["local"], match["ext"] or ""
    elif (bare := _LANDLINE_BARE.fullmatch(text)) is not None:
        number, ext = bare["number"], bare["ext"] or ""
        split = 3 if number.startswith(("010", "02")) else 4
        area, local = number[:split], number[split:]
    else:
        raise _bad("固定电话 landline number", text)
    code = area.strip("()")
    if not code.isdigit():
        raise _bad("固定电话 landline number", text)
    three = code == "010" or (len(code) == 3 and code.startswith("02"))
    four = len(code) == 4 and code[1] in "3456789"
    if not ((three and len(local) == 8) or (four and len(local) in (7, 8))):
        raise _bad("固定电话 landline number", text)
    if not local[-4:].isdigit():
        raise _bad("固定电话 landline number", text)
    return f"{area}{sep}{STAR * (len(local) - 4)}{local[-4:]}{ext}"


# --- identity and account numbers ----------------------------------------------------------

_ID18 = re.compile(r"\d{4}[\d*]{13}[\dXx]", re.ASCII)
_ID15 = re.compile(r"\d{4}[\d*]{7}\d{4}", re.ASCII)


def mask_id_number(value: str) -> str:
    """``32010219900307123X`` → ``3201**********123X`` (first four and last four kept).

    Spaces a writer put in (``110105 19491231 002X``) stay where they are; the 15-digit
    first-generation number is masked the same way (``3201*******1234``).
    """
    text = _text(value, "身份证号 ID number")
    compact = text.replace(" ", "")
    if not (_ID18.fullmatch(compact) or _ID15.fullmatch(compact)) or "  " in text:
        raise _bad("身份证号 ID number", text)
    return _keep_ends(text, " ", 4, 4).upper()


def _keep_ends(text: str, separators: str, head: int, tail: int) -> str:
    """Every character but the first ``head`` and last ``tail`` non-separators becomes '*'."""
    total = sum(char not in separators for char in text)
    out = []
    seen = 0
    for char in text:
        if char in separators:
            out.append(char)
            continue
        out.append(char if seen < head or seen >= total - tail else STAR)
        seen += 1
    return "".join(out)


_CARD = re.compile(r"[\d*]+(?:[ -][\d*]+)*", re.ASCII)


def mask_bank_card(value: str) -> str:
    """Every digit but the last four becomes ``*``; grouping separators are kept.

    ``6222021234567890`` → ``************7890``; ``6222 0212 3456 7890`` →
    ``**** **** **** 7890``. The number of characters stays as written.
    """
    text = _text(value, "银行卡号 bank card")
    compact = text.replace(" ", "").replace("-", "")
    if not _CARD.fullmatch(text) or not 13 <= len(compact) <= 19 or not compact[-4:].isdigit():
        raise _bad("银行卡号 bank card number", text)
    return _keep_ends(text, " -", 0, 4)


_CC = "0-9A-HJ-NP-RTUW-Y"
_CREDIT = re.compile(rf"([{_CC}]{{4}})[{_CC}*]{{10}}([{_CC}]{{4}})", re.ASCII)


def mask_credit_code(value: str) -> str:
    """``91110108MA01ABCD2X`` → ``9111**********CD2X`` (first four and last four kept)."""
    text = _text(value, "统一社会信用代码 credit code").upper()
    match = _CREDIT.fullmatch(text)
    if match is None:
        raise _bad("统一社会信用代码 unified social credit code", text)
    return f"{match[1]}{STAR * 10}{match[2]}"


_PLATE = re.compile(
    rf"([{PLATE_PROVINCES}][A-Z])([·•・\- ]?)([A-HJ-NP-Z0-9*]{{3,4}})([A-HJ-NP-Z0-9]{{2}})",
    re.ASCII,
)


def mask_plate(value: str) -> str:
    """``京A12345`` → ``京A***45``; the province and authority letter and last two stay."""
    text = _text(value, "车牌号 plate").upper()
    match = _PLATE.fullmatch(text)
    if match is None:
        raise _bad("车牌号 licence plate", text)
    prefix, sep, middle, tail = match.groups()
    return f"{prefix}{sep}{STAR * len(middle)}{tail}"


# --- e-mail ----------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'+/=?^_`{|}~.-]{1,64}|[A-Za-z0-9!#$%&'+/=?^_`{|}~-]\*\*\*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})",
    re.ASCII,
)


def mask_email(value: str) -> str:
    """``zhang@example.com`` → ``z***@example.com``; the domain is kept."""
    text = _text(value, "邮箱 e-mail")
    match = _EMAIL.fullmatch(text)
    if match is None or len(text) > 254:
        raise _bad("邮箱 e-mail address", text)
    return f"{match['local'][0]}***@{match['domain']}"


# --- names -------------------------------------------------------------------------------------

# The common two-character surnames (复姓); a name starting with one keeps both characters.
_COMPOUND_SURNAME_TEXT = """
欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 司寇 轩辕 令狐 夏侯 端木
独孤 南宫 西门 东门 百里 呼延 万俟 闻人 澹台 公冶 太史 申屠 赫连 钟离 濮阳 淳于 单于 宗政
公羊 仲孙 拓跋 第五 东郭 梁丘 左丘 亓官 子车 颛孙 巫马 公西 漆雕 乐正 壤驷 公良 谷梁 宰父
夹谷 段干 羊舌 微生 鲜于 闾丘 仉督 乐羊 公门 归海 有琴 梁其 南门 呼衍
"""
COMPOUND_SURNAMES = frozenset(_COMPOUND_SURNAME_TEXT.split())
_NAME_SEPARATORS = frozenset("·•・.- '")


def mask_name(value: str) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧阳**``, ``李`` → ``*``.

    The surname stays (two characters for a compound surname when the name is longer than
    two); every other letter becomes ``*``, separators in names such as ``买买提·艾力`` stay.
    """
    text = unicodedata.normalize("NFC", _text(value, "姓名 name"))
    if not text or len(text) > 64:
        raise BadInput("姓名须为1–64个字符 / a name has 1–64 characters")
    for char in text:
        if (
            char != STAR
            and char not in _NAME_SEPARATORS
            and not unicodedata.category(char).startswith("L")
        ):
            raise _bad("姓名 name", text)
    if len(text) == 1:
        return STAR
    keep = 2 if len(text) > 2 and text[:2] in COMPOUND_SURNAMES else 1
    rest = "".join(c if c in _NAME_SEPARATORS else STAR for c in text[keep:])
    return text[:keep] + rest


# --- pseudonymization --------------------------------------------------------------------------

_PREFIX = re.compile(r"[A-Z][A-Z0-9]{0,7}", re.ASCII)
MIN_KEY_BYTES = 16


def pseudonymize(key: bytes, value: str, *, prefix: str = "P") -> str:
    """``P-`` followed by 12 base32 characters of HMAC-SHA256(key, prefix ‖ value).

    The value is NFC-normalised and stripped first, so the same person written two ways maps
    to one pseudonym. The prefix takes part in the MAC, so pseudonyms of different kinds
    (``W`` for workers, ``P`` for plain values) never coincide for the same input. Twelve
    base32 characters carry 60 bits: collisions are negligible below a billion values per key.
    """
    if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
        raise BadInput(f"假名化密钥至少{MIN_KEY_BYTES}字节 / the key needs {MIN_KEY_BYTES}+ bytes")
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise BadInput("假名前缀须为1–8位大写字母或数字 / prefix is 1–8 of [A-Z0-9], letter first")
    text = unicodedata.normalize("NFC", _text(value, "待假名化的值 value"))
    if not text:
        raise BadInput("待假名化的值为空 / nothing to pseudonymize")
    mac = hmac.new(bytes(key), f"{prefix}\x00{text}".encode(), hashlib.sha256).digest()
    return f"{prefix}-{base64.b32encode(mac).decode('ascii')[:12]}"


# --- generalization ----------------------------------------------------------------------------


def generalize_point(lat: float, lon: float, cell_deg: float = 0.01) -> tuple[float, float]:
    """The centre of the grid cell holding (lat, lon); cells are ``cell_deg`` on a side.

    ``cell_deg`` must divide one degree evenly (0.5, 0.1, 0.05, 0.01 …) so the grid is the
    same everywhere and the poles and the antimeridian fall on cell edges; 0.01° is about
    1.1 km of latitude. Points on the last edge (lat 90, lon 180) belong to the cell below.
    Decimal arithmetic keeps a centre inside its own cell, so generalizing twice is a no-op.
    """
    for name, number in (("lat", lat), ("lon", lon), ("cell_deg", cell_deg)):
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise BadInput(f"{name}须为数字 / {name} must be a number")
        if not math.isfinite(number):
            raise BadInput(f"{name}须为有限数 / {name} must be finite")
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise BadInput("坐标超出范围 / latitude must be in [-90, 90] and longitude in [-180, 180]")
    cell = Decimal(str(cell_deg))
    if not 0 < cell <= 1 or (1 / cell) % 1 != 0:
        raise BadInput("网格边长须整除1度 / cell_deg must divide one degree (0.1, 0.01, …)")

    def centre(coordinate: float, limit: int) -> float:
        index = (Decimal(str(coordinate)) / cell).to_integral_value(rounding=ROUND_FLOOR)
        index = min(index, limit / cell - 1)
        return float((index + Decimal("0.5")) * cell)

    return centre(lat, 90), centre(lon, 180)


def generalize_to_hour(moment: datetime) -> datetime:
    """``moment`` truncated to the start of its hour (time zone kept)."""
    if not isinstance(moment, datetime):
        raise BadInput("须为datetime / generalize_to_hour needs a datetime")
    return moment.replace(minute=0, second=0, microsecond=0)


_BAND = re.compile(r"(\d{1,3})(?:-(\d{1,3})|\+)", re.ASCII)


def age_band(
    value: int | date | str, *, width: int = 10, top: int = 80, today: date | None = None
) -> str:
    """``34`` or a birth date → ``'30-39'``; ages from ``top`` on → ``'80+'``.

    A band string of the same width is returned unchanged, so banding twice is a no-op.
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise BadInput("年龄段宽度须为正整数 / width must be a positive integer")
    if isinstance(top, bool) or not isinstance(top, int) or top < width or top % width:
        raise BadInput("最高年龄段须为宽度的整数倍 / top must be a multiple of width")
    if isinstance(value, str):
        match = _BAND.fullmatch(value.strip())
        if match is None:
            raise BadInput("年龄段格式无效 / an age band reads '30-39' or '80+'")
        low = int(match[1])
        if match[2] is None and low == top:
            return value.strip()
        high = None if match[2] is None else int(match[2])
        if high == low + width - 1 and low % width == 0 and low < top:
            return value.strip()
        raise BadInput("年龄段与宽度不符 / the band does not match this width and top")
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        today = today or date.today()
        if value > today:
            raise BadInput("出生日期在未来 / the birth date is in the future")
        age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
    elif isinstance(value, int) and not isinstance(value, bool):
        age = value
    else:
        raise BadInput("年龄须为整数或出生日期 / age must be an int or a birth date")
    if not 0 <= age <= 150:
        raise BadInput("年龄须在0–150之间 / age must be within 0–150")
    if age >= top:
        return f"{top}+"
    low = age - age % width
    return f"{low}-{low + width - 1}"


# --- suppression ---------------------------------------------------------------------------------


def suppress_small_cells(
    counts: Mapping[K, int | None], k: int = 5, *, total_published: bool = False
) -> dict[K, int | None]:
    """Counts below ``k`` (zero included) become ``None``.

    Zero is withheld too, so a group's absence and its small presence look alike. When a
    total is published next to the cells, one withheld cell could be recovered as total minus
    the rest (complementary disclosure); with ``total_published=True`` the smallest shown cells
    are withheld as well until at least two cells are withheld and the withheld cells add up to
    ``k`` or more. Cells already ``None`` count as withheld, so suppressing twice is a no-op.
    A published total below ``k`` is itself a small cell: publish totals only when they are not.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise BadInput("k须为正整数 / k must be a positive integer")
    if not isinstance(counts, Mapping):
        raise BadInput("counts须为映射 / counts must be a mapping")
    for key, count in counts.items():
        if count is None:
            continue
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise BadInput(f"计数须为非负整数 / count for {key!r} must be a non-negative int")
    out: dict[K, int | None] = {
        key: None if count is None or count < k else count for key, count in counts.items()
    }
    if not total_published:
        return out

    def withheld_known_sum() -> int:
        return sum(c for key, c in counts.items() if out[key] is None and c is not None)

    unknown = any(c is None for c in counts.values())
    while True:
        withheld = [key for key, c in out.items() if c is None]
        if not withheld:
            break
        enough = len(withheld) >= 2 and (unknown or withheld_known_sum() >= k)
        shown = [key for key, c in out.items() if c is not None]
        if enough or not shown:
            break
        smallest = min(shown, key=lambda key: out[key] or 0)
        out[smallest] = None
    return out
