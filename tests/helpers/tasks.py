"""Running operators, sensors, triggers and DAGs in a test, without a scheduler."""

from __future__ import annotations

import asyncio
import subprocess

from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from tests.helpers import AIRFLOW
from tests.helpers.emulator import DATA_JOB, DATA_MODEL, POOL

FAST = {"api_retry_delay": 0.02, "poll_interval": 0.05}
"""Short polls and retry waits, for tasks whose test waits on them."""


class FakeTI:
    """The task instance a task pushes XComs to: keeps them in ``xcom``."""

    def __init__(self) -> None:
        self.xcom: dict = {}

    def xcom_push(self, key, value) -> None:
        self.xcom[key] = value


def context() -> dict:
    """A task context with a ``FakeTI``: enough for ``execute`` and ``execute_complete``."""
    return {"ti": FakeTI()}


def run_trigger(trigger) -> dict:
    """Run a trigger as the triggerer would and return its first event's payload."""

    async def first_event():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(first_event())


def reload_op(**kwargs) -> CelonisReloadDataModelOperator:
    """A reload of the demo data model, polling every 0.1 s."""
    kwargs.setdefault("poll_interval", 0.1)
    return CelonisReloadDataModelOperator(task_id="r", pool_id=POOL, data_model_id=DATA_MODEL, **kwargs)


def job_op(**kwargs) -> CelonisRunDataJobOperator:
    """A run of the demo data job, polling every 0.1 s."""
    kwargs.setdefault("poll_interval", 0.1)
    return CelonisRunDataJobOperator(task_id="j", pool_id=POOL, data_job_id=DATA_JOB, **kwargs)


def dags_test(env: dict, dag_id: str) -> tuple[bool, str]:
    """Run ``airflow dags test dag_id`` in ``env``: whether the run succeeded, and its output."""
    result = subprocess.run([AIRFLOW, "dags", "test", dag_id], env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    failed = result.returncode != 0 or "state=failed" in output.lower() or "dagrunstate.failed" in output.lower()
    return not failed, output
