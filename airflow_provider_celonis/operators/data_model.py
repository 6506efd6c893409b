"""Reload a Celonis process data model, completely or only some tables, and wait for the load."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.exceptions import CelonisApiError
from airflow_provider_celonis.links import (
    XCOM_DATA_MODEL_URL,
    XCOM_DATA_POOL_URL,
    CelonisDataModelLink,
    CelonisDataPoolLink,
)
from airflow_provider_celonis.models import DataModelLoad, WaitOutcome, epoch_to_datetime, judge_load
from airflow_provider_celonis.operators._waiting import CelonisWaitingOperator
from airflow_provider_celonis.triggers.celonis import CelonisDataModelLoadTrigger
from airflow_provider_celonis.validation import DATA_MODEL_ID_HINT, require_text

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class CelonisReloadDataModelOperator(CelonisWaitingOperator):
    """Start a complete or partial load of a process data model and wait until Celonis reports its end.

    The wait follows the load this task started (never the previous one), holds no worker slot when
    ``deferrable=True``, and fails with Celonis's status and message when the load fails.

    :param pool_id: the data pool id (from the Celonis UI URL). Templated.
    :param data_model_id: the process data model id. Templated.
    :param tables: ``None`` for a complete load, or table ids, names or aliases for a partial load
        (names are resolved first; an unknown name fails before anything starts). Templated.
    :param celonis_conn_id: the Airflow connection of type ``celonis``. Templated.
    :param wait_for_completion: wait for the load to end (default True).
    :param poll_interval: seconds between status reads (default 30; the API budget is shared).
    :param timeout: seconds to wait before cancelling the load and failing (default 6 hours).
    :param limbo_timeout: seconds a LOST_CONNECTION/unknown status is tolerated before failing (default 900).
    :param fail_on_warning: fail when the load ends with WARNING (default False: succeed, log a warning).
    :param reattach: if a load of this model is already running, wait for it instead of starting
        another (default True; this is what makes an Airflow retry safe).
    :param cancel_on_kill: cancel the load when the task is killed or times out (default True).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("celonis_conn_id", "pool_id", "data_model_id", "tables")
    operator_extra_links = (CelonisDataModelLink(), CelonisDataPoolLink())

    def __init__(self, *, data_model_id: str, tables: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_model_id = data_model_id
        self.tables = tables

    def _validate(self) -> None:
        super()._validate()
        require_text("data_model_id", self.data_model_id, DATA_MODEL_ID_HINT)
        if self.tables is not None:
            if isinstance(self.tables, str) or not all(isinstance(t, str) and t.strip() for t in self.tables):
                raise ValueError(f"tables must be a list of table ids or names, not {self.tables!r}.")
            if not self.tables:
                raise ValueError("tables is an empty list: pass None for a complete load, or name the tables.")

    def start(self, context: Context) -> dict[str, Any]:
        """Resolve table names, then start the load (or re-attach to a running one)."""
        hook = self.hook
        table_ids = hook.resolve_table_ids(self.pool_id, self.data_model_id, self.tables) if self.tables else None
        ti = context["ti"]
        ti.xcom_push(key=XCOM_DATA_POOL_URL, value=hook.data_pool_url(self.pool_id))
        ti.xcom_push(key=XCOM_DATA_MODEL_URL, value=hook.data_model_url(self.pool_id, self.data_model_id))
        self.log.info("Celonis data model: %s", hook.data_model_url(self.pool_id, self.data_model_id))
        before = hook.get_last_load(self.pool_id, self.data_model_id)
        if before is not None and not before.status.is_terminal and self.reattach:
            self.log.info("A load (%s, %s) is already running: waiting for it instead of starting another.",
                          before.load_id, before.status.value)
            return self._state(table_ids, reattached=True, reference=before)
        try:
            if table_ids:
                self.log.info("Starting a partial load of %d table(s): %s", len(table_ids), table_ids)
                hook.trigger_partial_data_model_load(self.pool_id, self.data_model_id, table_ids)
            else:
                self.log.info("Starting a complete load of data model %s.", self.data_model_id)
                hook.trigger_data_model_load(self.pool_id, self.data_model_id)
        except CelonisApiError as exc:
            if not (exc.is_conflict and self.reattach):
                raise
            running = hook.get_last_load(self.pool_id, self.data_model_id)
            self.log.info("Celonis says a load is already running (409): waiting for it.")
            if running is None or running.status.is_terminal:
                # The running load is not visible yet (Celonis registers loads with a delay): it started after
                # our pre-check, so it is the first load that is not the one we saw before.
                return {**self._state(table_ids, reattached=False, reference=before), "reattached": True}
            return self._state(table_ids, reattached=True, reference=running)
        return self._state(table_ids, reattached=False, reference=before)

    def _state(self, table_ids: list[str] | None, *, reattached: bool,
               reference: DataModelLoad | None) -> dict[str, Any]:
        """What identifies our load: the load before the trigger, or the running load we re-attach to."""
        state: dict[str, Any] = {"pool_id": self.pool_id, "data_model_id": self.data_model_id,
                                 "table_ids": table_ids, "reattached": reattached,
                                 "previous_load_id": None, "previous_started_at": None}
        if reference is not None and reference.started_at is not None:
            started = reference.started_at.timestamp()
            # Re-attached: the running load is ours, so only what started before it is excluded.
            state["previous_started_at"] = started - 0.001 if reattached else started
        if reference is not None and not reattached:
            state["previous_load_id"] = reference.load_id
        return state

    def poll(self, state: dict[str, Any]) -> tuple[WaitOutcome, dict[str, Any]]:
        """Read last-load and judge it against the load this task started."""
        load = self.hook.get_last_load(self.pool_id, self.data_model_id)
        return judge_load(load, previous_load_id=state.get("previous_load_id"),
                          previous_started_at=epoch_to_datetime(state.get("previous_started_at")))

    def make_trigger(self, state: dict[str, Any], end_time: float) -> CelonisDataModelLoadTrigger:
        """The trigger waiting for the same load."""
        return CelonisDataModelLoadTrigger(
            celonis_conn_id=self.celonis_conn_id, pool_id=self.pool_id, data_model_id=self.data_model_id,
            previous_load_id=state.get("previous_load_id"), previous_started_at=state.get("previous_started_at"),
            end_time=end_time, poll_interval=self.poll_interval, limbo_timeout=self.limbo_timeout,
            cancel_on_kill=self.cancel_on_kill,
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the data model this task reloaded, as output."""
        from airflow_provider_celonis import lineage

        output = lineage.celonis_dataset(self.hook.base_url, f"{self.pool_id}.data_models.{self.data_model_id}")
        return lineage.operator_lineage([], [output])

    def cancel(self) -> None:
        """Cancel the running load (undocumented endpoint; best effort)."""
        self.hook.cancel_data_model_load(self.pool_id, self.data_model_id)
