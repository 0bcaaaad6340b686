"""Validators for the Chinese identifiers that free text and records carry.

Each ``is_*`` function takes one candidate string in its compact form (no separators, ASCII;
callers strip grouping spaces or hyphens first, and :func:`to_halfwidth` turns full-width
digits and letters into ASCII without moving any offset) and answers yes or no; none raises
on a malformed candidate, because rejecting candidates is their job. The check-character
functions raise :class:`~backend.core.errors.BadInput` when their payload has the wrong shape.

- Resident ID number (居民身份证号码), GB 11643-1999: 6-digit region code (first digit 1–8),
  8-digit birth date (a real date, after 1900-01-01, not in the future), 3-digit sequence and
  a MOD 11-2 check character (``0``–``9`` or ``X``). The 15-digit first-generation number is
  not accepted: it carries no check digit to validate.
- Bank card number: 13–19 digits passing Luhn (ISO/IEC 7812). Unless ``check_issuer=False``
  the issuer prefix must also fit the length: 14 digits Diners (30, 36, 38); 15 Amex (34,
  37); 16 Visa, Mastercard (51–55, 2221–2720), JCB (35), UnionPay and Discover (6); 17–18
  UnionPay (62); 19 Visa or UnionPay (4, 62). Thirteen-digit Visa numbers (no longer
  issued) and legacy domestic numbers starting with 9 are then refused: a deliberate trade
  of a little recall for far fewer hits on order and waybill numbers, timestamps and IMEIs
  (15 digits, Luhn-valid, usually starting 35 or 86).
- Unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters from the
  31-character set without I, O, Z, S, V; registration authority, category, 6-digit division
  code, the 9-character organisation code (GB 11714, with its own check character) and a
  MOD 31 check character. ``strict=True`` also verifies the embedded GB 11714 check character.
- Mainland mobile number: 11 digits, ``1[3-9]``.
- Landline: area code ``010``/``02x`` (with an 8-digit local number) or ``0[3-9]xx`` (7 or 8
  digits); local numbers start with 2–9.
- Licence plate (GA 36): province abbreviation, issuing-authority letter, then five
  characters (letters except I and O, at most three of them) or six for new-energy vehicles
  (``D``/``F``… first followed by digits, or five digits and a final ``D``/``F``).
- E-mail address: a pragmatic subset of RFC 5321 (dot-atom local part up to 64 characters,
  LDH domain labels, alphabetic TLD).
"""

from __future__ import annotations

import re
from datetime import date

from backend.core.errors import BadInput

__all__ = [
    "CREDIT_CODE_CHARSET",
    "PLATE_PROVINCES",
    "credit_code_check_char",
    "id_birth_date",
    "id_check_char",
    "is_bank_card",
    "is_credit_code",
    "is_email",
    "is_landline",
    "is_mobile",
    "is_plate",
    "is_resident_id",
    "luhn_check_digit",
    "luhn_ok",
    "org_code_check_char",
    "to_halfwidth",
]

# Full-width ASCII (U+FF01–U+FF5E) and the ideographic space map one to one onto ASCII, so
# text normalised this way keeps every character offset: spans found in the normalised copy
# address the original. NFKC is not used because it may change the length (① → 1, ㈠ → (一)).
_HALFWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def to_halfwidth(text: str) -> str:
    """``text`` with full-width ASCII forms replaced by ASCII, offsets unchanged."""
    return text.translate(_HALFWIDTH)


# --- resident ID number (GB 11643-1999) ---------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"  # indexed by (weighted sum mod 11)
_ID_SHAPE = re.compile(r"[1-8]\d{16}[\dX]", re.ASCII)
_EARLIEST_BIRTH = date(1900, 1, 1)


