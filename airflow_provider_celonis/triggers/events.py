"""Event triggers for Airflow 3's ``AssetWatcher``: a DAG runs when Celonis finishes a new load or execution.

``CelonisDataModelLoadEventTrigger`` fires once for each new successful load of a data model, and
``CelonisDataJobEventTrigger`` once for each new successful execution of a data job, whoever started it
(a Celonis schedule, another tool, an Airflow task). They read and judge Celonis with the same watches as
the waits (``waiting.DataModelLoadWatch`` / ``DataJobExecutionWatch``), in the triggerer, holding no worker.

State: nothing is persisted. At start the trigger reads Celonis and takes the newest *ended* load or
execution as its baseline (identity by load id / execution id); only later ones fire, each once (after a
load fires, it becomes the baseline). A triggerer restart reads the baseline again: a load that already
fired is then the newest ended one, so it never fires twice; a load still running at the restart had not
fired, and fires when it ends. The price of keeping no state: a load that both starts and ends while no
triggerer runs the trigger is not fired (at most once, never twice). ``not_before`` (epoch seconds, a
fixed value in the DAG file) additionally keeps anything that ended earlier from firing.

The event payload (in the asset event's extra, under ``payload``): ``kind``, the ids, ``load_id`` or
``execution_id``, ``celonis_status``, ``started_at`` and ``ended_at``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_celonis.exceptions import CelonisParameterError
from airflow_provider_celonis.hooks.celonis_async import CelonisAsyncHook
from airflow_provider_celonis.retry import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT
from airflow_provider_celonis.waiting import (
    EXECUTION_WINDOW,
    DataJobExecutionWatch,
    DataModelLoadWatch,
    Reading,
    WaitOutcome,
)

try:  # Airflow 3: what AssetWatcher accepts
    from airflow.triggers.base import BaseEventTrigger
except ImportError:  # Airflow 2 has no event-driven scheduling; the class still imports
    from airflow.triggers.base import BaseTrigger as BaseEventTrigger  # type: ignore[assignment]

# An event trigger reads Celonis a minute apart: it runs for as long as the DAG is scheduled, and every read
# is an API call from the team's shared budget.
DEFAULT_EVENT_POLL_INTERVAL = 60.0
FIRING_OUTCOMES = {WaitOutcome.SUCCESS: "success", WaitOutcome.WARNING: "warning"}
ENDED_OUTCOMES = frozenset({WaitOutcome.SUCCESS, WaitOutcome.WARNING, WaitOutcome.FAILED})


def _parse_iso(value: str | None) -> float | None:
    return None if not value else dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class _CelonisEventTrigger(BaseEventTrigger):
    """Poll Celonis forever; yield one event per new successful end (see the module docstring)."""

    kind = ""

    def __init__(
        self,
        *,
        pool_id: str,
        celonis_conn_id: str = "celonis_default",
        poll_interval: float = DEFAULT_EVENT_POLL_INTERVAL,
        include_warnings: bool = True,
        not_before: float | None = None,
        retry_limit: int = DEFAULT_RETRY_LIMIT,
        retry_delay: float = DEFAULT_RETRY_DELAY,
    ) -> None:
        super().__init__()
        if not isinstance(pool_id, str) or not pool_id.strip():
            raise CelonisParameterError(f"pool_id must be the data pool id (from the Celonis UI URL), not {pool_id!r}.")
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float) or poll_interval <= 0:
            raise CelonisParameterError(f"poll_interval must be a positive number of seconds, not {poll_interval!r}.")
        self.pool_id = pool_id
        self.celonis_conn_id = celonis_conn_id
        self.poll_interval = float(poll_interval)
        self.include_warnings = bool(include_warnings)
        self.not_before = None if not_before is None else float(not_before)
        self.retry_limit = int(retry_limit)
        self.retry_delay = float(retry_delay)

    def _kwargs(self) -> dict[str, Any]:
        return {
            "pool_id": self.pool_id,
            "celonis_conn_id": self.celonis_conn_id,
            "poll_interval": self.poll_interval,
            "include_warnings": self.include_warnings,
            "not_before": self.not_before,
            "retry_limit": self.retry_limit,
            "retry_delay": self.retry_delay,
        }

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and primitive kwargs (stable: the same DAG file gives the same trigger)."""
        return f"{type(self).__module__}.{type(self).__qualname__}", self._kwargs()

    def _hook(self) -> CelonisAsyncHook:
        return CelonisAsyncHook(self.celonis_conn_id, retry_limit=self.retry_limit, retry_delay=self.retry_delay)

    async def _baseline(self, hook: CelonisAsyncHook) -> Any:
        """A watch for the first load/execution after the newest ended one Celonis shows now."""
        raise NotImplementedError

    def _after(self, payload: dict[str, Any]) -> Any:
        """A watch for the first load/execution after the one that just ended (its ``payload``)."""
        raise NotImplementedError

    def _payload(self, watch: Any, reading: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def _settle(self, hook: CelonisAsyncHook, watch: Any, reading: Any) -> Any:
        """The reading to act on (by default the watch's own); see the data model trigger."""
        return reading

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield a ``TriggerEvent`` for each new successful end; never returns."""
        hook = self._hook()
        watch = None
        while True:
            try:
                if watch is None:
                    watch = await self._baseline(hook)
                    self.log.info("Watching %s for new successful ends.", watch.describe())
                reading = await self._settle(hook, watch, await watch.aread(hook))
            except Exception as exc:  # noqa: BLE001 - a failed read is retried at the next poll, never fatal
                self.log.warning(
                    "Reading Celonis failed (%s: %s); trying again in %.0f s.",
                    type(exc).__name__,
                    exc,
                    self.poll_interval,
                )
                reading = None
            if reading is not None and reading.outcome in ENDED_OUTCOMES:
                payload = self._payload(watch, reading)
                status = FIRING_OUTCOMES.get(reading.outcome)
                ended = _parse_iso(payload.get("ended_at")) or _parse_iso(payload.get("started_at"))
                too_old = self.not_before is not None and ended is not None and ended < self.not_before
                if status == "success" or (status == "warning" and self.include_warnings):
                    if not too_old:
                        self.log.info(
                            "New %s of %s ended %s: firing.", self.kind, watch.describe(), reading.celonis_status
                        )
                        yield TriggerEvent(payload)
                watch = self._after(payload)
                continue  # read again at once: another one may have ended too
            await asyncio.sleep(self.poll_interval)


class CelonisDataModelLoadEventTrigger(_CelonisEventTrigger):
    """Fire once for each new successful (or WARNING) load of a data model, whoever started it."""

    kind = "data_model_load"

    def __init__(self, *, data_model_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(data_model_id, str) or not data_model_id.strip():
            raise CelonisParameterError(
                f"data_model_id must be the data model id (from the Celonis UI URL), not {data_model_id!r}."
            )
        self.data_model_id = data_model_id

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "data_model_id": self.data_model_id}

    async def _baseline(self, hook: CelonisAsyncHook) -> DataModelLoadWatch:
        load = await hook.get_last_load(self.pool_id, self.data_model_id)
        watch = DataModelLoadWatch(pool_id=self.pool_id, data_model_id=self.data_model_id)
        if load is not None and load.status.is_terminal:  # a running load has not fired: it is not the baseline
            watch.previous_load_id = load.load_id
            watch.previous_started_at = load.started_at.timestamp() if load.started_at else None
        return watch

    def _after(self, payload: dict[str, Any]) -> DataModelLoadWatch:
        return DataModelLoadWatch(
            pool_id=self.pool_id,
            data_model_id=self.data_model_id,
            previous_load_id=payload["load_id"],
            previous_started_at=_parse_iso(payload.get("started_at")),
        )

    async def _settle(self, hook: CelonisAsyncHook, watch: DataModelLoadWatch, reading: Reading) -> Reading:
        """Read the end of a followed load that gave way to a newer one between two reads (last-load shows one).

        Its end comes from the load history: fired if it succeeded, skipped if the history lost it.
        """
        if reading.outcome is not WaitOutcome.LIMBO or watch.load_id is None:
            return reading
        shown = (reading.details.get("load") or {}).get("load_id")
        if shown is None or shown == watch.load_id:
            return reading
        history = await hook.get_load_history(self.pool_id, self.data_model_id)
        followed = next(
            (
                load
                for load in (*history.history, history.last_successful)
                if load is not None and load.load_id == watch.load_id
            ),
            None,
        )
        if followed is None or not followed.status.is_terminal:
            self.log.warning(
                "Load %s of %s gave way to load %s and the load history does not show how it ended: not fired.",
                watch.load_id,
                watch.describe(),
                shown,
            )
            return Reading(WaitOutcome.FAILED, None, details={"load": {"load_id": watch.load_id}})
        return watch.judge(followed)

    def _payload(self, watch: DataModelLoadWatch, reading: Any) -> dict[str, Any]:
        load = reading.details.get("load") or {}
        return {
            "kind": self.kind,
            "pool_id": self.pool_id,
            "data_model_id": self.data_model_id,
            "load_id": load.get("load_id"),
            "celonis_status": reading.celonis_status,
            "started_at": load.get("started_at"),
            "ended_at": load.get("ended_at"),
        }


class CelonisDataJobEventTrigger(_CelonisEventTrigger):
    """Fire once for each new successful execution of a data job, whoever started it."""

    kind = "data_job_execution"

    def __init__(self, *, data_job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(data_job_id, str) or not data_job_id.strip():
            raise CelonisParameterError(
                f"data_job_id must be the data job id (from the Celonis UI URL), not {data_job_id!r}."
            )
        self.data_job_id = data_job_id

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "data_job_id": self.data_job_id}

    def _watch_after(self, execution_id: str | None, started_at: float | None) -> DataJobExecutionWatch:
        # started_by_task: follow the oldest execution newer than the baseline (the judging of a task's own run)
        return DataJobExecutionWatch(
            pool_id=self.pool_id,
            data_job_id=self.data_job_id,
            started_by_task=True,
            previous_execution_id=execution_id,
            previous_started_at=started_at,
        )

    async def _baseline(self, hook: CelonisAsyncHook) -> DataJobExecutionWatch:
        items = await hook.get_data_job_executions(self.pool_id, self.data_job_id, limit=EXECUTION_WINDOW)
        ended = next((item for item in items if item.status.is_terminal), None)  # newest first
        if ended is None:
            return self._watch_after(None, None)
        return self._watch_after(ended.id, ended.started_at.timestamp() if ended.started_at else None)

    def _after(self, payload: dict[str, Any]) -> DataJobExecutionWatch:
        return self._watch_after(payload["execution_id"], _parse_iso(payload["started_at"]))

    def _payload(self, watch: DataJobExecutionWatch, reading: Any) -> dict[str, Any]:
        execution = reading.details.get("execution") or {}
        return {
            "kind": self.kind,
            "pool_id": self.pool_id,
            "data_job_id": self.data_job_id,
            "execution_id": execution.get("execution_id"),
            "celonis_status": reading.celonis_status,
            "started_at": execution.get("started_at"),
            "ended_at": execution.get("ended_at"),
        }
