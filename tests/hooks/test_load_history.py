"""Load history (load-info-sync) and reload from cache (fullReload) over real HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_celonis.exceptions import CelonisApiError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.hooks.celonis_async import CelonisAsyncHook
from airflow_provider_celonis.models import LoadStatus, LoadType
from tests.helpers.emulator import DATA_MODEL, FAILING_DATA_MODEL, POOL

TABLE_IDS = ["8f2c4d1e-0000-4000-8000-0000000000e1"]


def hook() -> CelonisHook:
    return CelonisHook(retry_delay=0.01)


def wait_terminal(h: CelonisHook, model: str = DATA_MODEL):
    deadline = time.monotonic() + 10
    while True:
        load = h.get_last_load(POOL, model)
        if load and load.status.is_terminal:
            return load
        assert time.monotonic() < deadline
        time.sleep(0.05)


def loads_started(emulator, model: str = DATA_MODEL) -> list[dict]:
    return emulator.admin("GET", f"/_emulator/pools/{POOL}/data-models/{model}/loads").json()


def test_history_before_any_load_is_empty(emulator):
    history = hook().get_load_history(POOL, DATA_MODEL)
    assert history.current is None and history.history == () and history.tables == ()


def test_history_serves_the_same_loads_as_last_load(emulator):
    h = hook()
    h.trigger_data_model_load(POOL, DATA_MODEL)
    first = wait_terminal(h)
    h.trigger_partial_data_model_load(POOL, DATA_MODEL, TABLE_IDS)
    second = wait_terminal(h)
    history = h.get_load_history(POOL, DATA_MODEL)
    assert history.current == second
    assert [load.load_id for load in history.history] == [second.load_id, first.load_id]
    assert [load.load_type for load in history.history] == [LoadType.PARTIAL, LoadType.COMPLETE]
    assert history.last_successful.load_id == second.load_id
    assert history.row_counts == {"VBAK": 1200, "VBAP": 4800, "LIKP": 900}


def test_history_while_running_and_after_failure(emulator):
    h = hook()
    h.trigger_data_model_load(POOL, FAILING_DATA_MODEL)
    running = h.get_load_history(POOL, FAILING_DATA_MODEL)
    assert running.current.status is LoadStatus.RUNNING and running.current.ended_at is None
    failed = wait_terminal(h, FAILING_DATA_MODEL)
    history = h.get_load_history(POOL, FAILING_DATA_MODEL)
    assert history.current == failed and history.current.status is LoadStatus.ERROR
    assert "NETWR" in history.current.message
    assert history.last_successful is None and history.tables == ()


def test_async_hook_reads_the_same_history(emulator):
    h = hook()
    h.trigger_data_model_load(POOL, DATA_MODEL)
    wait_terminal(h)
    sync = h.get_load_history(POOL, DATA_MODEL)
    assert asyncio.run(CelonisAsyncHook(retry_delay=0.01).get_load_history(POOL, DATA_MODEL)) == sync


def test_history_of_an_unknown_model_is_a_404(emulator):
    with pytest.raises(CelonisApiError) as err:
        hook().get_load_history(POOL, "no-such-model")
    assert err.value.status_code == 404


@pytest.mark.parametrize(
    ("full_reload", "sent", "load_type"),
    [
        (False, "fullReload=false", LoadType.FROM_CACHE),
        (True, "fullReload=true", LoadType.COMPLETE),
        (None, "", LoadType.COMPLETE),
    ],
)
def test_complete_load_full_reload(emulator, full_reload, sent, load_type):
    h = hook()
    h.trigger_data_model_load(POOL, DATA_MODEL, full_reload=full_reload)
    [request] = emulator.requests(f"/data-models/{DATA_MODEL}/load", method="POST")
    assert request["query"] == sent
    assert wait_terminal(h).load_type is load_type
    assert h.get_load_history(POOL, DATA_MODEL).current.load_type is load_type


@pytest.mark.parametrize("full_reload", [False, True])
def test_partial_load_sends_full_reload_and_stays_partial(emulator, full_reload):
    h = hook()
    h.trigger_partial_data_model_load(POOL, DATA_MODEL, TABLE_IDS, full_reload=full_reload)
    [request] = emulator.requests("/load/partial-sync", method="POST")
    assert request["query"] == f"fullReload={str(full_reload).lower()}"
    assert wait_terminal(h).load_type is LoadType.PARTIAL
    assert loads_started(emulator)[-1]["fullReload"] is full_reload


@pytest.mark.parametrize("bad", ["false", 0, "no"])
def test_a_full_reload_that_is_not_a_bool_fails_before_any_request(emulator, bad):
    with pytest.raises(ValueError, match="full_reload must be True, False or None"):
        hook().trigger_data_model_load(POOL, DATA_MODEL, full_reload=bad)
    with pytest.raises(ValueError, match="full_reload must be True, False or None"):
        hook().trigger_partial_data_model_load(POOL, DATA_MODEL, TABLE_IDS, full_reload=bad)
    assert emulator.requests("/integration/api") == []


def test_emulator_refuses_a_malformed_full_reload(emulator):
    import requests

    response = requests.post(
        f"{emulator.url}/integration/api/v1/data-pools/{POOL}/data-models/{DATA_MODEL}/load",
        params={"fullReload": "maybe"},
        headers={"Authorization": "Bearer demo-api-key"},
        timeout=10,
    )
    assert response.status_code == 400 and "fullReload" in response.json()["detail"]
