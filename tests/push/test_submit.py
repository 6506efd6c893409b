"""Submitting and creating push jobs as Celonis answers them (evidence facts 5 and the 204/429 notes):
409 on submit reads the job, an empty 204 on create finds the job, the hourly window waits or fails clearly."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from tests.helpers.emulator import POOL
from tests.helpers.push import assert_table_is, push, quoted_rows

SUBMIT = "/data-push/[^/]+/jobs/[^/]+$"


def submits(emulator) -> list[int]:
    """The statuses of the submit (execute) requests, in order."""
    return [
        r["status"]
        for r in emulator.requests("/jobs/", "POST")
        if not r["path"].endswith(("/jobs/", "/upserted", "/cancel"))
    ]


def test_a_409_on_submit_reads_the_job_and_never_deletes_it(emulator):
    """A 409 for concurrency leaves the job NEW: the task submits it again instead of deleting a good job."""
    emulator.fault(path=SUBMIT, method="POST", status=409, count=2)
    data = quoted_rows(100)
    summary = push(data=data)
    assert summary["status"] == "DONE"
    assert submits(emulator) == [409, 409, 200]
    assert emulator.requests("/jobs/", "DELETE") == []
    assert_table_is(emulator, data)


def test_back_to_back_pushes_wait_for_the_submit_spacing(emulator, seed_copy):
    seed_copy["settings"]["push_submit_spacing_seconds"] = 1.0
    emulator.reseed(seed_copy)
    first, second = quoted_rows(50), quoted_rows(50, offset=50)
    push(data=first, api_retry_delay=0.3)
    push(data=second, push_type="DELTA", api_retry_delay=0.3)  # appended: a double submit would double it
    assert_table_is(emulator, pa.concat_tables([first, second]))
    assert submits(emulator).count(200) == 2


def test_a_409_for_a_job_already_submitted_is_taken_as_submitted(emulator):
    """The first submit is applied but its answer lost; the repeat gets 409 (not NEW): no third submit."""
    emulator.fault(path=SUBMIT, method="POST", drop="after", count=1)
    data = quoted_rows(100)
    push(data=data, push_type="DELTA")
    assert submits(emulator) == [0]
    assert_table_is(emulator, data)


def test_submit_gives_up_at_the_timeout_while_the_job_stays_new(emulator):
    emulator.fault(path=SUBMIT, method="POST", status=409, count=1000)
    began = time.monotonic()
    with pytest.raises(CelonisError, match="still NEW after .* submission attempt"):
        push(data=quoted_rows(10), timeout=1.5, api_retry_delay=0.2)
    assert time.monotonic() - began < 6
    assert CelonisHook().list_push_jobs(POOL) == []  # never submitted: deleted, nothing can run it later


@pytest.mark.parametrize("answer", ["json", "empty_204"])
def test_create_job_with_either_answer(emulator, seed_copy, answer):
    seed_copy["settings"]["create_push_job_response"] = answer
    emulator.reseed(seed_copy)
    hook = CelonisHook()
    orphan = hook.create_push_job(POOL, "pushed")  # an older NEW job for the same table (a killed attempt)
    creates = [r for r in emulator.requests("/jobs/", "POST") if r["path"].endswith("/jobs/")]
    assert [r["status"] for r in creates] == [200 if answer == "json" else 204]
    data = quoted_rows(100)
    summary = push(data=data)
    assert summary["push_job_id"] != orphan.id
    assert hook.get_push_job(POOL, orphan.id).status.value == "NEW"  # not executed
    assert hook.get_push_job(POOL, summary["push_job_id"]).status.value == "DONE"
    assert_table_is(emulator, data)


def test_an_empty_create_answer_with_no_new_job_fails_clearly(emulator, seed_copy):
    seed_copy["settings"]["create_push_job_response"] = "empty_204"
    emulator.reseed(seed_copy)
    emulator.fault(path="/data-push/[^/]+/jobs/?$", method="POST", status=204, count=1)  # nothing created
    with pytest.raises(CelonisError, match="without a body, and no new NEW job"):
        push(data=quoted_rows(10))
    assert submits(emulator) == []


def _hourly_seed(seed: dict, window: float, headers: str = "reset") -> dict:
    seed["settings"]["rate_limits"] = {"push_execute_per_second": 10, "push_execute_per_hour": 1}
    seed["settings"]["rate_limit_window_seconds"] = window
    seed["settings"]["push_submit_spacing_seconds"] = 0
    seed["settings"]["rate_limit_headers"] = headers
    return seed


# "reset": the documented x-ratelimit-* headers; "none": only the error body's "Please try again at HH:MM:SS UTC."
RATE_LIMIT_HEADERS = ["reset", "none"]


@pytest.mark.parametrize("headers", RATE_LIMIT_HEADERS)
def test_hourly_window_is_waited_out_when_the_reset_fits_the_timeout(emulator, seed_copy, headers):
    window = 5.0
    emulator.reseed(_hourly_seed(seed_copy, window, headers))
    while time.time() % window > 0.3:  # start just after a window opens: the reset is ~5 s away
        time.sleep(0.05)
    first, second = quoted_rows(20), quoted_rows(20, offset=20)
    push(data=first)
    began = time.monotonic()
    push(data=second, push_type="DELTA", timeout=60)
    assert 2.0 < time.monotonic() - began < 15
    assert submits(emulator) == [200, 429, 200]
    assert_table_is(emulator, pa.concat_tables([first, second]))


@pytest.mark.parametrize("headers", RATE_LIMIT_HEADERS)
def test_hourly_window_beyond_the_timeout_fails_at_once_naming_the_reset(emulator, seed_copy, headers):
    emulator.reseed(_hourly_seed(seed_copy, 3600, headers))
    if 3600 - time.time() % 3600 < 90:  # the UTC hour ends within the timeout: wait for the next window
        time.sleep(3600 - time.time() % 3600 + 1)
    push(data=quoted_rows(10))
    began = time.monotonic()
    with pytest.raises(CelonisError) as err:
        push(data=quoted_rows(10), timeout=60)
    assert time.monotonic() - began < 10  # no blind retries
    message = str(err.value)
    assert "UTC" in message and "fewer push jobs per hour" in message
    assert ("limit (1)" in message) == (headers == "reset")  # the limit is named only by x-ratelimit-limit
    assert "Airflow pool" in message
    assert submits(emulator) == [200, 429]
    assert [job.status.value for job in CelonisHook().list_push_jobs(POOL)] == ["DONE"]  # the refused one deleted
