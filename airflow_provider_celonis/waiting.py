"""What a wait watches, what each answer means, and the wait clock: one module for operators, sensors and triggers.

A *watch* is a small JSON-serialisable record of one waitable thing (a data model load, a data job
execution, a push job) and the baseline that tells the work this task started from what Celonis showed
before. It reads Celonis with the sync hook (workers) or the async hook (triggerer) and judges the answer
with the same pure function, so a deferred wait and a worker's wait end the same way.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_celonis import endpoints
from airflow_provider_celonis.exceptions import CelonisApiError, CelonisError
from airflow_provider_celonis.models import (
    DataModelLoad,
    ExecutionLog,
    ExecutionStatus,
    LoadStatus,
    PushJob,
    PushJobStatus,
)

if TYPE_CHECKING:
    import logging

    from airflow_provider_celonis.hooks.celonis import CelonisHook
    from airflow_provider_celonis.hooks.celonis_async import CelonisAsyncHook

# How many of a data job's newest executions one status read looks at to find the one being waited for.
EXECUTION_WINDOW = 10
# How long LOST_CONNECTION, an unknown status or work Celonis does not show is waited on (operators, sensors,
# triggers): 15 min, long enough for a slow registration or a short Celonis hiccup, short against the 6 h
# default timeout of the operators.
DEFAULT_UNKNOWN_STATUS_TIMEOUT = 900.0


class WaitOutcome(StrEnum):
    """Where a wait stands after one status read."""

    PENDING = "pending"  # still running (or, for a sensor, nothing new has ended yet)
    SUCCESS = "success"
    WARNING = "warning"
    FAILED = "failed"
    LIMBO = "limbo"  # LOST_CONNECTION, an unknown status, or the work not (or no longer) visible: bounded


@dataclass
class Reading:
    """One status read, judged: the outcome and what the log, the event and the summary say about it."""

    outcome: WaitOutcome
    celonis_status: str | None = None
    message: str = ""
    running: bool = False  # the work is in progress at Celonis (a timeout then cancels it)
    details: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None  # epoch seconds when Celonis says the work started (bounds a limbo)

    def as_event(self, status: str) -> dict[str, Any]:
        """The terminal event of a wait (also what a trigger yields)."""
        return {
            **self.details,
            "status": status,
            "celonis_status": self.celonis_status,
            "message": self.message,
            "running": self.running,
        }


# --- the watches ----------------------------------------------------------------------------------


def _epoch(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


@dataclass
class _Watch:
    """What every watch holds: where the work is, and how to tell a user what failed."""

    kind: ClassVar[str] = ""
    pool_id: str
    label: str | None = None  # a name the user knows the thing by, when known

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (trigger kwargs, XCom)."""
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Watch:
        """Rebuild from ``to_dict``; unknown keys (a newer release's) are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def describe(self) -> str:
        """What is watched, for messages: kind, name or id, pool."""
        raise NotImplementedError

    def ids(self) -> dict[str, str]:
        """The Celonis ids of what is watched (XCom ``celonis_ids``)."""
        raise NotImplementedError

    def url(self, base_url: str) -> str:
        """The Celonis UI page of what is watched."""
        raise NotImplementedError


@dataclass
class DataModelLoadWatch(_Watch):
    """A load of a process data model, read from last-load (with the load history as fallback).

    ``previous_load_id`` / ``previous_started_at``: what last-load showed before the task started its load;
    a load still showing them is not ours. ``load_id``: the load once identified. ``started_by_task``: the
    task started it, so not seeing it is bounded like a limbo status. ``finished_after`` (sensors): only
    a load that ended at or after this moment (epoch seconds) counts.
    """

    kind: ClassVar[str] = "data_model_load"
    data_model_id: str = ""
    previous_load_id: str | None = None
    previous_started_at: float | None = None
    load_id: str | None = None
    started_by_task: bool = False
    finished_after: float | None = None

    def describe(self) -> str:
        """E.g. ``data model 'O2C' (id …, pool …)``."""
        name = f"{self.label!r} " if self.label else ""
        return f"data model {name}(id {self.data_model_id}, pool {self.pool_id})"

    def ids(self) -> dict[str, str]:
        """Pool and data model ids."""
        return {"pool_id": self.pool_id, "data_model_id": self.data_model_id}

    def url(self, base_url: str) -> str:
        """The data model's page."""
        return endpoints.ui_data_model(base_url, self.pool_id, self.data_model_id)

    def _is_ours(self, load: DataModelLoad) -> bool:
        if self.load_id is not None and load.load_id is not None:
            return load.load_id == self.load_id
        if self.previous_load_id is not None and load.load_id is not None:
            return load.load_id != self.previous_load_id
        if self.previous_started_at is not None:
            return load.started_at is not None and load.started_at.timestamp() > self.previous_started_at
        return True

    def judge(self, load: DataModelLoad | None) -> Reading:
        """Judge last-load against the load this watch waits for (pure, apart from remembering its id)."""
        summary = {"load": load.to_dict() if load else None}
        if load is None or not self._is_ours(load):
            if self.load_id is not None or self.started_by_task:
                seen = "no longer shows" if self.load_id is not None else "does not show"
                return Reading(
                    WaitOutcome.LIMBO,
                    load.status.value if load else None,
                    f"Celonis {seen} the load this task started of {self.describe()}.",
                    details=summary,
                )
            return Reading(WaitOutcome.PENDING, load.status.value if load else None, details=summary)
        if self.load_id is None and load.load_id is not None:
            self.load_id = load.load_id
        reading = Reading(
            WaitOutcome.PENDING,
            load.status.value,
            load.message or "",
            details=summary,
            started_at=_epoch(load.started_at),
        )
        if load.status.is_limbo:
            reading.outcome = WaitOutcome.LIMBO
            reading.message = load.message or f"Celonis reports {load.raw_status or load.status.value}."
        elif not load.status.is_terminal:
            reading.running = True
        elif self.finished_after is not None and _ended_before(load.ended_at or load.started_at, self.finished_after):
            pass  # a sensor: this load ended before the moment asked for; wait for a newer one
        elif load.status is LoadStatus.WARNING:
            reading.outcome = WaitOutcome.WARNING
        else:
            reading.outcome = WaitOutcome.SUCCESS if load.status.is_success else WaitOutcome.FAILED
        return reading

    def read(self, hook: CelonisHook) -> Reading:
        """One status read with the sync hook."""
        return self.judge(hook.get_last_load(self.pool_id, self.data_model_id))

    async def aread(self, hook: CelonisAsyncHook) -> Reading:
        """One status read with the async hook."""
        return self.judge(await hook.get_last_load(self.pool_id, self.data_model_id))

    def cancel(self, hook: CelonisHook) -> None:
        """Cancel the running load (undocumented endpoint; best effort)."""
        hook.cancel_data_model_load(self.pool_id, self.data_model_id)

    async def acancel(self, hook: CelonisAsyncHook) -> None:
        """Cancel the running load from the triggerer."""
        await hook.cancel_data_model_load(self.pool_id, self.data_model_id)


