"""waiting.py: what each answer means (table tests), the clock, and the waits against the evidence over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_celonis.exceptions import CelonisApiError, CelonisRemoteFailure, CelonisSensorFailure
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.models import DataModelLoad, ExecutionLog, LoadStatus
from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.sensors.celonis import CelonisDataJobSensor, CelonisDataModelLoadSensor
from airflow_provider_celonis.triggers.celonis import CelonisDataJobTrigger, CelonisDataModelLoadTrigger
from airflow_provider_celonis.waiting import (
    DataJobExecutionWatch,
    DataModelLoadWatch,
    Reading,
    WaitClock,
    WaitOutcome,
    start_once,
    watch_from_dict,
)
from tests.helpers.emulator import DATA_JOB, DATA_MODEL, FAILING_DATA_JOB, POOL, test_seed
from tests.helpers.tasks import FAST, context, run_trigger

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def load(load_id: str | None, status: str, started: int = 0, ended: int | None = None) -> DataModelLoad:
    return DataModelLoad(
        status=LoadStatus.parse(status),
        load_id=load_id,
        raw_status=status,
        started_at=T0 + dt.timedelta(seconds=started),
        ended_at=None if ended is None else T0 + dt.timedelta(seconds=ended),
    )


def execution(execution_id: str, status: str, started: int = 0, ended: int | None = None) -> ExecutionLog:
    return ExecutionLog.from_api(
        {
            "executionId": execution_id,
            "status": status,
            "name": "job",
            "startDate": int((T0.timestamp() + started) * 1000),
            "endDate": None if ended is None else int((T0.timestamp() + ended) * 1000),
        }
    )


EPOCH = T0.timestamp()


@pytest.mark.parametrize(
    ("watch", "seen", "outcome"),
    [
        # the operator's own load: the previous one (by id, or by start when ids are missing) is not ours
        (dict(previous_load_id="L1", started_by_task=True), load("L1", "SUCCESS"), WaitOutcome.LIMBO),
        (dict(previous_load_id="L1", started_by_task=True), load("L2", "RUNNING", 5), WaitOutcome.PENDING),
        (dict(previous_load_id="L1", started_by_task=True), load("L2", "SUCCESS", 5, 9), WaitOutcome.SUCCESS),
        (dict(previous_load_id="L1", started_by_task=True), load("L2", "WARNING", 5, 9), WaitOutcome.WARNING),
        (dict(previous_load_id="L1", started_by_task=True), load("L2", "ERROR", 5, 9), WaitOutcome.FAILED),
        (dict(previous_load_id="L1", started_by_task=True), load("L2", "CANCELED", 5, 9), WaitOutcome.FAILED),
        (dict(previous_load_id="L1", started_by_task=True), load("L2", "LOST_CONNECTION", 5), WaitOutcome.LIMBO),
        (dict(previous_load_id="L1", started_by_task=True), load("L2", "SOMETHING_NEW", 5), WaitOutcome.LIMBO),
        (dict(previous_started_at=EPOCH + 5, started_by_task=True), load(None, "SUCCESS", 5, 9), WaitOutcome.LIMBO),
        (dict(previous_started_at=EPOCH + 5, started_by_task=True), load(None, "SUCCESS", 6, 9), WaitOutcome.SUCCESS),
        (dict(started_by_task=True), None, WaitOutcome.LIMBO),  # started, but Celonis shows nothing
        (dict(load_id="L2"), load("L3", "SUCCESS", 9, 10), WaitOutcome.LIMBO),  # ours vanished
        # a sensor: the last load, ended at or after finished_after
        (dict(), None, WaitOutcome.PENDING),
        (dict(finished_after=EPOCH + 10), load("L1", "SUCCESS", 0, 9), WaitOutcome.PENDING),
        (dict(finished_after=EPOCH + 10), load("L1", "SUCCESS", 0, 10), WaitOutcome.SUCCESS),
        (dict(finished_after=EPOCH + 10), load("L1", "ERROR", 0, 11), WaitOutcome.FAILED),
    ],
)
def test_load_watch_judgements(watch, seen, outcome):
    assert DataModelLoadWatch(pool_id="p", data_model_id="m", **watch).judge(seen).outcome is outcome


@pytest.mark.parametrize(
    ("watch", "items", "outcome"),
    [
        # the operator's: the oldest execution newer than the one seen before the start
        (
            dict(previous_execution_id="E1", previous_started_at=EPOCH),
            [execution("E1", "SUCCESS", 0, 1)],
            WaitOutcome.LIMBO,
        ),
        (
            dict(previous_execution_id="E1", previous_started_at=EPOCH),
            [execution("E2", "RUNNING", 5), execution("E1", "SUCCESS", 0, 1)],
            WaitOutcome.PENDING,
        ),
        (
            dict(previous_execution_id="E1", previous_started_at=EPOCH),
            [execution("E3", "SUCCESS", 9, 10), execution("E2", "FAIL", 5, 6), execution("E1", "SUCCESS", 0, 1)],
            WaitOutcome.FAILED,
        ),  # ours is E2, even though a newer one succeeded
        (dict(), [execution("E1", "QUEUED", 5)], WaitOutcome.PENDING),
        (dict(), [execution("E1", "SKIPPED", 5, 5)], WaitOutcome.FAILED),
        (dict(), [execution("E1", "CANCEL", 5, 6)], WaitOutcome.FAILED),
        (dict(), [execution("E1", "MYSTERY", 5)], WaitOutcome.LIMBO),
        (dict(), [], WaitOutcome.LIMBO),
        (dict(execution_id="E1"), [execution("E2", "SUCCESS", 5, 6)], WaitOutcome.LIMBO),  # ours vanished
    ],
)
def test_execution_watch_judgements(watch, items, outcome):
    assert (
        DataJobExecutionWatch(pool_id="p", data_job_id="j", started_by_task=True, **watch).judge(items).outcome
        is outcome
    )


@pytest.mark.parametrize(
    ("finished_after", "items", "outcome"),
    [
        (None, [], WaitOutcome.PENDING),
        (EPOCH + 10, [execution("E1", "SUCCESS", 0, 9)], WaitOutcome.PENDING),
        (EPOCH + 10, [execution("E1", "SUCCESS", 0, 10)], WaitOutcome.SUCCESS),
        (EPOCH + 10, [execution("E2", "RUNNING", 11), execution("E1", "SUCCESS", 0, 10)], WaitOutcome.PENDING),
    ],
)
def test_execution_sensor_judgements(finished_after, items, outcome):
    """A sensor judges the newest execution by its end date (never the job's timeStamp)."""
    watch = DataJobExecutionWatch(pool_id="p", data_job_id="j", finished_after=finished_after)
    assert watch.judge(items).outcome is outcome


def test_watches_round_trip_and_remember_what_they_found():
    watch = DataJobExecutionWatch(pool_id="p", data_job_id="j", previous_execution_id="E1", started_by_task=True)
    watch.judge([execution("E2", "RUNNING", 5), execution("E1", "SUCCESS", 0, 1)])
    assert watch.execution_id == "E2" and watch.label == "job"
    assert watch_from_dict(watch.to_dict()) == watch
    assert watch_from_dict({**watch.to_dict(), "added_in_a_later_release": 1}) == watch


@pytest.mark.parametrize(
    ("outcomes", "event"),
    [
        ([WaitOutcome.PENDING, WaitOutcome.SUCCESS], "success"),
        ([WaitOutcome.LIMBO, WaitOutcome.PENDING, WaitOutcome.LIMBO, WaitOutcome.FAILED], "error"),
        ([WaitOutcome.LIMBO] * 6, "error"),  # a limbo longer than its bound
        ([WaitOutcome.PENDING] * 6, "timeout"),
    ],
)
def test_clock(outcomes, event, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    clock = WaitClock(end_time=1004.5, poll_interval=1.0, unknown_status_timeout=2.5)
    result = None
    for outcome in outcomes:
        result = clock.step(Reading(outcome, "X"))
        if result:
            break
        now[0] += 1
    assert result is not None and result["status"] == event


def test_start_once_does_not_repeat_a_start_that_took_effect():
    calls = []

    def start():
        calls.append(1)
        raise CelonisApiError(method="POST", path="/x", status_code=None, reason="lost")

    assert start_once(start, lambda: True, attempts=3, log=_Log(), settle_seconds=0.1) is True
    assert len(calls) == 1
    with pytest.raises(CelonisApiError):
        start_once(start, lambda: False, attempts=2, log=_Log(), settle_seconds=0.05, poll_seconds=0.01)
    assert len(calls) == 3  # nothing appeared: started again, once
    refused = CelonisApiError(method="POST", path="/x", status_code=400)
    with pytest.raises(CelonisApiError):
        start_once(lambda: (_ for _ in ()).throw(refused), lambda: True, attempts=3, log=_Log())


class _Log:
    def warning(self, *args) -> None:
        pass

    info = warning


# --- against the evidence, over HTTP --------------------------------------------------------------------

WAITS = {**FAST, "start_check_seconds": 0.5}


def job_op(**kwargs) -> CelonisRunDataJobOperator:
    return CelonisRunDataJobOperator(task_id="j", pool_id=POOL, data_job_id=DATA_JOB, **{**WAITS, **kwargs})


@pytest.mark.parametrize("latest_item", ["false", "true"])
def test_data_job_wait_needs_no_latest_execution_item(emulator, latest_item):
    """Evidence fact 2: latestExecutionItemId may be absent; the wait still ends with the execution."""
    emulator.reseed(test_seed(registration_seconds=0.2, job_status_has_latest_execution_item=latest_item))
    job_op().execute(context())
    began = time.monotonic()
    summary = job_op(timeout=20).execute(context())
    assert summary["status"] == "SUCCESS" and time.monotonic() - began < 10
    assert summary["execution"]["execution_id"] == CelonisHook().get_data_job_executions(POOL, DATA_JOB)[0].id


@pytest.mark.parametrize("deferrable", [False, True])
def test_data_job_sensor_fires_on_an_execution_after_the_moment(emulator, deferrable):
    """Evidence fact 1: the job's timeStamp is a 2022 change date; the sensor reads the execution's end."""
    moment = dt.datetime.now(dt.UTC)
    job_op().execute(context())
    sensor = CelonisDataJobSensor(
        task_id="s",
        pool_id=POOL,
        data_job_id=DATA_JOB,
        finished_after=moment.isoformat(),
        poke_interval=0.05,
        timeout=10,
        deferrable=deferrable,
    )
    assert sensor.poke(context()) is True
    later = CelonisDataJobSensor(
        task_id="s",
        pool_id=POOL,
        data_job_id=DATA_JOB,
        poke_interval=0.05,
        finished_after=dt.datetime.now(dt.UTC).isoformat(),
    )
    assert later.poke(context()) is False


def test_data_job_sensor_keeps_celonis_reason_after_deferral(emulator):
    """Evidence fact 3: the reason comes from the failed task's log, also through the triggerer."""
    CelonisHook().execute_data_job(POOL, FAILING_DATA_JOB, "DELTA")
    sensor = CelonisDataJobSensor(
        task_id="s", pool_id=POOL, data_job_id=FAILING_DATA_JOB, poke_interval=0.05, timeout=10, deferrable=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context())
    event = run_trigger(deferred.value.trigger)
    with pytest.raises(CelonisSensorFailure, match="division by zero") as failure:
        sensor.execute_complete(context(), event)
    assert "data job 'Transform (always fails)'" in str(failure.value)
    assert f"data-jobs?jobId={FAILING_DATA_JOB}" in str(failure.value)


@pytest.mark.parametrize("deferrable", [False, True])
def test_restart_mid_wait_fails_at_the_limbo_bound_without_a_cancel(emulator, seed_copy, deferrable):
    """Found as a new user: Celonis (here the emulator) loses the execution mid-wait. The wait ends at
    unknown_status_timeout, not at timeout, says what vanished, and cancels nothing that does not exist."""
    seed_copy["pools"][0]["data_jobs"][0]["run_seconds"] = 30
    emulator.reseed(seed_copy)
    threading.Timer(0.5, lambda: emulator.reseed(seed_copy)).start()
    op = job_op(unknown_status_timeout=1.0, timeout=60, deferrable=deferrable)
    began = time.monotonic()
    with pytest.raises(CelonisRemoteFailure, match="no longer shows execution") as failure:
        if deferrable:
            try:
                op.execute(context())
            except TaskDeferred as deferred:
                op.execute_complete(context(), run_trigger(deferred.trigger), **deferred.kwargs)
        else:
            op.execute(context())
    assert time.monotonic() - began < 10
    assert "unknown_status_timeout" in str(failure.value)
    assert emulator.requests("/cancel", "POST") == []


def test_load_limbo_is_bounded_in_poke_and_reschedule_mode(emulator):
    emulator.fault(path="/load$", method="POST", outcome="LOST_CONNECTION", count=1)
    CelonisHook().trigger_data_model_load(POOL, DATA_MODEL)
    poke = CelonisDataModelLoadSensor(
        task_id="s", pool_id=POOL, data_model_id=DATA_MODEL, unknown_status_timeout=0.5, poke_interval=0.1, timeout=30
    )
    began = time.monotonic()
    with pytest.raises(CelonisSensorFailure, match="LOST_CONNECTION.*unknown_status_timeout"):
        poke.execute(context())
    assert time.monotonic() - began < 5
    reschedule = CelonisDataModelLoadSensor(
        task_id="s",
        pool_id=POOL,
        data_model_id=DATA_MODEL,
        unknown_status_timeout=0.5,
        poke_interval=0.1,
        mode="reschedule",
    )
    time.sleep(0.6)  # the load Celonis reports started more than unknown_status_timeout ago
    with pytest.raises(CelonisSensorFailure, match="LOST_CONNECTION"):
        reschedule.poke(context())


@pytest.mark.parametrize("never_loaded", ["404", "204"])
def test_never_loaded_model_is_not_an_error(emulator, never_loaded):
    """last-load before the first load: 404 or 204; the load history tells a known model from an unknown one."""
    emulator.reseed(test_seed(last_load_never_loaded=never_loaded))
    hook = CelonisHook()
    assert hook.get_last_load(POOL, DATA_MODEL) is None
    sensor = CelonisDataModelLoadSensor(task_id="s", pool_id=POOL, data_model_id=DATA_MODEL)
    assert sensor.poke(context()) is False
    with pytest.raises(CelonisApiError, match="404"):
        hook.get_last_load(POOL, "no-such-model")


def test_reload_from_cache(emulator):
    summary = CelonisReloadDataModelOperator(
        task_id="r", pool_id=POOL, data_model_id=DATA_MODEL, from_cache=True, **WAITS
    ).execute(context())
    assert summary["status"] == "SUCCESS" and summary["load"]["load_type"] == "FROM_CACHE"
    assert "fullReload=false" in emulator.requests("/load", "POST")[0]["query"]


def test_run_chosen_parts_of_a_data_job(emulator):
    tasks = CelonisHook().list_data_job_tasks(POOL, DATA_JOB)
    transformation = next(t for t in tasks if t.task_type.value == "TRANSFORMATION")
    summary = job_op(transformations=[transformation.name], extractions=[], data_models=[]).execute(context())
    assert summary["status"] == "SUCCESS"
    ran = emulator.admin("GET", f"/_emulator/pools/{POOL}/jobs/{DATA_JOB}/executions").json()
    assert ran[-1]["subset"]["transformations"] == [transformation.id]
    assert ran[-1]["subset"]["extractions"] == [] and ran[-1]["subset"]["dataModels"] == []


def test_api_retry_settings_reach_the_trigger(emulator):
    op = job_op(deferrable=True, api_retry_limit=2, api_retry_delay=0.5)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    kwargs = deferred.value.trigger.serialize()[1]
    assert (kwargs["retry_limit"], kwargs["retry_delay"]) == (2, 0.5)
    hook = deferred.value.trigger._hook()
    assert hook.retry_policy.max_attempts == 2


def test_triggers_deferred_by_the_previous_release_still_resume(emulator):
    """Trigger kwargs are persisted: a task deferred before the upgrade rebuilds its trigger from them."""
    hook = CelonisHook()
    before = hook.get_last_load(POOL, DATA_MODEL)
    hook.trigger_data_model_load(POOL, DATA_MODEL)
    old = CelonisDataModelLoadTrigger(
        celonis_conn_id="celonis_default",
        pool_id=POOL,
        data_model_id=DATA_MODEL,
        previous_load_id=before.load_id if before else None,
        previous_started_at=None,
        finished_after=None,
        end_time=time.time() + 30,
        poll_interval=0.05,
        unknown_status_timeout=900.0,
        cancel_on_kill=True,
    )
    assert run_trigger(old)["status"] == "success"
    hook.execute_data_job(POOL, DATA_JOB, "DELTA")
    old_job = CelonisDataJobTrigger(
        celonis_conn_id="celonis_default",
        pool_id=POOL,
        data_job_id=DATA_JOB,
        previous_execution=None,
        waiting_for_new=False,
        finished_after=None,
        end_time=time.time() + 30,
        poll_interval=0.05,
    )
    assert run_trigger(old_job)["status"] == "success"
    assert asyncio.iscoroutinefunction(old_job.on_kill)


def test_the_old_name_of_unknown_status_timeout_still_works():
    from airflow.exceptions import AirflowProviderDeprecationWarning

    with pytest.warns(AirflowProviderDeprecationWarning, match="limbo_timeout is deprecated: use unknown_status_"):
        op = job_op(limbo_timeout=12.0)
    assert op.unknown_status_timeout == 12.0
    with pytest.warns(AirflowProviderDeprecationWarning):
        sensor = CelonisDataJobSensor(task_id="s", pool_id=POOL, data_job_id=DATA_JOB, limbo_timeout=7.0)
    assert sensor.unknown_status_timeout == 7.0
    old = CelonisDataJobTrigger(celonis_conn_id="c", pool_id="p", data_job_id="j", end_time=1.0, limbo_timeout=5.0)
    assert old.serialize()[1]["unknown_status_timeout"] == 5.0


@pytest.mark.parametrize("knob", ["reattach", "fail_on_warning", "start_check_seconds"])
def test_the_push_operator_takes_no_knob_that_does_nothing_for_it(knob):
    from airflow.exceptions import AirflowException

    from airflow_provider_celonis.operators.push import CelonisPushDataOperator

    with pytest.raises((TypeError, AirflowException), match=knob):
        CelonisPushDataOperator(task_id="p", pool_id=POOL, table_name="t", source_path="x.parquet", **{knob: True})


def test_a_resumed_task_gets_its_summary_from_the_event_alone(emulator):
    """``airflow dags test`` (3.3) resumes a deferred task with the event only, not the kwargs given to defer."""
    op = CelonisReloadDataModelOperator(task_id="r", pool_id=POOL, data_model_id=DATA_MODEL, deferrable=True, **WAITS)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    summary = CelonisReloadDataModelOperator(
        task_id="r", pool_id=POOL, data_model_id=DATA_MODEL, **FAST
    ).execute_complete(context(), run_trigger(deferred.value.trigger))
    assert summary["status"] == "SUCCESS" and summary["reattached"] is False
    assert summary["duration_seconds"] >= 0 and "summary" not in summary
