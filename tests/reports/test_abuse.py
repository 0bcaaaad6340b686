"""Abuse protection without third parties: a per-address rate (429 with Retry-After), and the
networks the platform administrator blocks through the CLI (403 with a clear error)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from backend.api import report_routes
from backend.auth.throttle import Policy
from backend.cli.reports import reports
from backend.core.errors import Forbidden
from backend.reports.blocklist import refuse_blocked
from backend.reports.service import ReportIntake, admit_client, public_session
from backend.runtime import Runtime
from tests.graphql import GraphQLClient
from tests.reports.helpers import fields, report_body, small_png, solved, stored, submit

TIGHT = Policy(free=2, leak_seconds=3600, base_seconds=60, cap_seconds=600)


async def test_reports_over_the_rate_get_429_with_retry_after(
    api: GraphQLClient, runtime: Runtime, intake: ReportIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "reports_policy", TIGHT)
    statuses = []
    for _ in range(3):
        status, _ = await submit(api, report_body(await solved(api)))
        statuses.append(status)
    assert statuses == [201, 201, 201]  # the third is over the allowance and starts a lock
    before = await stored(runtime)
    answer = await api.http.post("/api/v1/reports", json=report_body(await solved(api)))
    assert answer.status_code == 429, answer.text
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert answer.json()["errors"][0]["message"]
    assert await stored(runtime) == before
    # Photos are counted on their own allowance.
    answer = await api.http.post(
        "/api/v1/reports/photos",
        content=small_png(),
        headers={"Content-Type": "image/png", "X-Anjian-PoW": "x:y"},
    )
    assert answer.status_code == 400 and fields(answer.json()) == {"pow"}


async def test_photo_uploads_over_the_rate_get_429(
    api: GraphQLClient, intake: ReportIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "photos_policy", TIGHT)
    headers = {"Content-Type": "image/png", "X-Anjian-PoW": "x:y"}
    codes = [
        (await api.http.post("/api/v1/reports/photos", content=small_png(), headers=headers))
        for _ in range(4)
    ]
    assert [c.status_code for c in codes] == [400, 400, 400, 429]
    assert codes[-1].headers["retry-after"]


def cli(runtime: Runtime, *args: str) -> dict[str, object]:
    done = CliRunner().invoke(reports, [*args, "--json"], obj=runtime.settings)
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert isinstance(payload, dict)
    return payload


def test_the_blocklist_is_managed_through_the_cli(runtime: Runtime) -> None:
    added = cli(runtime, "block", "--network", "198.51.100.7/24", "--reason", "flooding")
    assert added["blocked"]["network"] == "198.51.100.0/24"  # type: ignore[index]
    listed = cli(runtime, "blocklist")
    assert {"network": "198.51.100.0/24", "reason": "flooding"}.items() <= next(
        b
        for b in listed["blocks"]
        if b["network"] == "198.51.100.0/24"  # type: ignore[attr-defined]
    ).items()
    again = CliRunner().invoke(
        reports, ["block", "--network", "198.51.100.0/24"], obj=runtime.settings
    )
    assert again.exit_code == 2 and "already blocked" in again.output
    bad = CliRunner().invoke(reports, ["block", "--network", "not-a-net"], obj=runtime.settings)
    assert bad.exit_code == 2 and "CIDR" in bad.output
    assert cli(runtime, "unblock", "--network", "198.51.100.0/24") == {
        "unblocked": "198.51.100.0/24"
    }
    gone = CliRunner().invoke(
        reports, ["unblock", "--network", "198.51.100.0/24"], obj=runtime.settings
    )
    assert gone.exit_code == 1 and "not blocked" in gone.output


async def test_a_blocked_network_gets_403(
    api: GraphQLClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.reports.blocklist import block_network, unblock_network
    from privacy.audit import Actor

    async with public_session(runtime.sessions) as session, session.begin():
        await block_network(session, network="203.0.113.0/24", reason=None, actor=Actor.system())
    try:
        async with public_session(runtime.sessions) as session:
            with pytest.raises(Forbidden):
                await refuse_blocked(session, "203.0.113.77")
            await refuse_blocked(session, "203.0.114.1")  # outside: fine
            with pytest.raises(Forbidden):
                await refuse_blocked(session, "::ffff:203.0.113.5")  # the same, IPv4-mapped
        proof = await solved(api)
        monkeypatch.setattr(report_routes, "_address", lambda request: "203.0.113.77")
        before = await stored(runtime)
        for answer in (
            await api.http.get("/api/v1/reports/challenge"),
            await api.http.post("/api/v1/reports", json=report_body(proof)),
            await api.http.post(
                "/api/v1/reports/photos",
                content=small_png(),
                headers={"Content-Type": "image/png", "X-Anjian-PoW": "x:y"},
            ),
        ):
            assert answer.status_code == 403, answer.text
            assert "blocked" in answer.json()["errors"][0]["message"]
        assert await stored(runtime) == before
        with pytest.raises(Forbidden):
            await admit_client(
                sessions=runtime.sessions,
                intake=runtime.report_intake,
                address="203.0.113.1",
                kind="report",
            )
    finally:
        async with public_session(runtime.sessions) as session, session.begin():
            await unblock_network(session, network="203.0.113.0/24", actor=Actor.system())
