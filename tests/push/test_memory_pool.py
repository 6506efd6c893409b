"""Pushes read and write with jemalloc (faster than mimalloc on a fresh process's first large buffers), put the
default pool back afterwards, and leave the pool alone when the user chose one with ARROW_DEFAULT_MEMORY_POOL."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_celonis.push.memory import push_memory_pool
from tests.helpers.push import assert_table_is, ingest_op, mixed_table, push_op, quoted_rows
from tests.helpers.tasks import context


@pytest.fixture
def jemalloc():
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow is built without jemalloc")


@pytest.fixture
def parquet_file(tmp_path):
    path = tmp_path / "rows.parquet"
    table = quoted_rows(20_000)
    pq.write_table(table, path, use_deprecated_int96_timestamps=True)
    return str(path), table


def pool_while_filling(monkeypatch, path: str) -> list[str]:
    """Push ``path``; the name of pyarrow's default pool while the push job was being filled."""
    seen: list[str] = []
    operator = push_op(source_path=path)
    fill = operator._fill_job

    def fill_and_look():
        seen.append(pa.default_memory_pool().backend_name)
        return fill()

    monkeypatch.setattr(operator, "_fill_job", fill_and_look)
    operator.execute(context())
    return seen


def test_a_push_allocates_from_jemalloc_and_puts_the_default_back(emulator, monkeypatch, jemalloc, parquet_file):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    path, table = parquet_file
    default, before = pa.default_memory_pool().backend_name, jemalloc.num_allocations()
    assert pool_while_filling(monkeypatch, path) == ["jemalloc"]
    assert jemalloc.num_allocations() > before  # the source was read (its string lengths) with jemalloc
    assert pa.default_memory_pool().backend_name == default
    assert_table_is(emulator, table)


def test_an_ingestion_allocates_from_jemalloc(emulator, monkeypatch, jemalloc):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    default, before = pa.default_memory_pool().backend_name, jemalloc.num_allocations()
    ingest_op(data=mixed_table(50)).execute(context())
    assert jemalloc.num_allocations() > before
    assert pa.default_memory_pool().backend_name == default


def test_a_pool_chosen_in_the_environment_is_left_alone(emulator, monkeypatch, jemalloc, parquet_file):
    """With ARROW_DEFAULT_MEMORY_POOL set, the default pool stays the process's own while a push runs."""
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    default = pa.default_memory_pool().backend_name
    with push_memory_pool() as pool:
        assert pa.default_memory_pool().backend_name == pool.backend_name == default
    path, table = parquet_file
    assert pool_while_filling(monkeypatch, path) == [default]
    assert_table_is(emulator, table)


def test_the_default_pool_comes_back_after_a_failure(monkeypatch, jemalloc):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    default = pa.default_memory_pool().backend_name
    with pytest.raises(RuntimeError), push_memory_pool() as pool:
        assert pa.default_memory_pool().backend_name == pool.backend_name == "jemalloc"
        raise RuntimeError("a source failed half-way")
    assert pa.default_memory_pool().backend_name == default
