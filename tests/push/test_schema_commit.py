"""When a Data Push job's schema is fixed: a source larger than one chunk gets its job once the first chunk is
full (uploads overlap the reading, strings open-ended); a source within one chunk keeps exact lengths."""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.push.chunks import MIN_CHUNK_BYTES
from airflow_provider_celonis.push.schema import MAX_VARCHAR_BYTES
from tests.conftest import POOL
from tests.test_ingest_data import wide_batches
from tests.test_operators_sensors_triggers import context
from tests.test_push import push_op


def declared_lengths() -> dict[str, int]:
    job = CelonisHook().list_push_jobs(POOL)[0]
    return {c["columnName"]: c.get("fieldLength") for c in job.raw["tableSchema"]["columns"]}


def test_a_source_of_a_few_chunks_uploads_while_it_reads(emulator, emulator_server):
    """Within max_spooled_chunks, but larger than one chunk: the first chunk goes up before the source ends."""

    def uploads() -> int:
        return len([r for r in list(emulator_server.state.request_log) if r["path"].endswith("/chunks/upserted")])

    def source():
        for number, batch in enumerate(wide_batches(12)):
            if number == 10:  # well past the first chunk: wait (a while) for it to be uploaded
                deadline = time.monotonic() + 10
                while not uploads() and time.monotonic() < deadline:
                    time.sleep(0.01)
                seen.append(uploads())
            yield batch

    seen: list[int] = []
    summary = push_op(data=source(), chunk_size_bytes=MIN_CHUNK_BYTES * 4, max_spooled_chunks=8).execute(context())
    assert 2 <= summary["chunks"] <= 8  # it would all have fitted in the spool
    assert seen[0] >= 1  # a chunk went up before the source's last batches were read
    assert declared_lengths()["blob"] == MAX_VARCHAR_BYTES
    assert emulator.arrow_table("pushed").sort_by("id").column("id").to_pylist() == list(range(24_000))


def test_small_files_each_their_own_chunk_keep_exact_lengths(emulator, tmp_path):
    """Two parquet files sent unchanged are two chunks, neither full: the schema waits for both."""
    pq.write_table(pa.table({"id": [1, 2], "s": ["abc", None]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": [3], "s": ["abcdefg"]}), tmp_path / "b.parquet")
    summary = push_op(source_path=str(tmp_path / "*.parquet")).execute(context())
    assert summary["chunks"] == 2 and summary["chunks_sent_unchanged"] == 2
    assert declared_lengths()["s"] == 7
