"""The start-then-wait lifecycle shared by the reload, data job and push operators.

start (or re-attach) -> push ids and UI URLs to XCom -> wait (sync poll, or defer to a trigger) with the
watch that ``start`` returned -> return a small JSON summary, or fail naming what failed and why.
What an answer means is decided in ``waiting``, so sync and deferred waits end the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, conf

from airflow_provider_celonis.discovery import one_of, resolve_pool_id
from airflow_provider_celonis.exceptions import CelonisError, CelonisParameterError, CelonisRemoteFailure
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.retry import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT
from airflow_provider_celonis.triggers.celonis import trigger_for
from airflow_provider_celonis.validation import renamed_parameter, require_positive_seconds
from airflow_provider_celonis.waiting import (
    DEFAULT_UNKNOWN_STATUS_TIMEOUT,
    OUTCOME_OF_EVENT,
    UNCLEAR_START_POLL_SECONDS,
    UNCLEAR_START_SETTLE_SECONDS,
    WaitClock,
    WaitOutcome,
    Watch,
    start_once,
    validated_event,
    watch_from_dict,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# XCom key of the Celonis ids a task works on, pushed before any wait so they are there even on failure.
XCOM_CELONIS_IDS = "celonis_ids"
# Status reads 30 s apart: a load or a data job runs minutes to hours, and the API budget is shared by the team.
DEFAULT_POLL_INTERVAL = 30.0
# 6 h: longer than a data model load or a data job normally runs, so only work that hangs is cancelled.
DEFAULT_TIMEOUT = 6 * 3600.0


class CelonisWaitingOperator(BaseOperator):
    """Base class: start remote work in Celonis and wait for it (not used directly).

    Its parameters are those of every operator that waits (reload, data job, push); the operators' own
    docstrings document only what they add.

    :param pool_id: the data pool id (from the Celonis UI URL ``…/integration/ui/pools/<poolId>/``). Templated.
    :param pool_name: or the data pool's name as shown in Celonis (one lookup before anything starts; an
        unknown name fails listing near matches, an ambiguous one listing the ids). Templated.
    :param celonis_conn_id: the Airflow connection of type ``celonis``. Templated.
    :param wait_for_completion: wait for the work to end (default True); False: return once it started.
    :param poll_interval: seconds between status reads (default 30; the API budget is shared).
    :param timeout: seconds to wait before cancelling the work and failing (default 6 hours).
    :param unknown_status_timeout: seconds LOST_CONNECTION, an unknown status, or work Celonis does not (or
        no longer) show is tolerated before failing (default 900).
    :param cancel_on_kill: cancel the work when the task is killed or times out (default True).
    :param api_retry_limit: attempts per Celonis call for transient failures (5xx, 429, network), at least 1
        (default 6).
    :param api_retry_delay: the first backoff wait in seconds, doubling per attempt (default 1).
    :param deferrable: wait in the triggerer, holding no worker slot (default ``[operators] default_deferrable``).
    :param limbo_timeout: the old name of ``unknown_status_timeout``, still accepted with a deprecation warning.
    """

    fail_on_warning = False  # only work that can end with WARNING (a data model load) offers the choice

    template_fields: Sequence[str] = ("celonis_conn_id", "pool_id", "pool_name")
    ui_color = "#1f4fff"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        pool_id: str | None = None,
        pool_name: str | None = None,
        celonis_conn_id: str = CelonisHook.default_conn_name,
        wait_for_completion: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        unknown_status_timeout: float = DEFAULT_UNKNOWN_STATUS_TIMEOUT,
        cancel_on_kill: bool = True,
        api_retry_limit: int = DEFAULT_RETRY_LIMIT,
        api_retry_delay: float = DEFAULT_RETRY_DELAY,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        limbo_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pool_id = pool_id
        self.pool_name = pool_name
        self.celonis_conn_id = celonis_conn_id
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.unknown_status_timeout = renamed_parameter(
            "limbo_timeout", limbo_timeout, "unknown_status_timeout", unknown_status_timeout
        )
        self.cancel_on_kill = cancel_on_kill
        self.api_retry_limit = api_retry_limit
        self.api_retry_delay = api_retry_delay
        self.deferrable = deferrable
        self._watch: Watch | None = None
        if deferrable and not wait_for_completion:
            self.log.warning("deferrable=True has no effect when wait_for_completion=False.")

    # --- what subclasses provide -----------------------------------------------------------------

    def start(self, context: Context) -> tuple[Watch | None, dict[str, Any]]:
        """Start the work (or re-attach to a running one): the watch that follows it, and summary fields.

        No watch means nothing was started (a push of no rows): the task succeeds with status SKIPPED.
        """
        raise NotImplementedError

    # --- lifecycle ------------------------------------------------------------------------------

    @cached_property
    def hook(self) -> CelonisHook:
        """The sync hook for this task's connection."""
        return CelonisHook(self.celonis_conn_id, retry_limit=self.api_retry_limit, retry_delay=self.api_retry_delay)

    def _validate(self) -> None:
        if (
            isinstance(self.api_retry_limit, bool)
            or not isinstance(self.api_retry_limit, int)
            or self.api_retry_limit < 1
        ):
            raise CelonisParameterError(
                f"api_retry_limit must be a whole number of attempts, at least 1, not {self.api_retry_limit!r}."
            )
        if not isinstance(self.api_retry_delay, int | float) or self.api_retry_delay < 0:
            raise CelonisParameterError(
                f"api_retry_delay must be a number of seconds, 0 or more, not {self.api_retry_delay!r}."
            )
        for name in ("poll_interval", "timeout", "unknown_status_timeout"):
            require_positive_seconds(name, getattr(self, name))
        one_of("pool_id", self.pool_id, "pool_name", self.pool_name)

    def resolve_names(self) -> None:
        """Names given instead of ids become ids, one listing call each (before anything starts)."""
        self.pool_id = resolve_pool_id(self.hook, self.pool_id, self.pool_name)

    def execute(self, context: Context) -> dict[str, Any]:
        """Start, then wait in the way configured."""
        self._validate()
        self.resolve_names()
        started_at = time.time()
        watch, summary = self.start(context)
        self._watch = watch
        summary = {**summary, "started_at_epoch": started_at}
        if watch is None:
            return {"status": "SKIPPED", **summary}
        # The ids go to XCom before any wait, so downstream tasks and the logs have them even on failure.
        context["ti"].xcom_push(key=XCOM_CELONIS_IDS, value=watch.ids())
        if not self.wait_for_completion:
            return {"status": "started", **summary}
        clock = WaitClock(started_at + self.timeout, self.poll_interval, self.unknown_status_timeout)
        reading = watch.read(self.hook)
        event = clock.step(reading)
        if event is None and self.deferrable:
            # timeout=None: the trigger's own deadline fires a "timeout" event, so execute_complete runs
            # and cancels the work; a framework-level defer timeout would skip it.
            self.defer(
                trigger=trigger_for(watch, {**self._trigger_settings(clock.end_time), "summary": summary}),
                method_name="execute_complete",
                kwargs={"summary": summary},
                timeout=None,
            )
        while event is None:
            self.log.info(
                "Celonis status of the %s: %s; next check in %.3g s.",
                watch.describe(),
                reading.celonis_status or "not visible yet",
                self.poll_interval,
            )
            time.sleep(clock.sleep_seconds())
            reading = watch.read(self.hook)
            event = clock.step(reading)
        return self._finish(context, {**event, "watch": watch.to_dict()}, summary)

    def _trigger_settings(self, end_time: float) -> dict[str, Any]:
        return {
            "celonis_conn_id": self.celonis_conn_id,
            "end_time": end_time,
            "poll_interval": self.poll_interval,
            "unknown_status_timeout": self.unknown_status_timeout,
            "cancel_on_kill": self.cancel_on_kill,
            "retry_limit": self.api_retry_limit,
            "retry_delay": self.api_retry_delay,
        }

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        summary: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Resume after the trigger's terminal event (``state``: tasks deferred by the previous release)."""
        event = validated_event(event)
        return self._finish(context, event, summary or state or event.get("summary") or {})

    def _finish(self, context: Context, event: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
        watch = watch_from_dict(event["watch"]) if event.get("watch") else self._watch
        if watch is not None:
            # After a deferral this is a fresh operator: names given instead of ids were resolved in the
            # first run only, and the watch knows the ids.
            for name, value in watch.ids().items():
                setattr(self, name, value)
        what = watch.describe() if watch else "Celonis work"
        link = f" See {watch.url(self.hook.base_url)}" if watch else ""
        if event["status"] == "timeout":
            if event.get("running"):
                self._cancel_quietly("timeout", watch)
                done = "it was cancelled"
            else:
                done = "Celonis did not show it running, so nothing was cancelled"
            raise CelonisError(f"Timed out after {self.timeout:.0f} s waiting for the {what}; {done}.{link}")
        outcome = OUTCOME_OF_EVENT[event["status"]]
        result = {
            "status": event.get("celonis_status"),
            **summary,
            **{
                k: v
                for k, v in event.items()
                if k not in ("status", "message", "celonis_status", "running", "watch", "summary")
            },
        }
        result["duration_seconds"] = round(time.time() - summary.get("started_at_epoch", time.time()), 3)
        reason = event.get("message") or "Celonis gave no reason"
        if outcome is WaitOutcome.SUCCESS:
            self.log.info("Celonis reports %s for the %s.", event.get("celonis_status"), what)
            return result
        if outcome is WaitOutcome.WARNING:
            if self.fail_on_warning:
                raise CelonisRemoteFailure(f"The {what} finished with WARNING (fail_on_warning=True): {reason}.{link}")
            self.log.warning("The %s finished with WARNING: %s", what, reason)
            return result
        status = event.get("celonis_status") or "no status"
        message = f"The {what} ended {status}: {reason}" if event.get("celonis_status") else reason
        self.log.error("%s", message)
        raise CelonisRemoteFailure(f"{message}{link}")

    def _cancel_quietly(self, why: str, watch: Watch | None = None) -> None:
        watch = watch or self._watch
        if not self.cancel_on_kill or watch is None:
            return
        try:
            watch.cancel(self.hook)
            self.log.warning("Cancelled the %s (%s).", watch.describe(), why)
        except Exception:  # noqa: BLE001 - best effort, never hide the original failure
            self.log.warning("Could not cancel the %s (%s).", watch.describe(), why, exc_info=True)

    def on_kill(self) -> None:
        """The task was killed while polling: cancel the remote work where the API allows."""
        if self._watch is not None:
            self._cancel_quietly("task killed")


class CelonisStartOperator(CelonisWaitingOperator):
    """Base class of the operators that start a load or a data job: re-attach, WARNING policy, safe starts.

    :param reattach: if the work (a load of this data model, an execution of this data job) is already
        running, wait for it instead of starting another (default True; this makes an Airflow retry safe).
    :param fail_on_warning: fail when the work ends with WARNING (default False: succeed, log a warning).
    :param start_check_seconds: after a start that got no clear answer (no answer, a 5xx), how long to look
        for the work it may have started before starting again (default 20; a start is never repeated blindly).

    The other parameters are those of
    [CelonisWaitingOperator][airflow_provider_celonis.operators._waiting.CelonisWaitingOperator].
    """

    def __init__(
        self,
        *,
        reattach: bool = True,
        fail_on_warning: bool = False,
        start_check_seconds: float = UNCLEAR_START_SETTLE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.reattach = reattach
        self.fail_on_warning = fail_on_warning
        self.start_check_seconds = start_check_seconds

    def _validate(self) -> None:
        super()._validate()
        require_positive_seconds("start_check_seconds", self.start_check_seconds)

    def start_once(self, start: Callable[[], None], appeared: Callable[[], bool]) -> bool:
        """Start work that must not run twice (``waiting.start_once``); True if an unclear start had started it."""
        return start_once(
            start,
            appeared,
            attempts=self.api_retry_limit,
            log=self.log,
            settle_seconds=self.start_check_seconds,
            poll_seconds=min(UNCLEAR_START_POLL_SECONDS, self.poll_interval),
        )
