"""The demo's data set: regulators, enterprises, sites, zones, devices, sensors and workers.

Everything is generated from a fixed seed (Faker ``zh_CN`` for people, curated lists for the
rest), so every run plans exactly the same names and numbers; ``backend.demo.seed`` then
creates whatever of the plan is missing. The places are real GB/T 2260 divisions of Jiangsu.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from faker import Faker

from backend.oversight.hazards.service import SubstanceEntry
from tenants.divisions import ancestors, division

SEED = 2026
PASSWORD = "anjian-demo-2026"
MAIL_ROOT = "demo.anjian.cn"
ADMIN_EMAIL = f"admin@{MAIL_ROOT}"

# County code → latitude, longitude of a point inside it (names come from ``tenants.divisions``).
COUNTIES: dict[str, tuple[float, float]] = {
    "320102": (32.048, 118.797),  # 玄武区
    "320104": (32.016, 118.795),  # 秦淮区
    "320111": (32.059, 118.627),  # 浦口区
    "320114": (31.992, 118.779),  # 雨花台区
    "320115": (31.953, 118.840),  # 江宁区
    "320116": (32.322, 118.822),  # 六合区
    "320213": (31.566, 120.296),  # 梁溪区
    "320281": (31.838, 120.285),  # 江阴市
    "320305": (34.442, 117.464),  # 贾汪区
    "320322": (34.721, 116.937),  # 沛县
    "320505": (31.296, 120.567),  # 虎丘区
    "320506": (31.263, 120.632),  # 吴中区
    "320507": (31.369, 120.642),  # 相城区
    "320582": (31.876, 120.556),  # 张家港市
    "320583": (31.385, 120.981),  # 昆山市
}


def place_name(code: str) -> str:
    """The full name of a division, province first: 320102 → 江苏省南京市玄武区."""
    return "".join(d.name for d in (*ancestors(code), division(code)))


def city_name(code: str) -> str:
    """The prefecture a division lies in (itself when it is one): 320582 → 苏州市."""
    return next(d.name for d in (*ancestors(code), division(code)) if d.level == "city")


ROLE_LABELS = {
    "platform_admin": "平台管理员 Platform admin",
    "director": "负责人 Director",
    "inspector": "执法检查员 Inspector",
    "analyst": "数据分析员 Analyst",
    "owner": "企业负责人 Owner",
    "safety_manager": "安全管理员 Safety manager",
    "operator": "值班操作员 Operator",
    "viewer": "只读查看 Viewer",
}
ENTERPRISE_ROLE_ORDER = ("owner", "safety_manager", "operator", "viewer")


@dataclass(frozen=True)
class RegulatorSpec:
    division: str
    role: str
    email: str
    agency: str  # e.g. 南京市应急管理局


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    employee_number: str
    mobile: str
    id_number: str


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    sensors: tuple[dict[str, Any], ...]  # entries of a sensors file (see kinds.parse_sensors)
    worker: str | None = None  # employee number of the wearer


@dataclass(frozen=True)
class HazardUnitSpec:
    """A hazard unit the site registers (GB 18218-2018); a major one gets its three
    accountable persons from the site's first workers."""

    name: str
    people_within_500m: int
    substances: tuple[SubstanceEntry, ...]


@dataclass(frozen=True)
class SiteSpec:
    name: str
    division: str
    major_hazard_grade: int | None  # what its hazard units grade it
    plan: str
    address: str
    latitude: float
    longitude: float
    zones: tuple[tuple[str, str], ...]  # (name, ZoneKind value)
    devices: tuple[DeviceSpec, ...]
    workers: tuple[WorkerSpec, ...]
    hazard_units: tuple[HazardUnitSpec, ...] = ()


@dataclass(frozen=True)
class TenantSpec:
    slug: str  # the mail subdomain: owner@<slug>.demo.anjian.cn
    name: str
    industry: str
    division: str
    credit_code: str
    sites: tuple[SiteSpec, ...]

    def email(self, role: str) -> str:
        return f"{role}@{self.slug}.{MAIL_ROOT}"


@dataclass(frozen=True)
class DemoPlan:
    regulators: tuple[RegulatorSpec, ...]
    tenants: tuple[TenantSpec, ...]

    @property
    def sensor_count(self) -> int:
        return sum(len(d.sensors) for t in self.tenants for s in t.sites for d in s.devices)


