"""Push data into a data pool table through the Data Push API, streamed in chunks, and wait for the job."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis import assets
from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.links import XCOM_DATA_POOL_URL, CelonisDataPoolLink
from airflow_provider_celonis.models import PushFileType, PushType
from airflow_provider_celonis.operators._source import SOURCE_TEMPLATE_FIELDS, SourceParameters
from airflow_provider_celonis.operators._waiting import CelonisWaitingOperator
from airflow_provider_celonis.push.chunks import (
    CSV_PARSING_OPTIONS,
    DEFAULT_CHUNK_BYTES,
    Chunk,
    ChunkSpool,
    validate_chunk_size,
)
from airflow_provider_celonis.push.encoding import DATA_PUSH_PARQUET, parse_timestamps
from airflow_provider_celonis.push.memory import push_memory_pool
from airflow_provider_celonis.push.pipeline import (
    DEFAULT_MAX_SPOOLED_CHUNKS,
    ChunkStream,
    Committed,
    validate_max_spooled_chunks,
)
from airflow_provider_celonis.push.schema import SchemaTracker
from airflow_provider_celonis.push.submit import submit_push_job
from airflow_provider_celonis.push.upload import ChunkUploader, UnclearUpload
from airflow_provider_celonis.validation import DEFAULT_CONCURRENT_UPLOADS, require_concurrent_uploads, require_text
from airflow_provider_celonis.waiting import PushJobWatch

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

UPSERT_STRATEGIES = ("UPSERT_WITH_UNCHANGED_METADATA", "UPSERT_WITH_NULLIFICATION")
# When the chunk list cannot tell which unclear uploads were stored, the job is deleted and the source read
# again into a new job, once: a second unclear job fails the task (an Airflow retry starts over).
MAX_JOB_ATTEMPTS = 2
IDLE_SECONDS = 0.2  # how often the uploader looks for unclear uploads to settle while no chunk is ready


class CelonisPushDataOperator(SourceParameters, CelonisWaitingOperator):
    """Push rows from files, a SQL query or an Arrow/pandas object into a data pool table, and wait.

    The source is read in a thread of its own into parquet (or CSV) chunk files of at most
    ``chunk_size_bytes`` in a local spool directory, measuring the data on the way; each chunk is uploaded
    while the next is written, and at most ``max_spooled_chunks`` chunk files exist at once (see
    ``push.pipeline``). The push job is created once the table schema is known: when the source ends
    within ``max_spooled_chunks`` chunks, from all of it (types and exact string lengths, so Celonis never
    cuts a string to 80 characters); else from the data read so far, string columns declared at the largest
    length Celonis takes. If anything fails after the job was created, the job is deleted (before
    execution) or cancelled (after), so no half-pushed job is ever executed later. Nested columns (struct,
    list) fail before any request: Data Push tables are flat (``CelonisIngestDataOperator`` takes them).

    The source parameters (exactly one of ``source_path``, ``sql``, ``data``; ``source_format``, ``csv_options``,
    ``sql_conn_id``, ``sql_parameters``, ``sql_batch_rows``, ``sql_reader``) are those of
    [SourceParameters][airflow_provider_celonis.operators._source.SourceParameters], shared with
    ``CelonisIngestDataOperator``.

    :param table_name: the target table in the pool. Templated.
    :param push_type: ``REPLACE`` (the table becomes the data) or ``DELTA`` (upsert by ``keys``, append without).
    :param keys: primary key columns for a DELTA upsert. Templated.
    :param upsert_strategy: ``UPSERT_WITH_UNCHANGED_METADATA`` or ``UPSERT_WITH_NULLIFICATION`` (DELTA only).
    :param file_type: chunk format: ``PARQUET`` (default, typed and compact) or ``CSV``.
    :param table_schema: per-column overrides of the derived schema, e.g. ``{"note": {"fieldLength": 4000}}``.
    :param connection_id: the data connection in the pool the table belongs to (optional). Templated.
    :param parquet_timestamps: how parquet chunks store timestamps: ``int96`` (default; what Celonis's own
        client writes for Data Push, microseconds kept) or ``int64_us`` (opt-in; no source shows Data Push
        reading it). A parquet source file in the other encoding is re-encoded, not sent unchanged.
    :param chunk_size_bytes: the largest chunk (default 256 MiB; the API limit is 1 GB).
    :param max_concurrent_uploads: chunks uploaded at the same time (default 2).
    :param max_spooled_chunks: finished chunk files on local disk at once (waiting or uploading), besides the
        one being written (default 2).
    :param spool_dir: where chunk files are written (default: the system temp directory); needs room for
        ``max_spooled_chunks`` + 1 chunks.
    :param emit_asset: on success, emit an asset event for ``celonis://<team>/<pool>/<table>`` with rows,
        chunks, the push job id and its status (default True; see docs/scheduling-on-celonis-data.md).

    The other parameters (``pool_id`` or ``pool_name``, ``celonis_conn_id``, ``wait_for_completion``,
    ``poll_interval``, ``timeout``, ``deferrable``, …) are those of
    [CelonisWaitingOperator][airflow_provider_celonis.operators._waiting.CelonisWaitingOperator]. Returns (and
    pushes to XCom) a summary with the push job id, status, chunks, rows, bytes and duration.
    """

    template_fields: Sequence[str] = (
        "celonis_conn_id",
        "pool_id",
        "pool_name",
        "table_name",
        *SOURCE_TEMPLATE_FIELDS,
        "keys",
        "connection_id",
    )
    template_fields_renderers = {"sql": "sql"}
    operator_extra_links = (CelonisDataPoolLink(),)

    def __init__(
        self,
        *,
        table_name: str,
        push_type: str = "REPLACE",
        keys: Sequence[str] | None = None,
        upsert_strategy: str | None = None,
        file_type: str = "PARQUET",
        table_schema: Mapping[str, Mapping[str, Any]] | None = None,
        connection_id: str | None = None,
        parquet_timestamps: str = DATA_PUSH_PARQUET.timestamps,
        chunk_size_bytes: int = DEFAULT_CHUNK_BYTES,
        max_concurrent_uploads: int = DEFAULT_CONCURRENT_UPLOADS,
        max_spooled_chunks: int = DEFAULT_MAX_SPOOLED_CHUNKS,
        spool_dir: str | None = None,
        emit_asset: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        assets.add_outlet(self, emit_asset)
        self.table_name = table_name
        self.push_type = push_type
        self.keys = keys
        self.upsert_strategy = upsert_strategy
        self.file_type = file_type
        self.table_schema = table_schema
        self.connection_id = connection_id
        self.parquet_timestamps = parquet_timestamps
        self.chunk_size_bytes = chunk_size_bytes
        self.max_concurrent_uploads = max_concurrent_uploads
        self.max_spooled_chunks = max_spooled_chunks
        self.spool_dir = spool_dir
        self._push_job_id: str | None = None
        self._executed = False
        self.peak_spooled_chunks = 0  # the most chunk files that existed at once (for tests and the benchmark)

    # --- checks ---------------------------------------------------------------------------------

    def _validate(self) -> None:
        super()._validate()
        require_text("table_name", self.table_name, "name the data pool table to push into.")
        self._validate_source()
        push_type = PushType.parse(self.push_type)
        PushFileType.parse(self.file_type)
        if isinstance(self.keys, str):
            raise ValueError(
                f"keys must be a list of column names, not the string {self.keys!r}: write [{self.keys!r}]."
            )
        if self.upsert_strategy is not None:
            if self.upsert_strategy not in UPSERT_STRATEGIES:
                raise ValueError(
                    f"upsert_strategy must be one of {', '.join(UPSERT_STRATEGIES)}, not {self.upsert_strategy!r}."
                )
            if push_type is not PushType.DELTA:
                raise ValueError("upsert_strategy applies to DELTA pushes only; remove it or set push_type='DELTA'.")
        if self.keys and push_type is not PushType.DELTA:
            raise ValueError(
                "keys apply to DELTA pushes (upsert); a REPLACE push replaces the whole table. "
                "Remove keys or set push_type='DELTA'."
            )
        validate_chunk_size(self.chunk_size_bytes)
        parse_timestamps(self.parquet_timestamps)
        require_concurrent_uploads(self.max_concurrent_uploads)
        validate_max_spooled_chunks(self.max_spooled_chunks)

    # --- the push -------------------------------------------------------------------------------

    def _describe(self, tracker: SchemaTracker, final: bool) -> dict[str, Any]:
        """At the schema commit (in the reading thread): check the keys, derive the job's table schema."""
        keys = list(self.keys or [])
        missing = [k for k in keys if k not in tracker.schema.names]
        if missing:
            raise CelonisError(
                f"Key column(s) {', '.join(missing)} are not in the data; its columns are: "
                f"{', '.join(tracker.schema.names)}."
            )
        return tracker.table_schema(self.table_name, keys, self.table_schema, open_ended=not final)

    def _open_source(self, spool_dir: str) -> ChunkStream:
        """Preparing: start reading the source into chunk files in ``spool_dir``, in a thread (``push.pipeline``)."""
        file_type = PushFileType.parse(self.file_type)
        spool = ChunkSpool(
            spool_dir,
            self.chunk_size_bytes,
            file_type.value,
            encoding=DATA_PUSH_PARQUET.with_timestamps(self.parquet_timestamps),
            declared_lengths=[name for name, column in (self.table_schema or {}).items() if "fieldLength" in column],
        )
        return ChunkStream(
            self._source_parts(self.log, self.chunk_size_bytes),
            spool,
            self.max_spooled_chunks,
            hold=True,
            describe=self._describe,
        ).start()

    def start(self, context: Context) -> tuple[PushJobWatch | None, dict[str, Any]]:
        """Prepare, fill and submit the push job: the three steps below, in order.

        Preparing: ``execute`` has checked the parameters (``_validate``) and resolved ``pool_name``
        (``resolve_names``) before this runs; ``_open_source`` starts reading the source. Filling:
        ``_fill_job`` creates the job once the schema is committed and uploads the chunks. Submitting:
        ``_submit_job``. A failure before the job ran deletes it, so no half-filled job is executed later.
        """
        context["ti"].xcom_push(key=XCOM_DATA_POOL_URL, value=self.hook.data_pool_url(self.pool_id))
        deadline = time.time() + self.timeout  # waits for a submit slot count against the task's timeout
        began = time.monotonic()
        with push_memory_pool():
            filled = self._fill_job()
        if filled is None:
            return None, {
                "pool_id": self.pool_id,
                "push_job_id": None,
                "table_name": self.table_name,
                "rows": 0,
                "chunks": 0,
                "bytes": 0,
                "skipped": True,
            }
        self._submit_job(filled.job_id, deadline)
        return self._pushed(filled, time.monotonic() - began)

    def _fill_job(self) -> _FilledJob | None:
        """Filling: read the source into a new push job; once more with a new job if uploads were left unclear.

        None when there is nothing to push (a DELTA push of no rows): no job is created. A failure deletes
        the job, so it can never be executed half-filled.
        """
        job_attempt = 0
        while True:
            job_attempt += 1
            with tempfile.TemporaryDirectory(prefix="celonis-push-", dir=self.spool_dir) as spool_dir:
                stream = self._open_source(spool_dir)
                try:
                    return self._fill_from(stream)
                except UnclearUpload as exc:
                    self._discard_job(f"{exc}: starting over with a new job")
                    self._push_job_id = None
                    if job_attempt == MAX_JOB_ATTEMPTS or not self._source_rereadable():
                        raise CelonisError(
                            f"Could not tell which chunks Celonis stored ({exc}); nothing was "
                            "pushed (the job was deleted). An Airflow retry starts over."
                        ) from None
                except BaseException:
                    self._discard_job("the push failed before the job ran")
                    raise
                finally:
                    stream.close()
                    stream.spool.stop_measuring()
                    self.peak_spooled_chunks = max(self.peak_spooled_chunks, stream.slots.peak)

    def _fill_from(self, stream: ChunkStream) -> _FilledJob | None:
        """One filling attempt: create the push job once ``stream`` committed the schema, upload every chunk."""
        items = stream.items(idle_seconds=IDLE_SECONDS)
        committed = next(item for item in items if item is not None)
        assert isinstance(committed, Committed)
        table_schema = committed.info
        if committed.final:
            self.log.info(
                "Read the whole source (%d rows, %d chunk(s)) before creating the push job: its schema is final.",
                committed.rows,
                stream.spool.count,
            )
            if committed.rows == 0 and PushType.parse(self.push_type) is PushType.DELTA:
                self.log.info("The source has no rows: a DELTA push of nothing changes nothing; no job created.")
                return None
        else:
            self.log.info(
                "The source is larger than max_spooled_chunks=%d chunks: the push job's schema "
                "is fixed from its first %d rows, string columns declared at the largest length "
                "Celonis takes.",
                self.max_spooled_chunks,
                committed.rows,
            )
        job_id = self._create_job(table_schema)
        uploaded_at = time.monotonic()
        uploader = ChunkUploader(
            self.hook,
            self.pool_id,
            job_id,
            self.max_concurrent_uploads,
            self.log,
            PushFileType.parse(self.file_type).value,
        )
        uploader.upload_stream(_chunks(items), on_stored=stream.done)
        upload_seconds = time.monotonic() - uploaded_at
        stream.spool.settle_lengths()  # declared string columns of files sent unchanged, read while uploading
        _check_declared(stream.spool.tracker, table_schema)
        return _FilledJob(job_id, stream.spool, uploader.unchanged, upload_seconds)

    def _create_job(self, table_schema: dict[str, Any]) -> str:
        """Create the push job with the committed table schema; its id is kept so a failure can delete it."""
        push_type = PushType.parse(self.push_type)
        file_type = PushFileType.parse(self.file_type)
        job = self.hook.create_push_job(
            self.pool_id,
            self.table_name,
            push_type=push_type,
            file_type=file_type,
            connection_id=self.connection_id,
            keys=list(self.keys or []) or None,
            table_schema=table_schema,
            csv_parsing_options=CSV_PARSING_OPTIONS if file_type is PushFileType.CSV else None,
            upsert_strategy=self.upsert_strategy,
        )
        self._push_job_id = job.id
        self.log.info("Created push job %s (%s into %s).", job.id, push_type.value, self.table_name)
        return job.id

    def _submit_job(self, job_id: str, deadline: float) -> None:
        """Submitting: execute the filled job exactly once (``push.submit``); 409s and unclear answers read it first.

        A failure here deletes the job (``_discard_job``), so it is never left to be executed later.
        """
        try:
            submit_push_job(self.hook, self.pool_id, job_id, deadline, self.log)
        except BaseException:
            self._discard_job("the push failed before the job ran")
            raise
        self._executed = True

    def _pushed(self, filled: _FilledJob, seconds: float) -> tuple[PushJobWatch, dict[str, Any]]:
        """Log what was pushed; the watch that follows the executed job, and the summary fields."""
        spool = filled.spool
        self.log.info(
            "Pushed %d rows in %d chunk(s), %.1f MB (%d sent unchanged), in %.1f s, uploads %.1f MB/s; "
            "executed push job %s.",
            spool.rows,
            spool.count,
            spool.size / 1e6,
            filled.unchanged,
            seconds,
            spool.size / 1e6 / max(filled.upload_seconds, 1e-9),
            filled.job_id,
        )
        watch = PushJobWatch(pool_id=self.pool_id, push_job_id=filled.job_id, table_name=self.table_name)
        return watch, {
            "pool_id": self.pool_id,
            "push_job_id": filled.job_id,
            "table_name": self.table_name,
            "push_type": PushType.parse(self.push_type).value,
            "file_type": PushFileType.parse(self.file_type).value,
            "rows": spool.rows,
            "chunks": spool.count,
            "chunks_sent_unchanged": filled.unchanged,
            "bytes": spool.size,
            "upload_seconds": round(filled.upload_seconds, 3),
        }

    # --- waiting and cleanup ----------------------------------------------------------------------

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        summary: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """End the wait (after a deferral this runs on a fresh operator: the job id comes from the summary)."""
        summary = summary or state or (event or {}).get("summary") or {}
        if summary.get("push_job_id"):
            self._push_job_id, self._executed = summary["push_job_id"], True
        return super().execute_complete(context, event, summary)

    def _finish(self, context: Context, event: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
        result = super()._finish(context, event, summary)
        assets.emit_asset_event(self, context, self.celonis_target(), "push", result)
        return result

    def celonis_target(self) -> assets.CelonisTarget:
        """The table this task pushes into (its asset and its OpenLineage output)."""
        return assets.table_target(self.hook.base_url, self.pool_id, self.table_name)

    def _discard_job(self, why: str) -> None:
        """Delete a job that was never executed (so nobody can execute it half-filled), else cancel it."""
        job_id = self._push_job_id
        if not job_id:
            return
        try:
            if self._executed:
                self.hook.cancel_push_job(self.pool_id, job_id)
                self.log.warning("Cancelled push job %s (%s).", job_id, why)
            else:
                self.hook.delete_push_job(self.pool_id, job_id)
                self.log.warning("Deleted push job %s (%s); nothing was pushed.", job_id, why)
        except Exception:  # noqa: BLE001 - never hide the original failure
            self.log.warning("Could not clean up push job %s (%s).", job_id, why, exc_info=True)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the files or the tables the query read as inputs, the Celonis table as output."""
        from airflow_provider_celonis import lineage

        return lineage.operator_lineage(self._source_lineage_inputs(), [lineage.dataset_of(self.celonis_target())])

    def on_kill(self) -> None:
        """Killed while spooling, uploading or waiting: delete or cancel the job."""
        if self.cancel_on_kill:
            self._discard_job("task killed")


@dataclass(frozen=True)
class _FilledJob:
    """A push job with every chunk stored in it, not yet executed (what the submitting step needs)."""

    job_id: str
    spool: ChunkSpool  # the chunk files written: rows, count and bytes for the summary
    unchanged: int  # chunks that were parquet source row groups sent as they were
    upload_seconds: float


def _chunks(items: Iterable[Committed | Chunk | None]) -> Iterator[Chunk | None]:
    """The chunks after the ``Committed`` item, and None while none is ready (the stream hands out nothing else)."""
    for item in items:
        if item is not None and not isinstance(item, Chunk):
            raise CelonisError(f"Internal error: the chunk stream handed out {item!r}.")
        yield item


def _check_declared(tracker: SchemaTracker, table_schema: dict[str, Any]) -> None:
    """Every string fits its declared length (a value read after the schema was fixed may be longer)."""
    for column in table_schema["columns"]:
        needed = tracker.string_bytes.get(column["columnName"], 0)
        if column.get("columnType") == "STRING" and needed > int(column.get("fieldLength") or 0):
            raise CelonisError(
                f"Column {column['columnName']!r} holds a value of {needed} bytes, longer than the "
                f"{column.get('fieldLength')} declared when the push job was created, which Celonis would cut; "
                "the job was not executed. Raise its fieldLength in table_schema (at most 65000)."
            )
