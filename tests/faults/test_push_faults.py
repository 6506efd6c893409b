"""Data Push under faults: whatever happens to an upload, the table ends equal to the source."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

from airflow_provider_celonis.exceptions import CelonisApiError, CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.push.chunks import MIN_CHUNK_BYTES
from tests.helpers.emulator import POOL
from tests.helpers.push import assert_table_is, push, quoted_rows, stored_chunks

CHUNK = "/chunks/upserted$"


@pytest.mark.parametrize(
    "fault",
    [
        {"drop": "after"},  # stored, then the connection is reset
        {"drop": "before"},  # reset before storing
        {"status": 500},
        {"status": 502},
        {"status": 504},
        {"status": 503, "count": 2},
        {"status": 429, "retry_after": 0, "count": 2},
    ],
    ids=["reset-after-store", "reset-before-store", "500", "502", "504", "503x2", "429x2"],
)
def test_chunk_upload_fault_single_chunk(emulator, fault):
    emulator.fault(path=CHUNK, method="POST", **{"count": 1, **fault})
    data = quoted_rows()
    summary = push(data=data)
    assert stored_chunks(summary["push_job_id"]) == summary["chunks"] == 1
    assert_table_is(emulator, data)


def test_read_timeout_after_the_chunk_was_stored(emulator, short_timeout):
    """The answer comes too late: the chunk was stored, so it must not be sent again."""
    emulator.fault(path=CHUNK, method="POST", drop="after", delay=1.0, count=1)
    data = quoted_rows()
    summary = push(data=data)
    assert stored_chunks(summary["push_job_id"]) == 1
    time.sleep(1.0)  # the emulator logs the late request when its delayed answer is dropped
    assert len(emulator.requests(CHUNK.rstrip("$"), "POST")) == 1
    assert_table_is(emulator, data)


@pytest.mark.parametrize(
    ("faults", "jobs_created"),
    [
        ([{"drop": "after", "count": 3}], 1),  # three stored: nothing resent
        ([{"status": 502, "count": 3}], 1),  # three refused: all resent
        ([{"drop": "after", "count": 1}, {"drop": "before", "count": 1}], 2),  # unclear which: a new job
    ],
    ids=["stored", "not-stored", "mixed"],
)
def test_concurrent_uploads_with_faults(emulator, faults, jobs_created):
    for fault in faults:
        emulator.fault(path=CHUNK, method="POST", **fault)
    data = quoted_rows(6_000)
    summary = push(data=data, chunk_size_bytes=MIN_CHUNK_BYTES, max_concurrent_uploads=3)
    assert summary["chunks"] >= 4
    assert stored_chunks(summary["push_job_id"]) == summary["chunks"]
    assert_table_is(emulator, data)
    assert len(CelonisHook().list_push_jobs(POOL)) == 1  # a job started over was deleted
    assert len([r for r in emulator.requests("/jobs/", "POST") if r["path"].endswith("/jobs/")]) == jobs_created


@pytest.mark.parametrize(
    "fault",
    [{"drop": "after"}, {"drop": "before"}, {"status": 500}, {"status": 503}],
    ids=["reset-after", "reset-before", "500", "503"],
)
def test_execute_fault_submits_exactly_once(emulator, fault):
    emulator.fault(path="/jobs/[^/]+$", method="POST", count=1, **fault)
    data = quoted_rows(300, offset=10)
    push(data=quoted_rows(100))
    push(data=data, push_type="DELTA")  # without keys: appended; submitted twice it would double
    assert_table_is(emulator, pa.concat_tables([quoted_rows(100), data]))


@pytest.mark.parametrize(
    "path,method",
    [("/jobs/$", "POST"), ("/chunks$", "GET"), ("/jobs/[^/]+$", "GET")],
    ids=["create", "list-chunks", "status"],
)
@pytest.mark.parametrize("status", [500, 502, 503])
def test_bursts_on_the_other_push_endpoints(emulator, path, method, status):
    emulator.fault(path=path, method=method, status=status, count=2)
    data = quoted_rows(500)
    if method == "POST" and status != 503:
        # Creating a job is not repeated after a 5xx (a second job could exist): a clear failure, no job run.
        with pytest.raises(CelonisApiError, match=str(status)):
            push(data=data)
        assert all(job.status.value == "NEW" for job in CelonisHook().list_push_jobs(POOL))
        return
    push(data=data)
    assert_table_is(emulator, data)


def test_persistent_refusal_fails_clearly_and_leaves_no_job(emulator):
    emulator.fault(path=CHUNK, method="POST", status=500, count=50)
    with pytest.raises(CelonisError, match="could not be uploaded"):
        push(data=quoted_rows(100))
    assert CelonisHook().list_push_jobs(POOL) == []


def test_airflow_retry_after_the_task_died_mid_upload(emulator):
    """Attempt 1 dies after one of several chunks (no cleanup ran); attempt 2 pushes the right table, and
    the half-filled job of attempt 1 is never executed."""
    data = quoted_rows(6_000)

    class Died(BaseException):
        pass

    from airflow_provider_celonis.operators.push import CelonisPushDataOperator
    from airflow_provider_celonis.push.upload import ChunkUploader

    calls = {"n": 0}
    original = ChunkUploader.send

    def die_on_second(self, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise Died("worker killed")
        return original(self, *args)

    ChunkUploader.send = die_on_second
    try:
        op = CelonisPushDataOperator(
            task_id="push",
            pool_id=POOL,
            table_name="pushed",
            data=data,
            chunk_size_bytes=MIN_CHUNK_BYTES,
            max_concurrent_uploads=1,
            poll_interval=0.05,
        )
        op._discard_job = lambda why: None  # a killed worker runs no cleanup
        with pytest.raises(Died):
            from tests.helpers.tasks import context

            op.execute(context())
    finally:
        ChunkUploader.send = original
    orphan = CelonisHook().list_push_jobs(POOL)
    assert [j.status.value for j in orphan] == ["NEW"] and stored_chunks(orphan[0].id) == 1
    summary = push(data=data, chunk_size_bytes=MIN_CHUNK_BYTES)
    assert_table_is(emulator, data)
    assert CelonisHook().get_push_job(POOL, orphan[0].id).status.value == "NEW"  # never executed
    assert summary["push_job_id"] != orphan[0].id


@pytest.mark.parametrize("status", [500, 503])
def test_ingestion_upload_survives_bursts(emulator, tmp_path, status):
    """boto3 repeats a failed PutObject (an S3 object write is idempotent: the same key, the same bytes)."""
    import pyarrow.parquet as pq

    from airflow_provider_celonis.operators.ingest import CelonisIngestFilesOperator
    from tests.helpers.emulator import CONNECTION
    from tests.helpers.tasks import context

    pq.write_table(pa.table({"order_id": [1, 2], "created_at": [1, 1], "v": ["a", "b"]}), tmp_path / "a.parquet")
    emulator.fault(path="/api/data-ingestion/", method="PUT", status=status, count=2)
    CelonisIngestFilesOperator(
        task_id="i",
        connection_id=CONNECTION,
        table_name="shipment",
        source_path=str(tmp_path / "a.parquet"),
        primary_keys=["order_id"],
        file_name_prefix="",
    ).execute(context())
    assert sorted(r["order_id"] for r in emulator.table("shipment")["rows"]) == [1, 2]
    assert [r["status"] for r in emulator.requests("/api/data-ingestion/", "PUT")] == [status, status, 200]
