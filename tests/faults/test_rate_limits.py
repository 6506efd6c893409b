"""More push submissions than Celonis allows: paced in-process, 429s waited out, none fails."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from airflow_provider_celonis import pacing
from tests.helpers.emulator import test_seed
from tests.helpers.push import assert_table_is, push_operator, quoted_rows
from tests.helpers.tasks import context


def test_more_pushes_than_the_team_limit_all_land(emulator):
    """12 pushes at once against a team limit of 3 submissions per second (the emulator's, lowered for the
    test; the in-process pacer allows 10/s, so Celonis's 429 and its x-ratelimit-reset do the rest)."""
    seed = test_seed()
    seed["settings"]["rate_limits"] = {"push_execute_per_second": 3, "push_execute_per_hour": 250}
    seed["settings"]["push_submit_spacing_seconds"] = 0  # this test drives the per-second 429, not the 409
    emulator.reseed(seed)
    tables = {f"t{i}": quoted_rows(50, offset=i * 100) for i in range(12)}
    # Operators are built in the main thread (Airflow 2 tracks operator construction per thread), run in 12.
    tasks = [push_operator(table_name=name, data=data) for name, data in tables.items()]
    with ThreadPoolExecutor(12) as pool:
        summaries = list(pool.map(run_in_thread, tasks))
    assert all(s["status"] == "DONE" for s in summaries)
    rows = sum(assert_table_is(emulator, data, table) for table, data in tables.items())
    assert rows == 600
    refused = [r for r in emulator.requests("/jobs/", "POST") if r["status"] == 429]
    assert refused, "the test must drive more submissions than the limit"


def run_in_thread(task) -> dict:
    """Execute a task in a worker thread (Airflow 2's ExecutorSafeguard keeps per-thread state to set up)."""
    try:
        from airflow.models.baseoperator import ExecutorSafeguard
    except ImportError:  # Airflow 3: no such guard state in this module
        ExecutorSafeguard = None  # noqa: N806
    if ExecutorSafeguard is not None and not hasattr(ExecutorSafeguard._sentinel, "callers"):
        ExecutorSafeguard._sentinel.callers = {}
    return task.execute(context())


def test_pacer_spaces_submissions_to_the_limit():
    team = f"team-{time.monotonic()}"
    began = time.monotonic()
    moments = []
    for _ in range(12):
        pacing.wait_for_submission_slot(team, per_second=5)
        moments.append(time.monotonic() - began)
    assert all(later - moments[i] >= 0.99 for i, later in enumerate(moments[5:]))  # never 6 within a second
    assert 2.0 <= moments[-1] < 3.5  # 12 submissions at 5/s need two full windows


def test_parallel_submits_get_409_and_every_job_lands(emulator):
    """Submits closer than the team's spacing answer 409 (Celonis support: no parallel submits); each task reads
    its job, finds it NEW, backs off and submits again: every table lands, no job is deleted."""
    seed = test_seed()
    seed["settings"]["push_submit_spacing_seconds"] = 0.3
    emulator.reseed(seed)
    tables = {f"p{i}": quoted_rows(40, offset=i * 100) for i in range(4)}
    tasks = [push_operator(table_name=name, data=data, api_retry_delay=0.2) for name, data in tables.items()]
    with ThreadPoolExecutor(4) as pool:
        summaries = list(pool.map(run_in_thread, tasks))
    assert all(s["status"] == "DONE" for s in summaries)
    assert sum(assert_table_is(emulator, data, table) for table, data in tables.items()) == 160
    submits = [r for r in emulator.requests("/jobs/", "POST") if not r["path"].endswith(("/jobs/", "/upserted"))]
    assert any(r["status"] == 409 for r in submits), "the test must drive concurrent submits"
    assert [r["status"] for r in submits].count(200) == 4  # each job submitted exactly once
    assert emulator.requests("/jobs/", "DELETE") == []
