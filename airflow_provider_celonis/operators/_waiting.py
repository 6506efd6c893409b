"""The trigger-then-wait lifecycle shared by the reload and data job operators.

start (or re-attach) -> push ids and UI URLs to XCom -> wait (sync poll, or defer to a trigger) ->
judge the outcome with ``models`` -> return a small JSON summary, or fail with Celonis's message.
Sync and deferred waits go through the same outcome functions, so they behave the same.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, conf

from airflow_provider_celonis.exceptions import CelonisError, CelonisRemoteFailure
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.models import OUTCOME_OF_EVENT, WaitClock, WaitOutcome
from airflow_provider_celonis.triggers.celonis import validated_event
from airflow_provider_celonis.validation import POOL_ID_HINT, require_positive_seconds, require_text

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context
    from airflow.triggers.base import BaseTrigger

XCOM_CELONIS_IDS = "celonis_ids"
DEFAULT_POLL_INTERVAL = 30.0
DEFAULT_TIMEOUT = 6 * 3600.0
DEFAULT_LIMBO_TIMEOUT = 900.0


class CelonisWaitingOperator(BaseOperator):
    """Base class: start remote work in Celonis and wait for it (not used directly)."""

    template_fields: Sequence[str] = ("celonis_conn_id", "pool_id")
    ui_color = "#1f4fff"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        pool_id: str,
        celonis_conn_id: str = CelonisHook.default_conn_name,
        wait_for_completion: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        limbo_timeout: float = DEFAULT_LIMBO_TIMEOUT,
        fail_on_warning: bool = False,
        reattach: bool = True,
        cancel_on_kill: bool = True,
        api_retry_limit: int = 6,
        api_retry_delay: float = 1.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pool_id = pool_id
        self.celonis_conn_id = celonis_conn_id
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.limbo_timeout = limbo_timeout
        self.fail_on_warning = fail_on_warning
        self.reattach = reattach
        self.cancel_on_kill = cancel_on_kill
        self.api_retry_limit = api_retry_limit
        self.api_retry_delay = api_retry_delay
        self.deferrable = deferrable
        self._started = False
        if deferrable and not wait_for_completion:
            self.log.warning("deferrable=True has no effect when wait_for_completion=False.")

    # --- what subclasses provide -----------------------------------------------------------------

    def start(self, context: Context) -> dict[str, Any]:
        """Trigger the work (or re-attach to a running one); return what identifies it (JSON-able)."""
        raise NotImplementedError

    def poll(self, state: dict[str, Any]) -> tuple[WaitOutcome, dict[str, Any]]:
        """One status read: the outcome and the details for the log and the summary."""
        raise NotImplementedError

    def make_trigger(self, state: dict[str, Any], end_time: float) -> BaseTrigger:
        """The trigger that waits for the same work in the triggerer."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Cancel the remote work."""
        raise NotImplementedError

    def describe_failure(self, details: dict[str, Any]) -> str:
        """Celonis's reason for a failure."""
        return details.get("message") or ""

    # --- lifecycle ------------------------------------------------------------------------------

    @cached_property
    def hook(self) -> CelonisHook:
        """The sync hook for this task's connection."""
        return CelonisHook(self.celonis_conn_id, retry_limit=self.api_retry_limit, retry_delay=self.api_retry_delay)

    def _validate(self) -> None:
        if isinstance(self.api_retry_limit, bool) or not isinstance(self.api_retry_limit, int) \
                or self.api_retry_limit < 1:
            raise ValueError(f"api_retry_limit must be a whole number of attempts, at least 1, not "
                             f"{self.api_retry_limit!r}.")
        if not isinstance(self.api_retry_delay, int | float) or self.api_retry_delay < 0:
            raise ValueError(f"api_retry_delay must be a number of seconds, 0 or more, not {self.api_retry_delay!r}.")
        for name in ("poll_interval", "timeout", "limbo_timeout"):
            require_positive_seconds(name, getattr(self, name))
        require_text("pool_id", self.pool_id, POOL_ID_HINT)

    def execute(self, context: Context) -> dict[str, Any]:
        """Start, then wait in the way configured."""
        self._validate()
        started_at = time.time()
        state = self.start(context)
        self._started = True
        state["started_at_epoch"] = started_at
        # The ids go to XCom before any wait, so downstream tasks and the logs have them even on failure.
        context["ti"].xcom_push(key=XCOM_CELONIS_IDS, value={k: v for k, v in state.items() if k.endswith("_id")})
        if not self.wait_for_completion:
            return {"status": "started", **state}
        clock = WaitClock(started_at + self.timeout, self.poll_interval, self.limbo_timeout)
        outcome, details = self.poll(state)
        event = clock.step(outcome, details)
        if event is None and self.deferrable:
            # timeout=None: the trigger's own deadline fires a "timeout" event, so execute_complete runs
            # and cancels the work; a framework-level defer timeout would skip it.
            self.defer(trigger=self.make_trigger(state, clock.end_time), method_name="execute_complete",
                       kwargs={"state": state}, timeout=None)
        while event is None:
            self.log.info("Celonis status: %s; next check in %.0f s.", details["celonis_status"], self.poll_interval)
            time.sleep(clock.sleep_seconds())
            outcome, details = self.poll(state)
            event = clock.step(outcome, details)
        return self.execute_complete(context, event, state)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None,
                         state: dict[str, Any] | None = None) -> dict[str, Any]:
        """End the wait from its terminal event: the trigger's after a deferral, the clock's in a worker."""
        event = validated_event(event)
        if event["status"] == "timeout":
            self._cancel_quietly("timeout")
            raise CelonisError(f"Timed out after {self.timeout:.0f} s waiting for Celonis; the work was cancelled.")
        return self._finish(OUTCOME_OF_EVENT[event["status"]], event, state or {})

    def _finish(self, outcome: WaitOutcome, details: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        summary = {"status": details.get("celonis_status"), **state, **{
            k: v for k, v in details.items() if k not in ("status", "message", "celonis_status")}}
        summary["duration_seconds"] = round(time.time() - state.get("started_at_epoch", time.time()), 3)
        if outcome is WaitOutcome.SUCCESS:
            self.log.info("Celonis reports %s.", details.get("celonis_status"))
            return summary
        reason = self.describe_failure(details)
        if outcome is WaitOutcome.WARNING:
            if self.fail_on_warning:
                raise CelonisRemoteFailure(f"Celonis finished with WARNING (fail_on_warning=True): {reason}")
            self.log.warning("Celonis finished with WARNING: %s", reason)
            return summary
        self.log.error("Celonis reports %s: %s", details.get("celonis_status"), reason)
        raise CelonisRemoteFailure(f"Celonis reports {details.get('celonis_status')}: {reason or 'no message'}")

    def _cancel_quietly(self, why: str) -> None:
        if not self.cancel_on_kill:
            return
        try:
            self.cancel()
            self.log.warning("Cancelled the Celonis work (%s).", why)
        except Exception:  # noqa: BLE001 - best effort, never hide the original failure
            self.log.warning("Could not cancel the Celonis work (%s).", why, exc_info=True)

    def on_kill(self) -> None:
        """The task was killed while polling: cancel the remote work where the API allows."""
        if self._started:
            self._cancel_quietly("task killed")
