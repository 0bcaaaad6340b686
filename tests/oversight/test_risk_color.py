"""The risk colour rule, one branch at a time (backend/oversight/risk.py)."""

from __future__ import annotations

import pytest

from backend.oversight.overview import child_of
from backend.oversight.risk import RiskColor, RiskInputs, site_risk_color, worst

RED, ORANGE, YELLOW, BLUE = RiskColor.RED, RiskColor.ORANGE, RiskColor.YELLOW, RiskColor.BLUE


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        # RED: an active RED alarm, wherever it is.
        (RiskInputs(active_red=1, active_alarms=1), RED),
        (RiskInputs(active_red=1, active_alarms=1, online_rate=1.0), RED),
        # RED: an alarm nobody acknowledged in time, at a major hazard site of any grade ...
        (RiskInputs(active_alarms=1, overdue_unacknowledged=1, major_hazard_grade=4), RED),
        # ... but not at a site that is no major hazard source: its ORANGE alarm sets it.
        (RiskInputs(active_orange=1, active_alarms=1, overdue_unacknowledged=1), ORANGE),
        # ORANGE: an active ORANGE alarm.
        (RiskInputs(active_orange=1, active_alarms=1, online_rate=1.0), ORANGE),
        # ORANGE: grade I or II with any alarm; grade III with one is only YELLOW.
        (RiskInputs(active_alarms=1, major_hazard_grade=1), ORANGE),
        (RiskInputs(active_alarms=1, major_hazard_grade=2), ORANGE),
        (RiskInputs(active_alarms=1, major_hazard_grade=3), YELLOW),
        # ORANGE: an online rate below 90 %; 90 % itself is YELLOW.
        (RiskInputs(online_rate=0.899), ORANGE),
        (RiskInputs(online_rate=0.9), YELLOW),
        # ORANGE: an overdue rectification notice.
        (RiskInputs(overdue_notices=1, online_rate=1.0), ORANGE),
        # YELLOW: any active alarm (a YELLOW or BLUE one).
        (RiskInputs(active_alarms=1, online_rate=1.0), YELLOW),
        # YELLOW: below the required 99.5 %; 99.5 % itself passes.
        (RiskInputs(online_rate=0.994), YELLOW),
        (RiskInputs(online_rate=0.995), BLUE),
        # YELLOW: a major hazard source of grade I to III without any alarm; IV is BLUE.
        (RiskInputs(major_hazard_grade=1), YELLOW),
        (RiskInputs(major_hazard_grade=3), YELLOW),
        (RiskInputs(major_hazard_grade=4, online_rate=1.0), BLUE),
        # BLUE: nothing at all, and a site without sensors (no rate) is not raised by it.
        (RiskInputs(), BLUE),
        (RiskInputs(online_rate=None, major_hazard_grade=None), BLUE),
    ],
)
def test_each_branch_of_the_rule(inputs: RiskInputs, expected: RiskColor) -> None:
    assert site_risk_color(inputs) is expected


def test_a_division_takes_the_worst_colour_of_its_sites_and_none_without_sites() -> None:
    assert worst([BLUE, ORANGE, YELLOW]) is ORANGE
    assert worst([BLUE, RED]) is RED
    assert worst([]) is None


def test_children_are_cities_of_a_province_and_counties_of_a_city() -> None:
    assert child_of("320000", "320102") == "320100"
    assert child_of("320000", "320100") == "320100"  # coded at the city: the city's
    assert child_of("320000", "320000") is None  # coded at the province itself
    assert child_of("320100", "320102") == "320102"
    assert child_of("320100", "320100") is None
    assert child_of("320102", "320102") is None  # a county has no children
