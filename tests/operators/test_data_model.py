"""CelonisReloadDataModelOperator against the emulator: the wait follows our own load, failures carry
Celonis's message, deferral round-trips, timeouts cancel, retries re-attach."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_celonis.exceptions import (
    CelonisError,
    CelonisNameNotFoundError,
    CelonisRemoteFailure,
)
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.links import XCOM_DATA_MODEL_URL
from airflow_provider_celonis.models import LoadStatus
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.triggers.celonis import CelonisDataModelLoadTrigger
from tests.helpers.emulator import DATA_MODEL, POOL, test_seed
from tests.helpers.tasks import context, reload_op, run_trigger


def test_reload_waits_for_its_own_load_not_the_previous_success(emulator):
    """Regression guard for Celonis's own client: a previous SUCCESS must not end our wait.

    The emulator keeps showing the previous load for 0.3 s after the trigger, as Celonis does.
    """
    emulator.reseed(test_seed(registration_seconds=0.3))
    reload_op().execute(context())
    assert CelonisHook().get_last_load(POOL, DATA_MODEL).status is LoadStatus.SUCCESS
    emulator.fault(path="/load$", method="POST", outcome="ERROR", message="disk full", count=1)
    with pytest.raises(CelonisRemoteFailure, match="ERROR: disk full"):
        reload_op().execute(context())


def test_reload_summary_and_xcom(emulator):
    ctx = context()
    summary = reload_op(tables=["orders"]).execute(ctx)
    assert summary["status"] == "SUCCESS" and summary["load"]["load_type"] == "PARTIAL"
    assert len(summary["table_ids"]) == 1 and summary["reattached"] is False
    assert ctx["ti"].xcom[XCOM_DATA_MODEL_URL].endswith(f"process-data-models/{DATA_MODEL}?tab=data-model")
    assert ctx["ti"].xcom["celonis_ids"].items() >= {"pool_id": POOL, "data_model_id": DATA_MODEL}.items()


def test_unknown_table_name_fails_before_anything_starts(emulator):
    with pytest.raises(CelonisNameNotFoundError, match="VBAK"):
        reload_op(tables=["no_such_table"]).execute(context())
    assert emulator.requests("/load", "POST") == []


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"tables": "VBAK"}, "list of table ids"),
        ({"tables": []}, "empty list"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"data_model_id": " "}, "data_model_id is empty"),
        ({"pool_id": ""}, "pool_id is empty"),
    ],
)
def test_bad_reload_parameters(emulator, kwargs, match):
    params = {"task_id": "r", "pool_id": POOL, "data_model_id": DATA_MODEL, **kwargs}
    with pytest.raises(ValueError, match=match):
        CelonisReloadDataModelOperator(**params).execute(context())
    assert emulator.requests() == []


@pytest.mark.parametrize("registration_seconds", [0.0, 0.3])
@pytest.mark.parametrize("start_conflict", ["second_run", "409"])
def test_retry_reattaches_to_running_load(emulator, registration_seconds, start_conflict):
    """A running load seen in last-load is waited for, never started again. One not visible yet cannot be
    seen: a Celonis that refuses a second start (409) lets the task wait for it; one that does not starts
    a second load, and the task waits for that one (its own), not the first."""
    emulator.reseed(test_seed(registration_seconds=registration_seconds, start_conflict=start_conflict))
    CelonisHook().trigger_data_model_load(POOL, DATA_MODEL)
    summary = reload_op().execute(context())
    assert summary["status"] == "SUCCESS"
    started = [r for r in emulator.requests("/load", "POST") if r["status"] == 200]
    if registration_seconds == 0.0 or start_conflict == "409":
        assert summary["reattached"] is True and len(started) == 1
    else:
        loads = emulator.admin("GET", f"/_emulator/pools/{POOL}/data-models/{DATA_MODEL}/loads").json()
        assert summary["reattached"] is False and len(started) == 2
        assert summary["load"]["load_id"] == loads[-1]["id"]


def test_warning_policy(emulator):
    emulator.fault(path="/load$", method="POST", outcome="WARNING", message="2 rows skipped", count=2)
    assert reload_op().execute(context())["status"] == "WARNING"
    with pytest.raises(CelonisRemoteFailure, match="2 rows skipped"):
        reload_op(fail_on_warning=True).execute(context())


def test_timeout_cancels_the_load(emulator, seed_copy):
    seed_copy["pools"][0]["data_models"][0]["load_seconds"] = 30
    emulator.reseed(seed_copy)
    with pytest.raises(CelonisError, match="Timed out"):
        reload_op(timeout=0.5).execute(context())
    assert CelonisHook().get_last_load(POOL, DATA_MODEL).status is LoadStatus.CANCELED


def test_lost_connection_is_bounded(emulator):
    emulator.fault(path="/load$", method="POST", outcome="LOST_CONNECTION", count=1)
    with pytest.raises(CelonisRemoteFailure, match="(?s)LOST_CONNECTION.*Gave up after 0 s .unknown_status_timeout"):
        reload_op(unknown_status_timeout=0.3).execute(context())


def test_on_kill_cancels(emulator, seed_copy):
    seed_copy["pools"][0]["data_models"][0]["load_seconds"] = 30
    emulator.reseed(seed_copy)
    op = reload_op(wait_for_completion=False)
    op.execute(context())
    op.on_kill()
    assert CelonisHook().get_last_load(POOL, DATA_MODEL).status is LoadStatus.CANCELED


def test_deferred_reload_round_trip(emulator):
    op = reload_op(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    trigger = deferred.value.trigger
    assert deferred.value.method_name == "execute_complete" and deferred.value.timeout is None
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_celonis.triggers.celonis.CelonisDataModelLoadTrigger"
    primitive = (str, int, float, bool, type(None))
    for value in kwargs.values():
        assert isinstance(value, primitive) or all(isinstance(x, primitive) for x in value.values())
    rebuilt = CelonisDataModelLoadTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    event = run_trigger(rebuilt)
    assert event["status"] == "success" and event["celonis_status"] == "SUCCESS"
    summary = op.execute_complete(context(), event, **deferred.value.kwargs)
    assert summary["status"] == "SUCCESS"


def test_deferred_failure_and_timeout(emulator, seed_copy):
    emulator.fault(path="/load$", method="POST", outcome="ERROR", message="bad join", count=1)
    op = reload_op(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    event = run_trigger(deferred.value.trigger)
    assert event["status"] == "error"
    with pytest.raises(CelonisRemoteFailure, match="bad join"):
        op.execute_complete(context(), event, **deferred.value.kwargs)
    seed_copy["pools"][0]["data_models"][0]["load_seconds"] = 30
    emulator.reseed(seed_copy)
    op = reload_op(deferrable=True, timeout=0.4)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    event = run_trigger(deferred.value.trigger)
    assert event["status"] == "timeout"
    with pytest.raises(CelonisError, match="Timed out"):
        op.execute_complete(context(), event, **deferred.value.kwargs)
    assert CelonisHook().get_last_load(POOL, DATA_MODEL).status is LoadStatus.CANCELED


@pytest.mark.parametrize("event", [None, {}, {"status": "weird"}, "success", {"status": "error", "message": "x"}])
def test_unexpected_or_transport_error_events_fail(event):
    with pytest.raises(CelonisError):
        reload_op().execute_complete(context(), event, state={})
