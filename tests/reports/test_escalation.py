"""A report not accepted in time moves up: the escalation job, by the clock, hands a received
report past its acceptance deadline to the nearest division above with regulators who handle
reports, which gets a fresh acceptance period; the reporter reads it on the timeline. What
stays overdue is mailed to the handling division's directors, once per missed deadline.

The reports are submitted on a clock set days back, so the job's "now" stays in the past and
the other tests' reports (received now) are never due."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.auth.mail_outbox import MailOutboxMessage
from backend.core.clock import WALL_CLOCK, SimulatedClock
from backend.jobs.report_escalation import ReportEscalation
from backend.reports.models import ACCEPT_WITHIN, CLOSE_WITHIN
from backend.reports.service import ReportIntake
from backend.runtime import Runtime
from tenants.scope import unscoped_session
from tests.graphql import GraphQLClient
from tests.reports.conftest import Staff
from tests.reports.helpers import ACCEPT, EXTEND, REPORT, audit_actions, submitted, tracked

MINUTE = timedelta(minutes=1)


async def overdue_mails(runtime: Runtime, report: str) -> list[MailOutboxMessage]:
    async with unscoped_session(runtime.sessions) as session:
        rows = await session.scalars(
            select(MailOutboxMessage).where(
                MailOutboxMessage.idempotency_key.startswith(f"report-overdue:{report}:")
            )
        )
        return list(rows.all())


async def back_in_time(
    api: GraphQLClient,
    runtime: Runtime,
    intake: ReportIntake,
    days: int,
    division: str,
) -> tuple[str, str, SimulatedClock]:
    start = SimulatedClock(WALL_CLOCK.now() - timedelta(days=days))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(intake, "clock", start)
        report, receipt = await submitted(
            api, runtime, divisionCode=division, location=None, observedAt=None
        )
    return report, receipt, start


async def test_an_unaccepted_report_moves_to_the_city(
    api: GraphQLClient,
    runtime: Runtime,
    anhui: Staff,
    intake: ReportIntake,
) -> None:
    report, receipt, clock = await back_in_time(api, runtime, intake, 10, "340102")
    received = clock.now()
    inspector, city = anhui.email["inspector"], anhui.email["city_director"]
    seen = await api.query(REPORT, {"id": report}, as_user=inspector)
    assert seen.data is not None and seen.data["hazardReport"]["handlingDivisionCode"] == "340102"

    job = ReportEscalation(runtime.sessions, clock)
    clock.set(received + ACCEPT_WITHIN - MINUTE)
    await job.run()
    seen = await api.query(REPORT, {"id": report}, as_user=city)
    assert seen.data is not None
    assert seen.data["hazardReport"]["handlingDivisionCode"] == "340102"  # not yet due

    clock.set(received + ACCEPT_WITHIN + MINUTE)
    assert await job.run() >= 1
    await job.run()  # again: this one is no longer due (one escalation in the trail, below)
    seen = await api.query(REPORT, {"id": report}, as_user=city)
    assert seen.data is not None, seen.body
    moved = seen.data["hazardReport"]
    assert moved["handlingDivisionCode"] == "340100" and moved["status"] == "RECEIVED"
    assert moved["assignee"] is None
    page = await tracked(api, receipt)
    (entry,) = [e for e in page["timeline"] if e["note"] and "移交" in e["note"]]
    assert entry["status"] == "RECEIVED" and "合肥市" in entry["note"]
    assert await audit_actions(runtime, report) == ["report.escalate"]
    assert await overdue_mails(runtime, report) == []  # the city has time to accept it
    # The county no longer handles it; the city does.
    refused = await api.query(ACCEPT, {"id": report}, as_user=inspector)
    assert refused.code == "FORBIDDEN", refused.body
    accepted = await api.query(ACCEPT, {"id": report}, as_user=city)
    assert accepted.data is not None, accepted.body
    assert accepted.data["acceptHazardReport"]["status"] == "ACCEPTED"


async def test_a_moved_report_has_a_fresh_acceptance_period(
    api: GraphQLClient,
    runtime: Runtime,
    anhui: Staff,
    intake: ReportIntake,
) -> None:
    report, _, clock = await back_in_time(api, runtime, intake, 30, "340102")
    received = clock.now()
    job = ReportEscalation(runtime.sessions, clock)
    clock.set(received + ACCEPT_WITHIN + MINUTE)
    await job.run()
    seen = await api.query(REPORT, {"id": report}, as_user=anhui.email["city_director"])
    assert seen.data is not None, seen.body
    row = seen.data["hazardReport"]
    assert row["handlingDivisionCode"] == "340100"
    # Nothing above the city handles reports: a second deadline passing leaves it there.
    clock.set(received + 2 * ACCEPT_WITHIN + 2 * MINUTE)
    await job.run()
    seen = await api.query(REPORT, {"id": report}, as_user=anhui.email["city_director"])
    assert seen.data is not None
    assert seen.data["hazardReport"]["handlingDivisionCode"] == "340100"
    # ... and its director is told, once.
    (mail,) = await overdue_mails(runtime, report)
    assert mail.recipient == anhui.email["city_director"] and report in mail.subject
    await job.run()
    assert len(await overdue_mails(runtime, report)) == 1
    assert await audit_actions(runtime, report) == ["report.escalate", "report.overdue"]


async def test_a_report_with_nowhere_to_go_stays_overdue(
    api: GraphQLClient,
    runtime: Runtime,
    anhui: Staff,
    intake: ReportIntake,
) -> None:
    # 镜湖区 has an inspector; nobody in 芜湖市 or 安徽省 handles reports.
    report, _, clock = await back_in_time(api, runtime, intake, 50, "340202")
    received = clock.now()
    clock.set(received + ACCEPT_WITHIN + MINUTE)
    await ReportEscalation(runtime.sessions, clock).run()
    seen = await api.query(REPORT, {"id": report}, as_user=anhui.email["wuhu_inspector"])
    assert seen.data is not None, seen.body
    row = seen.data["hazardReport"]
    assert row["handlingDivisionCode"] == "340202"
    assert row["overdue"] is True  # by the runtime's clock: now, long past its deadline
    # No director there: its inspector is told, and the text of the report is not.
    (mail,) = await overdue_mails(runtime, report)
    assert mail.recipient == anhui.email["wuhu_inspector"]
    assert "储罐" not in mail.body and "镜湖区" in mail.body
    assert await audit_actions(runtime, report) == ["report.overdue"]


async def test_an_accepted_report_is_not_moved(
    api: GraphQLClient,
    runtime: Runtime,
    anhui: Staff,
    intake: ReportIntake,
) -> None:
    report, _, clock = await back_in_time(api, runtime, intake, 70, "340102")
    received = clock.now()
    accepted = await api.query(ACCEPT, {"id": report}, as_user=anhui.email["inspector"])
    assert accepted.data is not None, accepted.body
    clock.set(received + ACCEPT_WITHIN + MINUTE)
    await ReportEscalation(runtime.sessions, clock).run()
    seen = await api.query(REPORT, {"id": report}, as_user=anhui.email["inspector"])
    assert seen.data is not None
    assert seen.data["hazardReport"]["handlingDivisionCode"] == "340102"


async def test_a_missed_closing_deadline_is_mailed_once_per_deadline(
    api: GraphQLClient,
    runtime: Runtime,
    anhui: Staff,
    intake: ReportIntake,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report, _, clock = await back_in_time(api, runtime, intake, 200, "340102")
    monkeypatch.setitem(runtime.__dict__, "clock", clock)  # what the resolvers read
    inspector, city = anhui.email["inspector"], anhui.email["city_director"]
    accepted = await api.query(ACCEPT, {"id": report}, as_user=inspector)
    assert accepted.data is not None, accepted.body
    job = ReportEscalation(runtime.sessions, clock)
    clock.advance((CLOSE_WITHIN - MINUTE).total_seconds())
    await job.run()
    assert await overdue_mails(runtime, report) == []
    clock.advance((2 * MINUTE).total_seconds())
    await job.run()
    await job.run()
    (mail,) = await overdue_mails(runtime, report)  # 瑶海区 has no director: its inspector
    assert mail.recipient == inspector and "办结" in mail.subject
    # The city director approves no extension here (not the handling division); the county
    # has no director to, so the report stays overdue and is not mailed about again.
    refused = await api.query(EXTEND, {"id": report, "reason": "待鉴定"}, as_user=city)
    assert refused.code == "FORBIDDEN", refused.body
    clock.advance(timedelta(days=1).total_seconds())
    await job.run()
    assert len(await overdue_mails(runtime, report)) == 1
    assert await audit_actions(runtime, report) == ["report.accept", "report.overdue"]
