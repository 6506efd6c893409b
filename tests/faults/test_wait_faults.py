"""Reloads, data jobs and their waits under faults: success after recovery, or one clear failure."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from airflow_provider_celonis.exceptions import CelonisApiError, CelonisAuthError, CelonisRemoteFailure
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.models import ExecutionStatus, LoadStatus
from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.triggers.celonis import CelonisDataJobTrigger, CelonisDataModelLoadTrigger
from tests.helpers.emulator import DATA_JOB, DATA_MODEL, POOL, test_seed
from tests.helpers.tasks import FAST, context

SECRET = "demo-client-secret"
LOAD, LAST_LOAD = "/data-models/[^/]+/load$", "/last-load$"
EXECUTE, JOB = "/execute$", "/jobs/[^/]+$"


# A start without a clear answer is checked for this long before it is repeated (longer than the 0.4 s
# registration delay some tests use, or a repeat would start a second run).
WAITS = {**FAST, "start_check_seconds": 1.0}


def reload(**kwargs) -> dict:
    return CelonisReloadDataModelOperator(
        task_id="r", pool_id=POOL, data_model_id=DATA_MODEL, **{**WAITS, **kwargs}
    ).execute(context())


def run_job(**kwargs) -> dict:
    return CelonisRunDataJobOperator(task_id="j", pool_id=POOL, data_job_id=DATA_JOB, **{**WAITS, **kwargs}).execute(
        context()
    )


def started(emulator, path: str) -> int:
    """Loads or executions Celonis accepted (200) on ``path``."""
    return len([r for r in emulator.requests(path.strip("$^"), "POST") if r["status"] == 200])


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize(("path", "method"), [(LOAD, "POST"), (LAST_LOAD, "GET")], ids=["trigger", "status"])
def test_reload_survives_bursts(emulator, status, path, method):
    emulator.fault(path=path, method=method, status=status, count=3)
    assert reload()["status"] == "SUCCESS"
    assert started(emulator, "/load") == 1


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize(("path", "method"), [(EXECUTE, "POST"), (JOB, "GET")], ids=["trigger", "status"])
def test_data_job_survives_bursts(emulator, status, path, method):
    emulator.fault(path=path, method=method, status=status, count=3)
    assert run_job()["status"] == "SUCCESS"
    assert started(emulator, "/execute") == 1


@pytest.mark.parametrize("registration_seconds", [0.0, 0.4])
@pytest.mark.parametrize("start_conflict", ["second_run", "409"])
def test_lost_answer_to_a_reload_waits_for_that_load(emulator, registration_seconds, start_conflict):
    """Celonis started the load but the answer was lost: the task does not start it again (a Celonis that
    accepts a second start would run it twice); it finds the new load and waits for it, not the old one."""
    emulator.reseed(
        test_seed(load_seconds=1.0, registration_seconds=registration_seconds, start_conflict=start_conflict)
    )
    reload()  # a previous successful load, which must not end the wait
    emulator.admin("DELETE", "/_emulator/requests")
    emulator.fault(path=LOAD, method="POST", drop="after", count=1)
    began = time.monotonic()
    summary = reload()
    assert summary["status"] == "SUCCESS"
    assert time.monotonic() - began >= 0.9  # it waited for the new load, not the old SUCCESS
    assert [r["status"] for r in emulator.requests("/load", "POST")] == [0]
    loads = emulator.admin("GET", f"/_emulator/pools/{POOL}/data-models/{DATA_MODEL}/loads").json()
    assert len(loads) == 2 and summary["load"]["load_id"] == loads[-1]["id"]


@pytest.mark.parametrize("registration_seconds", [0.0, 0.4])
@pytest.mark.parametrize("start_conflict", ["second_run", "409"])
def test_lost_answer_to_an_execute_waits_for_that_execution(emulator, registration_seconds, start_conflict):
    emulator.reseed(
        test_seed(load_seconds=1.0, registration_seconds=registration_seconds, start_conflict=start_conflict)
    )
    run_job()
    emulator.admin("DELETE", "/_emulator/requests")
    emulator.fault(path=EXECUTE, method="POST", drop="after", count=1)
    began = time.monotonic()
    assert run_job()["status"] == "SUCCESS"
    assert time.monotonic() - began >= 0.9
    assert [r["status"] for r in emulator.requests("/execute", "POST")] == [0]
    assert len(CelonisHook().get_data_job_executions(POOL, DATA_JOB)) == 2


def test_an_unclear_start_that_did_not_start_is_started_again(emulator):
    """The answer was lost before Celonis acted: nothing new appears, so the task starts it (once more)."""
    emulator.fault(path=LOAD, method="POST", drop="before", count=1)
    assert reload()["status"] == "SUCCESS"
    assert [r["status"] for r in emulator.requests("/load", "POST")] == [0, 200]
    assert len(emulator.admin("GET", f"/_emulator/pools/{POOL}/data-models/{DATA_MODEL}/loads").json()) == 1


def test_retry_after_is_honoured_and_capped(emulator):
    emulator.fault(path=LAST_LOAD, method="GET", status=429, retry_after=1.5, count=1)
    began = time.monotonic()
    CelonisHook(retry_delay=0.01).get_last_load(POOL, DATA_MODEL)
    assert time.monotonic() - began >= 1.5
    emulator.fault(path=LAST_LOAD, method="GET", status=429, retry_after=3600, count=1)
    began = time.monotonic()
    CelonisHook(retry_delay=0.01, max_retry_wait=0.3).get_last_load(POOL, DATA_MODEL)
    assert time.monotonic() - began < 2


def test_oauth_token_expiring_mid_wait_is_refreshed_once(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json("oauth"))
    emulator.reseed(test_seed(load_seconds=1.0))
    # A token cached by an earlier test in this process was minted before the reseed: replace it first,
    # so the one 401 counted below is the expiry's.
    CelonisHook().list_data_pools()
    emulator.admin("DELETE", "/_emulator/requests")
    timer = threading.Timer(0.4, lambda: emulator.admin("POST", "/_emulator/tokens/expire"))
    timer.start()
    try:
        assert reload()["status"] == "SUCCESS"
    finally:
        timer.cancel()
    unauthorized = [r for r in emulator.requests("/integration/") if r["status"] == 401]
    assert len(unauthorized) == 1  # the expired token was used once, then replaced
    assert len(emulator.requests("/oauth2/token", "POST")) <= 2


def test_revoked_credential_fails_clearly_without_looping(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json("oauth"))
    emulator.reseed(test_seed(load_seconds=2.0))
    timer = threading.Timer(
        0.4,
        lambda: (
            emulator.admin("POST", "/_emulator/oauth-clients/demo-client/revoke"),
            emulator.admin("POST", "/_emulator/tokens/expire"),
        ),
    )
    timer.start()
    try:
        with pytest.raises(CelonisAuthError) as err:
            reload()
    finally:
        timer.cancel()
    assert "/oauth2/token" in str(err.value) and "invalid_client" in str(err.value)
    assert SECRET not in str(err.value)
    assert len(emulator.requests("/oauth2/token", "POST")) <= 3


def test_remote_failures_fail_with_celonis_message(emulator):
    emulator.fault(path=LOAD, method="POST", outcome="ERROR", message="Table EKKO is broken", count=1)
    with pytest.raises(CelonisRemoteFailure, match="EKKO is broken"):
        reload()
    emulator.fault(path=EXECUTE, method="POST", outcome="FAIL", message="division by zero", count=1)
    with pytest.raises(CelonisRemoteFailure, match="division by zero"):
        run_job()


def test_persistent_outage_fails_clearly(emulator):
    emulator.fault(path=LAST_LOAD, method="GET", status=503, count=100)
    with pytest.raises(CelonisApiError, match="503"):
        reload(api_retry_limit=3)


def test_killed_while_deferred_cancels_the_remote_work(emulator):
    """Airflow 3.3+ calls the trigger's on_kill when a deferred task is marked failed or cleared."""
    emulator.reseed(test_seed(load_seconds=30))
    hook = CelonisHook()
    hook.trigger_data_model_load(POOL, DATA_MODEL)
    hook.execute_data_job(POOL, DATA_JOB, "FULL")
    common = {"celonis_conn_id": "celonis_default", "pool_id": POOL, "end_time": time.time() + 60}
    asyncio.run(CelonisDataModelLoadTrigger(data_model_id=DATA_MODEL, **common).on_kill())
    asyncio.run(CelonisDataJobTrigger(data_job_id=DATA_JOB, **common).on_kill())
    assert hook.get_last_load(POOL, DATA_MODEL).status is LoadStatus.CANCELED
    assert hook.get_data_job(POOL, DATA_JOB).status is ExecutionStatus.CANCEL


def test_killed_while_polling_cancels_the_remote_work(emulator):
    emulator.reseed(test_seed(load_seconds=30))
    op = CelonisReloadDataModelOperator(task_id="r", pool_id=POOL, data_model_id=DATA_MODEL, **WAITS)
    op.wait_for_completion = False
    op.execute(context())
    op.on_kill()
    assert CelonisHook().get_last_load(POOL, DATA_MODEL).status is LoadStatus.CANCELED


@pytest.mark.parametrize("status", [500, 502, 503])
def test_partial_reload_survives_bursts_on_the_table_list_and_the_trigger(emulator, status):
    emulator.fault(path="/tables$", method="GET", status=status, count=2)
    emulator.fault(path="/load/partial-sync$", method="POST", status=status, count=2)
    assert reload(tables=["orders"])["status"] == "SUCCESS"
    assert started(emulator, "/load/partial-sync") == 1