# ---------------------------------------------------------------- check digits
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check_digit(first17: str) -> str:
    """GB 11643 check digit (ISO 7064 MOD 11-2) of an ID number's first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def id_number(area: str, born: date, sequence: int) -> str:
    body = f"{area}{born:%Y%m%d}{sequence:03d}"
    return body + id_check_digit(body)


def credit_code(division: str, org_body: str) -> str:
    """A unified social credit code (GB 32100) for an enterprise (``91``) with valid checks."""
    org_sum = sum(int(d) * w for d, w in zip(org_body, _ORG_WEIGHTS, strict=True))
    org_check = 11 - org_sum % 11
    org = org_body + {10: "X", 11: "0"}.get(org_check, str(org_check))
    body = f"91{division}{org}"
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(body, _CREDIT_WEIGHTS, strict=True))
    return body + _CREDIT_CHARS[(31 - total % 31) % 31]


# ---------------------------------------------------------------- site layouts
# One device per line: "name | zone zone_kind | sensors"; an indented "+ sensors" line adds
# sensors to the device above. A sensor is "CODE kind", "CODE kind/GAS", or "CODE*n kind" for
# n consecutive tags (GT-101*3 → GT-101, GT-102, GT-103). The device's sensors sit in its zone.
LAYOUTS = {
    "chemical": """
罐区A 可燃/有毒气体报警控制器 | 罐区A tank_farm | GT-101*4 combustible_gas
    + AT-111 toxic_gas/H2S
罐区A 储罐监测终端 | 罐区A tank_farm | LT-101*3 level, TT-101*3 temperature
    + PT-101*3 pressure
罐区B 储罐及气体监测终端 | 罐区B tank_farm | GT-201*3 combustible_gas, AT-211 toxic_gas/NH3
    + LT-201*2 level, TT-201*2 temperature, PT-201*2 pressure
合成装置 DCS 数据采集网关 | 合成装置区 process_unit | GT-301*3 combustible_gas
    + AT-311 toxic_gas/CO, AT-312 toxic_gas/Cl2, TT-301*2 temperature
    + PT-301*2 pressure, FT-301*2 flow
循环水泵 P-901 状态监测 | 循环水泵房 process_unit | PT-901 pressure, TT-901 temperature
    + FT-901 flow, VT-901 vibration
危化品仓库 气体探测器 | 危化品仓库 warehouse | GT-401*2 combustible_gas, TT-401 temperature
有限空间 四合一气体检测仪 | 污水池有限空间 confined_space | OT-501 oxygen
    + AT-511 toxic_gas/H2S, AT-512 toxic_gas/CO, GT-501 combustible_gas
动火作业 便携式气体检测仪 | 检修动火作业区 hot_work | GT-601 combustible_gas, OT-601 oxygen
""",
    "mining": """
综采工作面 KJ 监控分站 | 1201综采工作面 working_face | CH4-101*3 methane
    + CO-101*2 carbon_monoxide, O2-101 oxygen, TT-101 temperature, FS-101 wind_speed
回风巷 KJ 监控分站 | 1201回风巷 return_airway | CH4-201*2 methane, CO-201 carbon_monoxide
    + FS-201*2 wind_speed, TT-201 temperature, O2-201 oxygen
主井提升机 在线监测 | 主井提升机房 hoisting | VT-301*2 vibration, TT-301*2 temperature
中央变电所 环境监测 | 中央变电所 general | TT-401 temperature, CO-401 carbon_monoxide
    + CH4-401 methane
""",
    "construction": """
1号塔吊 安全监控系统 | 1号塔吊 hoisting | LR-101 load_ratio, MR-101 moment_ratio
    + WS-101 wind_speed, TL-101 tilt
2号塔吊 安全监控系统 | 2号塔吊 hoisting | LR-201 load_ratio, MR-201 moment_ratio
    + WS-201 wind_speed, TL-201 tilt
