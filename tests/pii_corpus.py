"""A labelled corpus for the free-text PII detector, and its span-level evaluation.

:func:`generate_corpus` writes incident notes, hazard reports and alarm reviews of the kind
the platform stores, with Faker ``zh_CN`` (seeded) supplying names, companies, mobile numbers,
cards, e-mail addresses and plates, and the generators below supplying resident ID numbers,
credit codes and landlines. Each text also carries hard negatives: order numbers,
timestamps, sensor codes, device serials, IMEIs, waybill and service numbers, staff and
standard numbers, MAC addresses, 18-digit numbers with a wrong check digit, 16-digit numbers
failing Luhn, digit runs with an ID or mobile number inside, IP addresses, version strings,
money amounts and coordinates. A few positives are written in forms the detector does not
read (a mobile number grouped 4-3-4), so recall is measured, not assumed.
The same ``(size, seed)`` always gives the same corpus: ID numbers are generated here against
a fixed reference date rather than by Faker's ``ssn()``, whose birth dates move with today.

:func:`evaluate` scores a detector by exact span match (kind, start and end all equal):
precision and recall overall and per kind.

The ``valid_*`` generators are public so tests can draw identifiers from the same source.
"""

from __future__ import annotations

import random
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from faker import Faker
from faker.providers.ssn.zh_CN import Provider as ZhSsnProvider

from backend.core.errors import BadInput
from privacy.identifiers import (
    CREDIT_CODE_CHARSET,
    PLATE_PROVINCES,
    credit_code_check_char,
    id_check_char,
    luhn_check_digit,
    luhn_ok,
    org_code_check_char,
)
from privacy.pii import PiiKind, Span, detect

__all__ = [
    "REFERENCE_DATE",
    "Labelled",
    "Report",
    "evaluate",
    "generate_corpus",
    "valid_bank_card",
    "valid_credit_code",
    "valid_id_number",
    "valid_landline",
    "valid_mobile",
    "valid_plate",
]

REFERENCE_DATE = date(2025, 1, 1)

# --- valid identifiers ---------------------------------------------------------------------

_AREA_CODES = [code for code in ZhSsnProvider.area_codes if not code.endswith("0000")]


def valid_id_number(rng: random.Random, *, born_after: int = 1940, born_before: int = 2008) -> str:
    """An 18-character resident ID number with a real region, birth date and check digit."""
    first = date(born_after, 1, 1).toordinal()
    last = date(born_before, 12, 31).toordinal()
    born = date.fromordinal(rng.randint(first, min(last, REFERENCE_DATE.toordinal())))
    body = f"{rng.choice(_AREA_CODES)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return body + id_check_char(body)


_MOBILE_PREFIXES = [
    *range(130, 140),
    *(145, 147, 149),
    *range(150, 160),
    *(162, 165, 166, 167),
    *range(170, 179),
    *range(180, 190),
    *range(190, 200),
]


def valid_mobile(rng: random.Random) -> str:
    """An 11-digit mainland mobile number with an assigned-looking prefix."""
    return f"{rng.choice(_MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"


def valid_bank_card(rng: random.Random, *, length: int | None = None) -> str:
    """A Luhn-valid UnionPay-style number (62…), 16 or 19 digits unless ``length`` is given."""
    length = length or rng.choice((16, 16, 16, 19))
    if not 16 <= length <= 19:
        raise BadInput("UnionPay-style numbers have 16–19 digits")
    payload = "62" + "".join(rng.choice(string.digits) for _ in range(length - 3))
    return payload + luhn_check_digit(payload)


_CREDIT_PREFIXES = ("91", "91", "91", "92", "93", "11", "12", "51", "52", "53", "Y1")
_ORG_BODY_CHARS = [c for c in CREDIT_CODE_CHARSET if c.isdigit()] * 6 + list(
    CREDIT_CODE_CHARSET[10:]
)


def valid_credit_code(rng: random.Random) -> str:
    """A GB 32100 unified social credit code with valid inner and outer check characters."""
    body = "".join(rng.choice(_ORG_BODY_CHARS) for _ in range(8))
    if rng.random() < 0.3:
        body = "MA" + body[2:]  # the block issued since 2015 (MA…)
    first17 = f"{rng.choice(_CREDIT_PREFIXES)}{rng.choice(_AREA_CODES)}{body}"
    first17 += org_code_check_char(body)
    return first17 + credit_code_check_char(first17)


