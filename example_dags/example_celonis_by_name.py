"""Refer to Celonis objects by the names shown in the UI, run only chosen parts of a data job, reload from cache."""

from __future__ import annotations

import datetime as dt

from _demo_ids import POLL_INTERVAL
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.sensors.celonis import CelonisDataJobSensor

with DAG(
    dag_id="example_celonis_by_name",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["celonis", "example"],
):
    # --8<-- [start:howto_operator_celonis_job_parts]
    transform = CelonisRunDataJobOperator(
        task_id="run_two_transformations",
        pool_name="Sales (demo)",  # names as shown in Celonis: one lookup before the start
        data_job_name="Extract orders",
        extractions=[],  # run no extraction ...
        transformations=["Create activity table", "Enrich orders"],  # ... only these transformations ...
        data_models=[],  # ... and no data model load of the job
        poll_interval=POLL_INTERVAL,
    )
    # --8<-- [end:howto_operator_celonis_job_parts]
    # --8<-- [start:howto_operator_celonis_reload_from_cache]
    reload_from_cache = CelonisReloadDataModelOperator(
        task_id="reload_from_cache",
        pool_name="Sales (demo)",
        data_model_name="O2C",
        from_cache=True,  # fullReload=false: reload from Celonis's cache, not the data pool
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    )
    # --8<-- [end:howto_operator_celonis_reload_from_cache]
    # --8<-- [start:howto_sensor_celonis_data_job_by_name]
    job_done = CelonisDataJobSensor(
        task_id="job_done",
        pool_name="Sales (demo)",
        data_job_name="Extract orders",
        finished_after="{{ data_interval_start }}",
        poke_interval=POLL_INTERVAL,
        mode="reschedule",
    )
    # --8<-- [end:howto_sensor_celonis_data_job_by_name]
    transform >> job_done >> reload_from_cache
