"""``anjian alarm-report``: a small demo world through the real alarm stack on a simulated clock.

Two simulated hours of one chemical, one mining and one construction site run in seconds; the
scripted leaks must be raised (ORANGE within 90 s, RED within 150 s of their start), escalate
on the simulated clock, and nothing else may alarm, chatter or stand.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from backend.bench import alarm_report
from backend.bench.alarm_report import AlarmReport
from backend.cli import alarms as alarms_cli
from backend.cli import main
from backend.core.clock import SimulatedClock
from backend.demo.world import DemoPlan, build_plan

HOURS = 2.0


def small_plan() -> DemoPlan:
    """The first site of the first tenant of each industry."""
    plan = build_plan()
    tenants, industries = [], set()
    for tenant in plan.tenants:
        if tenant.industry not in industries:
            industries.add(tenant.industry)
            tenants.append(dataclasses.replace(tenant, sites=tenant.sites[:1]))
    return dataclasses.replace(plan, tenants=tuple(tenants))


@pytest.fixture(scope="module")
def report() -> AlarmReport:
    return alarms_cli.run_alarm_report(HOURS, plan=small_plan())


def test_every_scripted_leak_is_raised_in_time(report: AlarmReport) -> None:
    assert len(report.hazards) == HOURS * 4  # one leak every 15 minutes, on the chemical site
    for hazard in report.hazards:
        assert hazard.caught, hazard
        assert hazard.raised_after_s is not None and hazard.raised_after_s <= 90
        assert hazard.severity_after_s is not None and hazard.severity_after_s <= 150


def test_normal_operation_raises_nothing_else(report: AlarmReport) -> None:
    by_industry = {s.industry: s for s in report.sites}
    assert set(by_industry) == {"chemical", "mining", "construction"}
    for site in report.sites:
        assert site.chattering == 0, site
        assert site.standing == 0, site
        assert site.per_hour <= alarm_report.TARGET_PER_HOUR, site
        assert site.flood_share == 0, site
    chemical = by_industry["chemical"]
    assert chemical.alarms == len(report.hazards)  # the leaks and nothing else
    assert set(chemical.sources) == {"GT-101 threshold"}
    assert by_industry["mining"].alarms == by_industry["construction"].alarms == 0
    assert report.meets_target
    assert report.readings == report.sensors * HOURS * 3600 / 5


def test_unacknowledged_leaks_escalate_on_the_simulated_clock(report: AlarmReport) -> None:
    """Raised at 60 s with a 120 s deadline, cleared at 240 s: one escalation step each, taken
    by the pipeline's escalation timer reading the simulated clock."""
    chemical = next(s for s in report.sites if s.industry == "chemical")
    assert chemical.escalations == len(report.hazards)


def test_the_command_prints_one_json_object(
    report: AlarmReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alarms_cli, "run_alarm_report", lambda hours, **kw: report)
    result = CliRunner().invoke(main, ["alarm-report", "--hours", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["meets_target"] is True and data["hours"] == HOURS
    assert {s["site"] for s in data["sites"]} == {s.site for s in report.sites}
    assert all(h["caught"] for h in data["hazards"])


def test_the_command_prints_a_table_and_fails_a_missed_target(
    report: AlarmReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alarms_cli, "run_alarm_report", lambda hours, **kw: report)
    result = CliRunner().invoke(main, ["alarm-report", "--hours", "2"])
    assert result.exit_code == 0, result.output
    assert "ISA-18.2" in result.stdout and report.sites[0].site in result.stdout
    chattering = dataclasses.replace(
        report, sites=[dataclasses.replace(report.sites[0], chattering=1), *report.sites[1:]]
    )
    monkeypatch.setattr(alarms_cli, "run_alarm_report", lambda hours, **kw: chattering)
    assert CliRunner().invoke(main, ["alarm-report", "--hours", "2"]).exit_code == 1


def test_a_simulated_clock_moves_only_forward() -> None:
    clock = SimulatedClock(datetime(2026, 3, 2, tzinfo=UTC))
    assert clock.advance(5) == datetime(2026, 3, 2, 0, 0, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(clock.now() - timedelta(seconds=1))
    with pytest.raises(ValueError, match="aware"):
        SimulatedClock(datetime(2026, 3, 2))  # a naive time