_THREE_DIGIT_AREAS = ["010", "020", "021", "022", "023", "024", "025", "027", "028", "029"]
_FOUR_DIGIT_AREAS = ["0311", "0351", "0371", "0431", "0451", "0512", "0531", "0571", "0591"]
_FOUR_DIGIT_AREAS += ["0731", "0755", "0769", "0771", "0851", "0871", "0898", "0931", "0991"]


def valid_landline(rng: random.Random) -> str:
    """A landline in one of the ways people write them: 010-62345678, (0571)7654321 …"""
    if rng.random() < 0.5:
        area, digits = rng.choice(_THREE_DIGIT_AREAS), 8
    else:
        area, digits = rng.choice(_FOUR_DIGIT_AREAS), rng.choice((7, 8))
    local = str(rng.randint(2, 9)) + "".join(rng.choice(string.digits) for _ in range(digits - 1))
    style = rng.random()
    if style < 0.6:
        return f"{area}-{local}"
    if style < 0.75:
        return f"({area}){local}"
    if style < 0.85:
        return f"{area} {local}"
    if style < 0.95:
        return f"{area}{local}"
    return f"{area}-{local}-{rng.randint(1, 9999)}"


_PLATE_SERIAL = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def valid_plate(rng: random.Random) -> str:
    """A plate with letters in the serial, or a six-character new-energy plate."""
    head = rng.choice(PLATE_PROVINCES) + rng.choice("ABCDEFGHJKLMNPQRS")
    if rng.random() < 0.5:
        serial = rng.choice("DF") + rng.choice(_PLATE_SERIAL) + f"{rng.randint(0, 9999):04d}"
    else:
        serial = "".join(rng.choice(_PLATE_SERIAL) for _ in range(2))
        serial += f"{rng.randint(0, 999):03d}"
    return head + rng.choice(("", "", "·")) + serial


# --- hard negatives ----------------------------------------------------------------------------


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _moment(rng: random.Random) -> datetime:
    return datetime(2023, 1, 1) + timedelta(seconds=rng.randint(0, 2 * 365 * 86400))


def _bad_id(rng: random.Random) -> str:
    good = valid_id_number(rng)
    return good[:17] + rng.choice([c for c in "0123456789X" if c != good[17]])


def _bad_card(rng: random.Random) -> str:
    while True:
        number = "62" + _digits(rng, 14)
        if not luhn_ok(number):
            return number


def _order_number(rng: random.Random) -> str:
    moment = _moment(rng)
    return rng.choice(
        (
            f"DD{moment:%Y%m%d}{_digits(rng, 11)}",
            f"{moment:%Y%m%d%H%M%S}{_digits(rng, 4)}",
            f"GD-{moment:%Y}-{rng.randint(1, 99999):06d}",
            f"PO{_digits(rng, 12)}",
        )
    )


def _timestamp(rng: random.Random) -> str:
    moment = _moment(rng)
    return rng.choice(
        (
            f"{moment:%Y%m%d%H%M%S}",
            f"{moment:%Y-%m-%d %H:%M:%S}",
            f"{moment:%Y/%m/%d %H:%M}",
            str(int(moment.timestamp() * 1000)),
            str(int(moment.timestamp())),
        )
    )


def _sensor_code(rng: random.Random) -> str:
    return rng.choice(
        (
            f"GT-10{valid_mobile(rng)}",
            f"SN-{valid_mobile(rng)}",
            f"CH4-{rng.randint(1, 99):02d}-{_digits(rng, 6)}",
            f"T{rng.randint(1, 9)}_{_digits(rng, 11)}",
            f"{rng.choice('ABCDEFG')}{_digits(rng, 3)}.{valid_mobile(rng)}",
        )
    )


def _serial(rng: random.Random) -> str:
    letters = string.ascii_uppercase
    return rng.choice(
        (
            "".join(rng.choice(letters + string.digits) for _ in range(18)),
            f"DS-2CD{rng.randint(1000, 9999)}WD-{rng.choice(letters)}{_digits(rng, 9)}",
            f"HW{_digits(rng, 16)}",
            f"{_digits(rng, 4)}{rng.choice(letters)}{_digits(rng, 13)}",
        )
    )


def _imei(rng: random.Random) -> str:
    payload = rng.choice(("86", "35")) + _digits(rng, 12)
    return payload + luhn_check_digit(payload)


