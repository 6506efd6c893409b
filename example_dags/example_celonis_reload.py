"""Reload a process data model: completely, or only some tables by name; waiting in a worker or deferred."""

from __future__ import annotations

import datetime as dt

from _demo_ids import DATA_MODEL_ID, POLL_INTERVAL, POOL_ID
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator

with DAG(
    dag_id="example_celonis_full_reload",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    # --8<-- [start:howto_operator_celonis_full_reload]
    full_reload = CelonisReloadDataModelOperator(
        task_id="full_reload",
        pool_id=POOL_ID,
        data_model_id=DATA_MODEL_ID,
        poll_interval=POLL_INTERVAL,
        timeout=3600,
    )
    # --8<-- [end:howto_operator_celonis_full_reload]

with DAG(
    dag_id="example_celonis_partial_reload_deferrable",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    # --8<-- [start:howto_operator_celonis_partial_reload]
    partial_reload = CelonisReloadDataModelOperator(
        task_id="partial_reload",
        pool_id=POOL_ID,
        data_model_id=DATA_MODEL_ID,
        tables=["orders", "VBAP"],  # names, aliases or table ids
        deferrable=True,  # wait in the triggerer, holding no worker slot
        poll_interval=POLL_INTERVAL,
    )
    # --8<-- [end:howto_operator_celonis_partial_reload]