@dataclass
class DataJobExecutionWatch(_Watch):
    """An execution of a data job, read from the job's execution items (never from the job's ``timeStamp``).

    Celonis's execute call returns no id, so the execution a task started is the oldest one that is newer
    than ``previous_execution_id`` / ``previous_started_at`` (the newest before the start).
    ``execution_id``: the execution once identified (or the running one re-attached to).
    """

    kind: ClassVar[str] = "data_job_execution"
    data_job_id: str = ""
    previous_execution_id: str | None = None
    previous_started_at: float | None = None
    execution_id: str | None = None
    started_by_task: bool = False
    finished_after: float | None = None

    def describe(self) -> str:
        """E.g. ``data job 'Extract orders' (id …, pool …)``."""
        name = f"{self.label!r} " if self.label else ""
        return f"data job {name}(id {self.data_job_id}, pool {self.pool_id})"

    def ids(self) -> dict[str, str]:
        """Pool and data job ids."""
        return {"pool_id": self.pool_id, "data_job_id": self.data_job_id}

    def url(self, base_url: str) -> str:
        """The data job's page."""
        return endpoints.ui_data_job(base_url, self.pool_id, self.data_job_id)

    def _is_new(self, item: ExecutionLog) -> bool:
        if item.id == self.previous_execution_id:
            return False
        if self.previous_started_at is not None:
            return item.started_at is not None and item.started_at.timestamp() > self.previous_started_at
        return True

    def _target(self, items: list[ExecutionLog]) -> ExecutionLog | None:
        if self.execution_id is not None:
            return next((item for item in items if item.id == self.execution_id), None)
        if self.started_by_task:
            new = [item for item in items if self._is_new(item)]
            return new[-1] if new else None  # items are newest first: ours is the oldest new one
        return items[0] if items else None  # a sensor: the newest execution

    def judge(self, items: list[ExecutionLog]) -> Reading:
        """Judge the job's newest executions against the one this watch waits for."""
        item = self._target(items)
        if item is None:
            if self.execution_id is not None or self.started_by_task:
                seen = "no longer shows" if self.execution_id is not None else "shows no"
                return Reading(
                    WaitOutcome.LIMBO, None, f"Celonis {seen} execution of {self.describe()} started by this task."
                )
            return Reading(WaitOutcome.PENDING, None)
        if self.execution_id is None and self.started_by_task:
            self.execution_id = item.id
        if item.name and not self.label:
            self.label = item.name
        reading = Reading(
            WaitOutcome.PENDING,
            item.raw_status or item.status.value,
            details={"execution": item.to_dict()},
            started_at=_epoch(item.started_at),
        )
        if item.status is ExecutionStatus.UNKNOWN:
            reading.outcome = WaitOutcome.LIMBO
            reading.message = f"Celonis reports the status {item.raw_status!r}."
        elif not item.status.is_terminal:
            reading.running = True
        elif self.finished_after is not None and _ended_before(item.ended_at or item.started_at, self.finished_after):
            pass
        else:
            reading.outcome = WaitOutcome.SUCCESS if item.status.is_success else WaitOutcome.FAILED
        return reading

    def read(self, hook: CelonisHook) -> Reading:
        """One status read with the sync hook; on failure, Celonis's reason from the execution log."""
        reading = self.judge(hook.get_data_job_executions(self.pool_id, self.data_job_id, limit=EXECUTION_WINDOW))
        if reading.outcome is WaitOutcome.FAILED:
            reading.message = _best_effort(
                lambda: hook.execution_failure_message(
                    self.pool_id, self.data_job_id, reading.details["execution"]["execution_id"]
                )
            )
        return reading

    async def aread(self, hook: CelonisAsyncHook) -> Reading:
        """One status read with the async hook; on failure, Celonis's reason from the execution log."""
        reading = self.judge(await hook.get_data_job_executions(self.pool_id, self.data_job_id, limit=EXECUTION_WINDOW))
        if reading.outcome is WaitOutcome.FAILED:
            try:
                reading.message = await hook.execution_failure_message(
                    self.pool_id, self.data_job_id, reading.details["execution"]["execution_id"]
                )
            except Exception:  # noqa: BLE001 - the status alone still ends the wait
                reading.message = ""
        return reading

    def cancel(self, hook: CelonisHook) -> None:
        """Cancel the running execution (undocumented endpoint; best effort)."""
        hook.cancel_data_job(self.pool_id, self.data_job_id)

    async def acancel(self, hook: CelonisAsyncHook) -> None:
        """Cancel the running execution from the triggerer."""
        await hook.cancel_data_job(self.pool_id, self.data_job_id)


