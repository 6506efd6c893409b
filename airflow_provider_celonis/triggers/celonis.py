"""Async triggers that wait for a data model load or a data job execution, in the triggerer.

Only primitive kwargs (Airflow 3 serializes them with ``airflow.sdk.serde``), httpx only, one terminal
event: ``{"status": "success" | "warning" | "error" | "timeout", "message": str, ...}``. The trigger
has its own deadline (``end_time``) so a timeout reaches ``execute_complete``, which cancels the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.hooks.celonis_async import CelonisAsyncHook
from airflow_provider_celonis.models import (
    EVENT_STATUSES,
    WaitClock,
    WaitOutcome,
    epoch_to_datetime,
    judge_job,
    judge_load,
    judge_push,
)


def validated_event(event: Any) -> dict[str, Any]:
    """A trigger event checked before use: anything unexpected, or a wait that broke, fails the task."""
    if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
        raise CelonisError(f"Unexpected event from the Celonis trigger: {event!r}")
    if event["status"] == "error" and not event.get("celonis_status"):
        raise CelonisError(f"Waiting for Celonis failed: {event.get('message')}")
    return event


class _CelonisPollTrigger(BaseTrigger):
    """Poll until the work ends, the deadline passes, or a limbo state lasts too long."""

    def __init__(
        self,
        *,
        celonis_conn_id: str,
        pool_id: str,
        end_time: float,
        poll_interval: float = 30.0,
        limbo_timeout: float = 900.0,
        cancel_on_kill: bool = True,
    ) -> None:
        super().__init__()
        self.celonis_conn_id = celonis_conn_id
        self.pool_id = pool_id
        self.end_time = float(end_time)
        self.poll_interval = float(poll_interval)
        self.limbo_timeout = float(limbo_timeout)
        self.cancel_on_kill = bool(cancel_on_kill)

    def _base_kwargs(self) -> dict[str, Any]:
        return {
            "celonis_conn_id": self.celonis_conn_id, "pool_id": self.pool_id, "end_time": self.end_time,
            "poll_interval": self.poll_interval, "limbo_timeout": self.limbo_timeout,
            "cancel_on_kill": self.cancel_on_kill,
        }

    async def _check(self, hook: CelonisAsyncHook) -> tuple[WaitOutcome, dict[str, Any]]:
        raise NotImplementedError

    async def _cancel(self, hook: CelonisAsyncHook) -> None:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield exactly one terminal event."""
        hook = CelonisAsyncHook(self.celonis_conn_id)
        clock = WaitClock(self.end_time, self.poll_interval, self.limbo_timeout)
        try:
            while True:
                event = clock.step(*await self._check(hook))
                if event is not None:
                    yield TriggerEvent(event)
                    return
                await asyncio.sleep(clock.sleep_seconds())
        except Exception as exc:  # noqa: BLE001 - one error event, never a crashed trigger
            yield TriggerEvent({"status": "error", "message": f"{type(exc).__name__}: {exc}"})

    async def on_kill(self) -> None:
        """Airflow 3.3+: the user marked the task failed/success or cleared it; cancel the remote work."""
        if self.cancel_on_kill:
            try:
                await self._cancel(CelonisAsyncHook(self.celonis_conn_id))
            except Exception:  # noqa: BLE001 - best effort
                self.log.warning("Could not cancel the Celonis work", exc_info=True)


class CelonisDataModelLoadTrigger(_CelonisPollTrigger):
    """Wait for a data model load to end.

    :param previous_load_id: the last load before ours (a load still showing this id is not ours).
    :param previous_started_at: its start (epoch seconds), used when load ids are not reported.
    :param finished_after: sensors: only a load that ended at or after this moment (epoch seconds) counts.
    """

    def __init__(
        self,
        *,
        data_model_id: str,
        previous_load_id: str | None = None,
        previous_started_at: float | None = None,
        finished_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_model_id = data_model_id
        self.previous_load_id = previous_load_id
        self.previous_started_at = previous_started_at
        self.finished_after = finished_after

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and primitive kwargs."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {**self._base_kwargs(), "data_model_id": self.data_model_id, "previous_load_id": self.previous_load_id,
             "previous_started_at": self.previous_started_at, "finished_after": self.finished_after},
        )

    async def _check(self, hook: CelonisAsyncHook) -> tuple[WaitOutcome, dict[str, Any]]:
        load = await hook.get_last_load(self.pool_id, self.data_model_id)
        return judge_load(load, previous_load_id=self.previous_load_id,
                          previous_started_at=epoch_to_datetime(self.previous_started_at),
                          finished_after=epoch_to_datetime(self.finished_after))

    async def _cancel(self, hook: CelonisAsyncHook) -> None:
        await hook.cancel_data_model_load(self.pool_id, self.data_model_id)


class CelonisDataJobTrigger(_CelonisPollTrigger):
    """Wait for a data job execution to end.

    :param previous_execution: the execution the job showed before ours (``None``: none had run).
    :param waiting_for_new: wait until an execution other than ``previous_execution`` appears.
    :param finished_after: sensors: only an execution that ended at or after this moment counts.
    """

    def __init__(
        self,
        *,
        data_job_id: str,
        previous_execution: str | None = None,
        waiting_for_new: bool = False,
        finished_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_job_id = data_job_id
        self.previous_execution = previous_execution
        self.waiting_for_new = bool(waiting_for_new)
        self.finished_after = finished_after

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and primitive kwargs."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {**self._base_kwargs(), "data_job_id": self.data_job_id, "previous_execution": self.previous_execution,
             "waiting_for_new": self.waiting_for_new, "finished_after": self.finished_after},
        )

    async def _check(self, hook: CelonisAsyncHook) -> tuple[WaitOutcome, dict[str, Any]]:
        job = await hook.get_data_job(self.pool_id, self.data_job_id)
        return judge_job(job, previous_execution=self.previous_execution, waiting_for_new=self.waiting_for_new,
                         finished_after=epoch_to_datetime(self.finished_after))

    async def _cancel(self, hook: CelonisAsyncHook) -> None:
        await hook.cancel_data_job(self.pool_id, self.data_job_id)


class CelonisPushJobTrigger(_CelonisPollTrigger):
    """Wait for an executed Data Push job to end (DONE, ERROR or CANCELED).

    :param push_job_id: the push job's id.
    """

    def __init__(self, *, push_job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.push_job_id = push_job_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and primitive kwargs."""
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {**self._base_kwargs(), "push_job_id": self.push_job_id})

    async def _check(self, hook: CelonisAsyncHook) -> tuple[WaitOutcome, dict[str, Any]]:
        return judge_push(await hook.get_push_job(self.pool_id, self.push_job_id))

    async def _cancel(self, hook: CelonisAsyncHook) -> None:
        await hook.cancel_push_job(self.pool_id, self.push_job_id)
