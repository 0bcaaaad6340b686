"""GraphQL of the government layer: a jurisdiction's figures, its sites' risk colours, its data
quality and its enterprises' rankings. Thin: one service call per field
(``backend.oversight.overview``, ``quality``, ``rankings``). The API merges ``OversightQuery``."""

from __future__ import annotations

import enum
from datetime import date, datetime

import strawberry

from backend.alarms.schema import SeverityCount, SeverityEnum
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.ids import parse_id
from backend.oversight import history, overview, quality, rankings
from backend.oversight.risk import RiskColor
from backend.telemetry.schema import SensorType
from tenants.schema import SiteType, TenantType


@strawberry.enum(
    name="RiskColor",
    description="A site's risk colour (风险四色), RED the worst; the rule is in the README.",
)
class RiskColorEnum(enum.Enum):
    RED = "RED"
    ORANGE = "ORANGE"
    YELLOW = "YELLOW"
    BLUE = "BLUE"


def _color(value: RiskColor | None) -> RiskColorEnum | None:
    return None if value is None else RiskColorEnum(value.value)


def _counts(figures: overview.DivisionFigures) -> list[SeverityCount]:
    return [
        SeverityCount(severity=SeverityEnum(severity.value), count=n)
        for severity, n in figures.active_alarms.items()
    ]


@strawberry.type(name="GradeCount")
class GradeCount:
    grade: int = strawberry.field(description="1-4 (一级 I, the most severe, to 四级 IV).")
    count: int


_ACTIVE_ALARMS = "Active (not cleared) alarms by severity: all four, RED first."
_ONLINE_RATE = "Online sensors / all sensors of its sites (0 to 1); null without sensors."
_BY_GRADE = "Major hazard sources by grade: all four, I first."
_OVERDUE_UNACKNOWLEDGED = (
    "Active alarms nobody acknowledged within their deadline (they escalated, or are due to)."
)
_OVERDUE_NOTICES = "Rectification notices past their deadline while they wait for the enterprise."


def _figures(figures: overview.DivisionFigures) -> dict[str, object]:
    """The fields a division's figures and a jurisdiction share."""
    return {
        "division_code": figures.division_code,
        "name": figures.name,
        "enterprises": figures.enterprises,
        "sites": figures.sites,
        "major_hazard_sources": figures.major_hazard_sources,
        "major_hazard_sources_by_grade": [
            GradeCount(grade=grade, count=n)
            for grade, n in figures.major_hazard_sources_by_grade.items()
        ],
        "online_rate": figures.online_rate,
        "active_alarms": _counts(figures),
        "overdue_unacknowledged": figures.overdue_unacknowledged,
        "overdue_notices": figures.overdue_notices,
        "risk_color": _color(figures.risk_color),
    }


@strawberry.type(name="DivisionFigures")
class DivisionFiguresType:
    division_code: str
    name: str
    enterprises: int = strawberry.field(
        description="Distinct enterprises with at least one site inside."
    )
    sites: int
    major_hazard_sources: int
    major_hazard_sources_by_grade: list[GradeCount] = strawberry.field(
        description=_BY_GRADE, metadata={"list_size": 4}
    )
    online_rate: float | None = strawberry.field(description=_ONLINE_RATE)
    active_alarms: list[SeverityCount] = strawberry.field(
        description=_ACTIVE_ALARMS, metadata={"list_size": 4}
    )
    overdue_unacknowledged: int = strawberry.field(description=_OVERDUE_UNACKNOWLEDGED)
    overdue_notices: int = strawberry.field(description=_OVERDUE_NOTICES)
    risk_color: RiskColorEnum | None = strawberry.field(
        description="The worst colour of its sites; null without sites."
    )

    @classmethod
    def of(cls, figures: overview.DivisionFigures) -> DivisionFiguresType:
        return cls(**_figures(figures))


@strawberry.type(name="Jurisdiction")
class JurisdictionType:
    division_code: str
    name: str
    enterprises: int = strawberry.field(
        description="Distinct enterprises with at least one site inside (not the sum over "
        "children: one with sites in two children counts once)."
    )
    sites: int = strawberry.field(
        description="Its children's sites plus those coded at the division itself."
    )
    major_hazard_sources: int
    major_hazard_sources_by_grade: list[GradeCount] = strawberry.field(
        description=_BY_GRADE, metadata={"list_size": 4}
    )
    online_rate: float | None = strawberry.field(description=_ONLINE_RATE)
    active_alarms: list[SeverityCount] = strawberry.field(
        description=_ACTIVE_ALARMS, metadata={"list_size": 4}
    )
    overdue_unacknowledged: int = strawberry.field(description=_OVERDUE_UNACKNOWLEDGED)
    overdue_notices: int = strawberry.field(description=_OVERDUE_NOTICES)
    risk_color: RiskColorEnum | None = strawberry.field(
        description="The worst colour of its sites; null without sites."
    )
    children: list[DivisionFiguresType] = strawberry.field(
        description="A province's cities or a city's counties that have sites, by code."
    )

    @classmethod
    def of(cls, found: overview.Jurisdiction) -> JurisdictionType:
        return cls(
            **_figures(found.figures),
            children=[DivisionFiguresType.of(c) for c in found.children],
        )


