"""What a Celonis-side failure looks like in Airflow: the task fails with Celonis's own message.

The emulator's demo seed has a data model whose load always ends in ERROR and a data job whose
execution always ends in FAIL. Both DAGs are expected to fail.
"""

from __future__ import annotations

import datetime as dt

from _demo_ids import FAILING_DATA_JOB_ID, FAILING_DATA_MODEL_ID, POLL_INTERVAL, POOL_ID
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator

with DAG(
    dag_id="example_celonis_failing_load_expect_failure",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    CelonisReloadDataModelOperator(
        task_id="reload_p2p",
        pool_id=POOL_ID,
        data_model_id=FAILING_DATA_MODEL_ID,
        poll_interval=POLL_INTERVAL,
        deferrable=True,
    )

with DAG(
    dag_id="example_celonis_failing_job_expect_failure",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    CelonisRunDataJobOperator(
        task_id="transform", pool_id=POOL_ID, data_job_id=FAILING_DATA_JOB_ID, mode="FULL", poll_interval=POLL_INTERVAL
    )
