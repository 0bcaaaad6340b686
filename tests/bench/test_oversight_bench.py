"""`anjian bench oversight` on a tiny world: it builds one, serves it, and measures every
government query at each level, and what the server reports is what was built — so the figures
cannot come from an empty world."""

from __future__ import annotations

import json

from click.testing import CliRunner

from backend.cli import main

LEVELS = {"province", "city", "county"}
QUERIES = {"jurisdiction", "siteRisks", "enterpriseRankings", "dataQuality", "onlineRateHistory"}


def test_a_tiny_province_is_built_served_and_measured() -> None:
    result = CliRunner().invoke(
        main, ["bench", "oversight", "--scale", "0.002", "--repeat", "2", "--feed", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["sites"] >= 10 and figures["sensors"] >= 200
    assert figures["raw_readings"] > 0 and figures["history_rows"] > 0
    measured = {(q["level"], q["query"]) for q in figures["queries"]}
    assert measured == {(level, query) for level in LEVELS for query in QUERIES}
    for q in figures["queries"]:
        assert 0 < q["p50_ms"] <= q["p95_ms"] <= q["max_ms"], q
        assert q["engine_p50_ms"] > 0 and q["ratio_to_engine"] > 0, q
    assert set(figures["built"]) == LEVELS
    for level, built in figures["built"].items():
        assert built["sites"] > 0 and built["sensors"] > 0, (level, built)
        assert {k: figures["reported"][level][k] for k in built} == built, level
    assert figures["server_rss_mib"] > 0
    # The devices went on reporting over the device API while the queries ran, unrefused.
    assert figures["feed"]["batches"] > 0 and figures["feed"]["readings"] > 0
    assert figures["feed"]["refused"] == 0, figures["feed"]["first_refusal"]
