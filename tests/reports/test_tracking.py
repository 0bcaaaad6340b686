"""Receipt codes and tracking: 80 random bits in Crockford's base32, read back forgivingly,
a wrong code reveals nothing, and what tracking shows holds no personal data."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select, update

from backend.reports import receipts
from backend.reports.models import HazardReport, ReportEvent, ReportStatus
from backend.runtime import Runtime
from tenants.scope import unscoped_session
from tests.graphql import GraphQLClient
from tests.reports.helpers import MOBILE, report_body, solved, submit

CODE = re.compile(r"^AJ-[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}$")


def test_a_receipt_is_16_crockford_symbols_of_80_random_bits() -> None:
    assert len(receipts.ALPHABET) == 32 and not set("ILOU") & set(receipts.ALPHABET)
    codes = [receipts.new_receipt() for _ in range(4000)]
    assert all(CODE.match(code) for code in codes)
    assert len(set(codes)) == len(codes)
    # Every symbol position is uniform over the 32 symbols: 5 bits each, 80 in all. With
    # 4,000 codes the per-position entropy estimate is within a few hundredths of 5 bits.
    symbols = [code.replace("-", "")[2:] for code in codes]
    for position in range(receipts.SYMBOLS):
        counts = Counter(s[position] for s in symbols)
        entropy = -sum(n / len(codes) * math.log2(n / len(codes)) for n in counts.values())
        assert entropy > 4.9, (position, entropy)
    # The first symbol carries the top 5 of the 80 bits too (not a padded 0).
    assert len({s[0] for s in symbols}) == 32
    assert receipts.BITS == 80 and receipts.SYMBOLS * 5 == receipts.BITS


def test_look_up_forgives_case_dashes_and_confusable_letters() -> None:
    symbols = "0123456789ABCDEF"
    code = receipts.format_receipt(symbols)
    assert code == "AJ-0123-4567-89AB-CDEF"
    for typed in (
        code,
        code.lower(),
        "aj0123456789abcdef",
        "0123 4567 89AB CDEF",
        "AJ-O123-4567-89AB-CDEF",  # O read as 0
        "AJ-0I23-4567-89AB-CDEF",  # I read as 1
        "aj-0l23-4567-89ab-cdef",  # l read as 1
    ):
        assert receipts.canonical(typed) == symbols, typed
    for wrong in ("", "AJ-0123", "AJ-0123-4567-89AB-CDEU", "AJ-0123-4567-89AB-CDEF-0", "X" * 40):
        assert receipts.canonical(wrong) is None, wrong


async def test_tracking_by_the_receipt(api: GraphQLClient, runtime: Runtime) -> None:
    status, body = await submit(api, report_body(await solved(api)))
    assert status == 201
    receipt = body["receipt"]
    for typed in (receipt, receipt.lower().replace("-", ""), receipt.replace("0", "o")):
        answer = await api.http.get(f"/api/v1/reports/{typed}")
        assert answer.status_code == 200, answer.text
        tracked = answer.json()
        assert set(tracked) == {"receipt", "status", "timeline", "outcome"}
        assert tracked["receipt"] == receipt
        assert tracked["status"] == "RECEIVED"
        assert tracked["outcome"] is None
        (entry,) = tracked["timeline"]
        assert set(entry) == {"at", "status", "note"} and entry["status"] == "RECEIVED"
        assert entry["at"].endswith("Z")
        assert answer.headers["cache-control"] == "no-store"


async def test_a_wrong_code_reveals_nothing(api: GraphQLClient) -> None:
    status, body = await submit(api, report_body(await solved(api)))
    assert status == 201
    symbols = receipts.canonical(body["receipt"])
    assert symbols is not None
    neighbour = symbols[:-1] + ("0" if symbols[-1] != "0" else "1")
    answers = [
        await api.http.get(f"/api/v1/reports/{code}")
        for code in (receipts.format_receipt(neighbour), "AJ-0000-0000-0000-0000", "nonsense")
    ]
    assert {a.status_code for a in answers} == {404}
    # Every wrong code gets the very same answer, whatever it looks like.
    assert len({a.content for a in answers}) == 1
    assert answers[0].json()["errors"][0]["field"] == "receipt"


async def test_tracking_shows_no_personal_data(api: GraphQLClient, runtime: Runtime) -> None:
    contact = {"name": "钱先生", "mobile": MOBILE}
    status, body = await submit(
        api,
        report_body(
            await solved(api),
            contact=contact,
            description=f"老板让工人 {MOBILE} 无证焊接，储罐旁有明火",
            subject="钱记五金加工厂",
        ),
    )
    assert status == 201
    symbols = receipts.canonical(body["receipt"])
    assert symbols is not None
    # The report is closed with a published summary, a handler's public note naming a mobile
    # (masked on the way in) and an internal note (never shown).
    async with unscoped_session(runtime.sessions) as session, session.begin():
        report = await session.scalar(
            select(HazardReport).where(HazardReport.receipt_hash == receipts.receipt_hash(symbols))
        )
        assert report is not None
        now = datetime.now(UTC)
        await session.execute(
            update(HazardReport)
            .where(HazardReport.id == report.id)
            .values(status=ReportStatus.CLOSED, closed_at=now)
        )
        report.outcome = "内部结论：钱记五金无证焊接属实"
        report.public_summary = "经核查情况属实，已责令停产整改。"
        report.summary_published_at = now
        session.add(
            ReportEvent(
                report_id=report.id,
                at=now,
                status=ReportStatus.CLOSED,
                note=f"已联系举报人 {MOBILE} 反馈结果",
            )
        )
        session.add(
            ReportEvent(
                report_id=report.id,
                at=now,
                status=ReportStatus.CLOSED,
                note="内部：钱记五金老板承认无证焊接",
                internal=True,
            )
        )
    answer = await api.http.get(f"/api/v1/reports/{body['receipt']}")
    assert answer.status_code == 200
    tracked = answer.json()
    assert tracked["status"] == "CLOSED"
    assert tracked["outcome"] == "经核查情况属实，已责令停产整改。"
    shown = json.dumps(tracked, ensure_ascii=False)
    for secret in (MOBILE, "钱先生", "钱记五金", "无证焊接", MOBILE[3:7]):
        assert secret not in shown, secret
