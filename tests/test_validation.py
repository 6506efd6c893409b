"""One test per class of bad input: every operator and sensor names the bad value and the fix, and sends
nothing to Celonis. (Push and ingestion parameters: tests/operators/test_push.py, tests/operators/test_ingest.py.)"""

from __future__ import annotations

import pytest

from airflow_provider_celonis.exceptions import CelonisApiError, CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.sensors.celonis import CelonisDataJobSensor, CelonisDataModelLoadSensor
from tests.helpers.emulator import DATA_JOB, DATA_MODEL, POOL
from tests.helpers.tasks import context

RELOAD = {"pool_id": POOL, "data_model_id": DATA_MODEL}
JOB = {"pool_id": POOL, "data_job_id": DATA_JOB}

CASES = [
    (CelonisReloadDataModelOperator, {**RELOAD, "pool_id": " "}, "pool_id is empty"),
    (CelonisReloadDataModelOperator, {**RELOAD, "data_model_id": ""}, "data_model_id"),
    (CelonisReloadDataModelOperator, {**RELOAD, "tables": []}, "empty list"),
    (CelonisReloadDataModelOperator, {**RELOAD, "tables": "orders"}, "list"),
    (CelonisReloadDataModelOperator, {**RELOAD, "poll_interval": 0}, "poll_interval"),
    (CelonisReloadDataModelOperator, {**RELOAD, "timeout": -1}, "timeout"),
    (CelonisReloadDataModelOperator, {**RELOAD, "api_retry_limit": 0}, "api_retry_limit"),
    (CelonisReloadDataModelOperator, {**RELOAD, "api_retry_delay": "fast"}, "api_retry_delay"),
    (CelonisRunDataJobOperator, {**JOB, "data_job_id": None}, "Give data_job_id .* or data_job_name"),
    (CelonisRunDataJobOperator, {**JOB, "data_job_name": "Extract orders"}, "data_job_id or data_job_name, not both"),
    (CelonisReloadDataModelOperator, {**RELOAD, "pool_name": "Sales"}, "pool_id or pool_name, not both"),
    (CelonisRunDataJobOperator, {**JOB, "extractions": "one"}, "extractions must be a list"),
    (CelonisReloadDataModelOperator, {**RELOAD, "from_cache": "yes"}, "from_cache must be True or False"),
    (CelonisRunDataJobOperator, {**JOB, "mode": "HALF"}, "HALF"),
    (CelonisRunDataJobOperator, {**JOB, "unknown_status_timeout": 0}, "unknown_status_timeout"),
    (CelonisDataModelLoadSensor, {**RELOAD, "data_model_id": ""}, "data_model_id is empty"),
    (CelonisDataModelLoadSensor, {**RELOAD, "pool_id": ""}, "pool_id is empty"),
    (CelonisDataModelLoadSensor, {**RELOAD, "finished_after": "yesterday-ish"}, "not a date"),
    (CelonisDataJobSensor, {**JOB, "data_job_id": " "}, "data_job_id is empty"),
    (CelonisDataJobSensor, {**JOB, "unknown_status_timeout": -5}, "unknown_status_timeout"),
]


@pytest.mark.parametrize(("cls", "kwargs", "message"), CASES, ids=[f"{c.__name__}-{m}" for c, _, m in CASES])
def test_bad_parameter_fails_before_any_request(emulator, cls, kwargs, message):
    task = cls(task_id="t", **kwargs)
    with pytest.raises((ValueError, CelonisError), match=message):
        task.poke(context()) if hasattr(task, "poke") else task.execute(context())
    assert emulator.requests("/integration/") == []


def test_unknown_ids_name_the_resource_and_the_fix(emulator):
    with pytest.raises(CelonisApiError) as err:
        CelonisReloadDataModelOperator(
            task_id="t", pool_id=POOL, data_model_id="no-such-model", poll_interval=0.05
        ).execute(context())
    text = str(err.value)
    assert err.value.status_code == 404 and "no-such-model" in text and "check the data pool" in text


def test_an_id_cannot_change_the_path(emulator):
    with pytest.raises(CelonisApiError):
        CelonisHook().get_last_load(POOL, "../../../pools")
    assert emulator.requests("/last-load")[0]["path"].count(
        "/"
    ) == f"/integration/api/v1/data-pools/{POOL}/data-models/x/last-load".count("/")