def _ip(rng: random.Random) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def _version(rng: random.Random) -> str:
    return f"v{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 2000)}"


def _money(rng: random.Random) -> str:
    amount = rng.randint(100, 99_999_999) / 100
    return rng.choice((f"¥{amount:,.2f}", f"{amount:.2f}元", f"{int(amount)}元"))


def _coordinates(rng: random.Random) -> str:
    lat, lon = rng.uniform(18, 53), rng.uniform(73, 135)
    return rng.choice((f"{lat:.6f},{lon:.6f}", f"({lat:.5f}, {lon:.5f})", f"N{lat:.4f} E{lon:.4f}"))


def _eighteen_digits(rng: random.Random) -> str:
    # 18-digit batch and waybill numbers: region digit 9 and year 00xx, so never ID-shaped.
    return f"9{_digits(rng, 5)}00{_digits(rng, 10)}"


def _waybill(rng: random.Random) -> str:
    return rng.choice(
        (
            f"SF{_digits(rng, 13)}",
            f"JDX{_digits(rng, 12)}",
            f"7{_digits(rng, 11)}",  # 12-digit domestic express numbers
            f"{rng.choice('34')}{_digits(rng, 12)}",  # 13-digit ones
            f"EA{_digits(rng, 9)}CN",
        )
    )


def _service_number(rng: random.Random) -> str:
    return rng.choice(
        (
            f"400-{_digits(rng, 3)}-{_digits(rng, 4)}",
            f"800{_digits(rng, 7)}",
            f"955{_digits(rng, 2)}",
            f"12{rng.choice('0345')}{_digits(rng, 8)}",  # 11 digits, but no mobile prefix
        )
    )


def _staff_or_standard(rng: random.Random) -> str:
    return rng.choice(
        (
            f"GB/T {rng.randint(1000, 50999)}-{rng.randint(2000, 2024)}",
            ":".join(f"{rng.randint(0, 255):02X}" for _ in range(6)),
            f"工号{rng.choice(('10', '11', '12'))}{_digits(rng, 9)}",
            f"合同编号{rng.randint(2019, 2024)}{_digits(rng, 14)}",
        )
    )


def _long_run(rng: random.Random) -> str:
    # A 19-digit run with a valid ID number or mobile inside: neither is standalone.
    inner = rng.choice((valid_id_number(rng), valid_mobile(rng) + _digits(rng, 7)))
    return rng.choice(string.digits) + inner


# --- texts ------------------------------------------------------------------------------------

# One entry per sentence shape. Slots named after a PiiKind are positives; the rest are
# context or hard negatives. Positives sit next to CJK text or punctuation, as people write.
_TEMPLATES = (
    "{when}，{zone}发生{event}，现场负责人{name}（手机{mobile}）已到场处置。",
    "隐患上报：{zone}的{device}（编号{sensor}）读数异常，联系人{name}，电话{mobile}。",
    "工人{name}，身份证号{id_number}，于{when}进入受限空间作业，工单{order}。",
    "承包商{company}（统一社会信用代码{credit_code}）负责{zone}动火作业，联系电话{landline}。",
    "请将{name}的误工补助{money}打入银行卡{bank_card}，开户行{bank}。",
    "车辆{plate}在{zone}超速，司机{name}，手机：{mobile}；设备序列号{serial}。",
    "复核结论：误报。原因为{device}固件{version}缺陷，网关{ip}已升级，报告已发至{email}。",
    "{name}反映{zone}通风不良，回电{landline}或{mobile}，定位{coords}。",
    "报警记录{order}：{device}于{when}触发二级报警，浓度{reading}，IMEI {imei}。",
    "访客登记：{name}，证件号{id_number}，车牌{plate}，来访单位{company}。",
    "整改通知已抄送{email}与{email}，整改期限{when}，罚款{money}。",
    "夜班巡检{when}：{zone}无异常，温度{reading}，批次号{eighteen}，日志见{ip}。",
    "事故调查：{name}（身份证{id_number}）受轻伤，就医费用由卡号{bank_card}报销。",
    "供应商{company}的统一社会信用代码为{credit_code}，联系邮箱{email}。",
    "核对失败的证件号{bad_id}与卡号{bad_card}已退回，流水号{long_run}。",
    "值班电话{landline}，应急手机{mobile}/{mobile}，对讲频道{reading}。",
    "设备{sensor}离线，最后心跳{when}，固件{version}，坐标{coords}。",
    "Tel:{mobile} Email:{email} 地址：{address}",
    "{name}的手机号是+86 {mobile}，备用+86-{mobile}。",
    "运单{eighteen}已签收，签收时间{when}，金额{money}。",
    "备件快递单号{waybill}，客服热线{service}，{other}。",
    "TEL{mobile}，{name}，{other}，身份证 {id_number}。",
    "监理回复：{other}，{service}转人工，责任人{name}。",
)

