"""Push data into Celonis: files with the Data Push API, a SQL query as a DELTA upsert, and files through
the Standard Data Ingestion API. The first task of each DAG only makes the demo's source data."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
from _demo_ids import (
    DATA_MODEL_ID,
    EXAMPLE_DATA_DIR,
    EXAMPLE_DB_CONN_ID,
    INGESTION_CONNECTION_ID,
    POLL_INTERVAL,
    POOL_ID,
)
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.operators.ingest import CelonisIngestFilesOperator
from airflow_provider_celonis.operators.push import CelonisPushDataOperator


@task
def make_orders() -> str:
    """Write this run's orders as two parquet files and a SQLite table of changes (demo data only)."""
    folder = os.path.join(EXAMPLE_DATA_DIR, "orders")
    os.makedirs(folder, exist_ok=True)
    for part in range(2):
        ids = list(range(part * 500, (part + 1) * 500))
        pq.write_table(
            pa.table(
                {
                    "order_id": ids,
                    "customer": [f"Kunde {i} — “Größe”, Ünïcode" for i in ids],
                    "amount": [i * 1.5 for i in ids],
                    "created_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i) for i in ids],
                }
            ),
            os.path.join(folder, f"orders-{part}.parquet"),
        )
    db = sqlite3.connect(os.path.join(EXAMPLE_DATA_DIR, "orders.db"))
    db.execute("drop table if exists order_changes")
    db.execute("create table order_changes (order_id integer, customer text, amount real, created_at text)")
    db.executemany(
        "insert into order_changes values (?, ?, ?, ?)",
        [(i, f"Kunde {i} (updated)", i * 2.0, "2026-02-01T00:00:00") for i in range(990, 1010)],
    )
    db.commit()
    db.close()
    return folder


with DAG(
    dag_id="example_celonis_push_then_reload",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    folder = make_orders()
    # --8<-- [start:howto_operator_celonis_push_files]
    push_files = CelonisPushDataOperator(
        task_id="push_orders",
        pool_id=POOL_ID,
        table_name="orders",
        source_path="{{ ti.xcom_pull(task_ids='make_orders') }}/*.parquet",
        push_type="REPLACE",
        poll_interval=POLL_INTERVAL,
    )
    # --8<-- [end:howto_operator_celonis_push_files]
    # --8<-- [start:howto_operator_celonis_push_sql]
    push_changes = CelonisPushDataOperator(
        task_id="upsert_changes",
        pool_id=POOL_ID,
        table_name="orders",
        sql="select order_id, customer, amount from order_changes where amount > :minimum",
        sql_parameters={"minimum": 0},
        sql_conn_id=EXAMPLE_DB_CONN_ID,
        push_type="DELTA",
        keys=["order_id"],
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    )
    # --8<-- [end:howto_operator_celonis_push_sql]
    reload = CelonisReloadDataModelOperator(
        task_id="reload", pool_id=POOL_ID, data_model_id=DATA_MODEL_ID, poll_interval=POLL_INTERVAL
    )
    folder >> push_files >> push_changes >> reload


@task
def make_shipments() -> str:
    """Write this run's shipments as a CSV file (demo data only)."""
    os.makedirs(EXAMPLE_DATA_DIR, exist_ok=True)
    path = os.path.join(EXAMPLE_DATA_DIR, "shipments.csv")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("order_id,created_at,carrier\n")
        handle.writelines(f'{i},{i},"DHL, Express"\n' for i in range(100))
    return path


with DAG(
    dag_id="example_celonis_ingest_files",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    # --8<-- [start:howto_operator_celonis_ingest_files]
    ingest = CelonisIngestFilesOperator(
        task_id="ingest_shipments",
        connection_id=INGESTION_CONNECTION_ID,
        table_name="shipment",
        source_path="{{ ti.xcom_pull(task_ids='make_shipments') }}",
        primary_keys=["order_id"],
        age_column="created_at",
        csv_options={"column_types": {"order_id": "int64", "created_at": "int64"}},
    )
    # --8<-- [end:howto_operator_celonis_ingest_files]
    make_shipments() >> ingest
