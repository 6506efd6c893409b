"""Fixtures of the fault-injection suite: every scenario counts its injected faults (rows: ``assert_table_is``)."""

from __future__ import annotations

import pytest

from tests.helpers.push import TALLY


@pytest.fixture(autouse=True)
def _tally(emulator_server):
    """Count each scenario and the faults it injected, for the suite's summary line."""
    before = emulator_server.state.faults_fired
    yield
    TALLY["scenarios"] += 1
    TALLY["faults"] += emulator_server.state.faults_fired - before


@pytest.fixture
def short_timeout(emulator, monkeypatch):
    """Client read timeout of 0.5 s, so a delayed answer becomes a read timeout."""
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(timeout=0.5))