基坑 自动化监测站 | 基坑 foundation_pit | DS-301*6 displacement, TL-301*2 tilt
外脚手架 倾斜位移监测 | 外脚手架 scaffold | TL-401*2 tilt, DS-401*2 displacement
""",
}
# The circulating-water pump of a chemical site replays the SKAB test bed (see walks.py).
SKAB_PUMP_CODES = ("PT-901", "TT-901", "FT-901", "VT-901")


def _sensor_entries(zone: str, notation: str) -> list[dict[str, Any]]:
    tag, kind = notation.split()
    kind, _, gas = kind.partition("/")
    tag, _, count = tag.partition("*")
    prefix, _, first = tag.rpartition("-")
    entries = []
    for i in range(int(count or 1)):
        entry: dict[str, Any] = {"code": f"{prefix}-{int(first) + i}", "kind": kind, "zone": zone}
        if gas:
            entry["gas"] = gas
        entries.append(entry)
    return entries


@cache
def layout(industry: str) -> tuple[tuple[tuple[str, str], ...], tuple[DeviceSpec, ...]]:
    """The zones (name, kind) and devices of one site of ``industry``."""
    zones: dict[str, str] = {}
    devices: list[tuple[str, list[dict[str, Any]]]] = []
    for line in LAYOUTS[industry].strip().splitlines():
        if line.startswith(" "):
            zone = devices[-1][1][0]["zone"]
            notations = line.strip().removeprefix("+").split(",")
        else:
            name, where, rest = (part.strip() for part in line.split("|"))
            zone, kind = where.split()
            zones.setdefault(zone, kind)
            devices.append((name, []))
            notations = rest.split(",")
        for notation in notations:
            devices[-1][1].extend(_sensor_entries(zone, notation.strip()))
    return tuple(zones.items()), tuple(DeviceSpec(n, tuple(s)) for n, s in devices)


INDUSTRY_WORDS = {
    "chemical": "化工有限公司",
    "mining": "矿业有限公司",
    "construction": "建设集团有限公司",
}
BRANDS = ("金陵", "扬子", "苏润", "鑫达", "恒泰", "华诚", "新源", "宏远", "瑞丰", "永安", "江海")
BRANDS += ("宁丰", "锦程", "汇通", "鼎盛", "德昌", "东吴", "太湖", "淮海", "润禾")

SiteRow = tuple[str, int | None, str]  # (county division, major hazard grade, site name)
# (slug, industry, headquarters division, sites)
TENANT_TABLE: tuple[tuple[str, str, str, tuple[SiteRow, ...]], ...] = (
    (
        "huagong1",
        "chemical",
        "320116",
        (("320116", 1, "六合生产基地"), ("320111", 3, "浦口储运库")),
    ),
    (
        "huagong2",
        "chemical",
        "320582",
        (
            ("320582", 2, "张家港化工园区厂"),
            ("320583", 4, "昆山精细化工厂"),
            ("320281", None, "江阴分装厂"),
        ),
    ),
    ("kuangye1", "mining", "320300", (("320305", 2, "贾汪煤矿"), ("320322", None, "沛县龙固煤矿"))),
    ("kuangye2", "mining", "320100", (("320115", None, "江宁石灰石矿"), ("320114", 3, "雨花铁矿"))),
    (
        "jianzhu1",
        "construction",
        "320102",
        (("320102", None, "玄武湖隧道改造项目"), ("320104", None, "秦淮新河桥项目")),
    ),
    (
        "jianzhu2",
        "construction",
        "320505",
        (
            ("320505", None, "狮山商务区地块项目"),
            ("320506", None, "吴中太湖新城项目"),
            ("320507", None, "相城高铁新城项目"),
            ("320213", None, "梁溪古运河综合体项目"),
        ),
    ),
)

# The registered hazard units of the graded sites, by site name, sized so the grade the server
# computes is the one TENANT_TABLE gives (R = α·Σβ·q/Q: I ≥ 100, II 50–100, III 10–50, IV < 10).
_CHLORINE, _AMMONIA, _METHANOL = 12, 1, 65  # GB 18218-2018 Table 1 entries
HAZARD_UNITS: dict[str, tuple[HazardUnitSpec, ...]] = {
    # α 2 (≥ 100 people), chlorine β 4 Q 5 t: R = 2·4·80/5 = 128, grade I
    "六合生产基地": (
        HazardUnitSpec("液氯储罐区", 120, (SubstanceEntry(80, "液氯", entry=_CHLORINE),)),
        # α 1.2, ammonia β 2 Q 10 t: R = 1.2·2·30/10 = 7.2, grade IV
        HazardUnitSpec("液氨储罐区", 40, (SubstanceEntry(30, "液氨", entry=_AMMONIA),)),
    ),
    # α 1.5, methanol β 1 Q 500 t: R = 1.5·4,000/500 = 12, grade III
    "浦口储运库": (
        HazardUnitSpec("甲醇罐区", 60, (SubstanceEntry(4000, "甲醇", entry=_METHANOL),)),
    ),
    # R = 2·4·40/5 = 64, grade II
    "张家港化工园区厂": (
        HazardUnitSpec("氯碱装置区", 150, (SubstanceEntry(40, "液氯", entry=_CHLORINE),)),
    ),
    # α 1, R = 2·15/10 = 3, grade IV
    "昆山精细化工厂": (
        HazardUnitSpec("氨制冷车间", 20, (SubstanceEntry(15, "液氨", entry=_AMMONIA),)),
    ),
    # Explosives magazines (1.1 explosives, W1.1: β 2, Q 1 t): R = 1.2·2·25 = 60, grade II …
    "贾汪煤矿": (
        HazardUnitSpec("井下爆炸物品库", 40, (SubstanceEntry(25, "乳化炸药", category="W1.1"),)),
    ),
    # … and R = 1.5·2·8 = 24, grade III
    "雨花铁矿": (
        HazardUnitSpec("爆破器材库", 60, (SubstanceEntry(8, "乳化炸药", category="W1.1"),)),
    ),
}

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def _mobile(fake: Faker) -> str:
    while True:
        number = str(fake.phone_number())
        if _MOBILE.match(number):
            return number


def _workers(fake: Faker, rng: random.Random, prefix: str, area: str, n: int) -> list[WorkerSpec]:
    out = []
    for i in range(1, n + 1):
        born = fake.date_of_birth(minimum_age=22, maximum_age=58)
        out.append(
            WorkerSpec(
                name=str(fake.name()),
                employee_number=f"{prefix}{i:03d}",
                mobile=_mobile(fake),
                id_number=id_number(area, born, rng.randrange(1, 1000)),
            )
        )
    return out


def _site(
    fake: Faker, rng: random.Random, slug: str, industry: str, index: int, row: SiteRow
) -> SiteSpec:
    division, grade, name = row
    lat, lon = COUNTIES[division]
    zones, devices = layout(industry)
    prefix = f"{slug[0].upper()}{slug[-1]}{index:02d}-"
    workers = _workers(fake, rng, prefix, division, 4)
    wearables = tuple(
        DeviceSpec(
            f"智能安全帽 {w.employee_number}",
            ({"code": f"HR-{w.employee_number}", "kind": "heart_rate"},),
            w.employee_number,
        )
        for w in workers[:2]
    )
    return SiteSpec(
        name=name,
        division=division,
        major_hazard_grade=grade,
        plan="enterprise" if grade in (1, 2) else "standard",
        address=f"{place_name(division)}{fake.street_name()}{rng.randint(1, 399)}号",
        latitude=round(lat + rng.uniform(-0.03, 0.03), 5),
        longitude=round(lon + rng.uniform(-0.03, 0.03), 5),
        zones=zones,
        devices=devices + wearables,
        workers=tuple(workers),
        hazard_units=HAZARD_UNITS.get(name, ()),
    )


@cache
def build_plan() -> DemoPlan:
    """The whole demo, the same on every call and every run."""
    fake = Faker("zh_CN")
    fake.seed_instance(SEED)
    rng = random.Random(SEED)
    regulators = tuple(
        RegulatorSpec(division, role, f"{role}@{division}.gov.{MAIL_ROOT}", agency)
        for division, role, agency in (
            ("320000", "director", "江苏省应急管理厅"),
            ("320000", "analyst", "江苏省应急管理厅"),
            ("320100", "director", "南京市应急管理局"),
            ("320100", "inspector", "南京市应急管理局"),
            # 玄武区: reports in the district are handled at county level.
            ("320102", "director", "南京市玄武区应急管理局"),
            ("320102", "inspector", "南京市玄武区应急管理局"),
            ("320500", "director", "苏州市应急管理局"),
        )
    )
    brands = list(BRANDS)
    rng.shuffle(brands)
    tenants = []
    for (slug, industry, hq, rows), brand in zip(TENANT_TABLE, brands, strict=False):
        city = city_name(hq)
        tenants.append(
            TenantSpec(
                slug=slug,
                name=f"{city.removesuffix('市')}{brand}{INDUSTRY_WORDS[industry]}",
                industry=industry,
                division=hq,
                credit_code=credit_code(hq, f"{rng.randrange(10**7, 10**8)}"),
                sites=tuple(
                    _site(fake, rng, slug, industry, i, row) for i, row in enumerate(rows, 1)
                ),
            )
        )
    return DemoPlan(regulators=regulators, tenants=tuple(tenants))