@dataclass
class PushJobWatch(_Watch):
    """An executed Data Push job: DONE succeeds, ERROR and CANCELED fail, an unknown status is a limbo."""

    kind: ClassVar[str] = "push_job"
    push_job_id: str = ""
    table_name: str | None = None

    def describe(self) -> str:
        """E.g. ``push job … into table 'orders' (pool …)``."""
        table = f" into table {self.table_name!r}" if self.table_name else ""
        return f"push job {self.push_job_id}{table} (pool {self.pool_id})"

    def ids(self) -> dict[str, str]:
        """Pool and push job ids."""
        return {"pool_id": self.pool_id, "push_job_id": self.push_job_id}

    def url(self, base_url: str) -> str:
        """The data pool's page (push jobs have no page of their own)."""
        return endpoints.ui_data_pool(base_url, self.pool_id)

    def judge(self, job: PushJob) -> Reading:
        """Judge a push job's status."""
        reading = Reading(
            WaitOutcome.PENDING, job.status.value, "; ".join(job.logs), details={"push_logs": job.logs[-20:]}
        )
        if job.status is PushJobStatus.UNKNOWN:
            reading.outcome = WaitOutcome.LIMBO
        elif not job.status.is_terminal:
            reading.running = True
        else:
            reading.outcome = WaitOutcome.SUCCESS if job.status.is_success else WaitOutcome.FAILED
        return reading

    def read(self, hook: CelonisHook) -> Reading:
        """One status read with the sync hook."""
        return self.judge(hook.get_push_job(self.pool_id, self.push_job_id))

    async def aread(self, hook: CelonisAsyncHook) -> Reading:
        """One status read with the async hook."""
        return self.judge(await hook.get_push_job(self.pool_id, self.push_job_id))

    def cancel(self, hook: CelonisHook) -> None:
        """Cancel the push job."""
        hook.cancel_push_job(self.pool_id, self.push_job_id)

    async def acancel(self, hook: CelonisAsyncHook) -> None:
        """Cancel the push job from the triggerer."""
        await hook.cancel_push_job(self.pool_id, self.push_job_id)


Watch = DataModelLoadWatch | DataJobExecutionWatch | PushJobWatch
_WATCHES: dict[str, type[_Watch]] = {w.kind: w for w in (DataModelLoadWatch, DataJobExecutionWatch, PushJobWatch)}


def watch_from_dict(data: dict[str, Any]) -> Watch:
    """Rebuild any watch from its ``to_dict`` form."""
    try:
        cls = _WATCHES[data["kind"]]
    except (KeyError, TypeError):
        raise CelonisError(f"Not a Celonis watch: {data!r}") from None
    return cls.from_dict(data)  # type: ignore[return-value]


