"""Reload a Celonis process data model, completely or only some tables, and wait for the load."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis import assets
from airflow_provider_celonis.discovery import one_of, resolve_data_model_id
from airflow_provider_celonis.exceptions import CelonisApiError, CelonisParameterError
from airflow_provider_celonis.links import (
    XCOM_DATA_MODEL_URL,
    XCOM_DATA_POOL_URL,
    CelonisDataModelLink,
    CelonisDataPoolLink,
)
from airflow_provider_celonis.models import DataModelLoad
from airflow_provider_celonis.operators._waiting import CelonisStartOperator
from airflow_provider_celonis.waiting import DataModelLoadWatch, WaitOutcome

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class CelonisReloadDataModelOperator(CelonisStartOperator):
    """Start a complete or partial load of a process data model and wait until Celonis reports its end.

    The wait follows the load this task started (never the previous one), holds no worker slot when
    ``deferrable=True``, and fails with Celonis's status and message when the load fails.

    :param data_model_id: the process data model id. Templated.
    :param data_model_name: or the data model's name (one lookup; an unknown or ambiguous name fails
        listing near matches or the ids). Templated.
    :param tables: ``None`` for a complete load, or table ids, names or aliases for a partial load
        (names are resolved first; an unknown name fails before anything starts). Templated.
    :param from_cache: reload from Celonis's cache instead of the data pool (``fullReload=false``): quicker,
        for when only the data model's configuration changed (default False).
    :param emit_asset: on success, emit an asset event for ``celonis://<team>/<pool>/data_models/<id>`` with the
        load id and status (default True; see docs/scheduling-on-celonis-data.md).

    The other parameters (``pool_id`` or ``pool_name``, ``celonis_conn_id``, the waiting parameters, ``reattach``,
    ``fail_on_warning``, …) are those of
    [CelonisStartOperator][airflow_provider_celonis.operators._waiting.CelonisStartOperator] and
    [CelonisWaitingOperator][airflow_provider_celonis.operators._waiting.CelonisWaitingOperator].
    """

    template_fields: Sequence[str] = (
        "celonis_conn_id",
        "pool_id",
        "pool_name",
        "data_model_id",
        "data_model_name",
        "tables",
    )
    operator_extra_links = (CelonisDataModelLink(), CelonisDataPoolLink())

    def __init__(
        self,
        *,
        data_model_id: str | None = None,
        data_model_name: str | None = None,
        tables: Sequence[str] | None = None,
        from_cache: bool = False,
        emit_asset: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        assets.add_outlet(self, emit_asset)
        self.data_model_id = data_model_id
        self.data_model_name = data_model_name
        self.tables = tables
        self.from_cache = from_cache

    def _validate(self) -> None:
        super()._validate()
        one_of("data_model_id", self.data_model_id, "data_model_name", self.data_model_name)
        if not isinstance(self.from_cache, bool):
            raise CelonisParameterError(f"from_cache must be True or False, not {self.from_cache!r}.")
        if self.tables is not None:
            if isinstance(self.tables, str) or not all(isinstance(t, str) and t.strip() for t in self.tables):
                raise CelonisParameterError(f"tables must be a list of table ids or names, not {self.tables!r}.")
            if not self.tables:
                raise CelonisParameterError(
                    "tables is an empty list: pass None for a complete load, or name the tables."
                )

    def resolve_names(self) -> None:
        """Pool and data model names become ids."""
        super().resolve_names()
        self.data_model_id = resolve_data_model_id(self.hook, self.pool_id, self.data_model_id, self.data_model_name)

    def start(self, context: Context) -> tuple[DataModelLoadWatch, dict[str, Any]]:
        """Resolve table names, then start the load (or re-attach to a running one)."""
        hook = self.hook
        table_ids = hook.resolve_table_ids(self.pool_id, self.data_model_id, self.tables) if self.tables else None
        ti = context["ti"]
        ti.xcom_push(key=XCOM_DATA_POOL_URL, value=hook.data_pool_url(self.pool_id))
        ti.xcom_push(key=XCOM_DATA_MODEL_URL, value=hook.data_model_url(self.pool_id, self.data_model_id))
        self.log.info("Celonis data model: %s", hook.data_model_url(self.pool_id, self.data_model_id))
        summary = {
            "pool_id": self.pool_id,
            "data_model_id": self.data_model_id,
            "table_ids": table_ids,
            "from_cache": self.from_cache,
        }
        before = hook.get_last_load(self.pool_id, self.data_model_id)
        if before is not None and not before.status.is_terminal and self.reattach:
            self.log.info(
                "A load (%s, %s) is already running: waiting for it instead of starting another.",
                before.load_id,
                before.status.value,
            )
            return self._watch_for(running=before), {**summary, "reattached": True}
        watch = self._watch_for(previous=before)
        full_reload = False if self.from_cache else None
        try:
            self.start_once(lambda: self._trigger(table_ids, full_reload), lambda: self._new_load_visible(watch))
        except CelonisApiError as exc:
            if not (exc.is_conflict and self.reattach):
                raise
            running = hook.get_last_load(self.pool_id, self.data_model_id)
            self.log.info("Celonis says a load is already running (409): waiting for it.")
            if running is None or running.status.is_terminal:
                # The running load is not visible yet (Celonis registers loads with a delay): it started after
                # our pre-check, so it is the first load that is not the one we saw before.
                return watch, {**summary, "reattached": True}
            return self._watch_for(running=running), {**summary, "reattached": True}
        return watch, {**summary, "reattached": False}

    def _trigger(self, table_ids: list[str] | None, full_reload: bool | None) -> None:
        how = " from cache" if full_reload is False else ""
        if table_ids:
            self.log.info("Starting a partial load%s of %d table(s): %s", how, len(table_ids), table_ids)
            self.hook.trigger_partial_data_model_load(
                self.pool_id, self.data_model_id, table_ids, full_reload=full_reload
            )
        else:
            self.log.info("Starting a complete load%s of data model %s.", how, self.data_model_id)
            self.hook.trigger_data_model_load(self.pool_id, self.data_model_id, full_reload=full_reload)

    def _new_load_visible(self, watch: DataModelLoadWatch) -> bool:
        """Whether Celonis shows a load other than the one seen before the start (after an unclear start)."""
        load = self.hook.get_last_load(self.pool_id, self.data_model_id)
        return load is not None and watch.judge(load).outcome is not WaitOutcome.LIMBO

    def _watch_for(
        self, *, previous: DataModelLoad | None = None, running: DataModelLoad | None = None
    ) -> DataModelLoadWatch:
        """The load to wait for: the first after ``previous`` (the load seen before the start), or ``running``."""
        watch = DataModelLoadWatch(
            pool_id=self.pool_id, data_model_id=self.data_model_id, started_by_task=True, label=self.data_model_name
        )
        if running is not None:
            watch.load_id = running.load_id
            if running.load_id is None and running.started_at is not None:
                watch.previous_started_at = running.started_at.timestamp() - 0.001
        elif previous is not None:
            watch.previous_load_id = previous.load_id
            watch.previous_started_at = previous.started_at.timestamp() if previous.started_at else None
        return watch

    def _finish(self, context: Context, event: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
        result = super()._finish(context, event, summary)
        assets.emit_asset_event(self, context, self.celonis_target(), "data_model_load", result)
        return result

    def celonis_target(self) -> assets.CelonisTarget:
        """The data model this task reloads (its asset and its OpenLineage output)."""
        return assets.data_model_target(self.hook.base_url, self.pool_id, self.data_model_id)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the data model this task reloaded, as output."""
        from airflow_provider_celonis import lineage

        return lineage.operator_lineage([], [lineage.dataset_of(self.celonis_target())])
