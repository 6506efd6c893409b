"""Declared string lengths (`fieldLength`) are read while chunks upload, not before the job; checked before execute."""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.push import chunks
from tests.helpers.emulator import POOL
from tests.helpers.push import push_op
from tests.helpers.tasks import context


@pytest.fixture
def job_created_first(monkeypatch):
    """Records each read of string columns and whether the push job existed then; a read of the declared column
    ``s`` waits up to 10 s for the job (a push that read it before creating the job would record False)."""
    created = threading.Event()
    reads: list[tuple[list[str], bool]] = []
    measure, create = chunks.max_string_bytes_in_file, CelonisHook.create_push_job

    def read_lengths(path, columns, **kwargs):
        reads.append((list(columns), created.wait(10) if "s" in columns else created.is_set()))
        return measure(path, columns, **kwargs)

    def create_job(self, *args, **kwargs):
        created.set()
        return create(self, *args, **kwargs)

    monkeypatch.setattr(chunks, "max_string_bytes_in_file", read_lengths)
    monkeypatch.setattr(CelonisHook, "create_push_job", create_job)
    return reads


def table_schema_of_job() -> dict[str, int]:
    job = CelonisHook().list_push_jobs(POOL)[0]
    return {c["columnName"]: c.get("fieldLength") for c in job.raw["tableSchema"]["columns"]}


def test_declared_string_column_is_read_while_the_chunks_upload(emulator, tmp_path, job_created_first):
    pq.write_table(pa.table({"id": [1, 2], "s": ["abc", "x" * 30], "t": ["a", "bb"]}), tmp_path / "f.parquet")
    summary = push_op(source_path=str(tmp_path / "f.parquet"), table_schema={"s": {"fieldLength": 4000}}).execute(
        context()
    )
    assert summary["chunks_sent_unchanged"] == 1
    # t (not declared) is read before the job exists, s (declared) only once it does
    assert sorted(job_created_first) == [(["s"], True), (["t"], False)]
    assert table_schema_of_job() == {"id": None, "s": 4000, "t": 2}
    assert emulator.arrow_table("pushed").to_pylist() == [
        {"id": 1, "s": "abc", "t": "a"},
        {"id": 2, "s": "x" * 30, "t": "bb"},
    ]


def test_a_declared_length_too_short_fails_before_execute(emulator, tmp_path):
    pq.write_table(pa.table({"id": [1], "s": ["é" * 15]}), tmp_path / "f.parquet")
    with pytest.raises(CelonisError, match=r"'s' holds a value of 30 bytes, longer than the 10 declared"):
        push_op(source_path=str(tmp_path / "f.parquet"), table_schema={"s": {"fieldLength": 10}}).execute(context())
    assert CelonisHook().list_push_jobs(POOL) == []  # deleted, never executed