@strawberry.type(name="DailyOnlineRate")
class DailyOnlineRateType:
    day: date = strawberry.field(description="A calendar day in China time.")
    rate: float | None = strawberry.field(description="0 to 1; null without sensors.")


@strawberry.type(name="SiteRisk")
class SiteRiskType:
    site: SiteType
    risk_color: RiskColorEnum
    online_rate: float | None = strawberry.field(
        description="Online sensors / sensors of the site (0 to 1); null without sensors."
    )
    active_alarm_count: int
    major_hazard_grade: int | None = strawberry.field(description="1-4 (I-IV), or null.")

    @classmethod
    def of(cls, risk: overview.SiteRisk) -> SiteRiskType:
        figures = risk.figures
        color = _color(figures.risk_color)
        assert color is not None
        return cls(
            site=SiteType.of(risk.site),
            risk_color=color,
            online_rate=figures.online_rate,
            active_alarm_count=figures.active_alarm_count,
            major_hazard_grade=figures.major_hazard_grade,
        )


@strawberry.enum(
    name="DataQualityProblem",
    description="What is wrong with a measuring point's data; the rules are in the README.",
)
class DataQualityProblemEnum(enum.Enum):
    OFFLINE_DEVICE = "OFFLINE_DEVICE"
    STALE = "STALE"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    FLATLINE = "FLATLINE"


@strawberry.type(name="DataQualityPoint")
class DataQualityPointType:
    sensor: SensorType
    site: SiteType
    problem: DataQualityProblemEnum
    since: datetime | None = strawberry.field(
        description="OFFLINE_DEVICE: when the device was last heard from; STALE and "
        "OUT_OF_RANGE: its latest reading; FLATLINE: the first minute of the window with a "
        "reading. Null: never."
    )
    last_seen: datetime | None = strawberry.field(
        description="The sensor's latest reading's time; null before the first."
    )
    last_value: float | None = strawberry.field(description="The sensor's latest value.")

    @classmethod
    def of(cls, point: quality.Point) -> DataQualityPointType:
        return cls(
            sensor=SensorType.of(point.sensor),
            site=SiteType.of(point.site),
            problem=DataQualityProblemEnum(point.problem.value),
            since=point.since,
            last_seen=point.last_seen,
            last_value=point.last_value,
        )


@strawberry.type(name="DataQuality")
class DataQualityType:
    division_code: str
    sensors: int = strawberry.field(
        description="Registered sensors of devices not revoked at the sites inside."
    )
    stale: int = strawberry.field(description="Points listed as STALE (the whole division).")
    flatline: int = strawberry.field(description="Points listed as FLATLINE.")
    out_of_range: int = strawberry.field(description="Points listed as OUT_OF_RANGE.")
    offline_devices: int = strawberry.field(description="Devices behind the OFFLINE_DEVICE points.")
    points: list[DataQualityPointType] = strawberry.field(
        description="One page of the sensors with a problem, each under its first problem: "
        "OFFLINE_DEVICE, STALE, OUT_OF_RANGE, FLATLINE; then by site name and sensor code."
    )

    @classmethod
    def of(cls, found: quality.DataQuality) -> DataQualityType:
        return cls(
            division_code=found.division_code,
            sensors=found.sensors,
            stale=found.stale,
            flatline=found.flatline,
            out_of_range=found.out_of_range,
            offline_devices=found.offline_devices,
            points=[DataQualityPointType.of(p) for p in found.points],
        )


@strawberry.enum(
    name="EnterpriseRankingOrder",
    description="What enterprises are ranked by, worst first: lowest online rate, slowest "
    "acknowledgement, most alarms, highest false-positive rate, most overdue notices.",
)
class EnterpriseRankingOrderEnum(enum.Enum):
    ONLINE_RATE = "ONLINE_RATE"
    MTTA = "MTTA"
    ALARMS = "ALARMS"
    FALSE_POSITIVE_RATE = "FALSE_POSITIVE_RATE"
    OVERDUE_NOTICES = "OVERDUE_NOTICES"


