"""Sensors that wait for a data model load or a data job execution that someone else started.

Stateless between pokes (the baseline is the templated ``finished_after``), so poke, reschedule and
deferrable modes behave the same. A remote failure raises ``CelonisSensorFailure`` (an
``AirflowFailException``), which ``soft_fail`` turns into a skip in every mode.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSensorTimeout, BaseSensorOperator, conf

from airflow_provider_celonis.exceptions import CelonisSensorFailure
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.models import OUTCOME_OF_EVENT, WaitOutcome, judge_job, judge_load, parse_timestamp
from airflow_provider_celonis.triggers.celonis import (
    CelonisDataJobTrigger,
    CelonisDataModelLoadTrigger,
    validated_event,
)
from airflow_provider_celonis.validation import (
    DATA_JOB_ID_HINT,
    DATA_MODEL_ID_HINT,
    POOL_ID_HINT,
    require_positive_seconds,
    require_text,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


def _moment(value: Any) -> dt.datetime | None:
    """A templated moment: a datetime, an ISO string (``{{ data_interval_end }}``) or epoch milliseconds."""
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise ValueError(f"finished_after {value!r} is not a date: use e.g. '{{{{ data_interval_end }}}}'.") from None


class _CelonisSensor(BaseSensorOperator):
    template_fields: Sequence[str] = ("celonis_conn_id", "pool_id", "finished_after")

    def __init__(
        self,
        *,
        pool_id: str,
        finished_after: str | dt.datetime | None = None,
        celonis_conn_id: str = CelonisHook.default_conn_name,
        limbo_timeout: float = 900.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 60)
        super().__init__(**kwargs)
        self.pool_id = pool_id
        self.finished_after = finished_after
        self.celonis_conn_id = celonis_conn_id
        self.limbo_timeout = limbo_timeout
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> CelonisHook:
        """The sync hook for this sensor's connection."""
        return CelonisHook(self.celonis_conn_id)

    id_field = ""  # the id parameter of the subclass, checked with pool_id before any request
    id_hint = ""

    def _judge(self) -> tuple[WaitOutcome, dict[str, Any]]:
        raise NotImplementedError

    def _validate(self) -> None:
        """Every parameter checked before the first request, naming the bad value and the fix."""
        require_text("pool_id", self.pool_id, POOL_ID_HINT)
        require_text(self.id_field, getattr(self, self.id_field), self.id_hint)
        require_positive_seconds("limbo_timeout", self.limbo_timeout)
        _moment(self.finished_after)

    def _trigger(self, end_time: float) -> Any:
        raise NotImplementedError

    def poke(self, context: Context) -> bool:
        """True once the work ended successfully; raises when Celonis reports a failure."""
        self._validate()
        outcome, details = self._judge()
        return self._decide(outcome, details)

    def _decide(self, outcome: WaitOutcome, details: dict[str, Any]) -> bool:
        if outcome in (WaitOutcome.SUCCESS, WaitOutcome.WARNING):
            if outcome is WaitOutcome.WARNING:
                self.log.warning("Celonis finished with WARNING: %s", details.get("message"))
            return True
        if outcome is WaitOutcome.FAILED:
            raise CelonisSensorFailure(
                f"Celonis reports {details.get('celonis_status')}: {details.get('message') or 'no message'}")
        self.log.info("Celonis status: %s", details.get("celonis_status"))
        return False

    def execute(self, context: Context) -> Any:
        """Poke once; if not done and deferrable, wait in the triggerer."""
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        end_time = time.time() + float(self.timeout)
        self.defer(trigger=self._trigger(end_time), method_name="execute_complete", timeout=None)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after the trigger, with the same decisions as ``poke``."""
        event = validated_event(event)
        if event["status"] == "timeout":
            raise AirflowSensorTimeout(f"Sensor timed out after {self.timeout} s waiting for Celonis.")
        self._decide(OUTCOME_OF_EVENT[event["status"]], event)


class CelonisDataModelLoadSensor(_CelonisSensor):
    """Wait until the last load of a data model finished successfully at or after ``finished_after``.

    :param pool_id: the data pool id. Templated.
    :param data_model_id: the process data model id. Templated.
    :param finished_after: only a load that ended at or after this moment counts, e.g.
        ``"{{ data_interval_end }}"``; ``None``: the last load, whenever it ended. Templated.
    :param celonis_conn_id: the Airflow connection of type ``celonis``. Templated.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).

    Plus the ``BaseSensorOperator`` parameters (``poke_interval`` default 60 s, ``timeout``, ``mode``,
    ``soft_fail``).
    """

    template_fields: Sequence[str] = (*_CelonisSensor.template_fields, "data_model_id")
    id_field = "data_model_id"
    id_hint = DATA_MODEL_ID_HINT

    def __init__(self, *, data_model_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_model_id = data_model_id

    def _judge(self) -> tuple[WaitOutcome, dict[str, Any]]:
        return judge_load(self.hook.get_last_load(self.pool_id, self.data_model_id),
                          finished_after=_moment(self.finished_after))

    def _trigger(self, end_time: float) -> CelonisDataModelLoadTrigger:
        moment = _moment(self.finished_after)
        return CelonisDataModelLoadTrigger(
            celonis_conn_id=self.celonis_conn_id, pool_id=self.pool_id, data_model_id=self.data_model_id,
            finished_after=moment.timestamp() if moment else None, end_time=end_time,
            poll_interval=float(self.poke_interval), limbo_timeout=self.limbo_timeout, cancel_on_kill=False,
        )


class CelonisDataJobSensor(_CelonisSensor):
    """Wait until the latest execution of a data job ended successfully (at or after ``finished_after``).

    :param pool_id: the data pool id. Templated.
    :param data_job_id: the data job id. Templated.
    :param finished_after: only an execution that ended at or after this moment counts. Templated.
    :param celonis_conn_id: the Airflow connection of type ``celonis``. Templated.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = (*_CelonisSensor.template_fields, "data_job_id")
    id_field = "data_job_id"
    id_hint = DATA_JOB_ID_HINT

    def __init__(self, *, data_job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_job_id = data_job_id

    def _judge(self) -> tuple[WaitOutcome, dict[str, Any]]:
        outcome, details = judge_job(self.hook.get_data_job(self.pool_id, self.data_job_id),
                                     finished_after=_moment(self.finished_after))
        if outcome is WaitOutcome.FAILED:
            details["message"] = self.hook.latest_execution_message(self.pool_id, self.data_job_id)
        return outcome, details

    def _trigger(self, end_time: float) -> CelonisDataJobTrigger:
        moment = _moment(self.finished_after)
        return CelonisDataJobTrigger(
            celonis_conn_id=self.celonis_conn_id, pool_id=self.pool_id, data_job_id=self.data_job_id,
            finished_after=moment.timestamp() if moment else None, end_time=end_time,
            poll_interval=float(self.poke_interval), limbo_timeout=self.limbo_timeout, cancel_on_kill=False,
        )
