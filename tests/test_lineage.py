"""With the OpenLineage provider installed, the operators report their inputs and outputs."""

from __future__ import annotations

import json
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.operators.ingest import CelonisIngestFilesOperator
from tests.helpers.emulator import CONNECTION, DATA_MODEL, POOL
from tests.helpers.push import push_op
from tests.helpers.tasks import context

pytest.importorskip("airflow.providers.openlineage")


def names(datasets) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


def test_push_from_files_reports_files_and_the_table(emulator, tmp_path):
    team = f"celonis://{emulator.url.split('://', 1)[1]}"
    pq.write_table(pa.table({"id": [1]}), tmp_path / "a.parquet")
    op = push_op(source_path=str(tmp_path / "*.parquet"), table_name="orders")
    op.execute(context())
    lineage = op.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [("file", str(tmp_path / "a.parquet"))]
    assert names(lineage.outputs) == [(team, f"{POOL}.orders")]


def test_push_from_sql_reports_the_tables_read(emulator, tmp_path, monkeypatch):
    db = sqlite3.connect(tmp_path / "s.db")
    db.execute("create table orders (id integer)")
    db.execute("create table items (id integer)")
    db.commit()
    db.close()
    monkeypatch.setenv("AIRFLOW_CONN_SRC", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "s.db")}))
    op = push_op(sql="select o.id from orders o join items i on o.id = i.id", sql_conn_id="src")
    op.execute(context())
    lineage = op.get_openlineage_facets_on_complete(None)
    assert sorted(names(lineage.inputs)) == [
        (f"sqlite://{tmp_path / 's.db'}", "items"),
        (f"sqlite://{tmp_path / 's.db'}", "orders"),
    ]


def test_reload_reports_the_data_model_and_ingest_the_connection_table(emulator, tmp_path):
    team = f"celonis://{emulator.url.split('://', 1)[1]}"
    reload = CelonisReloadDataModelOperator(task_id="r", pool_id=POOL, data_model_id=DATA_MODEL, poll_interval=0.05)
    reload.execute(context())
    assert names(reload.get_openlineage_facets_on_complete(None).outputs) == [
        (team, f"{POOL}.data_models.{DATA_MODEL}")
    ]
    pq.write_table(pa.table({"order_id": [1], "created_at": [1]}), tmp_path / "s.parquet")
    ingest = CelonisIngestFilesOperator(
        task_id="i",
        connection_id=CONNECTION,
        table_name="shipment",
        source_path=str(tmp_path / "s.parquet"),
        file_name_prefix="",
    )
    ingest.execute(context())
    lineage = ingest.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [("file", str(tmp_path / "s.parquet"))]
    assert names(lineage.outputs) == [(team, f"connections.{CONNECTION}.shipment")]
