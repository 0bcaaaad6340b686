"""Fixtures of the public hazard report tests: an easy proof of work (the tests solve many in
Python), a clean rate-limit slate per test (every request comes from one test client), the
regulators of Zhejiang and Anhui who handle reports there (no other test uses those
provinces), and a clock the test moves ahead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete

from backend.auth.models import LoginThrottle
from backend.auth.principal import Principal
from backend.core.clock import AdjustableClock
from backend.oversight.service import create_regulator_in_own_transaction
from backend.reports.service import PHOTO, REPORT, ReportIntake
from backend.runtime import Runtime
from tenants.scope import unscoped_session
from tests.factories import PASSWORD, TenantWorld, build_tenant, unique

EASY = 8


async def forget_rate(runtime: Runtime) -> None:
    async with unscoped_session(runtime.sessions) as session, session.begin():
        await session.execute(delete(LoginThrottle).where(LoginThrottle.kind.in_((REPORT, PHOTO))))


@pytest.fixture(autouse=True)
async def intake(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ReportIntake | None]:
    if "runtime" not in request.fixturenames:  # a test of pure functions
        yield None
        return
    runtime: Runtime = request.getfixturevalue("runtime")
    desk = runtime.report_intake
    monkeypatch.setattr(desk, "difficulty", EASY)
    await forget_rate(runtime)
    yield desk
    await forget_rate(runtime)


@dataclass
class Staff:
    """Regulators by label (e-mail and user id), and an enterprise with a site."""

    email: dict[str, str]
    id: dict[str, str]
    tenant: TenantWorld | None = None


async def make_staff(
    runtime: Runtime, people: dict[str, tuple[str, str]], tenant: TenantWorld | None = None
) -> Staff:
    staff = Staff({}, {}, tenant)
    for label, (division, role) in people.items():
        email = f"{label.replace('_', '.')}.{division}.{unique('h')}@example.gov.cn"
        user = await create_regulator_in_own_transaction(
            sessions=runtime.sessions,
            authz=runtime.authz,
            principal=Principal.system(),
            division_code=division,
            email=email,
            password=PASSWORD,
            role=role,
            log2_n=runtime.log2_n,
        )
        staff.email[label] = email
        staff.id[label] = str(user.id)
    return staff


# 西湖区 (330106) handles its own reports; 杭州市 and 浙江省 above it read them.
ZHEJIANG = {
    "province_director": ("330000", "director"),
    "province_analyst": ("330000", "analyst"),
    "city_director": ("330100", "director"),
    "city_inspector": ("330100", "inspector"),
    "director": ("330106", "director"),
    "inspector": ("330106", "inspector"),
    "other_inspector": ("330106", "inspector"),
    "analyst": ("330106", "analyst"),
}
# 瑶海区 (340102) handles its own, 合肥市 above it; 镜湖区 (340202) has an inspector and nobody
# above it in 芜湖市 or 安徽省 handles reports.
ANHUI = {
    "inspector": ("340102", "inspector"),
    "city_director": ("340100", "director"),
    "wuhu_inspector": ("340202", "inspector"),
}


@pytest.fixture(scope="session")
async def zhejiang(runtime: Runtime) -> Staff:
    tenant = await build_tenant(runtime, "ZJ", "330100", "330106")
    return await make_staff(runtime, ZHEJIANG, tenant)


@pytest.fixture(scope="session")
async def anhui(runtime: Runtime) -> Staff:
    return await make_staff(runtime, ANHUI)


@pytest.fixture
def clock(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AdjustableClock:
    """The runtime's clock (what the GraphQL resolvers read), one the test moves ahead."""
    adjustable = AdjustableClock()
    monkeypatch.setitem(runtime.__dict__, "clock", adjustable)
    return adjustable
