"""Run a data job in DELTA mode, then reload the data model it feeds."""

from __future__ import annotations

import datetime as dt

from _demo_ids import DATA_JOB_ID, DATA_MODEL_ID, POLL_INTERVAL, POOL_ID
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator

with DAG(
    dag_id="example_celonis_delta_job_then_reload",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    # --8<-- [start:howto_operator_celonis_run_data_job]
    extract = CelonisRunDataJobOperator(
        task_id="extract_delta",
        pool_id=POOL_ID,
        data_job_id=DATA_JOB_ID,
        mode="DELTA",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    )
    # --8<-- [end:howto_operator_celonis_run_data_job]
    reload = CelonisReloadDataModelOperator(
        task_id="reload",
        pool_id=POOL_ID,
        data_model_id=DATA_MODEL_ID,
        poll_interval=POLL_INTERVAL,
    )
    extract >> reload

with DAG(
    dag_id="example_celonis_full_job_sync",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    CelonisRunDataJobOperator(
        task_id="extract_full", pool_id=POOL_ID, data_job_id=DATA_JOB_ID, mode="FULL", poll_interval=POLL_INTERVAL
    )
