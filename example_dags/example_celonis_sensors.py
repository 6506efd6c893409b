"""Gate downstream work on Celonis: wait for a data model load that finished after this run started."""

from __future__ import annotations

import datetime as dt

from _demo_ids import DATA_JOB_ID, DATA_MODEL_ID, POLL_INTERVAL, POOL_ID
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.sensors.celonis import CelonisDataJobSensor, CelonisDataModelLoadSensor

with DAG(
    dag_id="example_celonis_sensor_gated",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    # Somebody starts a load (here: this DAG, without waiting for it) ...
    start_load = CelonisReloadDataModelOperator(
        task_id="start_load",
        pool_id=POOL_ID,
        data_model_id=DATA_MODEL_ID,
        wait_for_completion=False,
    )
    start_job = CelonisRunDataJobOperator(
        task_id="start_job",
        pool_id=POOL_ID,
        data_job_id=DATA_JOB_ID,
        wait_for_completion=False,
    )
    # --8<-- [start:howto_sensor_celonis_data_model_load]
    load_done = CelonisDataModelLoadSensor(
        task_id="wait_for_load",
        pool_id=POOL_ID,
        data_model_id=DATA_MODEL_ID,
        finished_after="{{ dag_run.start_date }}",  # or "{{ data_interval_end }}" on a schedule
        poke_interval=POLL_INTERVAL,
        timeout=3600,
        mode="reschedule",
    )
    # --8<-- [end:howto_sensor_celonis_data_model_load]
    # --8<-- [start:howto_sensor_celonis_data_job]
    job_done = CelonisDataJobSensor(
        task_id="wait_for_job",
        pool_id=POOL_ID,
        data_job_id=DATA_JOB_ID,
        finished_after="{{ dag_run.start_date }}",
        poke_interval=POLL_INTERVAL,
        deferrable=True,
    )
    # --8<-- [end:howto_sensor_celonis_data_job]

    @task
    def publish_dashboard() -> str:
        return "fresh data in Celonis"

    start_load >> load_done
    start_job >> job_done
    [load_done, job_done] >> publish_dashboard()
