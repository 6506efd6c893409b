"""A Data Push job's schema waits for the whole source when it fits in max_spooled_chunks chunks: exact lengths."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_celonis.hooks.celonis import CelonisHook
from tests.helpers.emulator import POOL
from tests.helpers.push import push_op
from tests.helpers.tasks import context


def declared_lengths() -> dict[str, int]:
    job = CelonisHook().list_push_jobs(POOL)[0]
    return {c["columnName"]: c.get("fieldLength") for c in job.raw["tableSchema"]["columns"]}


def test_small_files_each_their_own_chunk_keep_exact_lengths(emulator, tmp_path):
    """Two parquet files sent unchanged are two chunks: the schema waits for both."""
    pq.write_table(pa.table({"id": [1, 2], "s": ["abc", None]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": [3], "s": ["abcdefg"]}), tmp_path / "b.parquet")
    summary = push_op(source_path=str(tmp_path / "*.parquet")).execute(context())
    assert summary["chunks"] == 2 and summary["chunks_sent_unchanged"] == 2
    assert declared_lengths()["s"] == 7
