"""Auth refresh, retries, rate limits and error messages of the hooks, driven by the emulator's faults."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_celonis.exceptions import CelonisApiError, CelonisAuthError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.hooks.celonis_async import CelonisAsyncHook
from airflow_provider_celonis.models import LoadStatus
from tests.helpers.emulator import DATA_JOB, DATA_MODEL, POOL, test_seed


def hook(**kwargs) -> CelonisHook:
    kwargs.setdefault("retry_delay", 0.01)
    return CelonisHook(**kwargs)


def test_oauth_token_is_cached_and_refreshed_once_after_expiry(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json("oauth"))
    h = hook()
    h.get_data_job(POOL, DATA_JOB)
    tokens_before = len(emulator.requests("/oauth2/token"))
    for _ in range(3):
        h.get_data_job(POOL, DATA_JOB)
    assert len(emulator.requests("/oauth2/token")) == tokens_before  # cached
    emulator.admin("POST", "/_emulator/tokens/expire")
    h.get_data_job(POOL, DATA_JOB)
    assert len(emulator.requests("/oauth2/token")) == tokens_before + 1
    statuses = [r["status"] for r in emulator.requests(f"/jobs/{DATA_JOB}")]
    assert statuses[-5:] == [200, 200, 200, 401, 200]


def test_oauth_client_secret_post_method(emulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        emulator.connection_json("oauth", oauth_auth_method="post", scopes="integration.data-pools"),
    )
    assert hook().test_connection()[0]


def test_revoked_oauth_client_fails_clearly_without_looping(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json("oauth"))
    h = hook()
    h.get_data_job(POOL, DATA_JOB)
    tokens_before = len(emulator.requests("/oauth2/token"))
    emulator.admin("POST", "/_emulator/oauth-clients/demo-client/revoke")
    with pytest.raises(CelonisAuthError) as err:
        h.get_data_job(POOL, DATA_JOB)
    assert err.value.status_code == 401 and "invalid_client" in str(err.value)
    assert "demo-client-secret" not in str(err.value)
    assert len(emulator.requests("/oauth2/token")) == tokens_before + 1  # exactly one refresh attempt


def test_oauth_scope_without_data_pools_is_forbidden(emulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json("oauth", scopes="integration.data-pools:data_push")
    )
    with pytest.raises(CelonisAuthError) as err:
        hook().get_data_job(POOL, DATA_JOB)
    assert err.value.status_code == 403 and "integration.data-pools" in str(err.value)


def test_wrong_auth_type_is_401(emulator, monkeypatch):
    conn = json.loads(emulator.connection_json())
    conn["extra"]["auth_type"] = "app_key"  # an API key sent as AppKey
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", json.dumps(conn))
    with pytest.raises(CelonisAuthError) as err:
        hook().get_data_job(POOL, DATA_JOB)
    assert err.value.status_code == 401 and "AppKey" in str(err.value)
    assert "demo-api-key" not in str(err.value)


def test_5xx_burst_on_a_read_is_retried(emulator, caplog):
    emulator.fault(path="/jobs/", method="GET", status=503, count=2)
    emulator.fault(path="/jobs/", method="GET", status=502, count=1)
    with caplog.at_level(logging.WARNING):
        job = hook().get_data_job(POOL, DATA_JOB)
    assert job.id == DATA_JOB
    assert [r["status"] for r in emulator.requests("/jobs/")] == [503, 503, 502, 200]
    assert "retrying" in caplog.text and "demo-api-key" not in caplog.text


def test_500_or_a_lost_answer_on_a_start_is_not_repeated(emulator):
    """No source shows Celonis refusing a second start, so the hook never repeats one that may have been
    applied; the operators look for the run first (waiting.start_once)."""
    emulator.fault(path="/load$", method="POST", status=500, count=1)
    with pytest.raises(CelonisApiError) as err:
        hook(retry_delay=0.01).trigger_data_model_load(POOL, DATA_MODEL)
    assert err.value.may_have_acted
    emulator.fault(path="/load$", method="POST", drop="after", count=1)
    with pytest.raises(CelonisApiError, match="may have been applied") as err:
        hook(retry_delay=0.01).trigger_data_model_load(POOL, DATA_MODEL)
    assert err.value.may_have_acted and err.value.status_code is None
    assert [r["status"] for r in emulator.requests("/load", "POST")] == [500, 0]


def test_503_and_429_on_a_trigger_are_repeated(emulator):
    """429 and 503 mean Celonis refused before acting, so even a trigger is safe to repeat."""
    emulator.fault(path="/load$", method="POST", status=429, retry_after=0, count=1)
    emulator.fault(path="/load$", method="POST", status=503, count=1)
    hook().trigger_data_model_load(POOL, DATA_MODEL)
    assert [r["status"] for r in emulator.requests("/load", "POST")] == [429, 503, 200]
    assert hook().get_last_load(POOL, DATA_MODEL).status is LoadStatus.RUNNING


def test_retry_after_is_honoured(emulator, caplog):
    emulator.fault(path="/last-load", status=429, retry_after=1, count=1)
    with caplog.at_level(logging.WARNING):
        hook(retry_delay=0.0).get_last_load(POOL, DATA_MODEL)
    assert "retrying in 1.0 s" in caplog.text


def test_retry_after_is_capped(emulator, caplog):
    emulator.fault(path="/last-load", status=429, retry_after=3600, count=1)
    with caplog.at_level(logging.WARNING):
        hook(max_retry_wait=0.2).get_last_load(POOL, DATA_MODEL)
    assert "retrying in 0.2 s" in caplog.text


def test_retries_are_bounded(emulator):
    emulator.fault(path="/last-load", status=503, count=100)
    with pytest.raises(CelonisApiError) as err:
        hook(retry_limit=3).get_last_load(POOL, DATA_MODEL)
    assert err.value.status_code == 503
    assert len(emulator.requests("/last-load")) == 3


def test_dropped_connection_on_a_read_is_retried(emulator):
    emulator.fault(path="/last-load", drop="before", count=1)
    hook().get_last_load(POOL, DATA_MODEL)
    assert len(emulator.requests("/last-load")) == 2


def test_dropped_connection_after_a_create_is_not_repeated(emulator):
    """Creating a push job twice would leave a second job: a lost answer is not repeated."""
    emulator.fault(path="/jobs/$", method="POST", drop="after", count=1)
    with pytest.raises(CelonisApiError) as err:
        hook().create_push_job(POOL, "t")
    assert "may have been applied" in str(err.value)
    assert len(hook().list_push_jobs(POOL)) == 1  # Celonis acted once
    assert len(emulator.requests("/jobs/", "POST")) == 1


def test_nothing_listening_fails_fast_with_clear_message(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        json.dumps({"conn_type": "celonis", "host": "http://127.0.0.1:9", "password": "k"}),
    )
    with pytest.raises(CelonisApiError) as err:
        hook(retry_limit=2).get_data_job(POOL, DATA_JOB)
    assert "ConnectionError after 2 attempt(s)" in str(err.value)


@pytest.mark.parametrize("auth", ["api_key", "app_key", "oauth"])
async def test_async_hook_reads_and_cancels(emulator, monkeypatch, auth):
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(auth))
    emulator.reseed(test_seed(load_seconds=30))  # still running when cancelled, however slow the machine
    CelonisHook().execute_data_job(POOL, DATA_JOB, "FULL")
    CelonisHook().trigger_data_model_load(POOL, DATA_MODEL)
    push = CelonisHook().create_push_job(POOL, "t")
    h = CelonisAsyncHook(retry_delay=0.01)
    assert (await h.get_data_job(POOL, DATA_JOB)).current_execution_id
    assert (await h.get_last_load(POOL, DATA_MODEL)).status is LoadStatus.RUNNING
    assert (await h.get_push_job(POOL, push.id)).status.value == "NEW"
    await h.cancel_data_job(POOL, DATA_JOB)
    await h.cancel_data_model_load(POOL, DATA_MODEL)
    await h.cancel_push_job(POOL, push.id)
    assert (await h.get_data_job(POOL, DATA_JOB)).status.value == "CANCEL"
    assert (await h.get_last_load(POOL, DATA_MODEL)).status is LoadStatus.CANCELED
    assert (await h.get_push_job(POOL, push.id)).status.value == "CANCELED"


async def test_async_hook_retries_and_refreshes_token(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json("oauth"))
    h = CelonisAsyncHook(retry_delay=0.01)
    await h.get_data_job(POOL, DATA_JOB)
    before = len(emulator.requests("/jobs/"))
    emulator.admin("POST", "/_emulator/tokens/expire")
    emulator.fault(path="/jobs/", method="GET", status=502, count=1)
    await h.get_data_job(POOL, DATA_JOB)
    assert [r["status"] for r in emulator.requests("/jobs/")][before:] == [502, 401, 200]


async def test_async_hook_404_error(emulator):
    with pytest.raises(CelonisApiError) as err:
        await CelonisAsyncHook().get_data_job(POOL, "missing")
    assert err.value.status_code == 404 and "missing" in str(err.value)
