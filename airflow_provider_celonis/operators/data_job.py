"""Execute a Celonis data job in FULL or DELTA mode and wait for the execution."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.exceptions import CelonisApiError
from airflow_provider_celonis.links import (
    XCOM_DATA_JOB_URL,
    XCOM_DATA_POOL_URL,
    CelonisDataJobLink,
    CelonisDataPoolLink,
)
from airflow_provider_celonis.models import DataJobMode, WaitOutcome, judge_job
from airflow_provider_celonis.operators._waiting import CelonisWaitingOperator
from airflow_provider_celonis.triggers.celonis import CelonisDataJobTrigger
from airflow_provider_celonis.validation import DATA_JOB_ID_HINT, require_text

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class CelonisRunDataJobOperator(CelonisWaitingOperator):
    """Execute a data job and wait until the execution this task started ends.

    Celonis returns no execution id, so the task notes the job's execution before triggering and
    waits for a different one to finish. It fails with Celonis's message on FAIL, CANCEL or SKIPPED.

    :param pool_id: the data pool id. Templated.
    :param data_job_id: the data job id (``jobId`` in the data job's Celonis UI URL). Templated.
    :param mode: ``FULL`` (extract all tables) or ``DELTA`` (only what changed). Templated.
    :param celonis_conn_id: the Airflow connection of type ``celonis``. Templated.

    The waiting parameters (``wait_for_completion``, ``poll_interval``, ``timeout``, ``limbo_timeout``,
    ``reattach``, ``cancel_on_kill``, ``deferrable``) mean what they mean for
    ``CelonisReloadDataModelOperator``.
    """

    template_fields: Sequence[str] = ("celonis_conn_id", "pool_id", "data_job_id", "mode")
    operator_extra_links = (CelonisDataJobLink(), CelonisDataPoolLink())

    def __init__(self, *, data_job_id: str, mode: str = "DELTA", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_job_id = data_job_id
        self.mode = mode

    def _validate(self) -> None:
        super()._validate()
        require_text("data_job_id", self.data_job_id, DATA_JOB_ID_HINT)
        DataJobMode.parse(self.mode)

    def start(self, context: Context) -> dict[str, Any]:
        """Execute the job (or re-attach to its running execution)."""
        hook = self.hook
        mode = DataJobMode.parse(self.mode)
        ti = context["ti"]
        ti.xcom_push(key=XCOM_DATA_POOL_URL, value=hook.data_pool_url(self.pool_id))
        ti.xcom_push(key=XCOM_DATA_JOB_URL, value=hook.data_job_url(self.pool_id, self.data_job_id))
        self.log.info("Celonis data job: %s", hook.data_job_url(self.pool_id, self.data_job_id))
        before = hook.get_data_job(self.pool_id, self.data_job_id)
        state = {"pool_id": self.pool_id, "data_job_id": self.data_job_id, "mode": mode.value}
        if before.current_execution_id and not before.status.is_terminal and self.reattach:
            self.log.info("Execution %s is already running: waiting for it instead of starting another.",
                          before.current_execution_id)
            return {**state, "reattached": True, "previous_execution": None, "waiting_for_new": False}
        try:
            self.log.info("Executing data job %s in %s mode.", self.data_job_id, mode.value)
            hook.execute_data_job(self.pool_id, self.data_job_id, mode)
        except CelonisApiError as exc:
            if not (exc.is_conflict and self.reattach):
                raise
            self.log.info("Celonis says the job is already running (409): waiting for that execution.")
            running = hook.get_data_job(self.pool_id, self.data_job_id)
            if running.status.is_terminal or running.execution_marker == before.execution_marker:
                # Not visible yet (registered with a delay): it is the first execution after the one seen before.
                return {**state, "reattached": True, "previous_execution": before.execution_marker,
                        "waiting_for_new": True}
            return {**state, "reattached": True, "previous_execution": None, "waiting_for_new": False}
        return {**state, "reattached": False, "previous_execution": before.execution_marker, "waiting_for_new": True}

    def poll(self, state: dict[str, Any]) -> tuple[WaitOutcome, dict[str, Any]]:
        """Read the job and judge its latest execution against the one this task started."""
        job = self.hook.get_data_job(self.pool_id, self.data_job_id)
        return judge_job(job, previous_execution=state.get("previous_execution"),
                         waiting_for_new=bool(state.get("waiting_for_new")))

    def make_trigger(self, state: dict[str, Any], end_time: float) -> CelonisDataJobTrigger:
        """The trigger waiting for the same execution."""
        return CelonisDataJobTrigger(
            celonis_conn_id=self.celonis_conn_id, pool_id=self.pool_id, data_job_id=self.data_job_id,
            previous_execution=state.get("previous_execution"), waiting_for_new=bool(state.get("waiting_for_new")),
            end_time=end_time, poll_interval=self.poll_interval, limbo_timeout=self.limbo_timeout,
            cancel_on_kill=self.cancel_on_kill,
        )

    def describe_failure(self, details: dict[str, Any]) -> str:
        """The message of the failed execution, from the (undocumented) execution log."""
        try:
            return self.hook.latest_execution_message(self.pool_id, self.data_job_id)
        except Exception:  # noqa: BLE001 - the status alone still fails the task
            self.log.warning("Could not read the execution log of data job %s.", self.data_job_id, exc_info=True)
            return ""

    def cancel(self) -> None:
        """Cancel the running execution (undocumented endpoint; best effort)."""
        self.hook.cancel_data_job(self.pool_id, self.data_job_id)
