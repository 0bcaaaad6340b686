"""Rectification notices through GraphQL: a regulator issues, the enterprise acknowledges receipt
and answers, the regulator returns or verifies; numbers run per issuing division and year; a
notice past its deadline while it waits for the enterprise is overdue and turns its site
ORANGE; every other role, tenant and jurisdiction is kept out; bad input changes nothing; each
step is audited."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from backend.auth.mail_outbox import MailOutboxMessage
from backend.auth.principal import Principal
from backend.core.clock import AdjustableClock
from backend.core.errors import ScopeRequired
from backend.oversight.hazards.models import HazardUnit
from backend.oversight.notices.models import (
    NoticeEvent,
    NoticeItem,
    NoticeResponse,
    NoticeStatus,
    RectificationNotice,
)
from backend.oversight.notices.service import unscoped_notify_overdue_in_own_transaction
from backend.oversight.service import create_regulator_in_own_transaction
from backend.runtime import Runtime
from privacy.audit import READ_ACTION, AuditEntry
from tenants.scope import Scope, scoped_session, unscoped_session
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site

NOTICE_FIELDS = """id number serial divisionCode year sequence status overdue deadline issuedAt
  issuedBy { kind id name } receivedAt receivedBy { kind id name } returnComment
  site { id name } items { id finding basis response { text photos respondedAt } }
  events { kind at comment actor { kind id } }"""
ISSUE = f"""mutation($site: ID!, $deadline: DateTime!, $items: [NoticeItemInput!]!) {{
  issueRectificationNotice(siteId: $site, deadline: $deadline, items: $items) {{
    {NOTICE_FIELDS} }} }}"""
RECEIVE = f"""mutation($id: ID!) {{ acknowledgeNoticeReceipt(id: $id) {{ {NOTICE_FIELDS} }} }}"""
RESPOND = f"""mutation($id: ID!, $responses: [NoticeResponseInput!]!) {{
  respondToNotice(id: $id, responses: $responses) {{ {NOTICE_FIELDS} }} }}"""
VERIFY = f"""mutation($id: ID!, $accepted: Boolean!, $comment: String) {{
  verifyNotice(id: $id, accepted: $accepted, comment: $comment) {{ {NOTICE_FIELDS} }} }}"""
NOTICES = """query($status: NoticeStatus, $overdue: Boolean, $site: ID) {
  rectificationNotices(status: $status, overdue: $overdue, siteId: $site) {
    id number status overdue deadline site { id } items { id finding response { text } } } }"""
NOTICE = f"""query($id: ID!) {{ rectificationNotice(id: $id) {{ {NOTICE_FIELDS} }} }}"""
SITE_RISKS = """query { siteRisks(first: 500) { site { id } riskColor } }"""

ITEMS = [
    {"finding": "液氯储罐区可燃气体报警仪未定期检定", "basis": "《安全生产法》第三十六条"},
    {"finding": "应急预案未按期演练"},
]


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def ok(api: GraphQLClient, user: str, document: str, /, **variables: Any) -> Any:
    result = await api.query(document, variables, as_user=user)
    assert result.status == 200 and not result.codes, result.body
    assert result.data is not None
    (value,) = result.data.values()
    return value


async def refused(api: GraphQLClient, user: str, document: str, /, **variables: Any) -> str:
    result = await api.query(document, variables, as_user=user)
    assert result.codes, result.body
    return str(result.body["errors"][0]["extensions"]["code"])


async def regulator(rt: Runtime, division: str, role: str) -> str:
    email = f"gov.{role}.{unique('r')}@example.gov.cn"
    await create_regulator_in_own_transaction(
        sessions=rt.sessions,
        authz=rt.authz,
        principal=Principal.system(),
        division_code=division,
        email=email,
        password=PASSWORD,
        role=role,
        log2_n=rt.log2_n,
    )
    return email


async def photo(api: GraphQLClient, user: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 30, 30)).save(buffer, "PNG")
    token = await api.token_for(user)
    response = await api.http.post(
        "/api/v1/photos",
        content=buffer.getvalue(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/png"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["photo"])


async def issue(
    api: GraphQLClient, user: str, site: uuid.UUID, days: float = 7, items: Any = None
) -> dict[str, Any]:
    return await ok(  # type: ignore[no-any-return]
        api, user, ISSUE, site=str(site), deadline=in_days(days), items=items or ITEMS
    )


def answers(notice: dict[str, Any], text: str, photos: list[str] | None = None) -> list[Any]:
    return [
        {"itemId": item["id"], "text": f"{text} {i}", "photos": photos if i == 0 else []}
        for i, item in enumerate(notice["items"])
    ]


async def notice_state(rt: Runtime) -> tuple[int, ...]:
    """How many rows each notice table holds (what a refusal must leave alone)."""
    async with unscoped_session(rt.sessions) as session:
        return tuple(
            [
                int(await session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (RectificationNotice, NoticeItem, NoticeResponse, NoticeEvent)
            ]
        )


async def changes_of(rt: Runtime, object_id: str) -> list[AuditEntry]:
    async with unscoped_session(rt.sessions) as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_id == object_id, AuditEntry.action != READ_ACTION)
            .order_by(AuditEntry.seq)
        )
        return list(rows.all())


@pytest.fixture
def clock(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AdjustableClock:
    """The runtime's clock, one the test moves ahead."""
    adjustable = AdjustableClock()
    monkeypatch.setitem(runtime.__dict__, "clock", adjustable)
    return adjustable


