"""`anjian bench reports` at a tiny scale: it builds a store of reports, serves it, measures
the director's queue, submissions with and without a photo, and tracking under that load —
and every count is what was built and submitted, with nothing refused, so the figures cannot
come from an empty store or from error answers."""

from __future__ import annotations

import json

from click.testing import CliRunner

from backend.cli import main

SUBMISSIONS, PHOTO_SUBMISSIONS = 24, 3


def test_a_tiny_store_is_built_served_and_measured() -> None:
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "reports",
            "--scale",
            "0.01",
            "--reports",
            str(SUBMISSIONS),
            "--photo-reports",
            str(PHOTO_SUBMISSIONS),
            "--clients",
            "4",
            "--difficulty",
            "4",
            "--repeat",
            "3",
            "--track-rate",
            "40",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    built = figures["reports_built"]
    assert built == 1_000 and sum(figures["built_by_status"].values()) == built
    assert figures["events_built"] > built  # older reports have moved on: more than one entry
    assert figures["difficulty"] == 4

    waiting = figures["built_by_status"]["RECEIVED"]
    assert waiting > 0 and figures["queue_received_listed"] == waiting
    assert {q["queue"] for q in figures["queue"]} == {"latest", "received"}
    for q in figures["queue"]:
        expected_rows = min(50, built if q["status"] is None else waiting)
        assert q["rows"] == expected_rows and q["matches_raw"], q
        assert 0 < q["p50_ms"] <= q["p95_ms"] <= q["max_ms"], q
        assert q["raw_p50_ms"] > 0 and q["ratio_to_raw"] > 0, q

    plain, photo = figures["phases"]
    assert (plain["submissions"], photo["submissions"]) == (SUBMISSIONS, PHOTO_SUBMISSIONS)
    assert plain["photo_bytes"] == 0 and 900_000 <= photo["photo_bytes"] <= 1_100_000
    for phase in (plain, photo):
        assert phase["accepted"] == phase["submissions"], phase["first_refusal"]
        assert phase["refused"] == {} and phase["per_s"] > 0, phase
        assert 0 < phase["latency_p50_ms"] <= phase["latency_p95_ms"], phase
        # Tracked meanwhile, reports of the store and fresh ones, every answer as expected.
        assert phase["tracked"] > 0 and phase["tracked_store"] > 0, phase
        assert phase["tracking_errors"] == 0, phase["first_tracking_error"]
        assert 0 < phase["tracking_p50_ms"] <= phase["tracking_p95_ms"], phase
    assert photo["photo_p95_ms"] > 0 and photo["latency_p50_ms"] > photo["photo_p50_ms"]

    # The store holds what was built and what was accepted: every report, every photo.
    assert figures["stored"] == figures["expected"]
    assert figures["stored"]["reports"] == built + SUBMISSIONS + PHOTO_SUBMISSIONS
    assert figures["stored"]["photos_attached"] == PHOTO_SUBMISSIONS
    assert figures["consistent"]
    assert figures["server_rss_mib"] > 0