def id_check_char(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits of a resident ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise BadInput("身份证号前17位须为数字 / the ID payload must be 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def id_birth_date(value: str) -> date:
    """The birth date embedded in an 18-character ID number (positions 7–14)."""
    if len(value) != 18 or not value[6:14].isascii() or not value[6:14].isdigit():
        raise BadInput("身份证号格式错误 / an ID number has 18 characters with a date at 7–14")
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise BadInput(f"身份证号出生日期无效 / invalid birth date in ID number: {exc}") from exc


def is_resident_id(value: str, *, today: date | None = None) -> bool:
    """True for a GB 11643-1999 number: shape, birth date and check character all valid.

    A lowercase ``x`` check character is accepted, as people type it that way.
    """
    value = value[:17] + value[17:].upper()
    if not _ID_SHAPE.fullmatch(value):
        return False
    try:
        born = id_birth_date(value)
    except BadInput:
        return False
    if not _EARLIEST_BIRTH <= born <= (today or date.today()):
        return False
    return id_check_char(value[:17]) == value[17]


# --- bank cards (Luhn) ---------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of ASCII digits."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass Luhn."""
    if not payload or not payload.isascii() or not payload.isdigit():
        raise BadInput("卡号须为数字 / a card payload must be ASCII digits")
    for d in "0123456789":
        if luhn_ok(payload + d):
            return d
    raise AssertionError("unreachable: one of ten digits always completes a Luhn sum")


def _issuer_plausible(number: str) -> bool:
    length, first, two = len(number), number[0], number[:2]
    if length == 14:
        return two in ("30", "36", "38")
    if length == 15:
        return two in ("34", "37")
    if length == 16:
        return first in "3456" or 2221 <= int(number[:4]) <= 2720
    if length in (17, 18):
        return two == "62"
    return length == 19 and (first == "4" or two == "62")


def is_bank_card(value: str, *, check_issuer: bool = True) -> bool:
    """True for 13–19 digits passing Luhn with (by default) an issuer prefix fitting the length."""
    if not 13 <= len(value) <= 19 or not luhn_ok(value):
        return False
    return not check_issuer or _issuer_plausible(value)


# --- unified social credit code (GB 32100-2015) --------------------------------------------

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CC_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_CHARSET)}
_CC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, …
_CC_AUTHORITIES = "123456789ANY"
_CC_SHAPE = re.compile(r"[123456789ANY][1-9]\d{6}[0-9A-HJ-NP-RTUW-Y]{10}", re.ASCII)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY = re.compile(r"[0-9A-Z]{8}", re.ASCII)


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 MOD 31 check character for the first 17 characters of a credit code."""
    if len(first17) != 17 or any(c not in _CC_VALUE for c in first17):
        raise BadInput(
            "统一社会信用代码前17位字符无效 / a credit-code payload is 17 characters "
            f"from {CREDIT_CODE_CHARSET}"
        )
    remainder = sum(_CC_VALUE[c] * w for c, w in zip(first17, _CC_WEIGHTS, strict=True)) % 31
    return CREDIT_CODE_CHARSET[(31 - remainder) % 31]


def org_code_check_char(body: str) -> str:
    """The GB 11714 check character for an 8-character organisation code body."""
    if not _ORG_BODY.fullmatch(body):
        raise BadInput("组织机构代码本体须为8位数字或大写字母 / an org-code body is 8 [0-9A-Z]")
    total = sum(int(c, 36) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def is_credit_code(value: str, *, strict: bool = True) -> bool:
    """True for a GB 32100 code; ``strict`` also checks the embedded GB 11714 check character.

    Every code issued from an organisation code carries that inner check, and requiring it
    cuts the chance that a random 18-character run passes from 1 in 31 to 1 in 341.
    """
    if not _CC_SHAPE.fullmatch(value):
        return False
    if credit_code_check_char(value[:17]) != value[17]:
        return False
    return not strict or org_code_check_char(value[8:16]) == value[16]


# --- telephone numbers ---------------------------------------------------------------------

_MOBILE = re.compile(r"1[3-9]\d{9}", re.ASCII)
_LANDLINE = re.compile(r"(?:(?:010|02\d)[2-9]\d{7}|0[3-9]\d{2}[2-9]\d{6,7})", re.ASCII)


def is_mobile(value: str) -> bool:
    """True for an 11-digit mainland mobile number (``1[3-9]`` and nine digits)."""
    return value.isascii() and _MOBILE.fullmatch(value) is not None


def is_landline(value: str) -> bool:
    """True for area code plus local number, written without separators."""
    return value.isascii() and _LANDLINE.fullmatch(value) is not None


# --- licence plates (GA 36) ----------------------------------------------------------------

PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(rf"[{PLATE_PROVINCES}][A-Z]([A-HJ-NP-Z0-9]{{5,6}})", re.ASCII)
# New-energy serials: a letter first (D, F, …) for small vehicles, D or F last for large ones.
_NEV_SMALL = re.compile(r"[A-HJK][A-HJ-NP-Z0-9]\d{4}", re.ASCII)
_NEV_LARGE = re.compile(r"\d{5}[DF]", re.ASCII)


def is_plate(value: str) -> bool:
    """True for a civil plate without separators, e.g. ``京A12345`` or ``粤BD12345``."""
    match = _PLATE.fullmatch(value)
    if match is None:
        return False
    serial = match.group(1)
    if len(serial) == 6:
        return bool(_NEV_SMALL.fullmatch(serial) or _NEV_LARGE.fullmatch(serial))
    return sum(c.isalpha() for c in serial) <= 3


# --- e-mail ----------------------------------------------------------------------------------

_EMAIL_LOCAL = re.compile(
    r"[A-Za-z0-9!#$%&'+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'+/=?^_`{|}~-]+)*",
    re.ASCII,
)
_EMAIL_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)
_EMAIL_TLD = re.compile(r"[A-Za-z]{2,24}", re.ASCII)


def is_email(value: str) -> bool:
    """True for ``local@domain.tld`` within the length limits of RFC 5321."""
    if not value.isascii() or len(value) > 254 or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if len(local) > 64 or not _EMAIL_LOCAL.fullmatch(local):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not _EMAIL_TLD.fullmatch(labels[-1]):
        return False
    return all(_EMAIL_LABEL.fullmatch(label) for label in labels)