_EVENTS = ("可燃气体泄漏", "人员闯入危险区", "塔吊力矩超限", "有限空间氧含量偏低", "烟雾报警")
_DEVICES = ("可燃气体探测器", "甲烷传感器", "塔吊监控终端", "智能安全帽", "视频分析盒")
_ZONES = ("3号罐区", "A区二层", "东侧配电房", "1号井下工作面", "危化品库房", "北门卸车区")


@dataclass(frozen=True, slots=True)
class Labelled:
    """A text and the gold spans in it: (kind, start, end)."""

    text: str
    spans: tuple[tuple[PiiKind, int, int], ...]


def _mobile_written(rng: random.Random, fake: Faker) -> str:
    number = fake.phone_number() if rng.random() < 0.7 else valid_mobile(rng)
    style = rng.random()
    if style < 0.12:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if style < 0.2:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if style < 0.23:  # full-width digits, as some input methods produce
        return "".join(chr(ord(c) + 0xFEE0) for c in number)
    if style < 0.25:  # 4-3-4 grouping: people write it, the detector does not read it
        return f"{number[:4]}-{number[4:7]}-{number[7:]}"
    return number


def _card_written(rng: random.Random, fake: Faker) -> str:
    number = fake.credit_card_number() if rng.random() < 0.6 else valid_bank_card(rng)
    if len(number) == 16 and rng.random() < 0.25:
        return " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return number


def _id_written(rng: random.Random) -> str:
    number = valid_id_number(rng)
    style = rng.random()
    if style < 0.1:
        return f"{number[:6]} {number[6:14]} {number[14:]}"
    return number[:17] + number[17].lower() if style < 0.25 else number


def _plate_written(rng: random.Random, fake: Faker) -> str:
    return fake.license_plate() if rng.random() < 0.6 else valid_plate(rng)


def _email_written(rng: random.Random, fake: Faker) -> str:
    return rng.choice((fake.email, fake.free_email, fake.company_email))()


def _slot_factories(
    rng: random.Random, fake: Faker
) -> dict[str, tuple[PiiKind | None, Callable[[], str]]]:
    return {
        "mobile": (PiiKind.MOBILE, lambda: _mobile_written(rng, fake)),
        "id_number": (PiiKind.ID_NUMBER, lambda: _id_written(rng)),
        "bank_card": (PiiKind.BANK_CARD, lambda: _card_written(rng, fake)),
        "email": (PiiKind.EMAIL, lambda: _email_written(rng, fake)),
        "plate": (PiiKind.PLATE, lambda: _plate_written(rng, fake)),
        "credit_code": (PiiKind.CREDIT_CODE, lambda: valid_credit_code(rng)),
        "landline": (PiiKind.LANDLINE, lambda: valid_landline(rng)),
        "name": (None, fake.name),
        "company": (None, fake.company),
        "address": (None, fake.address),
        "bank": (None, lambda: rng.choice(("工商银行", "建设银行", "农业银行", "招商银行"))),
        "zone": (None, lambda: rng.choice(_ZONES)),
        "event": (None, lambda: rng.choice(_EVENTS)),
        "device": (None, lambda: rng.choice(_DEVICES)),
        "reading": (None, lambda: f"{rng.uniform(0, 100):.1f}{rng.choice(('%LEL', '℃', '%'))}"),
        "when": (None, lambda: _timestamp(rng)),
        "order": (None, lambda: _order_number(rng)),
        "sensor": (None, lambda: _sensor_code(rng)),
        "serial": (None, lambda: _serial(rng)),
        "imei": (None, lambda: _imei(rng)),
        "bad_id": (None, lambda: _bad_id(rng)),
        "bad_card": (None, lambda: _bad_card(rng)),
        "ip": (None, lambda: _ip(rng)),
        "version": (None, lambda: _version(rng)),
        "money": (None, lambda: _money(rng)),
        "coords": (None, lambda: _coordinates(rng)),
        "eighteen": (None, lambda: _eighteen_digits(rng)),
        "long_run": (None, lambda: _long_run(rng)),
        "waybill": (None, lambda: _waybill(rng)),
        "service": (None, lambda: _service_number(rng)),
        "other": (None, lambda: _staff_or_standard(rng)),
    }


