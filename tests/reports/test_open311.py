"""Open311 GeoReport v2 (issue 13, "Published figures and Open311"; CONTRACT.md, public hazard
reports): a round trip with the third-party ``georeport`` client and with raw HTTP, keys
issued and revoked by the platform administrator alone, a bad ``api_key`` refused, the public
listing showing only published summaries and never personal data, and bad input storing
nothing.

``georeport`` (PyPI) reads services and requests but cannot create one, and sends no
``api_key`` on its reads: its requests are POSTed here as a form, as a city app would, and it
reads them back from a server on a local port.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
import xmltodict
from click.testing import CliRunner
from georeport import GeoReport
from sqlalchemy import delete, func, select

from backend.api import open311_routes
from backend.auth.models import LoginThrottle
from backend.auth.throttle import Policy
from backend.cli.open311 import open311
from backend.core.db import utcnow
from backend.reports import receipts
from backend.reports.categories import CATEGORIES
from backend.reports.models import HazardReport, ReportEvent, ReportStatus
from backend.reports.open311 import service as open311_service
from backend.reports.open311.keys import create_key
from backend.reports.open311.models import Open311Request
from backend.reports.service import handling_division, public_session
from backend.runtime import Runtime
from privacy.audit import Actor, AuditEntry
from tenants.scope import unscoped_session
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.reports.helpers import MOBILE, stored

V2 = "/open311/v2"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SUMMARY = "经核查，该仓库围堰破损属实，已责令企业限期整改并复查合格。"
DESCRIPTION = "储罐区围堰破损，夜间有明显的油气味，联系人王建国 13812341234，已持续一周"
ADDRESS = "玄武区某化工仓库东侧 3 号门"


def request_form(api_key: str | None, **changes: str | None) -> dict[str, str]:
    form: dict[str, str | None] = {
        "api_key": api_key,
        "jurisdiction_id": "320102",
        "service_code": "major_accident_hazard",
        "lat": "32.0503",
        "long": "118.7912",
        "address_string": ADDRESS,
        "description": DESCRIPTION,
        "first_name": "建国",
        "last_name": "王",
        "phone": MOBILE,
        "email": "wang@example.cn",
        "attribute[subject]": "某某化工有限公司",
        "attribute[observed_at]": "2026-12-01T08:30:00+08:00",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


async def new_key(runtime: Runtime, name: str = "12345 热线") -> tuple[uuid.UUID, str]:
    async with public_session(runtime.sessions) as session, session.begin():
        info, key = await create_key(session, name=name, actor=Actor.system())
    return info.id, key


@pytest.fixture
async def api_key(runtime: Runtime) -> AsyncIterator[str]:
    _, key = await new_key(runtime)
    yield key
    async with unscoped_session(runtime.sessions) as session, session.begin():
        await session.execute(
            delete(LoginThrottle).where(LoginThrottle.kind == open311_service.OPEN311)
        )


async def post_request(api: GraphQLClient, form: dict[str, str]) -> tuple[int, Any]:
    answer = await api.http.post(f"{V2}/requests.json", data=form, headers=FORM)
    return answer.status_code, answer.json()


async def everything_stored(runtime: Runtime) -> dict[str, int]:
    counts = await stored(runtime)
    async with unscoped_session(runtime.sessions) as session:
        counts["open311_requests"] = (
            await session.scalar(select(func.count()).select_from(Open311Request)) or 0
        )
    return counts


async def publish(runtime: Runtime, request_id: str, summary: str = SUMMARY) -> None:
    """What the director's approval of the handler's summary leaves in the store."""
    async with unscoped_session(runtime.sessions) as session, session.begin():
        report = await session.get(HazardReport, uuid.UUID(request_id))
        assert report is not None
        report.public_summary = summary
        report.summary_published_at = utcnow()


def assert_spec_error(answer: Any, status: int) -> list[str]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert isinstance(body, list) and body, body
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in body), body
    assert all(isinstance(e["description"], str) and e["description"] for e in body)
    return [e["description"] for e in body]


# --- services ---------------------------------------------------------------------------------


async def test_services_are_the_report_categories(api: GraphQLClient) -> None:
    answer = await api.http.get(f"{V2}/services.json", params={"jurisdiction_id": "320102"})
    assert answer.status_code == 200, answer.text
    services = answer.json()
    assert [s["service_code"] for s in services] == [c.code for c in CATEGORIES]
    assert {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    } <= set(services[0])
    assert services[0]["service_name"] == "重大事故隐患"
    definition = (await api.http.get(f"{V2}/services/fire_safety.json")).json()
    assert definition["service_code"] == "fire_safety"
    assert [a["code"] for a in definition["attributes"]] == ["subject", "observed_at"]
    assert not any(a["required"] for a in definition["attributes"])
    discovery = (await api.http.get(f"{V2}/discovery.json")).json()
    assert discovery["endpoints"][0]["url"].endswith("/open311/v2")
    assert discovery["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("services/no_such_service.json", {}),
        ("services/fire_safety.csv", {}),
        ("services.json", {"jurisdiction_id": "320199"}),
        ("requests/not-an-id.json", {}),
        (f"requests/{uuid.uuid4()}.json", {}),
        ("tokens/no-such-token.json", {}),
    ],
)
async def test_what_does_not_exist_is_a_404_in_the_spec_format(
    api: GraphQLClient, path: str, params: dict[str, str]
) -> None:
    assert_spec_error(await api.http.get(f"{V2}/{path}", params=params), 404)


# --- the third-party client -------------------------------------------------------------------


@pytest.fixture
async def served(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """The app on a local port, in this event loop; the blocking client runs in a thread."""
    from backend.app import create_app

    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(runtime=runtime), lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), task
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}{V2}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_round_trip_with_the_georeport_client(
    api: GraphQLClient, runtime: Runtime, served: str, api_key: str
) -> None:
    client = GeoReport(served, jurisdiction="320102", api_key=api_key)
    services = await asyncio.to_thread(client.get_service_list)
    assert {s["service_code"] for s in services} == {c.code for c in CATEGORIES}
    definition = await asyncio.to_thread(client.get_service_definition, "major_accident_hazard")
    assert definition["service_code"] == "major_accident_hazard"

    # The client library cannot POST: a city app's form.
    status, posted = await post_request(api, request_form(api_key))
    assert status == 201, posted
    request_id = posted[0]["service_request_id"]

    listed = await asyncio.to_thread(client.get_service_requests)
    assert request_id not in {r["service_request_id"] for r in listed}  # not yet published
    await publish(runtime, request_id)
    listed = await asyncio.to_thread(client.get_service_requests)
    mine = next(r for r in listed if r["service_request_id"] == request_id)
    assert mine["description"] == SUMMARY
    assert mine["service_code"] == "major_accident_hazard"
    assert mine["status"] == "open"
    assert mine["status_notes"].startswith("RECEIVED")
    assert mine["address"] == "江苏省南京市玄武区"
    assert "lat" not in mine and "long" not in mine
    one = await asyncio.to_thread(client.get_service_request, request_id)
    assert one == mine
    by_status = await asyncio.to_thread(client.get_service_requests, status="closed")
    assert request_id not in {r["service_request_id"] for r in by_status}
    elsewhere = GeoReport(served, jurisdiction="320505")
    assert request_id not in {
        r["service_request_id"] for r in await asyncio.to_thread(elsewhere.get_service_requests)
    }
    province = GeoReport(served, jurisdiction="320000")
    assert request_id in {
        r["service_request_id"] for r in await asyncio.to_thread(province.get_service_requests)
    }


async def test_the_same_in_xml(
    api: GraphQLClient, runtime: Runtime, served: str, api_key: str
) -> None:
    client = GeoReport(served, jurisdiction="320102", output_format="xml")
    services = await asyncio.to_thread(client.get_service_list)
    assert [s["service_code"] for s in services] == [c.code for c in CATEGORIES]
    assert services[0]["metadata"] == "true"
    definition = await asyncio.to_thread(client.get_service_definition, "fire_safety")
    assert [a["code"] for a in definition["attributes"]["attribute"]] == ["subject", "observed_at"]

    answer = await api.http.post(f"{V2}/requests.xml", data=request_form(api_key), headers=FORM)
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    request_id = xmltodict.parse(answer.content)["service_requests"]["request"][
        "service_request_id"
    ]
    await publish(runtime, request_id)
    one = await asyncio.to_thread(client.get_service_request, request_id)
    assert one["description"] == SUMMARY and one["status"] == "open"
    assert "lat" not in one and one["address"] == "江苏省南京市玄武区"

    refused = await api.http.get(f"{V2}/requests/{uuid.uuid4()}.xml")
    assert refused.status_code == 404
    error = xmltodict.parse(refused.content)["errors"]["error"]
    assert error["code"] == "404" and error["description"]
    bad_key = await api.http.post(f"{V2}/requests.xml", data=request_form("aj311_x"), headers=FORM)
    assert bad_key.status_code == 403
    assert xmltodict.parse(bad_key.content)["errors"]["error"]["code"] == "403"


# --- raw HTTP ---------------------------------------------------------------------------------


async def test_a_post_is_stored_as_a_rest_report_is(
    api: GraphQLClient, runtime: Runtime, world: World, api_key: str
) -> None:
    before = await everything_stored(runtime)
    status, posted = await post_request(api, request_form(api_key))
    assert status == 201, posted
    assert len(posted) == 1 and set(posted[0]) == {
        "service_request_id",
        "token",
        "service_notice",
        "account_id",
    }
    request_id = posted[0]["service_request_id"]
    # Not the receipt: the receipt (told to the reporter in the notice) tracks the timeline.
    assert receipts.canonical(request_id) is None
    receipt = posted[0]["service_notice"].split("回执码 ")[1].split("，")[0]
    assert receipts.canonical(receipt) is not None
    tracked = await api.http.get(f"/api/v1/reports/{receipt}")
    assert tracked.status_code == 200 and tracked.json()["status"] == "RECEIVED"

    after = await everything_stored(runtime)
    for table in ("hazard_reports", "hazard_report_events", "reported challenges"):
        expected = before[table] + (0 if table == "reported challenges" else 1)
        assert after[table] == expected, table  # no proof of work spent: the key stood for it
    assert after["open311_requests"] == before["open311_requests"] + 1
    async with unscoped_session(runtime.sessions) as session:
        report = await session.get(HazardReport, uuid.UUID(request_id))
        assert report is not None
        assert report.category == "major_accident_hazard"
        assert report.division_code == "320102"
        # as a REST report is routed
        assert report.handling_division_code == await handling_division(session, "320102")
        assert report.status is ReportStatus.RECEIVED
        assert (report.latitude, report.longitude) == (32.0503, 118.7912)
        assert report.description == DESCRIPTION
        assert report.address == ADDRESS
        assert report.subject == "某某化工有限公司"
        assert report.contact_name == "王建国"
        assert report.contact_mobile == MOBILE
        assert report.observed_at == datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
        assert report.client_hash is not None
        events = list(
            await session.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id))
        )
        assert [e.status for e in events] == [ReportStatus.RECEIVED]

    token = posted[0]["token"]
    answer = await api.http.get(f"{V2}/tokens/{token}.json")
    assert answer.status_code == 200
    assert answer.json() == [{"service_request_id": request_id, "token": token}]


async def test_a_key_lists_its_own_requests_and_no_others(
    api: GraphQLClient, runtime: Runtime, api_key: str
) -> None:
    _, other_key = await new_key(runtime, "某市 App")
    _, posted = await post_request(api, request_form(api_key))
    request_id = posted[0]["service_request_id"]
    _, theirs = await post_request(
        api, request_form(other_key, phone=None, first_name=None, last_name=None)
    )
    their_id = theirs[0]["service_request_id"]

    own = (await api.http.get(f"{V2}/requests.json", params={"api_key": api_key})).json()
    ids = {r["service_request_id"] for r in own}
    assert request_id in ids and their_id not in ids
    mine = next(r for r in own if r["service_request_id"] == request_id)
    assert mine["status"] == "open" and mine["status_notes"].startswith("RECEIVED")
    assert (mine["lat"], mine["long"]) == (32.0503, 118.7912)
    assert mine["expected_datetime"] is not None  # the acceptance deadline
    # Its own text, with personal data masked; never the contact.
    assert "13812341234" not in mine["description"] and "138****1234" in mine["description"]
    text = json.dumps(own, ensure_ascii=False)
    assert MOBILE not in text and "139****5678" not in text

    one = await api.http.get(f"{V2}/requests/{request_id}.json", params={"api_key": api_key})
    assert one.status_code == 200 and one.json() == [mine]
    # Another client's request is not there for this key, nor for anyone before publication.
    assert_spec_error(
        await api.http.get(f"{V2}/requests/{their_id}.json", params={"api_key": api_key}), 404
    )
    assert_spec_error(await api.http.get(f"{V2}/requests/{request_id}.json"), 404)
    listed = await api.http.get(
        f"{V2}/requests.json", params={"api_key": api_key, "service_request_id": their_id}
    )
    assert listed.status_code == 200 and listed.json() == []

    # Closed with an outcome: status closed, the detail and the outcome in status_notes.
    async with unscoped_session(runtime.sessions) as session, session.begin():
        report = await session.get(HazardReport, uuid.UUID(request_id))
        assert report is not None
        report.status = ReportStatus.CLOSED
        report.closed_at = utcnow()
        report.outcome = "已责令限期整改，复查合格"
    closed = (
        await api.http.get(f"{V2}/requests.json", params={"api_key": api_key, "status": "closed"})
    ).json()
    done = next(r for r in closed if r["service_request_id"] == request_id)
    assert done["status"] == "closed"
    assert done["status_notes"].startswith("CLOSED") and "复查合格" in done["status_notes"]


async def test_the_public_listing_shows_published_summaries_and_no_personal_data(
    api: GraphQLClient, runtime: Runtime, world: World, api_key: str
) -> None:
    _, posted = await post_request(api, request_form(api_key))
    request_id = posted[0]["service_request_id"]
    receipt = posted[0]["service_notice"].split("回执码 ")[1].split("，")[0]
    _, unpublished = await post_request(api, request_form(api_key))
    hidden_id = unpublished[0]["service_request_id"]
    # The summary was scanned before approval; a number slipping through is masked anyway.
    await publish(runtime, request_id, SUMMARY + "（举报人电话 13912345678）")

    answer = await api.http.get(f"{V2}/requests.json")
    assert answer.status_code == 200
    listed = answer.json()
    ids = {r["service_request_id"] for r in listed}
    assert request_id in ids and hidden_id not in ids
    async with unscoped_session(runtime.sessions) as session:
        published = await session.scalar(
            select(func.count())
            .select_from(HazardReport)
            .where(HazardReport.summary_published_at.is_not(None))
        )
    assert len(listed) == published  # nothing unpublished, from any source
    shown = next(r for r in listed if r["service_request_id"] == request_id)
    assert shown["description"].startswith(SUMMARY)
    assert shown["address"] == "江苏省南京市玄武区"
    async with unscoped_session(runtime.sessions) as session:
        handled_by = await handling_division(session, "320102")
    names = {"320100": "江苏省南京市", "320102": "江苏省南京市玄武区"}
    assert shown["agency_responsible"] == names[handled_by]
    assert "lat" not in shown and "long" not in shown
    assert shown["requested_datetime"].endswith("T16:00:00.000Z")  # the day, China time
    text = json.dumps(listed, ensure_ascii=False)
    for personal in (
        MOBILE,
        "王建国",
        "建国",
        "13812341234",
        "某化工仓库",
        "某某化工有限公司",
        "wang@example.cn",
        "32.0503",
        "118.7912",
        receipt,
        receipts.canonical(receipt),
    ):
        assert personal not in text, personal
    one = await api.http.get(f"{V2}/requests/{request_id}.json")
    assert one.status_code == 200 and one.json() == [shown]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "pending"},
        {"service_code": "no_such_service"},
        {"start_date": "yesterday"},
        {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
        {"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
        {"service_request_id": "not-an-id"},
    ],
)
async def test_a_bad_listing_is_a_400(api: GraphQLClient, params: dict[str, str]) -> None:
    assert_spec_error(await api.http.get(f"{V2}/requests.json", params=params), 400)


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "not-a-key", "aj311_" + "x" * 43])
async def test_a_bad_api_key_is_refused_and_nothing_stored(
    api: GraphQLClient, runtime: Runtime, key: str
) -> None:
    before = await everything_stored(runtime)
    answer = await api.http.post(f"{V2}/requests.json", data=request_form(key), headers=FORM)
    assert_spec_error(answer, 403)
    assert await everything_stored(runtime) == before
    if key:
        assert_spec_error(await api.http.get(f"{V2}/requests.json", params={"api_key": key}), 403)


async def test_a_revoked_key_is_refused(api: GraphQLClient, runtime: Runtime) -> None:
    from backend.reports.open311.keys import revoke_key

    key_id, key = await new_key(runtime)
    status, _ = await post_request(api, request_form(key))
    assert status == 201
    async with public_session(runtime.sessions) as session, session.begin():
        await revoke_key(session, key_id=key_id, actor=Actor.system())
    before = await everything_stored(runtime)
    assert (
        "revoked"
        in assert_spec_error(
            await api.http.post(f"{V2}/requests.json", data=request_form(key), headers=FORM), 403
        )[0]
    )
    assert_spec_error(await api.http.get(f"{V2}/requests.json", params={"api_key": key}), 403)
    assert await everything_stored(runtime) == before


async def test_requests_over_the_key_rate_get_429(
    api: GraphQLClient, runtime: Runtime, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tight = Policy(free=2, leak_seconds=3600, base_seconds=60, cap_seconds=600)
    monkeypatch.setattr(open311_service, "REQUESTS_PER_KEY", tight)
    statuses = [(await post_request(api, request_form(api_key)))[0] for _ in range(3)]
    assert statuses == [201, 201, 201]  # the third is over the allowance and starts a lock
    before = await everything_stored(runtime)
    answer = await api.http.post(f"{V2}/requests.json", data=request_form(api_key), headers=FORM)
    assert_spec_error(answer, 429)
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert await everything_stored(runtime) == before
    # Another client's key has an allowance of its own.
    _, other = await new_key(runtime)
    assert (await post_request(api, request_form(other)))[0] == 201


ISSUE = """mutation($n: String!) {
  createOpen311Key(name: $n) { apiKey key { id name prefix revokedAt } }
}"""
LIST = "{ open311Keys { id name prefix createdAt revokedAt } }"
REVOKE = "mutation($id: ID!) { revokeOpen311Key(id: $id) { id revokedAt } }"


async def test_the_platform_administrator_manages_keys_through_graphql(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    admin = world.platform_admin
    issued = await api.query(ISSUE, {"n": "南京 12345"}, as_user=admin)
    assert issued.code is None, issued.body
    key = issued.data["createOpen311Key"]["apiKey"]  # type: ignore[index]
    made = issued.data["createOpen311Key"]["key"]  # type: ignore[index]
    assert key.startswith(made["prefix"]) and made["revokedAt"] is None
    listed = await api.query(LIST, as_user=admin)
    row = next(k for k in listed.data["open311Keys"] if k["id"] == made["id"])  # type: ignore[index]
    assert row["name"] == "南京 12345" and key not in json.dumps(listed.body)
    assert (await post_request(api, request_form(key)))[0] == 201

    revoked = await api.query(REVOKE, {"id": made["id"]}, as_user=admin)
    assert revoked.code is None and revoked.data["revokeOpen311Key"]["revokedAt"]  # type: ignore[index]
    assert (await post_request(api, request_form(key)))[0] == 403
    assert (await api.query(REVOKE, {"id": str(uuid.uuid4())}, as_user=admin)).code == "NOT_FOUND"
    async with unscoped_session(runtime.sessions) as session:
        actions = set(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.object_id == made["id"])
            )
        )
    assert actions == {"open311_key.create", "open311_key.revoke"}


async def test_nobody_else_manages_keys(api: GraphQLClient, world: World) -> None:
    for user in (world.a.users["owner"], world.regulators["320000"]):
        for query, variables in (
            (ISSUE, {"n": "x"}),
            (LIST, {}),
            (REVOKE, {"id": str(uuid.uuid4())}),
        ):
            result = await api.query(query, variables, as_user=user)
            assert result.code == "FORBIDDEN", (user, result.body)
    assert (await api.query(LIST)).code == "UNAUTHENTICATED"


def cli(runtime: Runtime, *args: str) -> dict[str, Any]:
    done = CliRunner().invoke(open311, ["keys", *args, "--json"], obj=runtime.settings)
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert isinstance(payload, dict)
    return payload


def test_keys_are_managed_through_the_cli(runtime: Runtime) -> None:
    created = cli(runtime, "create", "--name", "苏州 App")
    key = created["api_key"]
    assert key.startswith(created["key"]["prefix"])
    listed = cli(runtime, "list")
    row = next(k for k in listed["keys"] if k["id"] == created["key"]["id"])
    assert row["name"] == "苏州 App" and row["revoked_at"] is None
    assert key not in json.dumps(listed)
    revoked = cli(runtime, "revoke", "--id", created["key"]["id"])
    assert revoked["revoked"]["revoked_at"] is not None
    bad = CliRunner().invoke(open311, ["keys", "revoke", "--id", "nope"], obj=runtime.settings)
    assert bad.exit_code == 2 and "UUID" in bad.output
    blank = CliRunner().invoke(open311, ["keys", "create", "--name", " "], obj=runtime.settings)
    assert blank.exit_code == 2


# --- bad input --------------------------------------------------------------------------------

BAD_FORMS: list[tuple[dict[str, str | None], str]] = [
    ({"service_code": None}, "service_code"),
    ({"service_code": "no_such_service"}, "service_code"),
    ({"jurisdiction_id": None}, "jurisdiction_id"),
    ({"jurisdiction_id": "320199"}, "jurisdiction_id"),
    ({"lat": None, "long": None, "address_string": None}, "location"),
    ({"long": None}, "lat and long"),
    ({"lat": "95"}, "lat"),
    ({"long": "east"}, "long"),
    ({"description": None}, "description"),
    ({"description": "太短"}, "description"),
    ({"phone": "12345"}, "phone"),
    ({"phone": None}, "phone"),
    ({"first_name": None, "last_name": None}, "first_name/last_name"),
    ({"media_url": "http://example.cn/p.jpg"}, "media_url"),
    ({"address_id": "42"}, "address_id"),
    ({"attribute[observed_at]": "2099-01-01T00:00:00Z"}, "observed_at"),
    ({"colour": "red"}, "colour"),
    ({"description": "x\x00" * 5}, "description"),
]


@pytest.mark.parametrize(("changes", "named"), BAD_FORMS)
async def test_bad_input_is_refused_and_nothing_stored(
    api: GraphQLClient,
    runtime: Runtime,
    api_key: str,
    changes: dict[str, str | None],
    named: str,
) -> None:
    before = await everything_stored(runtime)
    answer = await api.http.post(
        f"{V2}/requests.json", data=request_form(api_key, **changes), headers=FORM
    )
    descriptions = assert_spec_error(answer, 400)
    assert any(named in d for d in descriptions), descriptions
    assert await everything_stored(runtime) == before


async def test_a_body_not_a_form_or_too_large_is_refused(
    api: GraphQLClient, runtime: Runtime, api_key: str
) -> None:
    before = await everything_stored(runtime)
    as_json = await api.http.post(f"{V2}/requests.json", json=request_form(api_key))
    assert_spec_error(as_json, 415)
    huge = await api.http.post(
        f"{V2}/requests.json",
        data=request_form(api_key, description="隐" * 40_000),
        headers=FORM,
    )
    assert_spec_error(huge, 413)
    twice = await api.http.post(
        f"{V2}/requests.json",
        content=f"api_key={api_key}&service_code=other&service_code=fire_safety",
        headers=FORM,
    )
    assert "more than once" in assert_spec_error(twice, 400)[0]
    assert await everything_stored(runtime) == before


async def test_a_blocked_network_is_refused(
    api: GraphQLClient, runtime: Runtime, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.reports.blocklist import block_network, unblock_network

    async with public_session(runtime.sessions) as session, session.begin():
        await block_network(session, network="203.0.113.0/24", reason=None, actor=Actor.system())
    try:
        monkeypatch.setattr(open311_routes, "_address", lambda request: "203.0.113.9")
        before = await everything_stored(runtime)
        assert_spec_error(
            await api.http.post(f"{V2}/requests.json", data=request_form(api_key), headers=FORM),
            403,
        )
        assert_spec_error(await api.http.get(f"{V2}/requests.json"), 403)
        assert await everything_stored(runtime) == before
    finally:
        async with public_session(runtime.sessions) as session, session.begin():
            await unblock_network(session, network="203.0.113.0/24", actor=Actor.system())
