"""Fixtures of the public hazard report tests: an easy proof of work (the tests solve many in
Python) and a clean rate-limit slate per test (every request comes from one test client)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete

from backend.auth.models import LoginThrottle
from backend.reports.service import PHOTO, REPORT, ReportIntake
from backend.runtime import Runtime
from tenants.scope import unscoped_session

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
