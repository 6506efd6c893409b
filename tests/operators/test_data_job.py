"""CelonisRunDataJobOperator against the emulator: it follows its own execution, failures name the job and
carry its log line, a running execution is re-attached to (also deferred)."""

from __future__ import annotations

import time

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_celonis.exceptions import (
    CelonisRemoteFailure,
)
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.links import XCOM_DATA_JOB_URL
from airflow_provider_celonis.triggers.celonis import CelonisDataJobTrigger
from tests.helpers.emulator import DATA_JOB, POOL, test_seed
from tests.helpers.tasks import context, job_op, run_trigger


def test_data_job_follows_its_own_execution_and_reports_message(emulator):
    """The failure names the job, its pool and link, and carries the failed task's log line."""
    emulator.reseed(test_seed(registration_seconds=0.3))
    summary = job_op(mode="full").execute(context())
    assert summary["status"] == "SUCCESS" and summary["mode"] == "FULL"
    emulator.fault(path="/execute$", method="POST", outcome="FAIL", message="extractor timeout", count=1)
    ctx = context()
    with pytest.raises(CelonisRemoteFailure) as failure:
        job_op().execute(ctx)
    text = str(failure.value)
    assert f"data job 'Extract orders' (id {DATA_JOB}, pool {POOL}) ended FAIL" in text
    assert "extractor timeout" in text and f"data-jobs?jobId={DATA_JOB}" in text
    assert ctx["ti"].xcom[XCOM_DATA_JOB_URL].endswith(f"data-jobs?jobId={DATA_JOB}")
    assert ctx["ti"].xcom["celonis_ids"] == {"pool_id": POOL, "data_job_id": DATA_JOB}


def test_data_job_bad_mode_fails_before_request(emulator):
    with pytest.raises(ValueError, match="'FULL' or 'DELTA'"):
        job_op(mode="HALF").execute(context())
    assert emulator.requests() == []


@pytest.mark.parametrize("registration_seconds", [0.0, 0.3])
def test_data_job_deferred_and_reattach(emulator, registration_seconds):
    """A running execution seen before the start is waited for (deferred), not started again."""
    emulator.reseed(test_seed(registration_seconds=registration_seconds, start_conflict="409"))
    CelonisHook().execute_data_job(POOL, DATA_JOB, "DELTA")
    time.sleep(registration_seconds)
    op = job_op(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    assert deferred.value.kwargs["summary"]["reattached"] is True
    kwargs = deferred.value.trigger.serialize()[1]
    event = run_trigger(CelonisDataJobTrigger(**kwargs))
    assert op.execute_complete(context(), event, **deferred.value.kwargs)["status"] == "SUCCESS"
    assert len([r for r in emulator.requests("/execute", "POST") if r["status"] == 200]) == 1