# --- the lifecycle ----------------------------------------------------------------------------


async def test_issue_receive_answer_return_answer_verify(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)  # Nanjing, 320102
    director = world.regulators["320100"]
    inspector = await regulator(runtime, "320100", "inspector")
    manager = world.a.users["safety_manager"]

    notice = await issue(api, director, site)
    assert notice["status"] == "ISSUED" and notice["overdue"] is False
    assert notice["divisionCode"] == "320100" and notice["site"]["id"] == str(site)
    assert notice["serial"] == f"320100-{notice['year']}-{notice['sequence']}"
    assert notice["number"] == f"南京市应急整改〔{notice['year']}〕{notice['sequence']}号"
    assert [(i["finding"], i["basis"], i["response"]) for i in notice["items"]] == [
        (ITEMS[0]["finding"], ITEMS[0]["basis"], None),
        (ITEMS[1]["finding"], None, None),
    ]
    assert notice["issuedBy"]["kind"] == "USER" and notice["receivedAt"] is None
    assert [e["kind"] for e in notice["events"]] == ["ISSUED"]

    # The enterprise sees it in its console, every role of it.
    for user in world.a.users.values():
        (seen,) = await ok(api, user, NOTICES, site=str(site))
        assert (seen["id"], seen["status"]) == (notice["id"], "ISSUED")

    # 送达: the safety manager acknowledges receipt, once.
    received = await ok(api, manager, RECEIVE, id=notice["id"])
    assert received["receivedAt"] is not None and received["receivedBy"]["kind"] == "USER"
    again = await ok(api, world.a.users["owner"], RECEIVE, id=notice["id"])
    assert again["receivedAt"] == received["receivedAt"]
    assert again["receivedBy"]["id"] == received["receivedBy"]["id"]

    key = await photo(api, manager)
    answered = await ok(
        api, manager, RESPOND, id=notice["id"], responses=answers(notice, "已更换", [key])
    )
    assert answered["status"] == "RESPONDED"
    first = answered["items"][0]["response"]
    assert first["text"] == "已更换 0" and first["photos"] == [key]
    # The regulators of the site see the photos it was answered with; no one else does.
    for user, status in (
        (director, 200),
        (analyst := await regulator(runtime, "320000", "analyst"), 200),
        (world.regulators["320500"], 404),
        (world.b.users["owner"], 404),
        (world.platform_admin, 404),
    ):
        token = await api.token_for(user)
        shown = await api.http.get(
            f"/api/v1/photos/{key}", headers={"Authorization": f"Bearer {token}"}
        )
        assert shown.status_code == status, (user, shown.text)

    returned = await ok(
        api, director, VERIFY, id=notice["id"], accepted=False, comment="缺少检定证书照片"
    )
    assert returned["status"] == "RETURNED" and returned["returnComment"] == "缺少检定证书照片"
    (seen,) = await ok(api, manager, NOTICES, status="RETURNED", site=str(site))
    assert seen["id"] == notice["id"]

    answered = await ok(
        api, manager, RESPOND, id=notice["id"], responses=answers(notice, "已补充证书", [key])
    )
    assert answered["status"] == "RESPONDED"
    assert answered["items"][1]["response"]["text"] == "已补充证书 1"

    verified = await ok(api, inspector, VERIFY, id=notice["id"], accepted=True)
    assert verified["status"] == "VERIFIED" and verified["overdue"] is False
    assert [(e["kind"], e["comment"]) for e in verified["events"]] == [
        ("ISSUED", None),
        ("RECEIVED", None),
        ("RESPONDED", None),
        ("RETURNED", "缺少检定证书照片"),
        ("RESPONDED", None),
        ("VERIFIED", None),
    ]
    # A closed notice is answered or verified no more.
    assert await refused(api, manager, RESPOND, id=notice["id"], responses=answers(notice, "x"))
    assert await refused(api, director, VERIFY, id=notice["id"], accepted=True) == (
        "BAD_USER_INPUT"
    )

    # Analysts read; the province reads what its city issued.
    assert (await ok(api, analyst, NOTICE, id=notice["id"]))["status"] == "VERIFIED"

    entries = await changes_of(runtime, notice["id"])
    gov = "gov:320102"
    tenant = f"tenant:{world.a.tenant_id}"
    assert [(e.action, e.role, e.domain) for e in entries] == [
        ("notice.issue", "director", gov),
        ("notice.receive", "safety_manager", tenant),
        ("notice.respond", "safety_manager", tenant),
        ("notice.return", "director", gov),
        ("notice.respond", "safety_manager", tenant),
        ("notice.verify", "inspector", gov),
    ]


