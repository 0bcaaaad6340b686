"""Handling a public hazard report in the government portal: accepted or rejected, assigned,
investigated, closed, the reporter told; deadlines by the clock; who may make each move;
bad moves refused naming the statuses that allow them, changing nothing; every change in the
audit trail and the reporter's tracking page showing only the public entries."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from backend.core.clock import AdjustableClock
from backend.runtime import Runtime
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.reports.conftest import Staff
from tests.reports.helpers import (
    ACCEPT,
    ASSIGN,
    ASSIGNEES,
    CLOSE,
    CONFIRM,
    DRAFT,
    EXTEND,
    FEEDBACK,
    INVESTIGATE,
    PUBLISH,
    QUEUE,
    REJECT,
    REPORT,
    audit_actions,
    submitted,
    tracked,
)

XIHU = {"divisionCode": "330106", "location": {"lat": 30.259, "lon": 120.13}}
DAY = timedelta(days=1)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def report_in_xihu(api: GraphQLClient, runtime: Runtime, **changes: Any) -> tuple[str, str]:
    return await submitted(api, runtime, **{**XIHU, "address": "西湖区某物流仓库", **changes})


async def ok(api: GraphQLClient, query: str, variables: dict[str, Any], user: str) -> Any:
    """The one field a query or mutation answers, which must succeed."""
    result = await api.query(query, variables, as_user=user)
    assert result.data is not None and not result.body.get("errors"), result.body
    (value,) = result.data.values()
    return value


async def test_a_report_from_acceptance_to_published_summary(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff
) -> None:
    staff = zhejiang
    assert staff.tenant is not None
    report, receipt = await report_in_xihu(
        api, runtime, contact={"name": "周女士", "mobile": "13700001111"}
    )
    director, inspector = staff.email["director"], staff.email["inspector"]
    seen = await ok(api, REPORT, {"id": report}, director)
    assert seen["handlingDivisionCode"] == "330106" and seen["status"] == "RECEIVED"
    assert seen["contactGiven"] is True and seen["contactReadable"] is True

    accepted = await ok(
        api,
        ACCEPT,
        {"id": report, "note": "内部：先电话核实", "site": str(staff.tenant.site_id)},
        inspector,
    )
    assert accepted["status"] == "ACCEPTED"
    assert at(accepted["closeDueAt"]) - at(accepted["acceptedAt"]) == 60 * DAY
    assert accepted["subjectSite"]["id"] == str(staff.tenant.site_id)

    assignees = await ok(api, ASSIGNEES, {"id": report}, director)
    listed = {a["userId"] for a in assignees}
    assert {staff.id["inspector"], staff.id["director"], staff.id["other_inspector"]} <= listed
    assert staff.id["analyst"] not in listed and staff.id["city_director"] not in listed
    assigned = await ok(api, ASSIGN, {"id": report, "to": staff.id["inspector"]}, director)
    assert assigned["assignee"]["userId"] == staff.id["inspector"]

    investigating = await ok(
        api, INVESTIGATE, {"id": report, "note": "现场检查发现围堰破损，企业负责人在场"}, inspector
    )
    assert investigating["status"] == "INVESTIGATING"
    again = await ok(api, INVESTIGATE, {"id": report, "note": "复查：已停用储罐"}, inspector)
    assert again["status"] == "INVESTIGATING"

    closed = await ok(
        api,
        CLOSE,
        {"id": report, "outcome": "情况属实，已责令停产整改并立案", "reward": True},
        inspector,
    )
    assert closed["status"] == "CLOSED" and closed["rewardEligible"] is True
    assert at(closed["feedbackDueAt"]) - at(closed["closedAt"]) == 10 * DAY
    assert closed["outcome"] == "情况属实，已责令停产整改并立案"

    told = await ok(
        api, FEEDBACK, {"id": report, "note": "您反映的问题已查实，企业已停产整改。"}, inspector
    )
    assert told["feedbackAt"] is not None and told["overdue"] is False

    # The summary: refused while it names anyone, drafted by the inspector, published by the
    # director only.
    refused = await api.query(
        DRAFT, {"id": report, "summary": "经核查属实，联系人 13912345678"}, as_user=inspector
    )
    assert refused.code == "BAD_USER_INPUT", refused.body
    refused = await api.query(
        DRAFT, {"id": report, "summary": "举报人周女士反映的问题属实"}, as_user=inspector
    )
    assert refused.code == "BAD_USER_INPUT", refused.body
    summary = "经核查，举报反映的储罐区围堰破损问题属实，已责令企业停产整改。"
    drafted = await ok(api, DRAFT, {"id": report, "summary": summary}, inspector)
    assert drafted["publicSummary"] == summary and drafted["summaryPublishedAt"] is None
    assert (await tracked(api, receipt))["outcome"] is None  # not yet approved
    refused = await api.query(PUBLISH, {"id": report}, as_user=inspector)
    assert refused.code == "FORBIDDEN", refused.body
    published = await ok(api, PUBLISH, {"id": report}, director)
    assert published["summaryPublishedAt"] is not None

    # The reporter reads the public entries and the summary, nothing internal.
    page = await tracked(api, receipt)
    assert page["status"] == "CLOSED" and page["outcome"] == summary
    statuses = [entry["status"] for entry in page["timeline"]]
    assert statuses[:4] == ["RECEIVED", "ACCEPTED", "INVESTIGATING", "CLOSED"]
    notes = " ".join(entry["note"] or "" for entry in page["timeline"])
    assert "您反映的问题已查实" in notes
    shown = json.dumps(page, ensure_ascii=False)
    for internal in ("先电话核实", "企业负责人在场", "已停用储罐", "立案", "周女士", "13700001111"):
        assert internal not in shown, internal
    # Regulators read the whole timeline, internal entries marked, with who made them.
    full = await ok(api, REPORT, {"id": report}, director)
    internal_notes = [e["note"] for e in full["timeline"] if e["internal"]]
    assert "内部：先电话核实" in internal_notes and "复查：已停用储罐" in internal_notes
    assert {e["actorEmail"] for e in full["timeline"] if e["internal"]} >= {inspector}
    assert full["timeline"][0]["actorEmail"] is None  # the reporter

    actions = await audit_actions(runtime, report)
    assert actions == [
        "report.accept",
        "report.assign",
        "report.investigate",
        "report.investigate",
        "report.close",
        "report.feedback",
        "report.draft_summary",
        "report.publish_summary",
    ]


async def test_bad_moves_are_refused_naming_the_allowed_statuses(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff
) -> None:
    report, _ = await report_in_xihu(api, runtime)
    director = zhejiang.email["director"]
    moves = [
        (CLOSE, {"outcome": "办结"}, "ACCEPTED or INVESTIGATING"),
        (INVESTIGATE, {"note": "核查"}, "ACCEPTED or INVESTIGATING"),
        (FEEDBACK, {"note": "反馈"}, "CLOSED"),
        (EXTEND, {"reason": "案情复杂"}, "ACCEPTED or INVESTIGATING"),
        (PUBLISH, {}, "ACCEPTED or INVESTIGATING or CLOSED"),
    ]
    for query, variables, allowed in moves:
        refused = await api.query(query, {"id": report, **variables}, as_user=director)
        assert refused.code == "BAD_USER_INPUT", refused.body
        assert allowed in refused.body["errors"][0]["message"], refused.body
    await ok(api, ACCEPT, {"id": report}, director)
    for query, variables in ((ACCEPT, {}), (REJECT, {"reason": "DUPLICATE", "note": "重复"})):
        refused = await api.query(query, {"id": report, **variables}, as_user=director)
        assert refused.code == "BAD_USER_INPUT", refused.body
        assert "needs RECEIVED" in refused.body["errors"][0]["message"]
    # Bad input beside a good status: an empty outcome, a site of another division.
    refused = await api.query(CLOSE, {"id": report, "outcome": "  "}, as_user=director)
    assert refused.code == "BAD_USER_INPUT", refused.body
    world_site = await api.query(CONFIRM, {"id": report, "site": report}, as_user=director)
    assert world_site.code == "BAD_USER_INPUT", world_site.body
    seen = await ok(api, REPORT, {"id": report}, director)
    assert seen["status"] == "ACCEPTED" and seen["closedAt"] is None
    assert await audit_actions(runtime, report) == ["report.accept"]


async def test_only_the_handling_division_acts_and_only_its_director_approves(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff, world: World
) -> None:
    staff = zhejiang
    report, _ = await report_in_xihu(api, runtime)
    for label in ("analyst", "province_analyst", "city_director", "province_director"):
        refused = await api.query(ACCEPT, {"id": report}, as_user=staff.email[label])
        assert refused.code == "FORBIDDEN", (label, refused.body)
    for user in (world.a.users["owner"], world.platform_admin, world.regulators["320000"]):
        refused = await api.query(ACCEPT, {"id": report}, as_user=user)
        assert refused.code == "NOT_FOUND", (user, refused.body)
    inspector, director = staff.email["inspector"], staff.email["director"]
    await ok(api, ACCEPT, {"id": report}, inspector)
    for query, variables in (
        (ASSIGN, {"to": staff.id["inspector"]}),
        (EXTEND, {"reason": "需要检测报告"}),
    ):
        refused = await api.query(query, {"id": report, **variables}, as_user=inspector)
        assert refused.code == "FORBIDDEN", refused.body
    # Only the division's own inspectors and directors are assignees.
    for outsider in (staff.id["city_inspector"], staff.id["analyst"]):
        refused = await api.query(ASSIGN, {"id": report, "to": outsider}, as_user=director)
        assert refused.code == "BAD_USER_INPUT", refused.body
    extended = await ok(api, EXTEND, {"id": report, "reason": "需要检测报告"}, director)
    assert extended["closeExtended"] is True
    assert at(extended["closeDueAt"]) - at(extended["acceptedAt"]) == 90 * DAY
    twice = await api.query(EXTEND, {"id": report, "reason": "再延"}, as_user=director)
    assert twice.code == "BAD_USER_INPUT", twice.body
    assert await audit_actions(runtime, report) == ["report.accept", "report.extend"]


async def test_deadlines_and_overdue_flags_by_the_clock(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff, clock: AdjustableClock
) -> None:
    director = zhejiang.email["director"]
    report, _ = await report_in_xihu(api, runtime, description="配电房漏水，电缆泡在水里")
    queue = {"d": "330106", "o": True}

    async def overdue() -> tuple[bool, bool]:
        seen = await ok(api, REPORT, {"id": report}, director)
        listed = await api.query(QUEUE, queue, as_user=director)
        assert listed.data is not None, listed.body
        in_list = any(r["id"] == report for r in listed.data["hazardReports"])
        return seen["overdue"], in_list

    assert await overdue() == (False, False)
    clock.advance((5 * DAY + timedelta(minutes=1)).total_seconds())  # acceptance is late
    assert await overdue() == (True, True)
    accepted = await ok(api, ACCEPT, {"id": report}, director)
    assert accepted["overdue"] is False
    clock.advance((60 * DAY - timedelta(minutes=2)).total_seconds())
    assert await overdue() == (False, False)
    clock.advance(timedelta(minutes=3).total_seconds())  # 60 days after acceptance
    assert await overdue() == (True, True)
    await ok(api, EXTEND, {"id": report, "reason": "等待鉴定结论"}, director)
    assert await overdue() == (False, False)
    clock.advance((30 * DAY).total_seconds())
    assert await overdue() == (True, True)
    closed = await ok(api, CLOSE, {"id": report, "outcome": "已整改"}, director)
    assert closed["overdue"] is False
    clock.advance((10 * DAY + timedelta(minutes=1)).total_seconds())  # no feedback in 10 days
    assert await overdue() == (True, True)
    await ok(api, FEEDBACK, {"id": report, "note": "已整改完毕"}, director)
    assert await overdue() == (False, False)
    twice = await api.query(FEEDBACK, {"id": report, "note": "再次反馈"}, as_user=director)
    assert twice.code == "BAD_USER_INPUT", twice.body


async def test_a_rejection_is_published_to_the_reporter_with_its_reason(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff
) -> None:
    report, receipt = await report_in_xihu(api, runtime)
    rejected = await ok(
        api,
        REJECT,
        {
            "id": report,
            "reason": "OUT_OF_SCOPE",
            "note": "属于市场监管部门职责，请致电 13811112222 咨询",
        },
        zhejiang.email["inspector"],
    )
    assert rejected["status"] == "REJECTED" and rejected["rejectReason"] == "OUT_OF_SCOPE"
    page = await tracked(api, receipt)
    assert page["status"] == "REJECTED" and page["outcome"] is None
    (entry,) = [e for e in page["timeline"] if e["status"] == "REJECTED"]
    assert "不予受理" in entry["note"] and "市场监管部门" in entry["note"]
    assert "13811112222" not in json.dumps(page)  # masked on the way in
    empty = await api.query(
        REJECT,
        {"id": (await report_in_xihu(api, runtime))[0], "reason": "DUPLICATE", "note": " "},
        as_user=zhejiang.email["inspector"],
    )
    assert empty.code == "BAD_USER_INPUT", empty.body


async def test_a_reward_is_for_real_name_reports_only(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff
) -> None:
    director = zhejiang.email["director"]
    report, _ = await report_in_xihu(api, runtime, contact=None)
    await ok(api, ACCEPT, {"id": report}, director)
    refused = await api.query(
        CLOSE, {"id": report, "outcome": "属实", "reward": True}, as_user=director
    )
    assert refused.code == "BAD_USER_INPUT", refused.body
    closed = await ok(api, CLOSE, {"id": report, "outcome": "属实", "reward": False}, director)
    assert closed["rewardEligible"] is False and closed["anonymous"] is True


async def test_the_subject_is_a_registered_site_of_the_reports_division(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff, world: World
) -> None:
    assert zhejiang.tenant is not None
    director = zhejiang.email["director"]
    report, _ = await report_in_xihu(api, runtime)
    # A site elsewhere (Nanjing) is not in 西湖区, nor seen from here.
    refused = await api.query(
        CONFIRM, {"id": report, "site": str(world.a.site_id)}, as_user=director
    )
    assert refused.code == "BAD_USER_INPUT", refused.body
    confirmed = await ok(
        api, CONFIRM, {"id": report, "site": str(zhejiang.tenant.site_id)}, director
    )
    assert confirmed["subjectSite"]["id"] == str(zhejiang.tenant.site_id)
    cleared = await ok(api, CONFIRM, {"id": report, "site": None}, director)
    assert cleared["subjectSite"] is None
    assert await audit_actions(runtime, report) == ["report.confirm_subject"] * 2


async def test_the_queue_filters_what_is_assigned_to_the_caller(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff
) -> None:
    director, inspector = zhejiang.email["director"], zhejiang.email["inspector"]
    mine, _ = await report_in_xihu(api, runtime)
    other, _ = await report_in_xihu(api, runtime)
    await ok(api, ASSIGN, {"id": mine, "to": zhejiang.id["inspector"]}, director)
    listed = await api.query(QUEUE, {"d": "330106", "m": True}, as_user=inspector)
    assert listed.data is not None, listed.body
    ids = {r["id"] for r in listed.data["hazardReports"]}
    assert mine in ids and other not in ids
    listed = await api.query(QUEUE, {"d": "330106", "m": False}, as_user=inspector)
    assert listed.data is not None
    ids = {r["id"] for r in listed.data["hazardReports"]}
    assert other in ids and mine not in ids