@strawberry.type(name="EnterpriseRanking")
class EnterpriseRankingType:
    tenant: TenantType
    sites: int = strawberry.field(description="Its sites inside the division.")
    sensors: int
    online_rate: float | None = strawberry.field(description=_ONLINE_RATE)
    alarms: int = strawberry.field(description="Alarms raised in the last `days` there.")
    mtta_seconds: float | None = strawberry.field(
        description="Mean seconds from raised to acknowledged of those acknowledged."
    )
    mttr_seconds: float | None = strawberry.field(
        description="Mean seconds from raised to cleared of those cleared."
    )
    false_positive_rate: float | None = strawberry.field(
        description="False positives / alarms closed after review (0 to 1); null: none closed."
    )
    overdue_notices: int = strawberry.field(description=_OVERDUE_NOTICES)

    @classmethod
    def of(cls, r: rankings.EnterpriseRanking) -> EnterpriseRankingType:
        return cls(
            tenant=TenantType.of(r.tenant),
            sites=r.sites,
            sensors=r.sensors,
            online_rate=r.online_rate,
            alarms=r.alarms,
            mtta_seconds=r.mtta_seconds,
            mttr_seconds=r.mttr_seconds,
            false_positive_rate=r.false_positive_rate,
            overdue_notices=r.overdue_notices,
        )


@strawberry.type
class OversightQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="A division of the caller's jurisdiction (their own without divisionCode, "
        "which a regulator of several divisions must give) with its children's figures. "
        "NOT_FOUND outside the caller's jurisdiction and for callers who regulate nothing.",
        metadata={"store_queries": 1},
    )
    async def jurisdiction(self, info: Info, division_code: str | None = None) -> JurisdictionType:
        ctx = info.context
        found = await overview.jurisdiction(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            client=ctx.rt.clickhouse,
            division_code=division_code,
            offline_after_seconds=ctx.rt.settings.offline_after_seconds,
            clock=ctx.rt.clock,
        )
        return JurisdictionType.of(found)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The online rate of a division of the caller's jurisdiction (as for "
        "jurisdiction) for each of the last `days` (1 to 90) days in China time, oldest "
        "first: sensor-hours with a reading over registered sensors times the day's hours "
        "(the rule is in the README). NOT_FOUND as for jurisdiction.",
        metadata={"store_queries": 1},
    )
    async def online_rate_history(
        self, info: Info, division_code: str | None = None, days: int | None = 30
    ) -> list[DailyOnlineRateType]:
        ctx = info.context
        found = await history.online_rate_by_day(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            client=ctx.rt.clickhouse,
            division_code=division_code,
            days=30 if days is None else days,
            clock=ctx.rt.clock,
        )
        return [DailyOnlineRateType(day=d.day, rate=d.rate) for d in found]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The sites inside a division of the caller's jurisdiction (as for "
        "jurisdiction), RED to BLUE, then by name and id; first at most 500, after the id of "
        "the last site of the previous page. Empty for callers who regulate nothing.",
        metadata={"store_queries": 1},
    )
    async def site_risks(
        self,
        info: Info,
        first: int | None = 50,
        after: strawberry.ID | None = None,
        division_code: str | None = None,
    ) -> list[SiteRiskType]:
        ctx = info.context
        found = await overview.site_risks(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            client=ctx.rt.clickhouse,
            division_code=division_code,
            offline_after_seconds=ctx.rt.settings.offline_after_seconds,
            first=50 if first is None else first,
            after=None if after is None else parse_id(after, "site"),
            clock=ctx.rt.clock,
        )
        return [SiteRiskType.of(r) for r in found]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The data quality of a division of the caller's jurisdiction (as for "
        "jurisdiction): counts of the whole division and a page of its problem points; first "
        "at most 500, after the sensor id of the last point of the previous page. NOT_FOUND "
        "outside the caller's jurisdiction and for callers who regulate nothing.",
        metadata={"store_queries": 3},
    )
    async def data_quality(
        self,
        info: Info,
        division_code: str | None = None,
        first: int | None = 100,
        after: strawberry.ID | None = None,
    ) -> DataQualityType:
        ctx = info.context
        found = await quality.data_quality(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            client=ctx.rt.clickhouse,
            division_code=division_code,
            offline_after_seconds=ctx.rt.settings.offline_after_seconds,
            first=100 if first is None else first,
            after=None if after is None else parse_id(after, "sensor"),
            clock=ctx.rt.clock,
        )
        return DataQualityType.of(found)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The enterprises with sites inside a division of the caller's "
        "jurisdiction (as for jurisdiction), worst first by orderBy, then by name; alarms of "
        "the last `days` (1 to 366); first at most 500. Empty for callers who regulate "
        "nothing.",
        metadata={"store_queries": 1},
    )
    async def enterprise_rankings(
        self,
        info: Info,
        division_code: str | None = None,
        days: int | None = 30,
        order_by: EnterpriseRankingOrderEnum | None = EnterpriseRankingOrderEnum.ONLINE_RATE,
        first: int | None = 50,
    ) -> list[EnterpriseRankingType]:
        ctx = info.context
        found = await rankings.enterprise_rankings(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            client=ctx.rt.clickhouse,
            division_code=division_code,
            offline_after_seconds=ctx.rt.settings.offline_after_seconds,
            days=30 if days is None else days,
            order_by=rankings.RankingOrder(
                (order_by or EnterpriseRankingOrderEnum.ONLINE_RATE).value
            ),
            first=50 if first is None else first,
            clock=ctx.rt.clock,
        )
        return [EnterpriseRankingType.of(r) for r in found]
