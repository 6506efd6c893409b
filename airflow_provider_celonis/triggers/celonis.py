"""Async triggers that wait for a data model load, a data job execution or a push job, in the triggerer.

Each trigger runs one ``waiting`` watch with the async hook and the same clock as a worker, and yields one
terminal event: ``{"status": "success" | "warning" | "error" | "timeout", "message": str, "watch": {...}, ...}``.
Kwargs are primitives (Airflow 3 serializes them with ``airflow.sdk.serde``); the trigger has its own
deadline (``end_time``) so a timeout reaches ``execute_complete``, which cancels the work.
Kwargs of the previous release (``previous_load_id``, ``previous_execution``, …) are still accepted, so
tasks deferred during an upgrade resume.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_celonis.hooks.celonis_async import CelonisAsyncHook
from airflow_provider_celonis.retry import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT
from airflow_provider_celonis.waiting import (
    DEFAULT_UNKNOWN_STATUS_TIMEOUT,
    DataJobExecutionWatch,
    DataModelLoadWatch,
    PushJobWatch,
    WaitClock,
    Watch,
    watch_from_dict,
)


class _CelonisWatchTrigger(BaseTrigger):
    """Poll a watch until the work ends, the deadline passes, or a limbo lasts too long."""

    def __init__(
        self,
        *,
        celonis_conn_id: str,
        end_time: float,
        watch: dict[str, Any] | None = None,
        pool_id: str | None = None,
        poll_interval: float = 30.0,
        unknown_status_timeout: float = DEFAULT_UNKNOWN_STATUS_TIMEOUT,
        cancel_on_kill: bool = True,
        retry_limit: int = DEFAULT_RETRY_LIMIT,
        retry_delay: float = DEFAULT_RETRY_DELAY,
        summary: dict[str, Any] | None = None,
        **legacy: Any,
    ) -> None:
        super().__init__()
        self.celonis_conn_id = celonis_conn_id
        self.end_time = float(end_time)
        self.poll_interval = float(poll_interval)
        # ``limbo_timeout``: the name in kwargs persisted by earlier builds.
        self.unknown_status_timeout = float(legacy.pop("limbo_timeout", None) or unknown_status_timeout)
        self.cancel_on_kill = bool(cancel_on_kill)
        self.retry_limit = int(retry_limit)
        self.retry_delay = float(retry_delay)
        # What the task knew before deferring, handed back in the event: ``airflow dags test`` (3.3) resumes
        # the task with the event alone, without the kwargs given to ``defer``.
        self.summary = summary
        self.watch: Watch = watch_from_dict(watch) if watch else self._legacy_watch(pool_id or "", legacy)

    @staticmethod
    def _legacy_watch(pool_id: str, kwargs: dict[str, Any]) -> Watch:
        """The watch described by the previous release's kwargs."""
        raise NotImplementedError

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and primitive kwargs."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "celonis_conn_id": self.celonis_conn_id,
                "end_time": self.end_time,
                "watch": self.watch.to_dict(),
                "poll_interval": self.poll_interval,
                "unknown_status_timeout": self.unknown_status_timeout,
                "cancel_on_kill": self.cancel_on_kill,
                "retry_limit": self.retry_limit,
                "retry_delay": self.retry_delay,
                "summary": self.summary,
            },
        )

    def _hook(self) -> CelonisAsyncHook:
        return CelonisAsyncHook(self.celonis_conn_id, retry_limit=self.retry_limit, retry_delay=self.retry_delay)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield exactly one terminal event."""
        hook = self._hook()
        clock = WaitClock(self.end_time, self.poll_interval, self.unknown_status_timeout)
        try:
            while True:
                event = clock.step(await self.watch.aread(hook))
                if event is not None:
                    yield TriggerEvent({**event, "watch": self.watch.to_dict(), "summary": self.summary})
                    return
                await asyncio.sleep(clock.sleep_seconds())
        except Exception as exc:  # noqa: BLE001 - one error event, never a crashed trigger
            yield TriggerEvent(
                {
                    "status": "error",
                    "message": f"{type(exc).__name__}: {exc}",
                    "watch": self.watch.to_dict(),
                    "summary": self.summary,
                }
            )

    async def on_kill(self) -> None:
        """Airflow 3.3+: the user marked the task failed/success or cleared it; cancel the remote work."""
        if self.cancel_on_kill:
            try:
                await self.watch.acancel(self._hook())
            except Exception:  # noqa: BLE001 - best effort
                self.log.warning("Could not cancel the %s", self.watch.describe(), exc_info=True)


class CelonisDataModelLoadTrigger(_CelonisWatchTrigger):
    """Wait for a data model load to end (a ``DataModelLoadWatch``)."""

    @staticmethod
    def _legacy_watch(pool_id: str, kwargs: dict[str, Any]) -> Watch:
        """Previous release: data_model_id, previous_load_id, previous_started_at, finished_after."""
        started_by_task = bool(kwargs.get("previous_load_id") or kwargs.get("previous_started_at"))
        return DataModelLoadWatch(
            pool_id=pool_id,
            data_model_id=kwargs["data_model_id"],
            previous_load_id=kwargs.get("previous_load_id"),
            previous_started_at=kwargs.get("previous_started_at"),
            finished_after=kwargs.get("finished_after"),
            started_by_task=started_by_task,
        )


class CelonisDataJobTrigger(_CelonisWatchTrigger):
    """Wait for a data job execution to end (a ``DataJobExecutionWatch``)."""

    @staticmethod
    def _legacy_watch(pool_id: str, kwargs: dict[str, Any]) -> Watch:
        """Previous release: data_job_id, previous_execution, waiting_for_new, finished_after."""
        return DataJobExecutionWatch(
            pool_id=pool_id,
            data_job_id=kwargs["data_job_id"],
            previous_execution_id=kwargs.get("previous_execution"),
            started_by_task=bool(kwargs.get("waiting_for_new")),
            finished_after=kwargs.get("finished_after"),
        )


class CelonisPushJobTrigger(_CelonisWatchTrigger):
    """Wait for an executed Data Push job to end (a ``PushJobWatch``)."""

    @staticmethod
    def _legacy_watch(pool_id: str, kwargs: dict[str, Any]) -> Watch:
        """Previous release: push_job_id."""
        return PushJobWatch(pool_id=pool_id, push_job_id=kwargs["push_job_id"])


_TRIGGERS: dict[type, type[_CelonisWatchTrigger]] = {
    DataModelLoadWatch: CelonisDataModelLoadTrigger,
    DataJobExecutionWatch: CelonisDataJobTrigger,
    PushJobWatch: CelonisPushJobTrigger,
}


def trigger_for(watch: Watch, settings: dict[str, Any]) -> _CelonisWatchTrigger:
    """The trigger that runs ``watch`` in the triggerer, with the task's wait settings."""
    return _TRIGGERS[type(watch)](watch=watch.to_dict(), **settings)
