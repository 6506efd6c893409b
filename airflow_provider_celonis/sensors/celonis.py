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

from airflow_provider_celonis.discovery import one_of, resolve_data_job_id, resolve_data_model_id, resolve_pool_id
from airflow_provider_celonis.exceptions import CelonisParameterError, CelonisSensorFailure
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.models import parse_timestamp
from airflow_provider_celonis.retry import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT
from airflow_provider_celonis.triggers.celonis import trigger_for
from airflow_provider_celonis.validation import renamed_parameter, require_positive_seconds
from airflow_provider_celonis.waiting import (
    DEFAULT_UNKNOWN_STATUS_TIMEOUT,
    OUTCOME_OF_EVENT,
    DataJobExecutionWatch,
    DataModelLoadWatch,
    Reading,
    WaitOutcome,
    Watch,
    validated_event,
    watch_from_dict,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


# A poke a minute (pinned here; Airflow 3.3's default is also 60 s): the sensors watch loads and data jobs
# that run minutes to hours, and every poke is a Celonis API call from the team's shared budget.
DEFAULT_POKE_INTERVAL = 60.0


def _moment(value: Any) -> dt.datetime | None:
    """A templated moment: a datetime, an ISO string (``{{ data_interval_end }}``) or epoch milliseconds."""
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise CelonisParameterError(
            f"finished_after {value!r} is not a date: use e.g. '{{{{ data_interval_end }}}}'."
        ) from None


class CelonisBaseSensor(BaseSensorOperator):
    """Base class of the sensors: the pool, the moment, the connection and the retry settings (not used directly).

    :param pool_id: the data pool id (from the Celonis UI URL). Templated.
    :param pool_name: or the data pool's name as shown in Celonis (one lookup, once per sensor instance). Templated.
    :param finished_after: only work that ended at or after this moment counts: a datetime, an ISO string
        (e.g. ``"{{ data_interval_end }}"``) or epoch milliseconds; ``None``: the latest, whenever it ended.
        Templated.
    :param celonis_conn_id: the Airflow connection of type ``celonis``. Templated.
    :param unknown_status_timeout: seconds LOST_CONNECTION or an unknown status is tolerated before failing,
        in every mode (default 900).
    :param api_retry_limit: attempts per Celonis call for transient failures, also in the triggerer (default 6).
    :param api_retry_delay: the first backoff wait in seconds, doubling per attempt (default 1).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param limbo_timeout: the old name of ``unknown_status_timeout``, still accepted with a deprecation warning.

    Plus the ``BaseSensorOperator`` parameters (``poke_interval``, default 60 s here, ``timeout``, ``mode``,
    ``soft_fail``).
    """

    template_fields: Sequence[str] = ("celonis_conn_id", "pool_id", "pool_name", "finished_after")

    def __init__(
        self,
        *,
        pool_id: str | None = None,
        pool_name: str | None = None,
        finished_after: str | dt.datetime | None = None,
        celonis_conn_id: str = CelonisHook.default_conn_name,
        unknown_status_timeout: float = DEFAULT_UNKNOWN_STATUS_TIMEOUT,
        api_retry_limit: int = DEFAULT_RETRY_LIMIT,
        api_retry_delay: float = DEFAULT_RETRY_DELAY,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        limbo_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", DEFAULT_POKE_INTERVAL)
        super().__init__(**kwargs)
        self.pool_id = pool_id
        self.pool_name = pool_name
        self.finished_after = finished_after
        self.celonis_conn_id = celonis_conn_id
        self.unknown_status_timeout = renamed_parameter(
            "limbo_timeout", limbo_timeout, "unknown_status_timeout", unknown_status_timeout
        )
        self.api_retry_limit = api_retry_limit
        self.api_retry_delay = api_retry_delay
        self.deferrable = deferrable
        self._limbo_since: float | None = None

    @cached_property
    def hook(self) -> CelonisHook:
        """The sync hook for this sensor's connection."""
        return CelonisHook(self.celonis_conn_id, retry_limit=self.api_retry_limit, retry_delay=self.api_retry_delay)

    id_field = ""  # the id parameter of the subclass (``data_model_id``), or its name twin (``data_model_name``)
    name_field = ""

    def resolve_names(self) -> None:
        """Names given instead of ids become ids (one listing call each, once per sensor instance)."""
        self.pool_id = resolve_pool_id(self.hook, self.pool_id, self.pool_name)
        self.pool_name = None

    def watch(self) -> Watch:
        """What this sensor waits for (stateless: rebuilt from the templated parameters at every poke)."""
        raise NotImplementedError

    def _validate(self) -> None:
        """Every parameter checked before the first request, naming the bad value and the fix."""
        one_of("pool_id", self.pool_id, "pool_name", self.pool_name)
        one_of(self.id_field, getattr(self, self.id_field), self.name_field, getattr(self, self.name_field))
        require_positive_seconds("unknown_status_timeout", self.unknown_status_timeout)
        _moment(self.finished_after)

    def poke(self, context: Context) -> bool:
        """True once the work ended successfully; raises when Celonis reports a failure or a limbo lasts."""
        self._validate()
        self.resolve_names()
        watch = self.watch()
        reading = watch.read(self.hook)
        if reading.outcome is WaitOutcome.LIMBO:
            if self._limbo_exceeded(reading, context):
                what = reading.message or f"Celonis reports {reading.celonis_status}."
                raise CelonisSensorFailure(
                    f"{what} Gave up after {self.unknown_status_timeout:.0f} s "
                    f"(unknown_status_timeout). See {watch.url(self.hook.base_url)}"
                )
        else:
            self._limbo_since = None
        if reading.outcome in OUTCOME_OF_EVENT.values():
            return self._decide(reading.as_event({v: k for k, v in OUTCOME_OF_EVENT.items()}[reading.outcome]), watch)
        self.log.info("Celonis status of the %s: %s", watch.describe(), reading.celonis_status or "nothing yet")
        return False

    def _limbo_exceeded(self, reading: Reading, context: Context) -> bool:
        """Whether a limbo status has lasted longer than ``unknown_status_timeout``.

        In poke mode the sensor remembers when the limbo began. A rescheduled sensor is a new process at
        every poke, so it counts from the later of its first poke and the start Celonis reports: never
        later than the truth, and never before the sensor began waiting.
        """
        now = time.time()
        if not self.reschedule:
            self._limbo_since = self._limbo_since or now
            return now - self._limbo_since > self.unknown_status_timeout
        first_poke = _first_poke(context)
        since = (
            max(t for t in (first_poke, reading.started_at, None) if t is not None)
            if first_poke or reading.started_at
            else None
        )
        return since is not None and now - since > self.unknown_status_timeout

    def _decide(self, event: dict[str, Any], watch: Watch) -> bool:
        outcome = OUTCOME_OF_EVENT[event["status"]]
        if outcome is WaitOutcome.WARNING:
            self.log.warning("The %s finished with WARNING: %s", watch.describe(), event.get("message"))
        if outcome in (WaitOutcome.SUCCESS, WaitOutcome.WARNING):
            return True
        status = event.get("celonis_status")
        reason = event.get("message") or "Celonis gave no reason"
        what = f"The {watch.describe()} ended {status}: {reason}" if status else reason
        raise CelonisSensorFailure(f"{what} See {watch.url(self.hook.base_url)}")

    def execute(self, context: Context) -> Any:
        """Poke once; if not done and deferrable, wait in the triggerer."""
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        settings = {
            "celonis_conn_id": self.celonis_conn_id,
            "end_time": time.time() + float(self.timeout),
            "poll_interval": float(self.poke_interval),
            "unknown_status_timeout": self.unknown_status_timeout,
            "cancel_on_kill": False,
            "retry_limit": self.api_retry_limit,
            "retry_delay": self.api_retry_delay,
        }
        self.defer(trigger=trigger_for(self.watch(), settings), method_name="execute_complete", timeout=None)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after the trigger, with the same decisions as ``poke`` (Celonis's reason kept)."""
        event = validated_event(event)
        watch = watch_from_dict(event["watch"]) if event.get("watch") else self.watch()
        if event["status"] == "timeout":
            raise AirflowSensorTimeout(f"Sensor timed out after {self.timeout} s waiting for the {watch.describe()}.")
        if event.get("limbo"):
            raise CelonisSensorFailure(f"{event.get('message')} See {watch.url(self.hook.base_url)}")
        self._decide(event, watch)


def _first_poke(context: Context) -> float | None:
    """When a rescheduled sensor first poked (epoch seconds), where Airflow tells."""
    ti = context.get("ti")
    getter = getattr(ti, "get_first_reschedule_date", None)
    if getter is None:
        return None
    try:
        first = getter(context)
    except Exception:  # noqa: BLE001 - only a bound on limbo; without it the start Celonis reports counts
        return None
    return first.timestamp() if first else None


class CelonisDataModelLoadSensor(CelonisBaseSensor):
    """Wait until the last load of a data model finished successfully at or after ``finished_after``.

    :param data_model_id: the process data model id. Templated.
    :param data_model_name: or the data model's name as shown in Celonis (one lookup). Templated.

    The other parameters (``pool_id`` or ``pool_name``, ``finished_after``: a load that ended at or after it,
    ``celonis_conn_id``, ``deferrable``, …) are those of
    [CelonisBaseSensor][airflow_provider_celonis.sensors.celonis.CelonisBaseSensor].
    """

    template_fields: Sequence[str] = (*CelonisBaseSensor.template_fields, "data_model_id", "data_model_name")
    id_field = "data_model_id"
    name_field = "data_model_name"

    def __init__(self, *, data_model_id: str | None = None, data_model_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_model_id = data_model_id
        self.data_model_name = data_model_name

    def resolve_names(self) -> None:
        """Pool and data model names become ids."""
        super().resolve_names()
        self.data_model_id = resolve_data_model_id(self.hook, self.pool_id, self.data_model_id, self.data_model_name)
        self.data_model_name = None

    def watch(self) -> DataModelLoadWatch:
        """The last load of the model, ended at or after ``finished_after``."""
        moment = _moment(self.finished_after)
        return DataModelLoadWatch(
            pool_id=self.pool_id,
            data_model_id=self.data_model_id,
            finished_after=moment.timestamp() if moment else None,
        )


class CelonisDataJobSensor(CelonisBaseSensor):
    """Wait until the latest execution of a data job ended successfully (at or after ``finished_after``).

    :param data_job_id: the data job id. Templated.
    :param data_job_name: or the data job's name as shown in Celonis (one lookup). Templated.

    The other parameters (``pool_id`` or ``pool_name``, ``finished_after``: an execution that ended at or after it,
    ``celonis_conn_id``, ``deferrable``, …) are those of
    [CelonisBaseSensor][airflow_provider_celonis.sensors.celonis.CelonisBaseSensor].
    """

    template_fields: Sequence[str] = (*CelonisBaseSensor.template_fields, "data_job_id", "data_job_name")
    id_field = "data_job_id"
    name_field = "data_job_name"

    def __init__(self, *, data_job_id: str | None = None, data_job_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_job_id = data_job_id
        self.data_job_name = data_job_name

    def resolve_names(self) -> None:
        """Pool and data job names become ids."""
        super().resolve_names()
        self.data_job_id = resolve_data_job_id(self.hook, self.pool_id, self.data_job_id, self.data_job_name)
        self.data_job_name = None

    def watch(self) -> DataJobExecutionWatch:
        """The newest execution of the job, ended at or after ``finished_after``."""
        moment = _moment(self.finished_after)
        return DataJobExecutionWatch(
            pool_id=self.pool_id, data_job_id=self.data_job_id, finished_after=moment.timestamp() if moment else None
        )
