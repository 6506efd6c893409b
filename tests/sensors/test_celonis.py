"""The data model load and data job sensors against the emulator: poke modes, remote failures, deferral,
bad moments."""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_celonis.exceptions import (
    CelonisRemoteFailure,
    CelonisSensorFailure,
)
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.sensors.celonis import CelonisDataJobSensor, CelonisDataModelLoadSensor
from tests.helpers.emulator import DATA_JOB, DATA_MODEL, POOL
from tests.helpers.tasks import context, reload_op, run_trigger


def test_load_sensor_modes(emulator):
    sensor = CelonisDataModelLoadSensor(task_id="s", pool_id=POOL, data_model_id=DATA_MODEL, poke_interval=0.1)
    assert sensor.poke(context()) is False  # never loaded
    reload_op().execute(context())
    assert sensor.poke(context()) is True
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    later = CelonisDataModelLoadSensor(task_id="s", pool_id=POOL, data_model_id=DATA_MODEL, finished_after=future)
    assert later.poke(context()) is False  # the load ended before the moment asked for


def test_load_sensor_fails_on_remote_failure_and_soft_fail_type(emulator):
    emulator.fault(path="/load$", method="POST", outcome="ERROR", message="broken", count=1)
    with pytest.raises(CelonisRemoteFailure):
        reload_op().execute(context())
    sensor = CelonisDataModelLoadSensor(task_id="s", pool_id=POOL, data_model_id=DATA_MODEL)
    with pytest.raises(CelonisSensorFailure, match="broken"):
        sensor.poke(context())


def test_sensor_deferred_path(emulator):
    CelonisHook().execute_data_job(POOL, DATA_JOB, "FULL")
    sensor = CelonisDataJobSensor(
        task_id="s", pool_id=POOL, data_job_id=DATA_JOB, deferrable=True, poke_interval=0.1, timeout=30
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context())
    event = run_trigger(deferred.value.trigger)
    assert event["status"] == "success"
    sensor.execute_complete(context(), event)


def test_sensor_bad_moment_names_the_fix(emulator):
    sensor = CelonisDataModelLoadSensor(task_id="s", pool_id=POOL, data_model_id=DATA_MODEL, finished_after="soon")
    with pytest.raises(ValueError, match="data_interval_end"):
        sensor.poke(context())
