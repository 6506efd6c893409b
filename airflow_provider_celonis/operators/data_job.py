"""Execute a Celonis data job in FULL or DELTA mode and wait for the execution."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.discovery import one_of, resolve_data_job_id, resolve_job_selection
from airflow_provider_celonis.exceptions import CelonisApiError, CelonisParameterError
from airflow_provider_celonis.links import (
    XCOM_DATA_JOB_URL,
    XCOM_DATA_POOL_URL,
    CelonisDataJobLink,
    CelonisDataPoolLink,
)
from airflow_provider_celonis.models import DataJobMode
from airflow_provider_celonis.operators._waiting import CelonisStartOperator
from airflow_provider_celonis.waiting import DataJobExecutionWatch, WaitOutcome

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class CelonisRunDataJobOperator(CelonisStartOperator):
    """Execute a data job and wait until the execution this task started ends.

    Celonis returns no execution id, so the task notes the job's newest execution before starting and
    waits for the first one after it (read from the execution items, never from the job's ``timeStamp``).
    It fails on FAIL, CANCEL or SKIPPED with Celonis's reason, read from the failed tasks' log.

    :param data_job_id: the data job id (``jobId`` in the data job's Celonis UI URL). Templated.
    :param data_job_name: or the data job's name (one lookup; an unknown or ambiguous name fails listing
        near matches or the ids). Templated.
    :param mode: ``FULL`` (extract all tables) or ``DELTA`` (only what changed). Templated.
    :param extractions: run only these extraction tasks (names or ids; ``{"extraction": name, "tables":
        [table names]}`` for chosen tables). ``None`` (default): all; ``[]``: none. Templated.
    :param transformations: run only these transformation tasks (names or ids); ``None``: all. Templated.
    :param data_models: run only these data model loads of the job (data model names or ids;
        ``{"data_model": name, "tables": [...]}``); ``None``: all. Templated.

    The other parameters (``pool_id`` or ``pool_name``, ``celonis_conn_id``, the waiting parameters, ``reattach``,
    ``start_check_seconds``, …) are those of
    [CelonisStartOperator][airflow_provider_celonis.operators._waiting.CelonisStartOperator] and
    [CelonisWaitingOperator][airflow_provider_celonis.operators._waiting.CelonisWaitingOperator].
    """

    template_fields: Sequence[str] = (
        "celonis_conn_id",
        "pool_id",
        "pool_name",
        "data_job_id",
        "data_job_name",
        "mode",
        "extractions",
        "transformations",
        "data_models",
    )
    operator_extra_links = (CelonisDataJobLink(), CelonisDataPoolLink())

    def __init__(
        self,
        *,
        data_job_id: str | None = None,
        data_job_name: str | None = None,
        mode: str = "DELTA",
        extractions: Sequence[Any] | None = None,
        transformations: Sequence[str] | None = None,
        data_models: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_job_id = data_job_id
        self.data_job_name = data_job_name
        self.mode = mode
        self.extractions = extractions
        self.transformations = transformations
        self.data_models = data_models

    @property
    def runs_part(self) -> bool:
        """Whether only chosen extractions, transformations or data model loads run."""
        return any(part is not None for part in (self.extractions, self.transformations, self.data_models))

    def _validate(self) -> None:
        super()._validate()
        one_of("data_job_id", self.data_job_id, "data_job_name", self.data_job_name)
        DataJobMode.parse(self.mode)
        for name in ("extractions", "transformations", "data_models"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise CelonisParameterError(f"{name} must be a list, not the string {value!r}: write [{value!r}].")
        if self.runs_part and self.extractions == [] and self.transformations == [] and self.data_models == []:
            raise CelonisParameterError(
                "extractions, transformations and data_models are all empty: this runs nothing. "
                "Leave one out (None) to run all of that kind."
            )

    def resolve_names(self) -> None:
        """Pool and data job names become ids."""
        super().resolve_names()
        self.data_job_id = resolve_data_job_id(self.hook, self.pool_id, self.data_job_id, self.data_job_name)

    def start(self, context: Context) -> tuple[DataJobExecutionWatch, dict[str, Any]]:
        """Execute the job, all of it or the chosen parts (or re-attach to its running execution)."""
        hook = self.hook
        mode = DataJobMode.parse(self.mode)
        ti = context["ti"]
        ti.xcom_push(key=XCOM_DATA_POOL_URL, value=hook.data_pool_url(self.pool_id))
        ti.xcom_push(key=XCOM_DATA_JOB_URL, value=hook.data_job_url(self.pool_id, self.data_job_id))
        self.log.info("Celonis data job: %s", hook.data_job_url(self.pool_id, self.data_job_id))
        selection = None
        if self.runs_part:
            selection = resolve_job_selection(
                hook,
                self.pool_id,
                self.data_job_id,
                mode=mode,
                extractions=self.extractions,
                transformations=self.transformations,
                data_models=self.data_models,
            )
        summary = {
            "pool_id": self.pool_id,
            "data_job_id": self.data_job_id,
            "mode": mode.value,
            "selection": selection.to_body() if selection else None,
        }
        newest = hook.get_data_job_executions(self.pool_id, self.data_job_id, limit=1)
        before = newest[0] if newest else None
        watch = DataJobExecutionWatch(
            pool_id=self.pool_id,
            data_job_id=self.data_job_id,
            started_by_task=True,
            label=before.name if before else None,
        )
        if before is not None and not before.status.is_terminal and self.reattach:
            self.log.info("Execution %s is already running: waiting for it instead of starting another.", before.id)
            watch.execution_id = before.id
            return watch, {**summary, "reattached": True}
        if before is not None:
            watch.previous_execution_id = before.id
            watch.previous_started_at = before.started_at.timestamp() if before.started_at else None

        def execute() -> None:
            self.log.info(
                "Executing data job %s in %s mode%s.",
                self.data_job_id,
                mode.value,
                " (chosen parts only)" if selection else "",
            )
            if selection:
                hook.execute_data_job_subset(self.pool_id, self.data_job_id, selection)
            else:
                hook.execute_data_job(self.pool_id, self.data_job_id, mode)

        def appeared() -> bool:
            probe = DataJobExecutionWatch.from_dict(watch.to_dict())
            return (
                probe.judge(hook.get_data_job_executions(self.pool_id, self.data_job_id)).outcome
                is not WaitOutcome.LIMBO
            )

        try:
            self.start_once(execute, appeared)
        except CelonisApiError as exc:
            if not (exc.is_conflict and self.reattach):
                raise
            # Only with a Celonis that refuses a second start (start_conflict=409): wait for the running one,
            # which is the first execution after the one seen before (it may not be visible yet).
            self.log.info("Celonis says the job is already running (409): waiting for that execution.")
            return watch, {**summary, "reattached": True}
        return watch, {**summary, "reattached": False}