def _ended_before(moment: dt.datetime | None, epoch: float) -> bool:
    return moment is not None and moment.timestamp() < epoch


def _best_effort(read: Callable[[], str]) -> str:
    try:
        return read()
    except Exception:  # noqa: BLE001 - the status alone still ends the wait
        return ""


# --- the clock and the events ---------------------------------------------------------------------

EVENT_STATUSES = frozenset({"success", "warning", "error", "timeout"})
_EVENT_OF_OUTCOME = {WaitOutcome.SUCCESS: "success", WaitOutcome.WARNING: "warning", WaitOutcome.FAILED: "error"}
OUTCOME_OF_EVENT = {event: outcome for outcome, event in _EVENT_OF_OUTCOME.items()}


class WaitClock:
    """Ends a wait at its deadline, or when a limbo (see ``WaitOutcome.LIMBO``) lasts longer than allowed.

    ``unknown_status_timeout`` is that allowance: how long LOST_CONNECTION, an unknown status, or work
    Celonis does not (or no longer) show is waited on.

    The same clock runs in a worker (sync wait, poke-mode sensor) and in the triggerer, so both end a
    wait at the same moment with the same event. ``limbo_since`` lets a rescheduled sensor, which is a new
    process at every poke, start the limbo count at a moment it can know (see ``sensors``).
    """

    def __init__(self, end_time: float, poll_interval: float, unknown_status_timeout: float) -> None:
        self.end_time = end_time
        self.poll_interval = poll_interval
        self.unknown_status_timeout = unknown_status_timeout
        self.limbo_since: float | None = None

    def step(self, reading: Reading) -> dict[str, Any] | None:
        """The terminal event for this read, or None to read again after ``sleep_seconds()``."""
        if reading.outcome in _EVENT_OF_OUTCOME:
            return reading.as_event(_EVENT_OF_OUTCOME[reading.outcome])
        if reading.outcome is WaitOutcome.LIMBO:
            self.limbo_since = self.limbo_since or time.time()
            if time.time() - self.limbo_since > self.unknown_status_timeout:
                event = reading.as_event("error")
                event["message"] = (
                    f"{reading.message or 'Celonis reports ' + str(reading.celonis_status) + '.'} "
                    f"Gave up after {self.unknown_status_timeout:.0f} s (unknown_status_timeout)."
                )
                event["limbo"] = True
                return event
        else:
            self.limbo_since = None
        if time.time() >= self.end_time:
            return reading.as_event("timeout")
        return None

    def sleep_seconds(self) -> float:
        """How long to wait before the next read: the poll interval, or less near the deadline."""
        return min(self.poll_interval, max(0.0, self.end_time - time.time()) + 0.01)


def validated_event(event: Any) -> dict[str, Any]:
    """A trigger event checked before use: anything unexpected, or a wait that broke, fails the task."""
    if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
        raise CelonisError(f"Unexpected event from the Celonis trigger: {event!r}")
    if event["status"] == "error" and not event.get("celonis_status") and not event.get("limbo"):
        raise CelonisError(f"Waiting for Celonis failed: {event.get('message')}")
    return event


# --- starting work exactly once ------------------------------------------------------------------

# After a start call failed without a clear answer (no answer, a 5xx), how long to look for the work it may
# have started before starting again [guess]: Celonis registers a new load or execution asynchronously.
UNCLEAR_START_SETTLE_SECONDS = 20.0
# How often to look during that time: once a second finds the work soon after it shows, in at most 20 reads.
UNCLEAR_START_POLL_SECONDS = 1.0


def start_once(
    start: Callable[[], None],
    appeared: Callable[[], bool],
    *,
    attempts: int,
    log: logging.Logger | Any,
    settle_seconds: float = UNCLEAR_START_SETTLE_SECONDS,
    poll_seconds: float = UNCLEAR_START_POLL_SECONDS,
) -> bool:
    """Start work that must not run twice; returns whether an unclear start turned out to have started it.

    An unclear failure is never repeated blindly (no source shows Celonis refusing a second start):
    ``appeared()`` is asked for up to ``settle_seconds``; only when nothing new appeared is the start
    repeated, at most ``attempts`` times in all.
    """
    for attempt in range(1, attempts + 1):
        try:
            start()
            return False
        except CelonisApiError as exc:
            if not exc.may_have_acted or attempt == attempts:
                raise
            log.warning("The start got no clear answer (%s); checking whether Celonis started it.", exc)
            deadline = time.monotonic() + settle_seconds
            while True:
                if appeared():
                    log.info("Celonis did start it: waiting for that run, not starting another.")
                    return True
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))
            log.warning(
                "Nothing new appeared in %.0f s: starting again (attempt %d of %d).",
                settle_seconds,
                attempt + 1,
                attempts,
            )
    raise AssertionError("unreachable")  # pragma: no cover
