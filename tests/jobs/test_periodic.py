"""The loop the timer jobs share: a failed run is logged and the next one still comes."""

from __future__ import annotations

import asyncio
import logging

import pytest

from backend.jobs.periodic import Periodic


async def test_a_failed_run_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise ConnectionError("the database is unreachable (test)")

    job = Periodic("test-job", flaky, every=0.01, failed="the test job failed")
    with caplog.at_level(logging.ERROR, logger="anjian.jobs"):
        job.start()
        for _ in range(200):
            if len(runs) >= 3:
                break
            await asyncio.sleep(0.01)
        await job.stop()
    assert len(runs) >= 3, runs
    assert [r.getMessage() for r in caplog.records] == ["the test job failed"]


async def test_stopping_a_job_never_started_does_nothing() -> None:
    async def never() -> None:
        raise AssertionError("not started")

    await Periodic("idle", never, every=1.0, failed="unused").stop()
