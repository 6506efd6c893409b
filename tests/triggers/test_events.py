"""The AssetWatcher event triggers fire once per new successful Celonis load/execution, also across restarts.

Loads and executions are started through the hook against the emulator, as anyone (a Celonis schedule)
would; the trigger runs as the triggerer runs it (its async generator), and a restart is a new trigger
built from ``serialize()`` after the old one was cancelled.
"""

from __future__ import annotations

import asyncio
import importlib
import time

import pytest

from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.triggers.events import CelonisDataJobEventTrigger, CelonisDataModelLoadEventTrigger
from tests.helpers.emulator import DATA_JOB, DATA_MODEL, FAILING_DATA_MODEL, POOL

POLL = 0.1


def _load_and_wait(model: str = DATA_MODEL) -> str:
    """Start a load of ``model`` through the hook and wait until Celonis shows it ended; its load id."""
    hook = CelonisHook()
    before = hook.get_last_load(POOL, model)
    hook.trigger_data_model_load(POOL, model)
    for _ in range(200):
        load = hook.get_last_load(POOL, model)
        if load and load.load_id != (before.load_id if before else None) and load.status.is_terminal:
            return load.load_id
        time.sleep(0.05)
    raise AssertionError("the load did not end")


def _execute_and_wait() -> str:
    hook = CelonisHook()
    before = hook.get_data_job_executions(POOL, DATA_JOB, limit=1)
    hook.execute_data_job(POOL, DATA_JOB, "FULL")
    for _ in range(200):
        items = hook.get_data_job_executions(POOL, DATA_JOB, limit=1)
        if items and (not before or items[0].id != before[0].id) and items[0].status.is_terminal:
            return items[0].id
        time.sleep(0.05)
    raise AssertionError("the execution did not end")


class Running:
    """A trigger running in the background (as in the triggerer), collecting its events' payloads."""

    def __init__(self, trigger) -> None:
        self.trigger = trigger
        self.events: list[dict] = []
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for event in self.trigger.run():
            self.events.append(event.payload)

    async def restart(self) -> Running:
        """Stop (as a triggerer shutting down) and start a new trigger from the serialized kwargs."""
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task
        classpath, kwargs = self.trigger.serialize()
        module, _, name = classpath.rpartition(".")
        return Running(getattr(importlib.import_module(module), name)(**kwargs))

    async def settle(self, count: int, seconds: float = 5.0) -> list[dict]:
        """Wait until ``count`` events arrived (or time is up), then a few more polls to catch extra ones."""
        deadline = time.monotonic() + seconds
        while len(self.events) < count and time.monotonic() < deadline:
            await asyncio.sleep(POLL)
        await asyncio.sleep(POLL * 6)
        return self.events

    def stop(self) -> None:
        self.task.cancel()


def _model_trigger(**kwargs) -> CelonisDataModelLoadEventTrigger:
    return CelonisDataModelLoadEventTrigger(pool_id=POOL, data_model_id=DATA_MODEL, poll_interval=POLL, **kwargs)


async def test_fires_once_per_new_load_and_never_again_after_a_restart(emulator):
    old = await asyncio.to_thread(_load_and_wait)  # before the trigger started: the baseline, never fired
    running = Running(_model_trigger())
    await asyncio.sleep(POLL * 3)
    loads = [await asyncio.to_thread(_load_and_wait) for _ in range(3)]
    events = await running.settle(3)
    assert [e["load_id"] for e in events] == loads and old not in loads
    assert all(e["celonis_status"] == "SUCCESS" and e["kind"] == "data_model_load" for e in events)

    # Restart: Celonis's newest load already fired; the new trigger must not fire it again.
    running = await running.restart()
    assert await running.settle(1, seconds=1.0) == []
    fourth = await asyncio.to_thread(_load_and_wait)
    assert [e["load_id"] for e in await running.settle(1)] == [fourth]

    # Restart while a load runs: it had not fired, so it fires once when it ends.
    hook = CelonisHook()
    hook.trigger_data_model_load(POOL, DATA_MODEL)
    await asyncio.sleep(0.1)
    assert not hook.get_last_load(POOL, DATA_MODEL).status.is_terminal
    running = await running.restart()
    events = await running.settle(1)
    running.stop()
    assert len(events) == 1 and events[0]["load_id"] not in (*loads, fourth)
    assert len(emulator.state.loads[(POOL, DATA_MODEL)]) == 6  # every load started is accounted for


async def test_failed_loads_do_not_fire_and_not_before_is_honoured(emulator):
    failing = Running(
        CelonisDataModelLoadEventTrigger(pool_id=POOL, data_model_id=FAILING_DATA_MODEL, poll_interval=POLL)
    )
    await asyncio.sleep(POLL * 3)
    await asyncio.to_thread(_load_and_wait, FAILING_DATA_MODEL)
    assert await failing.settle(1, seconds=1.0) == []
    failing.stop()
    late = Running(_model_trigger(not_before=time.time() + 3600))  # nothing ends after that in this test
    await asyncio.sleep(POLL * 3)
    await asyncio.to_thread(_load_and_wait)
    assert await late.settle(1, seconds=1.0) == []
    late.stop()


async def test_data_job_trigger_fires_once_per_new_execution_across_a_restart(emulator):
    await asyncio.to_thread(_execute_and_wait)
    running = Running(CelonisDataJobEventTrigger(pool_id=POOL, data_job_id=DATA_JOB, poll_interval=POLL))
    await asyncio.sleep(POLL * 3)
    first = [await asyncio.to_thread(_execute_and_wait) for _ in range(2)]
    assert [e["execution_id"] for e in await running.settle(2)] == first
    running = await running.restart()
    assert await running.settle(1, seconds=1.0) == []
    third = await asyncio.to_thread(_execute_and_wait)
    events = await running.settle(1)
    running.stop()
    assert [e["execution_id"] for e in events] == [third]


def test_kwargs_are_stable_and_bad_input_is_named():
    a, b = _model_trigger().serialize(), _model_trigger().serialize()
    assert a == b  # the same DAG file gives the same trigger (no creation time in the kwargs)
    with pytest.raises(ValueError, match="data_model_id"):
        CelonisDataModelLoadEventTrigger(pool_id=POOL, data_model_id="")
    with pytest.raises(ValueError, match="poll_interval"):
        CelonisDataJobEventTrigger(pool_id=POOL, data_job_id=DATA_JOB, poll_interval=0)


def test_usable_with_asset_watcher():
    sdk = pytest.importorskip("airflow.sdk")
    if not hasattr(sdk, "AssetWatcher"):
        pytest.skip("AssetWatcher needs Airflow 3")
    asset = sdk.Asset(
        "celonis://team.example/pool/data_models/dm",
        watchers=[sdk.AssetWatcher(name="o2c_loads", trigger=_model_trigger())],
    )
    assert asset.watchers[0].trigger.data_model_id == DATA_MODEL
