"""The subscription plans of the contract: quotas per site."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlanQuota:
    code: str
    name_zh: str
    name_en: str
    max_sensors: int
    max_readings_per_minute: int
    default_retention_days: int


PLANS: tuple[PlanQuota, ...] = (
    PlanQuota("basic", "基础版", "Basic", 200, 60_000, 90),
    PlanQuota("standard", "标准版", "Standard", 1_000, 600_000, 180),
    PlanQuota("enterprise", "企业版", "Enterprise", 10_000, 12_000_000, 365),
)
DEFAULT_PLAN = "standard"
PLAN_CODES = tuple(p.code for p in PLANS)
