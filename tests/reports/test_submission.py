"""Submitting a hazard report without an account (issue 13, "Submitting"): the happy paths,
and every bad input refused with its field named and nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from backend.reports import pow, receipts
from backend.reports.models import HazardReport, ReportEvent, ReportPhoto, ReportStatus
from backend.reports.service import handling_division
from backend.runtime import Runtime
from tenants.scope import unscoped_session
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.reports.helpers import (
    MOBILE,
    fields,
    jpeg_with_gps_and_a_face,
    report_body,
    solved,
    stored,
    submit,
    upload_photo,
)


async def the_report(runtime: Runtime, receipt: str) -> HazardReport:
    symbols = receipts.canonical(receipt)
    assert symbols is not None
    async with unscoped_session(runtime.sessions) as session:
        report = await session.scalar(
            select(HazardReport).where(HazardReport.receipt_hash == receipts.receipt_hash(symbols))
        )
        assert report is not None
        # Open the sealed fields while the session is here.
        _ = (report.description, report.address, report.subject)
        _ = (report.contact_name, report.contact_mobile)
        return report


async def test_the_challenge_says_its_difficulty(api: GraphQLClient) -> None:
    answer = await api.http.get("/api/v1/reports/challenge")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"challenge", "difficulty"}
    assert isinstance(body["challenge"], str) and ":" not in body["challenge"]
    assert body["difficulty"] == 8  # the tests' easy setting (default 18)


def test_the_default_difficulty_is_a_second_or_two_on_a_phone(runtime: Runtime) -> None:
    from backend.core.settings import Settings

    assert Settings.__dataclass_fields__["report_pow_difficulty"].default == 18


async def test_categories_are_named_in_both_languages(api: GraphQLClient) -> None:
    answer = await api.http.get("/api/v1/reports/categories")
    assert answer.status_code == 200
    categories = answer.json()
    names = {c["nameZh"] for c in categories}
    assert {"重大事故隐患", "非法违法生产经营", "职业危害", "消防安全", "其他"} <= names
    assert all(set(c) == {"code", "nameZh", "nameEn"} and c["nameEn"] for c in categories)


async def test_an_anonymous_report_is_stored_and_gets_a_receipt(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    before = await stored(runtime)
    status, body = await submit(api, report_body(await solved(api)))
    assert status == 201, body
    assert set(body) == {"receipt"}
    assert receipts.canonical(body["receipt"]) is not None
    report = await the_report(runtime, body["receipt"])
    assert report.status is ReportStatus.RECEIVED
    assert report.category == "major_accident_hazard"
    assert report.division_code == "320102"
    # The nearest division with regulators: 南京市, or 玄武区 once it has its own.
    async with unscoped_session(runtime.sessions) as session:
        assert report.handling_division_code == await handling_division(session, "320102")
    assert report.handling_division_code in {"320100", "320102"}
    assert report.contact_name is None and report.contact_mobile is None
    assert report.subject == "某某化工有限公司"
    assert report.observed_at == datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    assert report.accept_due_at > report.received_at
    assert report.client_hash is not None and len(report.client_hash) == 32
    after = await stored(runtime)
    assert after["hazard_reports"] == before["hazard_reports"] + 1
    assert after["hazard_report_events"] == before["hazard_report_events"] + 1


async def test_a_named_report_with_photos(api: GraphQLClient, runtime: Runtime) -> None:
    proof = await solved(api)
    keys = []
    for _ in range(2):
        status, body = await upload_photo(api, proof, jpeg_with_gps_and_a_face())
        assert status == 201, body
        keys.append(body["photo"])
    contact = {"name": "王先生", "mobile": "+86 139-1234-5678"}
    status, body = await submit(
        api, report_body(proof, photos=keys, contact=contact, location=None, observedAt=None)
    )
    assert status == 201, body
    report = await the_report(runtime, body["receipt"])
    assert report.contact_name == "王先生"
    assert report.contact_mobile == MOBILE  # normalised
    assert report.latitude is None and report.observed_at is None
    async with unscoped_session(runtime.sessions) as session:
        claimed = set(
            await session.scalars(select(ReportPhoto.key).where(ReportPhoto.report_id == report.id))
        )
    assert claimed == set(keys)


async def test_only_the_required_fields(api: GraphQLClient) -> None:
    proof = await solved(api)
    body = {
        "category": "other",
        "description": "楼道堆放大量纸箱",
        "divisionCode": "320102",
        "pow": proof,
    }
    status, answer = await submit(api, body)
    assert status == 201, answer


BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("no category", {"category": None}, "category"),
    ("unknown category", {"category": "ufo"}, "category"),
    ("no description", {"description": None}, "description"),
    ("blank description", {"description": "   "}, "description"),
    ("short description", {"description": "漏"}, "description"),
    ("long description", {"description": "漏" * 2001}, "description"),
    ("description not text", {"description": 42}, "description"),
    ("no division", {"divisionCode": None}, "divisionCode"),
    ("malformed division", {"divisionCode": "3201"}, "divisionCode"),
    ("division that does not exist", {"divisionCode": "320199"}, "divisionCode"),
    ("latitude out of range", {"location": {"lat": 91, "lon": 118}}, "location"),
    ("location without lon", {"location": {"lat": 32}}, "location"),
    ("location as text", {"location": "here"}, "location"),
    ("long address", {"address": "路" * 201}, "address"),
    ("future observation", {"observedAt": "2999-01-01T00:00:00Z"}, "observedAt"),
    ("observation without zone", {"observedAt": "2026-12-01T08:00:00"}, "observedAt"),
    ("too many photos", {"photos": [f"reports/{i:040x}.jpg" for i in range(6)]}, "photos"),
    ("photo key not a key", {"photos": ["../../etc/passwd"]}, "photos"),
    ("photo listed twice", {"photos": ["reports/" + "a" * 40 + ".jpg"] * 2}, "photos"),
    ("unknown photo", {"photos": ["reports/" + "b" * 40 + ".jpg"]}, "photos"),
    ("bad mobile", {"contact": {"name": "李", "mobile": "12345678901"}}, "contact.mobile"),
    ("landline as mobile", {"contact": {"name": "李", "mobile": "025-84561234"}}, "contact.mobile"),
    ("contact without name", {"contact": {"mobile": MOBILE}}, "contact.name"),
    ("contact without mobile", {"contact": {"name": "李"}}, "contact.mobile"),
    ("contact as text", {"contact": MOBILE}, "contact"),
    ("long subject", {"subject": "厂" * 201}, "subject"),
    ("unknown field", {"reward": True}, "reward"),
    ("no proof", {"pow": None}, "pow"),
    ("forged proof", {"pow": {"challenge": "1.8.1764000000.abc.def", "nonce": "0"}}, "pow"),
    ("text with NUL", {"address": "a\x00b"}, "address"),
]


@pytest.mark.parametrize(
    ("case", "changes", "field"), BAD_INPUTS, ids=[c for c, _, _ in BAD_INPUTS]
)
async def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    api: GraphQLClient, runtime: Runtime, case: str, changes: dict[str, Any], field: str
) -> None:
    proof = await solved(api)
    body = report_body(proof, **changes)
    before = await stored(runtime)
    status, answer = await submit(api, body)
    assert status == 400, answer
    assert field in fields(answer), answer
    assert all(e["message"] for e in answer["errors"])
    assert await stored(runtime) == before
    # Refused input does not spend the challenge: the corrected report goes through.
    status, answer = await submit(api, report_body(proof))
    assert status == 201, answer


async def test_several_mistakes_are_named_at_once(api: GraphQLClient) -> None:
    body = report_body(await solved(api), category=None, divisionCode="999999", photos="x")
    status, answer = await submit(api, body)
    assert status == 400
    assert {"category", "divisionCode", "photos"} <= fields(answer)


async def test_a_proof_that_does_not_solve_its_challenge(api: GraphQLClient) -> None:
    proof = await solved(api)
    candidates = (format(i, "x") for i in range(10_000))
    wrong = next(n for n in candidates if not pow.solves(proof["challenge"], n, 8))
    status, answer = await submit(api, report_body({**proof, "nonce": wrong}))
    assert status == 400 and fields(answer) == {"pow"}, answer


async def test_a_tampered_challenge_is_refused(api: GraphQLClient) -> None:
    proof = await solved(api)
    version, _difficulty, issued, random, mac = proof["challenge"].split(".")
    easier = ".".join([version, "1", issued, random, mac])
    status, answer = await submit(api, report_body({"challenge": easier, "nonce": "0"}))
    assert status == 400 and fields(answer) == {"pow"}, answer


async def test_a_proof_is_good_for_one_report(api: GraphQLClient, runtime: Runtime) -> None:
    proof = await solved(api)
    status, _ = await submit(api, report_body(proof))
    assert status == 201
    before = await stored(runtime)
    status, answer = await submit(api, report_body(proof, description="另一处隐患：消防通道堵塞"))
    assert status == 400 and fields(answer) == {"pow"}, answer
    assert await stored(runtime) == before


async def test_an_expired_challenge_is_refused(
    api: GraphQLClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    proof = await solved(api)

    class Later:
        def now(self) -> datetime:
            return datetime.now(UTC) + timedelta(minutes=10, seconds=1)

    monkeypatch.setattr(runtime.report_intake, "clock", Later())
    status, answer = await submit(api, report_body(proof))
    assert status == 400 and fields(answer) == {"pow"}, answer
    assert "expired" in answer["errors"][0]["message"]


async def test_a_body_that_is_not_json(api: GraphQLClient, runtime: Runtime) -> None:
    before = await stored(runtime)
    answer = await api.http.post(
        "/api/v1/reports", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["field"] is None
    answer = await api.http.post(
        "/api/v1/reports", content=b"category=x", headers={"Content-Type": "text/plain"}
    )
    assert answer.status_code == 415, answer.text
    assert answer.json()["errors"][0]["message"]
    answer = await api.http.post("/api/v1/reports", json=[1, 2])
    assert answer.status_code == 400
    assert await stored(runtime) == before


async def test_a_body_over_the_limit(api: GraphQLClient, runtime: Runtime) -> None:
    before = await stored(runtime)
    body = report_body(await solved(api), description="漏" * 40_000)
    status, answer = await submit(api, body)
    assert status == 413, answer
    assert answer["errors"][0]["field"] == "body"
    assert await stored(runtime) == before


async def test_the_contact_is_encrypted_at_rest(api: GraphQLClient, runtime: Runtime) -> None:
    proof = await solved(api)
    status, body = await submit(
        api, report_body(proof, contact={"name": "赵女士", "mobile": MOBILE})
    )
    assert status == 201, body
    report = await the_report(runtime, body["receipt"])
    async with unscoped_session(runtime.sessions) as session:
        row = (
            await session.execute(
                text(
                    "SELECT contact_name_enc, contact_mobile_enc, description_enc, receipt_hash "
                    "FROM hazard_reports WHERE id = :id"
                ).bindparams(id=report.id.hex if not runtime.settings.is_postgres else report.id)
            )
        ).one()
    raw = b"".join(bytes(value) for value in row)
    assert MOBILE.encode() not in raw and "赵女士".encode() not in raw
    assert "储罐区".encode() not in raw
    assert body["receipt"].encode() not in raw
    assert receipts.canonical(body["receipt"]).encode() not in raw  # type: ignore[union-attr]


async def test_the_timeline_starts_received(api: GraphQLClient, runtime: Runtime) -> None:
    status, body = await submit(api, report_body(await solved(api)))
    assert status == 201
    report = await the_report(runtime, body["receipt"])
    async with unscoped_session(runtime.sessions) as session:
        events = list(
            await session.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id))
        )
    assert [e.status for e in events] == [ReportStatus.RECEIVED]


async def test_one_proof_sent_twice_at_once_stores_one_report(
    api: GraphQLClient, runtime: Runtime
) -> None:
    import asyncio

    proof = await solved(api)
    before = await stored(runtime)
    answers = await asyncio.gather(
        *(submit(api, report_body(proof, description=f"同时提交的第 {i} 份举报")) for i in range(4))
    )
    assert sorted(status for status, _ in answers) == [201, 400, 400, 400], answers
    assert all(fields(body) == {"pow"} for status, body in answers if status == 400)
    after = await stored(runtime)
    assert after["hazard_reports"] == before["hazard_reports"] + 1


async def test_a_proof_spent_in_one_process_is_refused_in_another(
    api: GraphQLClient, runtime: Runtime
) -> None:
    """Two server processes share only the store: a second runtime on it stands for one."""
    from backend.reports import service
    from backend.reports._input import ReportRefused

    proof = await solved(api)
    status, _ = await submit(api, report_body(proof))
    assert status == 201
    other = Runtime(runtime.settings)
    try:
        with pytest.raises(ReportRefused) as refused:
            await service.submit_report(
                sessions=other.sessions,
                intake=other.report_intake,
                body=report_body(proof),
                client_address="192.0.2.10",
            )
        assert [field for field, _ in refused.value.errors] == ["pow"]
        # A fresh proof from this process is good in the other one.
        receipt = await service.submit_report(
            sessions=other.sessions,
            intake=other.report_intake,
            body=report_body(await solved(api)),
            client_address="192.0.2.10",
        )
        assert receipts.canonical(receipt) is not None
    finally:
        await other.close()
