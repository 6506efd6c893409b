"""Shared helpers of the fault-injection suite: every scenario counts its injected faults and checked rows."""

from __future__ import annotations

import pyarrow as pa
import pytest

from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.operators.push import CelonisPushDataOperator
from tests.conftest import POOL
from tests.test_operators_sensors_triggers import context

FAST = {"api_retry_delay": 0.02, "poll_interval": 0.05}


def push_operator(**kwargs) -> CelonisPushDataOperator:
    """A push task (sync wait, fast retries) into ``pushed`` unless told otherwise."""
    return CelonisPushDataOperator(task_id="push", pool_id=POOL, **{**FAST, "table_name": "pushed", **kwargs})


def push(**kwargs) -> dict:
    """Run a push task and return its summary."""
    return push_operator(**kwargs).execute(context())


def source(rows: int = 2_000, offset: int = 0) -> pa.Table:
    ids = list(range(offset, offset + rows))
    return pa.table(
        {"id": ids, "text": [f'row {i} ✓, "quoted"\n' * (1 + i % 3) for i in ids], "amount": [i * 0.5 for i in ids]}
    )


TALLY = {"scenarios": 0, "faults": 0, "rows": 0}


@pytest.fixture(autouse=True)
def _tally(emulator_server):
    """Count each scenario and the faults it injected, for the suite's summary line."""
    before = emulator_server.state.faults_fired
    yield
    TALLY["scenarios"] += 1
    TALLY["faults"] += emulator_server.state.faults_fired - before


def assert_table_is(emulator, expected: pa.Table, table: str = "pushed") -> int:
    """The table equals ``expected`` exactly (no missing, no duplicated rows); returns the rows checked."""
    got = emulator.arrow_table(table).sort_by("id")
    expected = expected.sort_by("id")
    assert got.num_rows == expected.num_rows
    assert got.column_names == expected.column_names
    for name in expected.column_names:
        assert got.column(name).to_pylist() == expected.column(name).to_pylist(), name
    TALLY["rows"] += got.num_rows
    return got.num_rows


def stored_chunks(job_id: str) -> int:
    return len(CelonisHook().list_push_chunks(POOL, job_id))


@pytest.fixture
def short_timeout(emulator, monkeypatch):
    """Client read timeout of 0.5 s, so a delayed answer becomes a read timeout."""
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(timeout=0.5))
