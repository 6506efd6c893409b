"""Typed records of the Celonis API and its status enums.

Status strings from the API become enums here and nowhere else; what a status means for a wait
(finished, failed, ours or not) is decided in ``waiting.py``. Unknown status strings never count as success.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from airflow_provider_celonis.exceptions import CelonisParameterError


class _TolerantEnum(StrEnum):
    """A string enum that maps values it does not know to ``UNKNOWN`` instead of raising."""

    @classmethod
    def parse(cls, value: Any):  # noqa: ANN206 - returns the subclass
        """Return the member for ``value`` (case-insensitive), or ``UNKNOWN``."""
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).upper())
        except ValueError:
            return cls("UNKNOWN")


class LoadStatus(_TolerantEnum):
    """Status of a process data model load (``loadStatus`` of the last-load endpoint)."""

    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CANCELED = "CANCELED"
    CANCELLING = "CANCELLING"
    LOST_CONNECTION = "LOST_CONNECTION"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """Whether the load has ended (successfully or not)."""
        return self in _LOAD_TERMINAL

    @property
    def is_success(self) -> bool:
        """Whether the load ended successfully; WARNING counts (an operator's ``fail_on_warning`` can fail it)."""
        return self in (LoadStatus.SUCCESS, LoadStatus.WARNING)

    @property
    def is_limbo(self) -> bool:
        """A state Celonis can stay in forever (a lost load); waits on it are bounded."""
        return self in (LoadStatus.LOST_CONNECTION, LoadStatus.UNKNOWN)


_LOAD_TERMINAL = frozenset({LoadStatus.SUCCESS, LoadStatus.WARNING, LoadStatus.ERROR, LoadStatus.CANCELED})


class LoadType(_TolerantEnum):
    """How a data model load was done."""

    COMPLETE = "COMPLETE"
    PARTIAL = "PARTIAL"
    FROM_CACHE = "FROM_CACHE"
    UNKNOWN = "UNKNOWN"


class ExecutionStatus(_TolerantEnum):
    """Status of a data job execution (note Celonis's spelling: CANCEL and FAIL)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    CANCEL = "CANCEL"
    SKIPPED = "SKIPPED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """Whether the execution has ended."""
        return self in (ExecutionStatus.SUCCESS, ExecutionStatus.FAIL, ExecutionStatus.CANCEL, ExecutionStatus.SKIPPED)

    @property
    def is_success(self) -> bool:
        """Only SUCCESS is a success; SKIPPED means nothing ran and is reported as a failure."""
        return self is ExecutionStatus.SUCCESS

    @property
    def is_failure(self) -> bool:
        """Ended without success."""
        return self.is_terminal and not self.is_success


class PushJobStatus(_TolerantEnum):
    """Status of a Data Push job."""

    NEW = "NEW"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    ERROR = "ERROR"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """Whether the push job has ended."""
        return self in (PushJobStatus.DONE, PushJobStatus.ERROR, PushJobStatus.CANCELED)

    @property
    def is_success(self) -> bool:
        """Whether the pushed data was applied."""
        return self is PushJobStatus.DONE

    @property
    def is_cancellable(self) -> bool:
        """The API cancels a job only when it is not DONE, CANCELED or ERROR."""
        return not self.is_terminal


class _ChoiceEnum(StrEnum):
    """A string enum parsed case-insensitively from user input, naming the choices when it does not fit."""

    @classmethod
    def parse(cls, value: Any):  # noqa: ANN206 - returns the subclass
        """Return the member for ``value`` or raise a ``ValueError`` that lists the allowed values."""
        try:
            return cls(str(getattr(value, "value", value)).upper())
        except ValueError:
            choices = " or ".join(repr(member.value) for member in cls)
            raise CelonisParameterError(f"Unknown {cls._label()} {value!r}: use {choices}.") from None

    @classmethod
    def _label(cls) -> str:
        return cls.__name__


class DataJobMode(_ChoiceEnum):
    """Extraction mode of a data job execution."""

    FULL = "FULL"
    DELTA = "DELTA"

    @classmethod
    def _label(cls) -> str:
        return "data job mode"


class PushType(_ChoiceEnum):
    """How a Data Push job applies its chunks to the target table."""

    REPLACE = "REPLACE"
    DELTA = "DELTA"

    @classmethod
    def _label(cls) -> str:
        return "push type"


class PushFileType(_ChoiceEnum):
    """File format of the chunks of a Data Push job."""

    PARQUET = "PARQUET"
    CSV = "CSV"

    @classmethod
    def _label(cls) -> str:
        return "file type"


def parse_timestamp(value: Any) -> dt.datetime | None:
    """Parse a Celonis date: epoch milliseconds (what the server is believed to send) or ISO 8601.

    Both are accepted because the wire format is not documented (see the API contract).
    Returns an aware UTC datetime, or None for a missing value.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value / 1000.0, tz=dt.UTC)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000.0, tz=dt.UTC)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def epoch_to_datetime(epoch: float | None) -> dt.datetime | None:
    """Epoch seconds (as kept in trigger kwargs and XCom) to an aware UTC datetime."""
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class DataModelTable:
    """A table of a process data model, as listed by the tables endpoint."""

    id: str
    name: str
    alias: str | None = None
    data_model_id: str | None = None
    data_source_id: str | None = None

    @property
    def alias_or_name(self) -> str:
        """The alias if set, else the name (Celonis's ``aliasOrName``)."""
        return self.alias or self.name

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> DataModelTable:
        """Build from the API's JSON object."""
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("name") or raw.get("aliasOrName") or raw["id"]),
            alias=raw.get("alias"),
            data_model_id=raw.get("dataModelId"),
            data_source_id=raw.get("dataSourceId"),
        )


