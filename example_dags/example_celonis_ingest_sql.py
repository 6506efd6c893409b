"""Standard Data Ingestion from SQL: the rows of a query go up as uncompressed parquet objects, several at once.

The demo reads SQLite (``celonis_example_db``), so it runs with nothing but Python; any Airflow database
connection works the same (PostgreSQL is read as Arrow through ADBC when ``[postgres]`` is installed). The
first task only makes the demo's source table.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3

from _demo_ids import EXAMPLE_DATA_DIR, EXAMPLE_DB_CONN_ID, INGESTION_CONNECTION_ID
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_celonis.operators.ingest import CelonisIngestDataOperator


@task
def make_deliveries() -> int:
    """Write 500 deliveries into the demo's SQLite database (demo data only); return the row count."""
    os.makedirs(EXAMPLE_DATA_DIR, exist_ok=True)
    db = sqlite3.connect(os.path.join(EXAMPLE_DATA_DIR, "orders.db"))
    db.execute("drop table if exists deliveries")
    db.execute(
        "create table deliveries (order_id integer, created_at integer, carrier text, weight_kg real, "
        "delivered_on text)"
    )
    db.executemany(
        "insert into deliveries values (?, ?, ?, ?, ?)",
        [
            (
                i,
                1_700_000_000 + i,
                ["DHL, Express", "UPS", "Ünïcödé Post"][i % 3],
                i / 8,
                (dt.date(2026, 1, 1) + dt.timedelta(days=i % 30)).isoformat(),
            )
            for i in range(500)
        ],
    )
    db.commit()
    db.close()
    return 500


with DAG(
    dag_id="example_celonis_ingest_sql",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    # --8<-- [start:howto_operator_celonis_ingest_sql]
    ingest = CelonisIngestDataOperator(
        task_id="ingest_deliveries",
        connection_id=INGESTION_CONNECTION_ID,
        table_name="shipment",
        sql="select order_id, created_at, carrier, weight_kg, delivered_on from deliveries where order_id >= :low",
        sql_parameters={"low": 0},
        sql_conn_id=EXAMPLE_DB_CONN_ID,
        primary_keys=["order_id"],
        age_column="created_at",
    )
    # --8<-- [end:howto_operator_celonis_ingest_sql]
    make_deliveries() >> ingest
