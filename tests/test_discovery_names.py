"""Names instead of ids: one lookup before anything starts; a wrong name fails naming what exists."""

from __future__ import annotations

import pytest

from airflow_provider_celonis.exceptions import CelonisNameNotFoundError
from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.sensors.celonis import CelonisDataJobSensor, CelonisDataModelLoadSensor
from tests.helpers.emulator import DATA_JOB, DATA_MODEL
from tests.helpers.tasks import FAST, context


def test_reload_and_run_by_name(emulator):
    summary = CelonisReloadDataModelOperator(
        task_id="r", pool_name="sales (demo)", data_model_name="O2C", tables=["orders"], **FAST
    ).execute(context())
    assert summary["status"] == "SUCCESS" and summary["data_model_id"] == DATA_MODEL
    ctx = context()
    summary = CelonisRunDataJobOperator(
        task_id="j", pool_name="Sales (demo)", data_job_name="Extract orders", **FAST
    ).execute(ctx)
    assert summary["status"] == "SUCCESS" and ctx["ti"].xcom["celonis_ids"]["data_job_id"] == DATA_JOB


def test_sensors_by_name(emulator):
    CelonisRunDataJobOperator(task_id="j", pool_name="Sales (demo)", data_job_name="Extract orders", **FAST).execute(
        context()
    )
    assert (
        CelonisDataJobSensor(
            task_id="s", pool_name="Sales (demo)", data_job_name="Extract orders", poke_interval=0.05
        ).poke(context())
        is True
    )
    sensor = CelonisDataModelLoadSensor(task_id="s", pool_name="Sales (demo)", data_model_name="O2C")
    assert sensor.poke(context()) is False and sensor.data_model_id == DATA_MODEL


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pool_name": "Sales"}, "No data pool is named 'Sales'.*Did you mean 'Sales \\(demo\\)'"),
        ({"pool_name": "Sales (demo)", "data_model_name": "O2X"}, "No data model is named 'O2X'.*'O2C'"),
    ],
)
def test_a_wrong_name_fails_before_anything_starts(emulator, kwargs, match):
    kwargs.setdefault("data_model_name", "O2C")
    with pytest.raises(CelonisNameNotFoundError, match=match):
        CelonisReloadDataModelOperator(task_id="r", **kwargs, **FAST).execute(context())
    assert emulator.requests("/load", "POST") == []


def test_a_deferred_task_given_by_name_resumes_with_the_ids(emulator):
    """After a deferral Airflow resumes on a fresh operator, which never resolved the names."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    from tests.helpers.tasks import run_trigger

    def build() -> CelonisReloadDataModelOperator:
        return CelonisReloadDataModelOperator(
            task_id="r", pool_name="Sales (demo)", data_model_name="O2C", deferrable=True, **FAST
        )

    with pytest.raises(TaskDeferred) as deferred:
        build().execute(context())
    fresh = build()
    summary = fresh.execute_complete(context(), run_trigger(deferred.value.trigger), **deferred.value.kwargs)
    assert summary["status"] == "SUCCESS" and summary["data_model_id"] == DATA_MODEL
    assert fresh.data_model_id == DATA_MODEL and fresh.pool_id is not None