async def test_numbers_run_per_issuing_division_and_year(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    nanjing_site = await new_site(runtime, world.a.tenant_id)
    suzhou_site = await new_site(runtime, world.b.tenant_id, division="320505")
    nanjing = [await issue(api, world.regulators["320100"], nanjing_site) for _ in range(3)]
    suzhou = [await issue(api, world.regulators["320500"], suzhou_site) for _ in range(2)]
    # The province issues in its own sequence, even for a Nanjing site.
    province = await issue(api, world.regulators["320000"], nanjing_site)

    def sequences(notices: list[dict[str, Any]]) -> list[int]:
        return [n["sequence"] for n in notices]

    start = nanjing[0]["sequence"]
    assert sequences(nanjing) == [start, start + 1, start + 2]
    assert sequences(suzhou)[1] == sequences(suzhou)[0] + 1
    assert {n["divisionCode"] for n in suzhou} == {"320500"}
    assert province["divisionCode"] == "320000" and province["number"].startswith("江苏省")
    assert nanjing[-1]["sequence"] == start + 2  # the province's notice took no Nanjing number
    assert len({n["serial"] for n in [*nanjing, *suzhou, province]}) == 6

    # Issued at once, the notices still take consecutive numbers, none twice.
    director = world.regulators["320100"]
    inspector = await regulator(runtime, "320100", "inspector")
    await api.token_for(inspector)
    together = await asyncio.gather(
        *(issue(api, user, nanjing_site) for user in (director, inspector) * 3)
    )
    numbers = sorted(n["sequence"] for n in together)
    assert numbers == list(range(start + 3, start + 9))


# --- overdue ----------------------------------------------------------------------------------


async def test_a_notice_past_its_deadline_waiting_for_the_enterprise_is_overdue(
    api: GraphQLClient, runtime: Runtime, world: World, clock: AdjustableClock
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    quiet = await new_site(runtime, world.a.tenant_id)
    director = world.regulators["320100"]

    async def colour(of: uuid.UUID) -> str:
        rows = await ok(api, director, SITE_RISKS)
        return next(r["riskColor"] for r in rows if r["site"]["id"] == str(of))

    assert await colour(site) == "BLUE"
    late = await issue(api, director, site, days=3)
    answered = await issue(api, director, quiet, days=3)
    await ok(
        api,
        world.a.users["owner"],
        RESPOND,
        id=answered["id"],
        responses=answers(answered, "已整改"),
    )
    assert await colour(site) == "BLUE"

    clock.advance(timedelta(days=4).total_seconds())
    seen = await ok(api, world.a.users["viewer"], NOTICE, id=late["id"])
    assert seen["overdue"] is True and seen["status"] == "ISSUED"
    assert (await ok(api, director, NOTICE, id=answered["id"]))["overdue"] is False
    overdue = await ok(api, director, NOTICES, overdue=True)
    assert [n["id"] for n in overdue if n["id"] in (late["id"], answered["id"])] == [late["id"]]
    assert await colour(site) == "ORANGE"
    assert await colour(quiet) == "BLUE"

    # Answered late, it waits for the regulator: overdue no more, and the colour follows.
    await ok(api, world.a.users["owner"], RESPOND, id=late["id"], responses=answers(late, "迟"))
    assert (await ok(api, director, NOTICE, id=late["id"]))["overdue"] is False
    assert await colour(site) == "BLUE"
    # Returned after the deadline, it is overdue again.
    returned = await ok(api, director, VERIFY, id=late["id"], accepted=False, comment="不合格")
    assert returned["overdue"] is True
    assert await colour(site) == "ORANGE"


# --- who may do what --------------------------------------------------------------------------


async def test_roles_that_may_not_act_are_forbidden_and_change_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    notice = await issue(api, world.regulators["320100"], site)
    analyst = await regulator(runtime, "320100", "analyst")
    before = await notice_state(runtime)

    for user in (analyst, *world.a.users.values()):
        code = await refused(api, user, ISSUE, site=str(site), deadline=in_days(3), items=ITEMS)
        assert code == "FORBIDDEN", user
    assert await refused(api, analyst, VERIFY, id=notice["id"], accepted=True) == "FORBIDDEN"
    for role in ("operator", "viewer"):
        code = await refused(
            api, world.a.users[role], RESPOND, id=notice["id"], responses=answers(notice, "x")
        )
        assert code == "FORBIDDEN", role
    for user in (world.a.users["owner"], world.a.users["safety_manager"]):
        assert await refused(api, user, VERIFY, id=notice["id"], accepted=True) == "FORBIDDEN"
    # Regulators do not answer for the enterprise, nor sign its receipt.
    director = world.regulators["320100"]
    assert await refused(
        api, director, RESPOND, id=notice["id"], responses=answers(notice, "x")
    ) == ("FORBIDDEN")
    assert await refused(api, director, RECEIVE, id=notice["id"]) == "FORBIDDEN"
    assert await notice_state(runtime) == before


async def test_other_tenants_jurisdictions_and_the_platform_see_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    notice = await issue(api, world.regulators["320100"], site)
    before = await notice_state(runtime)
    suzhou = world.regulators["320500"]
    outsiders = [*world.b.users.values(), suzhou, world.platform_admin]

    for user in outsiders:
        assert await refused(api, user, NOTICE, id=notice["id"]) == "NOT_FOUND", user
        assert await refused(api, user, RECEIVE, id=notice["id"]) == "NOT_FOUND", user
        code = await refused(api, user, RESPOND, id=notice["id"], responses=answers(notice, "x"))
        assert code == "NOT_FOUND", user
        assert await refused(api, user, VERIFY, id=notice["id"], accepted=True) == "NOT_FOUND"
        code = await refused(api, user, ISSUE, site=str(site), deadline=in_days(3), items=ITEMS)
        assert code == "NOT_FOUND", user
        listed = await ok(api, user, NOTICES)
        assert notice["id"] not in {n["id"] for n in listed}, user
    assert await ok(api, world.platform_admin, NOTICES) == []
    # A county regulator sees its own county's notices only.
    county = await regulator(runtime, "320104", "director")  # another district of Nanjing
    assert await refused(api, county, NOTICE, id=notice["id"]) == "NOT_FOUND"
    assert await notice_state(runtime) == before


# --- bad input --------------------------------------------------------------------------------


async def test_bad_input_is_refused_and_changes_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    director = world.regulators["320100"]
    notice = await issue(api, director, site)
    before = await notice_state(runtime)

    for deadline, items in (
        (in_days(-1), ITEMS),  # a deadline in the past
        (in_days(3), []),  # no items
        (in_days(3), [{"finding": "  "}]),  # an empty finding
        (in_days(3), [{"finding": "x" * 2001}]),
    ):
        code = await refused(api, director, ISSUE, site=str(site), deadline=deadline, items=items)
        assert code == "BAD_USER_INPUT", (deadline, items)

    manager = world.a.users["safety_manager"]
    other_tenant_key = await photo(api, world.b.users["owner"])
    unknown = f"photos/{world.a.tenant_id}/{uuid.uuid4()}.jpg"
    first, second = notice["items"]
    b = {"itemId": second["id"], "text": "b"}
    for responses in (
        [{"itemId": first["id"], "text": "只答一项"}],  # every item is answered
        [{"itemId": first["id"], "text": "a", "photos": [unknown]}, b],  # not uploaded
        [{"itemId": first["id"], "text": "a", "photos": [other_tenant_key]}, b],
        [{"itemId": first["id"], "text": " "}, b],  # an empty answer
        [{"itemId": str(uuid.uuid4()), "text": "a"}, b],  # not an item of the notice
        [b, b],
    ):
        code = await refused(api, manager, RESPOND, id=notice["id"], responses=responses)
        assert code == "BAD_USER_INPUT", responses
    # Not answered yet: nothing to verify; a return needs its comment.
    assert await refused(api, director, VERIFY, id=notice["id"], accepted=True) == (
        "BAD_USER_INPUT"
    )
    assert await refused(api, director, VERIFY, id=notice["id"], accepted=False) == (
        "BAD_USER_INPUT"
    )
    assert await refused(api, director, NOTICE, id="not-an-id") == "NOT_FOUND"
    assert await notice_state(runtime) == before
    assert (await ok(api, manager, NOTICE, id=notice["id"]))["status"] == "ISSUED"
    assert [e.action for e in await changes_of(runtime, notice["id"])] == ["notice.issue"]


async def test_the_directors_are_mailed_once_when_a_notice_becomes_overdue(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    inspector = await regulator(runtime, "320100", "inspector")
    notice = await issue(api, inspector, site, days=2)
    key = f"notice-overdue:{notice['id']}:"

    async def mails() -> list[MailOutboxMessage]:
        async with unscoped_session(runtime.sessions) as session:
            rows = await session.scalars(
                select(MailOutboxMessage).where(MailOutboxMessage.idempotency_key.startswith(key))
            )
            return list(rows.all())

    now = datetime.now(UTC)
    await unscoped_notify_overdue_in_own_transaction(sessions=runtime.sessions, now=now)
    assert await mails() == []  # not due yet
    later = now + timedelta(days=3)
    assert await unscoped_notify_overdue_in_own_transaction(sessions=runtime.sessions, now=later)
    sent = await mails()  # Nanjing's directors, not the inspector who issued it
    recipients = {m.recipient for m in sent}
    assert world.regulators["320100"] in recipients and inspector not in recipients
    assert all(notice["number"] in m.subject and notice["serial"] in m.subject for m in sent)
    await unscoped_notify_overdue_in_own_transaction(
        sessions=runtime.sessions, now=later + timedelta(days=1)
    )
    assert len(await mails()) == len(sent)  # once per notice
    assert [e.action for e in await changes_of(runtime, notice["id"])] == [
        "notice.issue",
        "notice.overdue",
    ]


async def test_a_regulators_scope_writes_notices_of_its_jurisdiction_only(
    runtime: Runtime, world: World
) -> None:
    """The scope guard lets a regulator write notice rows of a tenant with a site in its
    jurisdiction, and nothing else of that tenant (a hazard unit), nor another tenant's."""
    site = await new_site(runtime, world.a.tenant_id)
    scope = Scope(
        jurisdictions=frozenset({"320100"}), jurisdiction_tenant_ids=frozenset({world.a.tenant_id})
    )
    now = datetime.now(UTC)

    def notice(tenant: uuid.UUID, site_id: uuid.UUID) -> RectificationNotice:
        return RectificationNotice(
            tenant_id=tenant,
            site_id=site_id,
            issuing_division="320100",
            year=1999,
            sequence=int(uuid.uuid4().int % 1_000_000),
            status=NoticeStatus.ISSUED,
            deadline=now,
            issued_at=now,
        )

    unit = HazardUnit(
        tenant_id=world.a.tenant_id,
        site_id=site,
        name=unique("unit"),
        people_within_500m=0,
        alpha=1,
        sum_q_over_Q=0,
        r_value=0,
        is_major=False,
    )
    for row, allowed in (
        (notice(world.a.tenant_id, site), True),
        (unit, False),
        (notice(world.b.tenant_id, world.b.site_id), False),
    ):
        async with scoped_session(runtime.sessions, scope) as session:
            await session.begin()
            session.add(row)
            if allowed:
                await session.flush()
            else:
                with pytest.raises(ScopeRequired):
                    await session.flush()
            await session.rollback()