@dataclass(frozen=True)
class DataModelLoad:
    """The last load of a data model (the ``last-load`` endpoint)."""

    status: LoadStatus
    load_id: str | None = None
    load_type: LoadType = LoadType.UNKNOWN
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    message: str | None = None
    raw_status: str | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> DataModelLoad:
        """Build from the API's JSON; the shape is a documented guess, so several spellings are read."""
        if "loadInfo" in raw:  # the internal load-info-sync wrapper
            raw = (raw.get("loadInfo") or {}).get("currentComputeLoad") or {}
        status_value = raw.get("loadStatus", raw.get("status"))
        return cls(
            status=LoadStatus.parse(status_value),
            load_id=_str_or_none(raw.get("dataLoadId", raw.get("id"))),
            load_type=LoadType.parse(raw.get("loadType")),
            started_at=parse_timestamp(raw.get("startDate", raw.get("startTime"))),
            ended_at=parse_timestamp(raw.get("endDate", raw.get("endTime"))),
            message=raw.get("message") or raw.get("errorMessage"),
            raw_status=None if status_value is None else str(status_value),
        )

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-able summary for XCom and logs."""
        return {
            "status": self.status.value,
            "load_id": self.load_id,
            "load_type": self.load_type.value,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "message": self.message,
        }


@dataclass(frozen=True)
class DataJob:
    """A data job and the status of its latest execution (the job status endpoint).

    Waits do not use it: ``timeStamp`` is not an execution time and ``latestExecutionItemId`` can be absent
    (evidence facts 1 and 2); they follow the execution items instead (``waiting.DataJobExecutionWatch``).
    """

    id: str
    status: ExecutionStatus
    name: str | None = None
    current_execution_id: str | None = None
    latest_execution_item_id: str | None = None  # absent in the live answer of 2022 (evidence fact 2)
    changed_at: dt.datetime | None = None  # ``timeStamp``: when the job was changed, NOT an execution time
    raw_status: str | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> DataJob:
        """Build from the API's JSON object."""
        return cls(
            id=str(raw.get("id")),
            name=raw.get("name"),
            status=ExecutionStatus.parse(raw.get("status")),
            current_execution_id=_str_or_none(raw.get("currentExecutionId")),
            latest_execution_item_id=_str_or_none(raw.get("latestExecutionItemId")),
            changed_at=parse_timestamp(raw.get("timeStamp")),
            raw_status=raw.get("status"),
        )

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-able summary for XCom and logs."""
        return {
            "job_id": self.id,
            "name": self.name,
            "status": self.status.value,
            "current_execution_id": self.current_execution_id,
        }


@dataclass(frozen=True)
class ExecutionLog:
    """One execution item of a data job (``…/logs/{jobId}/executions``; pycelonis's ``ExecutionItem``).

    Items carry no message: why an execution failed is read from the log chain (``execution_failure_message``).
    """

    id: str
    status: ExecutionStatus
    item_id: str | None = None
    name: str | None = None
    pool_name: str | None = None
    mode: str | None = None
    task_id: str | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    raw_status: str | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> ExecutionLog:
        """Build from one ``executionItems`` entry; ``id`` is the execution's id (shared by its task items)."""
        return cls(
            id=str(raw.get("executionId") or raw.get("id")),
            item_id=_str_or_none(raw.get("id")),
            status=ExecutionStatus.parse(raw.get("status")),
            name=raw.get("name"),
            pool_name=raw.get("poolName"),
            mode=raw.get("mode"),
            task_id=_str_or_none(raw.get("taskId")),
            started_at=parse_timestamp(raw.get("startDate")),
            ended_at=parse_timestamp(raw.get("endDate")),
            raw_status=raw.get("status"),
        )

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-able summary for XCom and logs."""
        return {
            "execution_id": self.id,
            "status": self.status.value,
            "name": self.name,
            "mode": self.mode,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
        }


@dataclass(frozen=True)
class ExecutionLogMessage:
    """One line of an execution item's log (``…/logs/executions/detail``)."""

    level: str
    text: str

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> ExecutionLogMessage:
        """Build from one ``logMessages`` entry."""
        return cls(level=str(raw.get("level") or ""), text=str(raw.get("logMessage") or "").strip())


def executions_from_api(raw: Any) -> list[ExecutionLog]:
    """Execution items from ``{executionItems: [...]}`` or a plain list."""
    items = raw.get("executionItems", []) if isinstance(raw, dict) else raw or []
    return [ExecutionLog.from_api(item) for item in items if isinstance(item, dict)]


def log_detail_params(execution_id: str, item: ExecutionLog, levels: Any) -> dict[str, Any]:
    """Query of ``logs/executions/detail`` for one task item [client: the parameters; guess: id = the task id]."""
    return {
        "executionId": execution_id,
        "id": item.task_id or item.item_id or item.id,
        "type": "TASK",
        "limit": 50,
        "page": 0,
        "logLevels": ",".join(levels),
    }


def needs_load_history(load: DataModelLoad | None) -> bool:
    """last-load said nothing usable (no body, or no status we know): ask the load history."""
    return load is None or load.status is LoadStatus.UNKNOWN


def choose_last_load(last: DataModelLoad | None, history: LoadHistory) -> DataModelLoad | None:
    """last-load's answer when it is clear, else the load history's current load (None: never loaded)."""
    if last is not None and not needs_load_history(last):
        return last
    return history.current or history.last_successful or last


# A failed execution's reason names at most this many failed tasks: each costs a log request, and the
# message stays short enough to read in a task log line.
MAX_FAILED_TASKS_REPORTED = 3


def failure_text(failed_tasks: list[tuple[str, list[ExecutionLogMessage]]]) -> str:
    """Celonis's reason for a failed execution: each failed task with its ERROR lines (the first few tasks)."""
    parts = []
    for name, messages in failed_tasks[:MAX_FAILED_TASKS_REPORTED]:
        lines = [m.text for m in messages if m.text and m.level.upper() in ("", "ERROR")] or [
            m.text for m in messages if m.text
        ][-1:]
        parts.append(f"task {name!r}: {'; '.join(lines)}" if lines else f"task {name!r} failed (no log message)")
    return " | ".join(parts)


@dataclass(frozen=True)
class PushJob:
    """A Data Push job."""

    id: str
    status: PushJobStatus
    target_name: str | None = None
    push_type: str | None = None
    file_type: str | None = None
    data_pool_id: str | None = None
    connection_id: str | None = None
    logs: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> PushJob:
        """Build from the API's JSON object."""
        return cls(
            id=str(raw["id"]),
            status=PushJobStatus.parse(raw.get("status")),
            target_name=raw.get("targetName"),
            push_type=raw.get("type"),
            file_type=raw.get("fileType"),
            data_pool_id=raw.get("dataPoolId"),
            connection_id=raw.get("connectionId"),
            logs=[str(line) for line in raw.get("logs") or []],
            raw=raw,
        )

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-able summary for XCom and logs."""
        return {
            "job_id": self.id,
            "status": self.status.value,
            "target_name": self.target_name,
            "type": self.push_type,
            "file_type": self.file_type,
            "logs": self.logs,
        }


@dataclass(frozen=True)
class PushChunk:
    """One chunk added to a Data Push job."""

    id: str
    chunk_type: str | None = None
    checksum: str | None = None
    created_at: dt.datetime | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> PushChunk:
        """Build from the API's JSON object."""
        return cls(
            id=str(raw.get("id")),
            chunk_type=raw.get("type"),
            checksum=raw.get("checksum"),
            created_at=parse_timestamp(raw.get("creationDate")),
        )


@dataclass(frozen=True)
class DataPool:
    """A data pool visible to the credential."""

    id: str
    name: str | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> DataPool:
        """Build from the API's JSON object."""
        return cls(id=str(raw["id"]), name=raw.get("name"))


# --- discovery records (pycelonis transports; field names as the client reads them) -----------------


@dataclass(frozen=True)
class DataModel:
    """A process data model of a pool (``GET /integration/api/pools/{p}/data-models``)."""

    id: str
    name: str | None = None
    pool_id: str | None = None
    description: str | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> DataModel:
        """Build from a ``DataModelTransport``."""
        return cls(
            id=str(raw["id"]),
            name=raw.get("name"),
            pool_id=_str_or_none(raw.get("poolId")),
            description=raw.get("description"),
        )


@dataclass(frozen=True)
class DataJobSummary:
    """A data job as listed by ``GET /integration/api/pools/{p}/jobs`` (a ``JobTransport``)."""

    id: str
    name: str | None = None
    data_pool_id: str | None = None
    data_source_id: str | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> DataJobSummary:
        """Build from a ``JobTransport`` (its status fields are read by ``DataJob`` instead)."""
        return cls(
            id=str(raw["id"]),
            name=raw.get("name"),
            data_pool_id=_str_or_none(raw.get("dataPoolId")),
            data_source_id=_str_or_none(raw.get("dataSourceId")),
        )


@dataclass(frozen=True)
class PoolColumn:
    """A column of a pool table: name, Celonis type (STRING, DATE, FLOAT, INTEGER) and length."""

    name: str
    type: str | None = None
    length: int | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> PoolColumn:
        """Build from a ``PoolColumn``."""
        return cls(name=str(raw.get("name")), type=raw.get("type"), length=raw.get("length"))


@dataclass(frozen=True)
class PoolTable:
    """A table (or view) stored in a data pool (``GET /integration/api/pools/{p}/tables``)."""

    name: str
    schema_name: str | None = None
    data_source_id: str | None = None
    data_source_name: str | None = None
    type: str | None = None  # TABLE or VIEW
    available: bool | None = None
    columns: tuple[PoolColumn, ...] = ()

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> PoolTable:
        """Build from a ``PoolTable``; ``columns`` may be absent."""
        return cls(
            name=str(raw.get("name")),
            schema_name=raw.get("schemaName"),
            data_source_id=_str_or_none(raw.get("dataSourceId")),
            data_source_name=raw.get("dataSourceName"),
            type=raw.get("type"),
            available=raw.get("available"),
            columns=tuple(PoolColumn.from_api(c) for c in raw.get("columns") or [] if isinstance(c, dict)),
        )


class TaskType(_TolerantEnum):
    """The kind of a task inside a data job."""

    EXTRACTION = "EXTRACTION"
    TRANSFORMATION = "TRANSFORMATION"
    DATA_MODEL_LOAD = "DATA_MODEL_LOAD"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class JobTask:
    """A task of a data job (``GET …/jobs/{j}/tasks/``); ``id`` is what the execute body names."""

    id: str
    name: str | None
    task_type: TaskType
    task_id: str | None = None
    job_id: str | None = None
    execution_order: int | None = None
    disabled: bool = False

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> JobTask:
        """Build from a ``TaskInstanceTransport``."""
        return cls(
            id=str(raw["id"]),
            name=raw.get("name"),
            task_type=TaskType.parse(raw.get("taskType")),
            task_id=_str_or_none(raw.get("taskId")),
            job_id=_str_or_none(raw.get("jobId")),
            execution_order=raw.get("executionOrder"),
            disabled=bool(raw.get("disabled")),
        )


@dataclass(frozen=True)
class DataModelExecutionTable:
    """A table of a data model load inside a job, and whether that load reloads it."""

    id: str
    alias_or_name: str | None = None
    selected: bool | None = None


@dataclass(frozen=True)
class DataModelExecution:
    """A data model load inside a data job (``GET …/jobs/{j}/loads``); ``id`` is ``dataModelExecutionId``."""

    id: str
    data_model_id: str | None = None
    data_model_name: str | None = None
    job_id: str | None = None
    disabled: bool = False
    partial_load: bool | None = None
    tables: tuple[DataModelExecutionTable, ...] = ()

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> DataModelExecution:
        """Build from a ``DataModelExecutionTransport``."""
        tables = tuple(
            DataModelExecutionTable(id=str(t.get("id")), alias_or_name=t.get("aliasOrName"), selected=t.get("selected"))
            for t in raw.get("tables") or []
            if isinstance(t, dict)
        )
        return cls(
            id=str(raw["id"]),
            data_model_id=_str_or_none(raw.get("dataModelId")),
            data_model_name=raw.get("dataModelName"),
            job_id=_str_or_none(raw.get("jobId")),
            disabled=bool(raw.get("disabled")),
            partial_load=raw.get("partialLoad"),
            tables=tables,
        )


def _ids(label: str, values: Any) -> tuple[str, ...]:
    """A tuple of non-blank, distinct ids, or a ``ValueError`` naming the bad entry."""
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise CelonisParameterError(f"{label} must be a list of ids, not {values!r}.")
    out: list[str] = []
    for value in values:
        text = str(value).strip() if isinstance(value, str) else ""
        if not text:
            raise CelonisParameterError(
                f"{label} has an empty or non-text id {value!r}: copy the ids from list_data_job_tasks "
                "/ list_data_job_loads."
            )
        if text in out:
            raise CelonisParameterError(f"{label} names {text!r} twice.")
        out.append(text)
    return tuple(out)


@dataclass(frozen=True)
class ExtractionSelection:
    """One extraction task to run, optionally only some of its tables (``tables=None`` = all of them)."""

    extraction_id: str
    tables: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        """Check the id and the table names before anything is sent."""
        object.__setattr__(self, "extraction_id", _ids("extraction_id", [self.extraction_id])[0])
        if self.tables is not None:
            tables = _ids(f"tables of extraction {self.extraction_id}", self.tables)
            if not tables:
                raise CelonisParameterError(
                    f"tables of extraction {self.extraction_id} is empty: leave it None to extract "
                    "every table, or name at least one."
                )
            object.__setattr__(self, "tables", tables)

    def to_body(self) -> dict[str, Any]:
        """The ``ExtractionConfiguration`` JSON."""
        return {
            "extractionId": self.extraction_id,
            "loadOnlySubsetOfTables": self.tables is not None,
            "tables": list(self.tables or ()),
        }


@dataclass(frozen=True)
class DataModelLoadSelection:
    """One data model load of the job to run, reloading the given table ids (all tables to reload)."""

    data_model_execution_id: str
    tables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check the id and the table ids before anything is sent."""
        object.__setattr__(
            self, "data_model_execution_id", _ids("data_model_execution_id", [self.data_model_execution_id])[0]
        )
        tables = _ids(f"tables of data model load {self.data_model_execution_id}", self.tables)
        if not tables:
            raise CelonisParameterError(
                f"tables of data model load {self.data_model_execution_id} is empty: name every table "
                "id to reload (list_data_job_loads shows them)."
            )
        object.__setattr__(self, "tables", tables)

    def to_body(self) -> dict[str, Any]:
        """The ``DataModelExecutionConfiguration`` JSON."""
        return {"dataModelExecutionId": self.data_model_execution_id, "tables": list(self.tables)}


def _extraction(value: Any) -> ExtractionSelection:
    if isinstance(value, ExtractionSelection):
        return value
    if isinstance(value, str):
        return ExtractionSelection(value)
    if isinstance(value, dict):
        return ExtractionSelection(value.get("extraction_id", value.get("extractionId", "")), value.get("tables"))
    raise CelonisParameterError(
        f"An extraction must be an id, a dict {{'extraction_id', 'tables'}} or an ExtractionSelection, not {value!r}."
    )


def _data_model_load(value: Any) -> DataModelLoadSelection:
    if isinstance(value, DataModelLoadSelection):
        return value
    if isinstance(value, dict):
        return DataModelLoadSelection(
            value.get("data_model_execution_id", value.get("dataModelExecutionId", "")), value.get("tables", ())
        )
    raise CelonisParameterError(
        f"A data model load must be a dict {{'data_model_execution_id', 'tables'}} or a "
        f"DataModelLoadSelection, not {value!r}."
    )


@dataclass(frozen=True)
class DataJobSelection:
    """Which parts of a data job to execute; the body of ``POST /integration/api/pools/{p}/jobs/{j}/execute``.

    For each of ``extractions``, ``transformations`` and ``data_models``: ``None`` runs all of them (as
    a plain execute does); a list runs only those, and an empty list runs none. Extractions may be
    given as ids, ``{"extraction_id", "tables"}`` dicts or ``ExtractionSelection``; data model loads as
    ``{"data_model_execution_id", "tables"}`` dicts or ``DataModelLoadSelection``. Bad input raises
    ``ValueError`` here, before any request.
    """

    mode: DataJobMode = DataJobMode.DELTA
    extractions: tuple[ExtractionSelection, ...] | None = None
    transformations: tuple[str, ...] | None = None
    data_models: tuple[DataModelLoadSelection, ...] | None = None

    def __post_init__(self) -> None:
        """Normalise and check every part."""
        object.__setattr__(self, "mode", DataJobMode.parse(self.mode))
        if self.extractions is not None:
            items = self._list("extractions", self.extractions)
            extractions = tuple(_extraction(item) for item in items)
            _ids("extractions", [e.extraction_id for e in extractions])  # no id twice
            object.__setattr__(self, "extractions", extractions)
        if self.transformations is not None:
            object.__setattr__(self, "transformations", _ids("transformations", self.transformations))
        if self.data_models is not None:
            loads = tuple(_data_model_load(item) for item in self._list("data_models", self.data_models))
            _ids("data_models", [d.data_model_execution_id for d in loads])
            object.__setattr__(self, "data_models", loads)
        if self.extractions == () and self.transformations == () and self.data_models == ():
            raise CelonisParameterError(
                "This data job selection runs nothing (extractions, transformations and data_models "
                "are all empty): leave one of them None to run all of its kind, or name some."
            )

    @staticmethod
    def _list(label: str, value: Any) -> list[Any]:
        if isinstance(value, str | dict) or not isinstance(value, list | tuple):
            raise CelonisParameterError(f"{label} must be a list (or None for all of them), not {value!r}.")
        return list(value)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> DataJobSelection:
        """The selection back from ``to_body()`` (for XCom, trigger kwargs or a templated JSON field)."""
        extractions = [
            ExtractionSelection(e.get("extractionId", ""), e.get("tables") if e.get("loadOnlySubsetOfTables") else None)
            for e in body.get("extractions") or []
        ]
        loads = [
            DataModelLoadSelection(d.get("dataModelExecutionId", ""), d.get("tables") or ())
            for d in body.get("dataModels") or []
        ]
        return cls(
            mode=body.get("mode", DataJobMode.DELTA),
            extractions=extractions if body.get("executeOnlySubsetOfExtractions") else None,
            transformations=list(body.get("transformations") or [])
            if body.get("executeOnlySubsetOfTransformations")
            else None,
            data_models=loads if body.get("loadOnlySubsetOfDataModels") else None,
        )

    def to_body(self) -> dict[str, Any]:
        """The ``JobExecutionConfiguration`` JSON Celonis's client sends (pool and job ids go in the path)."""
        return {
            "mode": self.mode.value,
            "executeOnlySubsetOfExtractions": self.extractions is not None,
            "extractions": [e.to_body() for e in self.extractions or ()],
            "executeOnlySubsetOfTransformations": self.transformations is not None,
            "transformations": list(self.transformations or ()),
            "loadOnlySubsetOfDataModels": self.data_models is not None,
            "dataModels": [d.to_body() for d in self.data_models or ()],
        }


@dataclass(frozen=True)
class TableLoad:
    """One table of the live data model and the rows it holds after the load."""

    table_id: str | None
    table_name: str | None
    row_count: int | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> TableLoad:
        """Build from a ``DataModelLoadTableTransport``."""
        return cls(
            table_id=_str_or_none(raw.get("tableId")),
            table_name=raw.get("tableName"),
            row_count=raw.get("tableRowCount"),
        )


@dataclass(frozen=True)
class LoadHistory:
    """A data model's current load, earlier loads and table row counts (``…/load-history/load-info-sync``)."""

    current: DataModelLoad | None
    history: tuple[DataModelLoad, ...] = ()
    last_successful: DataModelLoad | None = None
    tables: tuple[TableLoad, ...] = ()

    @property
    def row_counts(self) -> dict[str, int]:
        """Rows per table name of the live data model (tables without a count are left out)."""
        return {t.table_name or t.table_id or "": t.row_count for t in self.tables if t.row_count is not None}

    @classmethod
    def from_api(cls, raw: dict[str, Any] | None) -> LoadHistory:
        """Build from a ``DataModelLoadSyncTransport``; every part may be missing."""
        raw = raw or {}
        info = raw.get("loadInfo") or {}
        history = raw.get("loadHistory") or {}
        current = info.get("currentComputeLoad")
        last_ok = history.get("lastSuccessfulDataModel")
        live = info.get("liveDataModel") or {}
        return cls(
            current=DataModelLoad.from_api(current) if current else None,
            history=tuple(DataModelLoad.from_api(h) for h in history.get("dataLoadHistory") or [] if h),
            last_successful=DataModelLoad.from_api(last_ok) if last_ok else None,
            tables=tuple(TableLoad.from_api(t) for t in live.get("tableLoads") or [] if isinstance(t, dict)),
        )


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
