"""Every example DAG runs end to end with ``airflow dags test`` (SQLite) against the emulator."""

from __future__ import annotations

import pytest

from tests.helpers.emulator import POOL, test_seed
from tests.helpers.tasks import dags_test


@pytest.mark.parametrize(
    "dag_id",
    [
        "example_celonis_full_reload",
        "example_celonis_partial_reload_deferrable",
        "example_celonis_delta_job_then_reload",
        "example_celonis_full_job_sync",
        "example_celonis_sensor_gated",
        "example_celonis_push_then_reload",
        "example_celonis_ingest_files",
        "example_celonis_by_name",
        "example_celonis_ingest_sql",
    ],
)
def test_example_dag_succeeds(airflow_env, emulator_server, dag_id):
    emulator_server.state.load(test_seed(load_seconds=1.0, registration_seconds=0.3))
    ok, output = dags_test(airflow_env, dag_id)
    assert ok, output[-4000:]
    log = emulator_server.state.request_log
    assert any(r["method"] in ("POST", "PUT") and r["status"] == 200 for r in log)


@pytest.mark.parametrize(
    "dag_id,message",
    [
        ("example_celonis_failing_load_expect_failure", "Table EKKO: column NETWR does not exist"),
        ("example_celonis_failing_job_expect_failure", "division by zero"),
    ],
)
def test_failing_example_dag_fails_with_celonis_message(airflow_env, emulator_server, dag_id, message):
    emulator_server.state.load(test_seed(load_seconds=1.0, registration_seconds=0.3))
    ok, output = dags_test(airflow_env, dag_id)
    assert not ok, output[-4000:]
    assert message in output, output[-4000:]


def test_push_examples_land_their_data(airflow_env, emulator_server):
    """The push DAG's REPLACE of 1,000 orders then DELTA of 20 changes (10 updates, 10 inserts) lands exactly."""
    emulator_server.state.load(test_seed(load_seconds=1.0, registration_seconds=0.3))
    ok, output = dags_test(airflow_env, "example_celonis_push_then_reload")
    assert ok, output[-4000:]
    orders = {r["order_id"]: r for r in emulator_server.state.tables[(POOL, "orders")].to_pylist()}
    assert len(orders) == 1010
    assert orders[995]["customer"] == "Kunde 995 (updated)" and orders[995]["amount"] == 1990.0
    assert orders[5]["customer"] == "Kunde 5 — “Größe”, Ünïcode"
    ok, output = dags_test(airflow_env, "example_celonis_ingest_files")
    assert ok, output[-4000:]
    shipments = emulator_server.state.tables[(POOL, "shipment")].to_pylist()
    assert len(shipments) == 100 and shipments[0]["carrier"] == "DHL, Express"


def test_ingest_sql_example_lands_its_rows(airflow_env, emulator_server):
    """The SQL ingestion DAG's 500 deliveries land in the connection's table exactly as SQLite held them."""
    emulator_server.state.load(test_seed(load_seconds=1.0, registration_seconds=0.3))
    ok, output = dags_test(airflow_env, "example_celonis_ingest_sql")
    assert ok, output[-4000:]
    rows = sorted(emulator_server.state.tables[(POOL, "shipment")].to_pylist(), key=lambda r: r["order_id"])
    assert len(rows) == 500
    assert rows[0] == {
        "order_id": 0,
        "created_at": 1_700_000_000,
        "carrier": "DHL, Express",
        "weight_kg": 0.0,
        "delivered_on": "2026-01-01",
    }
    assert rows[2]["carrier"] == "Ünïcödé Post" and rows[499]["weight_kg"] == 499 / 8
    assert [e["status"] for e in emulator_server.state.ingestion_log] == ["PROCESSED"]
