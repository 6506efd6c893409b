"""Scheduling on Celonis data: a producer that pushes orders and reloads the data model (both emit their
``celonis://`` asset with an event extra), a consumer scheduled on the data model's asset, and (Airflow 3)
a DAG run by an ``AssetWatcher`` whenever Celonis finishes a new load, whoever started it.
See docs/scheduling-on-celonis-data.md."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
from _demo_ids import DATA_MODEL_ID, POLL_INTERVAL, POOL_ID
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_celonis.assets import celonis_data_model_asset, celonis_table_asset
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.operators.push import CelonisPushDataOperator

# The team URL of the Celonis connection: the host in the asset URIs the operators emit.
TEAM_URL = os.environ.get("CELONIS_TEAM_URL", "https://myteam.eu-1.celonis.cloud")

ORDERS = pa.table({"order_id": list(range(100)), "amount": [i * 2.5 for i in range(100)]})

# --8<-- [start:howto_assets_producer]
with DAG(
    dag_id="example_celonis_assets_producer",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    push = CelonisPushDataOperator(  # emits celonis://<team>/<pool>/orders_for_assets {rows, chunks, push_job_id, …}
        task_id="push_orders", pool_id=POOL_ID, table_name="orders_for_assets", data=ORDERS, poll_interval=POLL_INTERVAL
    )
    reload = CelonisReloadDataModelOperator(  # emits celonis://<team>/<pool>/data_models/<id> {load_id, …}
        task_id="reload_o2c", pool_id=POOL_ID, data_model_id=DATA_MODEL_ID, poll_interval=POLL_INTERVAL, deferrable=True
    )
    push >> reload
# --8<-- [end:howto_assets_producer]

# --8<-- [start:howto_assets_consumer]
O2C = celonis_data_model_asset(TEAM_URL, POOL_ID, DATA_MODEL_ID)
ORDERS_TABLE = celonis_table_asset(TEAM_URL, POOL_ID, "orders_for_assets")


@task
def report(**context) -> list[dict]:
    """Log what the triggering asset events say (Celonis load id and status, rows pushed)."""
    events = context.get("triggering_asset_events") or context.get("triggering_dataset_events") or {}
    extras = [dict(event.extra) for queue in events.values() for event in queue]
    for extra in extras:
        print(f"Celonis event: {extra}")
    return extras


with DAG(
    dag_id="example_celonis_assets_consumer",
    schedule=[O2C],
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    report()
# --8<-- [end:howto_assets_consumer]

try:  # Airflow 3: event-driven scheduling
    from airflow.sdk import Asset, AssetWatcher
except ImportError:  # Airflow 2 has no AssetWatcher
    AssetWatcher = None

if AssetWatcher is not None:
    from airflow_provider_celonis.triggers.events import CelonisDataModelLoadEventTrigger

    # --8<-- [start:howto_assets_watcher]
    # Its own asset, not O2C: the reload task above already emits O2C, and a watcher on it would run a
    # DAG twice for a load started from Airflow.
    o2c_loaded = Asset(
        "celonis_o2c_loaded",
        watchers=[
            AssetWatcher(
                name="celonis_o2c_loads",
                trigger=CelonisDataModelLoadEventTrigger(
                    pool_id=POOL_ID, data_model_id=DATA_MODEL_ID, poll_interval=max(POLL_INTERVAL, 1.0)
                ),
            )
        ],
    )

    with DAG(
        dag_id="example_celonis_on_celonis_load",
        schedule=[o2c_loaded],
        start_date=dt.datetime(2026, 1, 1),
        catchup=False,
        tags=["celonis", "example"],
    ):
        report()
    # --8<-- [end:howto_assets_watcher]
