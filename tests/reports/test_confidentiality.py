"""The reporter's confidentiality, role by role: the contact is read only by the inspector the
report is assigned to and the directors of the handling division, each read in the audit
trail and none in the logs; the description, address and position are theirs in full and
masked for every other reader; enterprises (the reported one included) and the platform
administrator do not see the report at all."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from sqlalchemy import select

from backend.reports.models import ReportEvent
from backend.runtime import Runtime
from privacy import pii
from privacy.audit import READ_ACTION, AuditEntry
from tenants.scope import unscoped_session
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.reports.conftest import Staff
from tests.reports.helpers import ACCEPT, ASSIGN, CONTACT, INVESTIGATE, REPORT, submitted

NAME, MOBILE = "吴先生", "13655556666"
IN_TEXT = "13922223333"  # a mobile the reporter wrote into the description
IN_ADDRESS = "13544445555"
# Who reads what: the contact, and the text unmasked.
FULL = ("director", "inspector")  # the handling division's director, the assigned inspector
MASKED = ("analyst", "other_inspector", "city_director", "city_inspector")
MASKED += ("province_director", "province_analyst")
ENTERPRISE = ("owner", "safety_manager", "operator", "viewer")


async def contact_reads(runtime: Runtime, report: str) -> list[tuple[str | None, dict]]:
    async with unscoped_session(runtime.sessions) as session:
        rows = await session.execute(
            select(AuditEntry.actor_id, AuditEntry.detail)
            .where(
                AuditEntry.action == READ_ACTION,
                AuditEntry.object_type == "report",
                AuditEntry.object_id == report,
            )
            .order_by(AuditEntry.seq)
        )
        return [(actor, dict(detail)) for actor, detail in rows.all()]


async def test_the_contact_and_the_full_text_for_every_role(
    api: GraphQLClient,
    runtime: Runtime,
    zhejiang: Staff,
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    staff = zhejiang
    assert staff.tenant is not None
    description = f"仓库夜间违规灌装液化气，知情人电话 {IN_TEXT}"
    report, _ = await submitted(
        api,
        runtime,
        divisionCode="330106",
        location={"lat": 30.2591, "lon": 120.1312},
        description=description,
        address=f"西湖区某仓库，门卫 {IN_ADDRESS}",
        contact={"name": NAME, "mobile": MOBILE},
    )
    await api.query(
        ASSIGN, {"id": report, "to": staff.id["inspector"]}, as_user=staff.email["director"]
    )
    caplog.set_level(logging.DEBUG)

    for label in FULL:
        user = staff.email[label]
        seen = await api.query(REPORT, {"id": report}, as_user=user)
        assert seen.data is not None, seen.body
        row = seen.data["hazardReport"]
        assert row["description"] == description, label
        assert IN_ADDRESS in row["address"], label
        assert row["location"] == {"lat": 30.2591, "lon": 120.1312}, label
        assert row["contactReadable"] is True, label
        contact = await api.query(CONTACT, {"id": report}, as_user=user)
        assert contact.data == {"hazardReportContact": {"name": NAME, "mobile": MOBILE}}, label

    for label in MASKED:
        user = staff.email[label]
        seen = await api.query(REPORT, {"id": report}, as_user=user)
        assert seen.data is not None, (label, seen.body)
        row = seen.data["hazardReport"]
        assert "液化气" in row["description"] and row["contactReadable"] is False, label
        assert row["location"] == {"lat": 30.3, "lon": 120.1}, label  # a 0.1° cell
        shown = json.dumps(seen.body, ensure_ascii=False)
        for secret in (IN_TEXT, IN_ADDRESS, MOBILE, NAME):
            assert secret not in shown, (label, secret)
        refused = await api.query(CONTACT, {"id": report}, as_user=user)
        assert refused.code == "FORBIDDEN" and refused.data is None, (label, refused.body)

    outsiders = [staff.tenant.users[role] for role in ENTERPRISE]
    outsiders += [world.platform_admin, world.regulators["320000"], world.regulators["320100"]]
    for user in outsiders:
        seen = await api.query(REPORT, {"id": report}, as_user=user)
        assert seen.code == "NOT_FOUND", (user, seen.body)
        refused = await api.query(CONTACT, {"id": report}, as_user=user)
        assert refused.code == "NOT_FOUND" and refused.data is None, (user, refused.body)
        shown = json.dumps(seen.body, ensure_ascii=False) + json.dumps(refused.body)
        assert MOBILE not in shown and NAME not in shown

    # Two reads, two audit entries naming who read which fields; refusals left none.
    reads = [
        (actor, detail)
        for actor, detail in await contact_reads(runtime, report)
        if detail.get("purpose") == "reports.contact"
    ]
    assert [actor for actor, _ in reads] == [staff.id["director"], staff.id["inspector"]]
    assert all(d["fields"] == ["contact_mobile", "contact_name"] for _, d in reads)
    # Nothing of it reached a log record.
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    for secret in (MOBILE, NAME):
        assert secret not in logged


async def test_the_inspector_reads_the_contact_only_while_assigned(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff
) -> None:
    staff = zhejiang
    director = staff.email["director"]
    report, _ = await submitted(
        api, runtime, divisionCode="330106", contact={"name": NAME, "mobile": MOBILE}
    )
    inspector = staff.email["inspector"]
    refused = await api.query(CONTACT, {"id": report}, as_user=inspector)
    assert refused.code == "FORBIDDEN", refused.body
    await api.query(ASSIGN, {"id": report, "to": staff.id["inspector"]}, as_user=director)
    read = await api.query(CONTACT, {"id": report}, as_user=inspector)
    assert read.data == {"hazardReportContact": {"name": NAME, "mobile": MOBILE}}, read.body
    await api.query(ASSIGN, {"id": report, "to": staff.id["other_inspector"]}, as_user=director)
    refused = await api.query(CONTACT, {"id": report}, as_user=inspector)
    assert refused.code == "FORBIDDEN", refused.body
    read = await api.query(CONTACT, {"id": report}, as_user=staff.email["other_inspector"])
    assert read.data is not None, read.body


async def test_an_anonymous_report_has_no_contact(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff
) -> None:
    report, _ = await submitted(api, runtime, divisionCode="330106", contact=None)
    seen = await api.query(REPORT, {"id": report}, as_user=zhejiang.email["director"])
    assert seen.data is not None
    assert seen.data["hazardReport"]["contactGiven"] is False
    assert seen.data["hazardReport"]["contactReadable"] is False
    refused = await api.query(CONTACT, {"id": report}, as_user=zhejiang.email["director"])
    assert refused.code == "NOT_FOUND", refused.body


async def test_identifiers_in_notes_are_never_stored(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff
) -> None:
    director = zhejiang.email["director"]
    report, _ = await submitted(api, runtime, divisionCode="330106")
    accepted = await api.query(ACCEPT, {"id": report}, as_user=director)
    assert accepted.data is not None, accepted.body
    note = f"已电话联系知情人 {IN_TEXT} 核实"
    done = await api.query(INVESTIGATE, {"id": report, "note": note}, as_user=director)
    assert done.data is not None, done.body
    async with unscoped_session(runtime.sessions) as session:
        notes = list(
            await session.scalars(
                select(ReportEvent.note).where(
                    ReportEvent.report_id == uuid.UUID(report), ReportEvent.internal.is_(True)
                )
            )
        )
    assert notes == [pii.redact_text(note)] and IN_TEXT not in str(notes)
