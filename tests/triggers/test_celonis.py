"""The load and execution triggers: on_kill cancels what they watch; their kwargs survive Airflow's serializer."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.triggers.celonis import CelonisDataJobTrigger, CelonisDataModelLoadTrigger
from tests.helpers.emulator import DATA_JOB, POOL


def test_trigger_on_kill_cancels(emulator, seed_copy):
    seed_copy["pools"][0]["data_jobs"][0]["run_seconds"] = 30
    emulator.reseed(seed_copy)
    CelonisHook().execute_data_job(POOL, DATA_JOB, "FULL")
    trigger = CelonisDataJobTrigger(
        celonis_conn_id="celonis_default", pool_id=POOL, data_job_id=DATA_JOB, end_time=time.time() + 60
    )
    asyncio.run(trigger.on_kill())
    assert CelonisHook().get_data_job(POOL, DATA_JOB).status.value == "CANCEL"


@pytest.mark.parametrize(
    "trigger",
    [
        CelonisDataModelLoadTrigger(
            celonis_conn_id="c",
            pool_id="p",
            data_model_id="m",
            previous_load_id="l",
            previous_started_at=1.5,
            finished_after=None,
            end_time=2.0,
        ),
        CelonisDataJobTrigger(
            celonis_conn_id="c",
            pool_id="p",
            data_job_id="j",
            previous_execution=None,
            waiting_for_new=True,
            end_time=2.0,
        ),
    ],
)
def test_trigger_kwargs_survive_airflows_serializer(trigger):
    classpath, kwargs = trigger.serialize()
    try:
        from airflow.sdk import serde
    except ImportError:  # Airflow 2.11: kwargs go through JSON
        import json

        restored = json.loads(json.dumps(kwargs))
    else:
        restored = serde.deserialize(serde.serialize(kwargs))
    assert type(trigger)(**restored).serialize() == (classpath, kwargs)
