"""A report as the public sends it (CONTRACT.md, public hazard reports): every field checked,
every mistake named by its field at once, so a form can mark them all."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from backend.core.errors import BadInput
from backend.core.timestamps import parse_datetime
from backend.reports.categories import BY_CODE
from backend.reports.models import (
    MAX_ADDRESS,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_PHOTOS,
    MAX_SUBJECT,
    MIN_DESCRIPTION,
)
from privacy.identifiers import is_mobile, to_halfwidth
from tenants.divisions import validate_division

FIELDS = frozenset(
    {
        "category",
        "description",
        "divisionCode",
        "location",
        "address",
        "observedAt",
        "photos",
        "contact",
        "subject",
        "pow",
    }
)
# A phone's clock may run a little ahead of the server's.
FUTURE_SKEW = timedelta(minutes=5)
PHOTO_KEY = re.compile(r"^reports/[0-9a-f]{40}\.(?:jpg|png)$")
_MOBILE_SEPARATORS = re.compile(r"[\s\-()]")


class ReportRefused(BadInput):
    """Bad input, each problem with the field it is in (``field`` ``None``: the request)."""

    def __init__(self, errors: list[tuple[str | None, str]]) -> None:
        super().__init__("; ".join(message for _, message in errors))
        self.errors = errors


@dataclass(frozen=True)
class Contact:
    name: str
    mobile: str


@dataclass(frozen=True)
class Submission:
    category: str
    description: str
    division_code: str
    latitude: float | None
    longitude: float | None
    address: str | None
    observed_at: datetime | None
    photos: tuple[str, ...]
    contact: Contact | None
    subject: str | None
    challenge: Any
    nonce: Any


def _has_nul(value: str) -> bool:
    return "\x00" in value


class _Checker:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.errors: list[tuple[str | None, str]] = []

    def fail(self, field: str | None, message: str) -> None:
        self.errors.append((field, message))

    def text(
        self, field: str, *, required: bool, most: int, least: int = 1, label: str
    ) -> str | None:
        value = self.body.get(field)
        if value is None:
            if required:
                self.fail(field, f"{label}必填 / {field} is required")
            return None
        if not isinstance(value, str):
            self.fail(field, f"{label}须为文本 / {field} must be a string")
            return None
        value = value.strip()
        if _has_nul(value):
            self.fail(field, f"{label}不得包含 NUL 字符 / {field} must not contain NUL")
            return None
        if not value:
            if required:
                self.fail(field, f"{label}必填 / {field} is required")
            return None
        if not least <= len(value) <= most:
            self.fail(
                field,
                f"{label}须为 {least}–{most} 个字符 / {field} must be {least} to {most} "
                f"characters, got {len(value)}",
            )
            return None
        return value


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _location(check: _Checker) -> tuple[float | None, float | None]:
    value = check.body.get("location")
    if value is None:
        return None, None
    if not isinstance(value, dict) or set(value) != {"lat", "lon"}:
        check.fail(
            "location",
            'location 须为 {"lat": …, "lon": …} 或 null / location must be '
            '{"lat": …, "lon": …} or null',
        )
        return None, None
    lat, lon = _number(value["lat"]), _number(value["lon"])
    if lat is None or not -90 <= lat <= 90:
        check.fail("location", "纬度须在 -90 到 90 之间 / location.lat must be within -90..90")
        return None, None
    if lon is None or not -180 <= lon <= 180:
        check.fail("location", "经度须在 -180 到 180 之间 / location.lon must be within -180..180")
        return None, None
    return lat, lon


def _observed_at(check: _Checker, now: datetime) -> datetime | None:
    value = check.body.get("observedAt")
    if value is None:
        return None
    try:
        at = parse_datetime(value)
    except (ValueError, OverflowError, OSError) as exc:
        check.fail("observedAt", f"发现时间格式错误 / observedAt: {exc}")
        return None
    if at > now + FUTURE_SKEW:
        check.fail("observedAt", "发现时间不能晚于现在 / observedAt must not be in the future")
        return None
    return at


def _photos(check: _Checker) -> tuple[str, ...]:
    value = check.body.get("photos")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        check.fail("photos", "photos 须为照片编号列表 / photos must be a list of photo keys")
        return ()
    if len(value) > MAX_PHOTOS:
        check.fail(
            "photos",
            f"最多 {MAX_PHOTOS} 张照片 / at most {MAX_PHOTOS} photos, got {len(value)}",
        )
        return ()
    if len(set(value)) != len(value):
        check.fail("photos", "照片重复 / a photo is listed twice")
        return ()
    bad = [k for k in value if not PHOTO_KEY.match(k)]
    if bad:
        check.fail("photos", f"照片编号无效 / not a photo key: {bad[0][:60]!r}")
        return ()
    return tuple(value)


def normalise_mobile(value: str) -> str | None:
    """A mainland mobile number as 11 digits, or None: spaces, dashes, brackets and a +86 or
    0086 prefix are dropped, full-width digits read as ASCII."""
    digits = _MOBILE_SEPARATORS.sub("", to_halfwidth(value))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    return digits if is_mobile(digits) else None


def _contact(check: _Checker) -> Contact | None:
    value = check.body.get("contact")
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"name", "mobile"}:
        check.fail(
            "contact",
            'contact 须为 {"name": …, "mobile": …} 或 null / contact must be '
            '{"name": …, "mobile": …} or null (anonymous)',
        )
        return None
    inner = _Checker(value)
    name = inner.text("name", required=True, most=MAX_NAME, label="联系人姓名")
    mobile_text = inner.text("mobile", required=True, most=20, label="手机号")
    for field, message in inner.errors:
        check.fail(f"contact.{field}", message)
    if mobile_text is None or name is None:
        return None
    mobile = normalise_mobile(mobile_text)
    if mobile is None:
        check.fail(
            "contact.mobile",
            "手机号须为 11 位中国大陆手机号码 / contact.mobile must be a mainland China mobile "
            "number (11 digits starting 13–19)",
        )
        return None
    return Contact(name, mobile)


def parse_submission(body: object, now: datetime, *, proof: bool = True) -> Submission:
    """The submission, or ``ReportRefused`` naming every bad field. ``proof=False``: a
    submission authorised otherwise (an Open311 client's key), which carries no ``pow``."""
    if not isinstance(body, dict):
        raise ReportRefused([(None, "请求体须为 JSON 对象 / the body must be a JSON object")])
    check = _Checker(body)
    for unknown in sorted(set(body) - FIELDS):
        check.fail(unknown[:40], f"未知字段 / unknown field {unknown[:40]!r}")
    category = body.get("category")
    if category is None:
        check.fail("category", "类别必填 / category is required")
    elif not isinstance(category, str) or category not in BY_CODE:
        check.fail(
            "category",
            f"类别无效 / category must be one of {', '.join(BY_CODE)}",
        )
    description = check.text(
        "description",
        required=True,
        most=MAX_DESCRIPTION,
        least=MIN_DESCRIPTION,
        label="问题描述",
    )
    division = body.get("divisionCode")
    division_code: str | None = None
    if division is None:
        check.fail("divisionCode", "所在地区必填 / divisionCode is required")
    else:
        try:
            division_code = validate_division(division)
        except BadInput as exc:
            check.fail("divisionCode", f"地区代码无效 / {exc.message}")
    latitude, longitude = _location(check)
    address = check.text("address", required=False, most=MAX_ADDRESS, label="地址")
    subject = check.text("subject", required=False, most=MAX_SUBJECT, label="被举报单位")
    observed_at = _observed_at(check, now)
    photos = _photos(check)
    contact = _contact(check)
    pow_given = body.get("pow")
    if not proof:
        if pow_given is not None:
            check.fail("pow", "此处无需工作量证明 / pow is not taken here")
        pow_given = {"challenge": None, "nonce": None}
    elif not isinstance(pow_given, dict) or set(pow_given) != {"challenge", "nonce"}:
        check.fail(
            "pow",
            '需要工作量证明 / pow must be {"challenge": …, "nonce": …} from '
            "GET /api/v1/reports/challenge",
        )
        pow_given = {"challenge": None, "nonce": None}
    if check.errors:
        raise ReportRefused(check.errors)
    assert description is not None and division_code is not None
    return Submission(
        category=str(category),
        description=description,
        division_code=division_code,
        latitude=latitude,
        longitude=longitude,
        address=address,
        observed_at=observed_at,
        photos=photos,
        contact=contact,
        subject=subject,
        challenge=pow_given["challenge"],
        nonce=pow_given["nonce"],
    )