def _render(
    template: str, factories: dict[str, tuple[PiiKind | None, Callable[[], str]]], offset: int
) -> tuple[str, list[tuple[PiiKind, int, int]]]:
    parts: list[str] = []
    spans: list[tuple[PiiKind, int, int]] = []
    length = offset
    for literal, slot, _spec, _conv in string.Formatter().parse(template):
        parts.append(literal)
        length += len(literal)
        if slot is None:
            continue
        kind, make = factories[slot]
        value = make()
        if kind is not None:
            spans.append((kind, length, length + len(value)))
        parts.append(value)
        length += len(value)
    return "".join(parts), spans


def generate_corpus(size: int, seed: int = 20250101) -> list[Labelled]:
    """``size`` texts of one to three sentences each; the same arguments, the same corpus."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise BadInput("语料规模须为正整数 / size must be a positive integer")
    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    factories = _slot_factories(rng, fake)
    corpus = []
    for _ in range(size):
        text = ""
        spans: list[tuple[PiiKind, int, int]] = []
        for _sentence in range(rng.randint(1, 3)):
            if text:
                text += rng.choice(("", "\n", " "))
            sentence, found = _render(rng.choice(_TEMPLATES), factories, len(text))
            text += sentence
            spans.extend(found)
        corpus.append(Labelled(text, tuple(spans)))
    return corpus


# --- evaluation -------------------------------------------------------------------------------


@dataclass
class Report:
    """Span-level counts; precision and recall overall and per kind."""

    texts: int = 0
    characters: int = 0
    true_positive: Counter[PiiKind] = field(default_factory=Counter)
    false_positive: Counter[PiiKind] = field(default_factory=Counter)
    false_negative: Counter[PiiKind] = field(default_factory=Counter)
    examples: list[tuple[str, str, str]] = field(default_factory=list)

    @staticmethod
    def _ratio(hit: int, total: int) -> float:
        return hit / total if total else 1.0

    def precision(self, kind: PiiKind | None = None) -> float:
        tp = self.true_positive.total() if kind is None else self.true_positive[kind]
        fp = self.false_positive.total() if kind is None else self.false_positive[kind]
        return self._ratio(tp, tp + fp)

    def recall(self, kind: PiiKind | None = None) -> float:
        tp = self.true_positive.total() if kind is None else self.true_positive[kind]
        fn = self.false_negative.total() if kind is None else self.false_negative[kind]
        return self._ratio(tp, tp + fn)

    def row(self, kind: PiiKind | None = None) -> dict[str, float | int]:
        """Figures for one kind, or for all kinds together when ``kind`` is None."""

        def pick(counter: Counter[PiiKind]) -> int:
            return counter.total() if kind is None else counter[kind]

        return {
            "precision": round(self.precision(kind), 4),
            "recall": round(self.recall(kind), 4),
            "gold": pick(self.true_positive) + pick(self.false_negative),
            "true_positive": pick(self.true_positive),
            "false_positive": pick(self.false_positive),
            "false_negative": pick(self.false_negative),
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "texts": self.texts,
            "characters": self.characters,
            "overall": self.row(),
            "per_kind": {kind.value: self.row(kind) for kind in PiiKind},
        }


def evaluate(
    corpus: Sequence[Labelled],
    detector: Callable[[str], list[Span]] = detect,
    *,
    keep_examples: int = 20,
) -> Report:
    """Exact-match scoring: a predicted span counts only with the gold kind, start and end."""
    report = Report()
    for item in corpus:
        gold = set(item.spans)
        predicted = {(span.kind, span.start, span.end) for span in detector(item.text)}
        report.texts += 1
        report.characters += len(item.text)
        for kind, _start, _end in predicted & gold:
            report.true_positive[kind] += 1
        for outcome, misses, counter in (
            ("false positive", predicted - gold, report.false_positive),
            ("missed", gold - predicted, report.false_negative),
        ):
            for kind, start, end in sorted(misses, key=lambda s: s[1]):
                counter[kind] += 1
                if len(report.examples) < keep_examples:
                    report.examples.append((outcome, kind.value, item.text[start:end]))
    return report
