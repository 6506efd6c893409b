"""The emulator decodes push chunks in the background as they arrive: the same checksums, rows and errors as
decoding at execute; a multipart object's ETag is S3's (the MD5 of the parts' MD5s, then the part count)."""

from __future__ import annotations

import hashlib
import io
import time

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_celonis.hooks.celonis import CelonisHook
from tests.helpers.emulator import POOL
from tests.helpers.push import ingest_op
from tests.helpers.tasks import context


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, use_deprecated_int96_timestamps=True)
    return sink.getvalue()


def wait(hook: CelonisHook, job_id: str):
    for _ in range(200):
        job = hook.get_push_job(POOL, job_id)
        if job.status.is_terminal:
            return job
        time.sleep(0.05)
    raise AssertionError("the job did not end")


def test_chunks_are_listed_with_their_checksum_and_applied_in_order(emulator):
    hook = CelonisHook()
    job = hook.create_push_job(POOL, "pushed")
    bodies = [parquet_bytes(pa.table({"id": [i, i + 1], "s": ["a", "bb"]})) for i in (0, 2, 4)]
    for body in bodies:
        hook.add_push_chunk(POOL, job.id, body)
    assert [c.checksum for c in hook.list_push_chunks(POOL, job.id)] == [
        hashlib.md5(b).hexdigest()  # noqa: S324
        for b in bodies
    ]
    hook.execute_push_job(POOL, job.id)
    assert wait(hook, job.id).status.value == "DONE"
    assert emulator.arrow_table("pushed").column("id").to_pylist() == list(range(6))


def test_an_unreadable_chunk_fails_the_job_at_execute(emulator):
    hook = CelonisHook()
    job = hook.create_push_job(POOL, "pushed")
    hook.add_push_chunk(POOL, job.id, parquet_bytes(pa.table({"id": [1]})))
    hook.add_push_chunk(POOL, job.id, b"PAR1 this is not parquet PAR1")
    assert hook.get_push_job(POOL, job.id).status.value == "NEW"  # nothing is judged before execute
    hook.execute_push_job(POOL, job.id)
    job = wait(hook, job.id)
    assert job.status.value == "ERROR"
    assert any("Chunk is not a readable parquet file" in line for line in job.logs)


def test_a_multipart_object_has_s3s_multipart_etag(emulator, emulator_server, seed_copy, tmp_path):
    seed_copy["pools"][0]["connections"][0]["tables"].append({"name": "rt", "primary_key": []})
    emulator.reseed(seed_copy)
    n = 800_000
    pq.write_table(pa.table({"id": list(range(n)), "v": [f"row-{i}" for i in range(n)]}), tmp_path / "a.parquet")
    threshold = 6 * 1024 * 1024  # three even parts, each above S3's 5 MiB minimum
    summary = ingest_op(source_path=str(tmp_path / "a.parquet"), multipart_threshold_bytes=threshold).execute(context())
    [uploaded] = summary["objects"]
    assert summary["multipart"] is True and uploaded["bytes"] > 2 * threshold
    data = emulator_server.state.objects[uploaded["key"]]
    parts = [r for r in emulator.requests("/api/data-ingestion", "PUT") if "uploadId" in r["query"]]
    count = len(parts)
    size = -(-len(data) // count)  # even parts, the last one shorter (sent at the same time: in any order)
    assert count == -(-len(data) // threshold) > 1
    assert sorted(p["bytes"] for p in parts) == sorted([size] * (count - 1) + [len(data) - size * (count - 1)])
    digests = b"".join(hashlib.md5(data[i : i + size]).digest() for i in range(0, len(data), size))  # noqa: S324
    head = CelonisHook().get_ingestion_client().head_object(Bucket="continuous", Key=uploaded["key"])
    assert head["ETag"].strip('"') == f"{hashlib.md5(digests).hexdigest()}-{count}"  # noqa: S324


def test_a_chunk_checksum_still_being_computed_does_not_hold_up_other_requests(emulator, monkeypatch):
    """The checksum is computed when a chunk is stored, in the background; a list waits for it outside the lock."""
    import threading

    from airflow_provider_celonis.emulator import state

    gate = threading.Event()

    def slow_checksum(data: bytes) -> str:
        gate.wait(30)
        return hashlib.md5(data).hexdigest()  # noqa: S324

    monkeypatch.setattr(state, "_checksum", slow_checksum)
    hook = CelonisHook()
    job = hook.create_push_job(POOL, "pushed")
    body = parquet_bytes(pa.table({"id": [1, 2]}))
    hook.add_push_chunk(POOL, job.id, body)
    listed: list = []
    lister = threading.Thread(target=lambda: listed.extend(hook.list_push_chunks(POOL, job.id)))
    lister.start()
    try:
        time.sleep(0.2)
        assert lister.is_alive()  # the list waits for the checksum ...
        assert hook.get_push_job(POOL, job.id).status.value == "NEW"  # ... and other requests are answered
    finally:
        gate.set()
        lister.join(30)
    assert [c.checksum for c in listed] == [hashlib.md5(body).hexdigest()]  # noqa: S324
