"""Duplicates: open reports of the same handling division, near in place and time, with
similar text, are suggested; one merged into another is handled with it, and its reporter
reads that and, later, the other's outcome."""

from __future__ import annotations

import uuid

from backend.reports.handling import distance_m, similarity
from backend.runtime import Runtime
from tests.graphql import GraphQLClient
from tests.reports.conftest import Staff
from tests.reports.helpers import (
    ACCEPT,
    CLOSE,
    DRAFT,
    FEEDBACK,
    MERGE,
    PUBLISH,
    REPORT,
    audit_actions,
    submitted,
    tracked,
)

CANDIDATES = "query($id: ID!) { hazardReport(id: $id) { duplicateCandidates { id } } }"
NEAR = {"lat": 30.2700, "lon": 120.1500}
CLOSE_BY = {"lat": 30.2730, "lon": 120.1520}  # about 385 m away
FAR = {"lat": 30.3300, "lon": 120.1500}  # about 6.7 km away


def test_similarity_and_distance() -> None:
    a = "化工厂储罐区围堰破损，夜间有明显的油气味"
    assert similarity(a, "储罐区的围堰破损了，晚上一直有油气味") >= 0.25
    assert similarity(a, "建筑工地塔吊无证操作，工人未系安全带") < 0.25
    assert similarity(a, a) == 1.0 and similarity(a, "") == 0.0
    assert 380 < distance_m(30.27, 120.15, 30.273, 120.152) < 390
    assert 6600 < distance_m(30.27, 120.15, 30.33, 120.15) < 6700


async def test_near_similar_reports_are_suggested_and_merged(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff
) -> None:
    director = zhejiang.email["director"]
    tag = uuid.uuid4().hex[:6]
    text = f"物流园{tag}号库房私自存放烟花爆竹，堆到了屋顶"

    async def report(description: str, location: dict[str, float]) -> tuple[str, str]:
        return await submitted(
            api, runtime, divisionCode="330106", description=description, location=location
        )

    first, _ = await report(text, NEAR)
    second, second_receipt = await report(f"{tag}号库房里堆满烟花爆竹，都堆到屋顶了", CLOSE_BY)
    unlike, _ = await report("路口施工围挡倒塌，无人处理", CLOSE_BY)
    far, _ = await report(text, FAR)
    seen = await api.query(CANDIDATES, {"id": second}, as_user=director)
    assert seen.data is not None, seen.body
    ids = [r["id"] for r in seen.data["hazardReport"]["duplicateCandidates"]]
    assert first in ids
    assert unlike not in ids and far not in ids and second not in ids

    # Refused: into itself, into a report of another handling division, into a closed one.
    refused = await api.query(MERGE, {"id": second, "into": second}, as_user=director)
    assert refused.code == "BAD_USER_INPUT", refused.body
    elsewhere, _ = await submitted(api, runtime, divisionCode="330102")  # 杭州市 handles it
    refused = await api.query(MERGE, {"id": second, "into": elsewhere}, as_user=director)
    assert refused.code == "BAD_USER_INPUT", refused.body  # not a report 西湖区 reads
    city = zhejiang.email["city_director"]
    refused = await api.query(MERGE, {"id": elsewhere, "into": second}, as_user=city)
    assert refused.code == "BAD_USER_INPUT", refused.body  # read by the city, handled by 西湖区
    assert "330106" in refused.body["errors"][0]["message"]
    done, _ = await report(f"{tag} 另一处隐患：消防通道堵塞", NEAR)
    await api.query(ACCEPT, {"id": done}, as_user=director)
    await api.query(CLOSE, {"id": done, "outcome": "已处理"}, as_user=director)
    refused = await api.query(MERGE, {"id": second, "into": done}, as_user=director)
    assert refused.code == "BAD_USER_INPUT", refused.body

    merged = await api.query(MERGE, {"id": second, "into": first}, as_user=director)
    assert merged.data is not None, merged.body
    assert merged.data["mergeHazardReport"]["status"] == "MERGED"
    assert merged.data["mergeHazardReport"]["mergedIntoId"] == first
    page = await tracked(api, second_receipt)
    assert page["status"] == "MERGED"
    assert any("合并办理" in (e["note"] or "") for e in page["timeline"])
    target = await api.query(REPORT, {"id": first}, as_user=director)
    assert target.data is not None
    assert any(
        e["internal"] and "并入" in e["note"] for e in target.data["hazardReport"]["timeline"]
    )
    assert await audit_actions(runtime, second) == ["report.merge"]
    again = await api.query(MERGE, {"id": second, "into": first}, as_user=director)
    assert again.code == "BAD_USER_INPUT", again.body  # MERGED is not open

    # Handling the other report informs this reporter too.
    for query, variables in (
        (ACCEPT, {}),
        (CLOSE, {"outcome": "已查扣烟花爆竹"}),
        (FEEDBACK, {"note": "库房内烟花爆竹已全部查扣。"}),
        (DRAFT, {"summary": "经核查，库房违规存放烟花爆竹属实，已全部查扣。"}),
        (PUBLISH, {}),
    ):
        done_step = await api.query(query, {"id": first, **variables}, as_user=director)
        assert done_step.data is not None, done_step.body
    page = await tracked(api, second_receipt)
    notes = " ".join(e["note"] or "" for e in page["timeline"])
    assert "已办结" in notes and "已全部查扣" in notes
    assert page["outcome"] == "经核查，库房违规存放烟花爆竹属实，已全部查扣。"
