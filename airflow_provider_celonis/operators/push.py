"""Push data into a data pool table through the Data Push API, streamed in chunks, and wait for the job."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from airflow_provider_celonis import assets
from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.links import XCOM_DATA_POOL_URL, CelonisDataPoolLink
from airflow_provider_celonis.models import PushFileType, PushType
from airflow_provider_celonis.operators._waiting import CelonisWaitingOperator
from airflow_provider_celonis.push.chunks import (
    CSV_PARSING_OPTIONS,
    DEFAULT_CHUNK_BYTES,
    ChunkSpool,
    PreparedPush,
    validate_chunk_size,
)
from airflow_provider_celonis.push.encoding import DATA_PUSH_PARQUET, parse_timestamps
from airflow_provider_celonis.push.sources import (
    DEFAULT_SQL_BATCH_ROWS,
    SQL_READERS,
    CsvReadOptions,
    WholeParquetFile,
    expand_paths,
    file_parts,
    object_batches,
    sql_batches,
    with_progress,
)
from airflow_provider_celonis.push.submit import submit_push_job
from airflow_provider_celonis.push.upload import ChunkUploader, UnclearUpload
from airflow_provider_celonis.validation import require_text
from airflow_provider_celonis.waiting import PushJobWatch

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

UPSERT_STRATEGIES = ("UPSERT_WITH_UNCHANGED_METADATA", "UPSERT_WITH_NULLIFICATION")
MAX_JOB_ATTEMPTS = 2


class CelonisPushDataOperator(CelonisWaitingOperator):
    """Push rows from files, a SQL query or an Arrow/pandas object into a data pool table, and wait.

    The source is streamed into parquet (or CSV) chunk files of at most ``chunk_size_bytes`` in a local
    spool directory, measuring the data on the way; then a push job is created with a table schema
    derived from the data (types and string lengths, so Celonis never cuts a string to 80 characters),
    the chunks are uploaded, the job is executed, and the task waits for DONE. If anything fails after
    the job was created, the job is deleted (before execution) or cancelled (after), so no half-pushed
    job is ever executed later.

    Give exactly one source:

    :param source_path: a local path or glob (or a list of them) of parquet, CSV or gzip CSV files. Templated.
    :param sql: a query run through ``sql_conn_id`` (any Airflow database connection). Templated.
    :param data: a pyarrow Table / RecordBatch / RecordBatchReader, an iterable of RecordBatches, or a
        pandas DataFrame, built in the DAG file or a callable; not an XCom (it would go through the database).

    :param pool_id: the data pool id. Templated.
    :param pool_name: or the data pool's name as shown in Celonis (one lookup before anything is read). Templated.
    :param table_name: the target table in the pool. Templated.
    :param push_type: ``REPLACE`` (the table becomes the data) or ``DELTA`` (upsert by ``keys``, append without).
    :param keys: primary key columns for a DELTA upsert. Templated.
    :param upsert_strategy: ``UPSERT_WITH_UNCHANGED_METADATA`` or ``UPSERT_WITH_NULLIFICATION`` (DELTA only).
    :param file_type: chunk format: ``PARQUET`` (default, typed and compact) or ``CSV``.
    :param table_schema: per-column overrides of the derived schema, e.g. ``{"note": {"fieldLength": 4000}}``.
    :param source_format: ``parquet`` or ``csv`` for ``source_path`` files whose names do not tell.
    :param csv_options: how CSV source files are read: ``delimiter``, ``quote_char``, ``escape_char``,
        ``encoding``, ``null_values``, ``column_types`` (without it every column is text, exactly as written).
    :param sql_conn_id: the Airflow connection ``sql`` runs on. Templated.
    :param sql_parameters: parameters bound to ``sql``. Templated.
    :param sql_batch_rows: rows fetched from the cursor at a time.
    :param sql_reader: how ``sql`` is read: ``auto`` (ADBC when a driver is installed for the connection's
        database, else DB-API), ``adbc`` or ``dbapi`` (see ``push.sql``).
    :param connection_id: the data connection in the pool the table belongs to (optional). Templated.
    :param parquet_timestamps: how parquet chunks store timestamps: ``int96`` (default; what Celonis's own
        client writes for Data Push, microseconds kept) or ``int64_us`` (opt-in; no source shows Data Push
        reading it). A parquet source file in the other encoding is re-encoded, not sent unchanged.
    :param chunk_size_bytes: the largest chunk (default 256 MiB; the API limit is 1 GB).
    :param max_concurrent_uploads: chunks uploaded at the same time (default 2).
    :param spool_dir: where chunk files are written (default: the system temp directory); needs room for
        the data as compressed parquet.
    :param emit_asset: on success, emit an asset event for ``celonis://<team>/<pool>/<table>`` with rows,
        chunks, the push job id and its status (default True; see docs/scheduling-on-celonis-data.md).

    The waiting parameters (``wait_for_completion``, ``poll_interval``, ``timeout``, ``deferrable``, …)
    mean what they mean for ``CelonisReloadDataModelOperator``. Returns (and pushes to XCom) a summary
    with the push job id, status, chunks, rows, bytes and duration.
    """

    template_fields: Sequence[str] = ("celonis_conn_id", "pool_id", "pool_name", "table_name", "source_path", "sql",
                                      "sql_conn_id", "sql_parameters", "keys", "connection_id")
    template_fields_renderers = {"sql": "sql"}
    operator_extra_links = (CelonisDataPoolLink(),)

    def __init__(
        self,
        *,
        table_name: str,
        source_path: str | Sequence[str] | None = None,
        sql: str | None = None,
        data: Any = None,
        push_type: str = "REPLACE",
        keys: Sequence[str] | None = None,
        upsert_strategy: str | None = None,
        file_type: str = "PARQUET",
        table_schema: Mapping[str, Mapping[str, Any]] | None = None,
        source_format: str | None = None,
        csv_options: Mapping[str, Any] | None = None,
        sql_conn_id: str | None = None,
        sql_parameters: Any = None,
        sql_batch_rows: int = DEFAULT_SQL_BATCH_ROWS,
        sql_reader: str = "auto",
        connection_id: str | None = None,
        parquet_timestamps: str = DATA_PUSH_PARQUET.timestamps,
        chunk_size_bytes: int = DEFAULT_CHUNK_BYTES,
        max_concurrent_uploads: int = 2,
        spool_dir: str | None = None,
        emit_asset: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        assets.add_outlet(self, emit_asset)
        self.table_name = table_name
        self.source_path = source_path
        self.sql = sql
        self.data = data
        self.push_type = push_type
        self.keys = keys
        self.upsert_strategy = upsert_strategy
        self.file_type = file_type
        self.table_schema = table_schema
        self.source_format = source_format
        self.csv_options = csv_options
        self.sql_conn_id = sql_conn_id
        self.sql_parameters = sql_parameters
        self.sql_batch_rows = sql_batch_rows
        self.sql_reader = sql_reader
        self.connection_id = connection_id
        self.parquet_timestamps = parquet_timestamps
        self.chunk_size_bytes = chunk_size_bytes
        self.max_concurrent_uploads = max_concurrent_uploads
        self.spool_dir = spool_dir
        self._push_job_id: str | None = None
        self._executed = False

    # --- checks ---------------------------------------------------------------------------------

    def _validate(self) -> None:
        super()._validate()
        require_text("table_name", self.table_name, "name the data pool table to push into.")
        given = [name for name in ("source_path", "sql", "data") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"Give exactly one source: source_path, sql or data (got {', '.join(given) or 'none'}).")
        if self.sql is not None and not self.sql_conn_id:
            raise ValueError("sql needs sql_conn_id: the Airflow connection of the database to query.")
        push_type = PushType.parse(self.push_type)
        PushFileType.parse(self.file_type)
        if isinstance(self.keys, str):
            raise ValueError(f"keys must be a list of column names, not the string {self.keys!r}: "
                             f"write [{self.keys!r}].")
        if self.upsert_strategy is not None:
            if self.upsert_strategy not in UPSERT_STRATEGIES:
                raise ValueError(f"upsert_strategy must be one of {', '.join(UPSERT_STRATEGIES)}, "
                                 f"not {self.upsert_strategy!r}.")
            if push_type is not PushType.DELTA:
                raise ValueError("upsert_strategy applies to DELTA pushes only; remove it or set push_type='DELTA'.")
        if self.keys and push_type is not PushType.DELTA:
            raise ValueError("keys apply to DELTA pushes (upsert); a REPLACE push replaces the whole table. "
                             "Remove keys or set push_type='DELTA'.")
        validate_chunk_size(self.chunk_size_bytes)
        parse_timestamps(self.parquet_timestamps)
        if not isinstance(self.max_concurrent_uploads, int) or not 1 <= self.max_concurrent_uploads <= 16:
            raise ValueError(f"max_concurrent_uploads must be an integer from 1 to 16, not "
                             f"{self.max_concurrent_uploads!r}.")
        if not isinstance(self.sql_batch_rows, int) or self.sql_batch_rows < 1:
            raise ValueError(f"sql_batch_rows must be a positive integer, not {self.sql_batch_rows!r}.")
        if self.sql_reader not in SQL_READERS:
            raise ValueError(f"sql_reader must be one of {', '.join(SQL_READERS)}, not {self.sql_reader!r}.")
        CsvReadOptions.from_dict(self.csv_options)

    # --- the push -------------------------------------------------------------------------------

    def _source_parts(self) -> Iterator[pa.RecordBatch | WholeParquetFile]:
        if self.source_path is not None:
            parts = file_parts(expand_paths(self.source_path), self.source_format,
                               CsvReadOptions.from_dict(self.csv_options))
        elif self.sql is not None:
            parts = sql_batches(self.sql_conn_id, self.sql, self.sql_parameters, self.sql_batch_rows,
                                self.sql_reader, self.log)
        else:
            parts = object_batches(self.data)
        return with_progress(parts, self.log, every_bytes=self.chunk_size_bytes)

    def start(self, context: Context) -> tuple[PushJobWatch | None, dict[str, Any]]:
        """Spool the source into chunks, create the push job, upload, execute; the watch follows the job."""
        hook = self.hook
        context["ti"].xcom_push(key=XCOM_DATA_POOL_URL, value=hook.data_pool_url(self.pool_id))
        push_type = PushType.parse(self.push_type)
        file_type = PushFileType.parse(self.file_type)
        keys = list(self.keys or [])
        deadline = time.time() + self.timeout  # waits for a submit slot count against the task's timeout
        with tempfile.TemporaryDirectory(prefix="celonis-push-", dir=self.spool_dir) as spool:
            began = time.monotonic()
            spooler = ChunkSpool(spool, self.chunk_size_bytes, file_type.value,
                                 encoding=DATA_PUSH_PARQUET.with_timestamps(self.parquet_timestamps))
            prepared = spooler.add(self._source_parts())
            missing = [k for k in keys if k not in prepared.tracker.schema.names]
            if missing:
                raise CelonisError(f"Key column(s) {', '.join(missing)} are not in the data; its columns are: "
                                   f"{', '.join(prepared.tracker.schema.names)}.")
            table_schema = prepared.tracker.table_schema(self.table_name, keys, self.table_schema)
            self.log.info("Prepared %d rows in %d chunk(s), %.1f MB, in %.1f s (%d sent unchanged).", prepared.rows,
                          len(prepared.chunks), prepared.size / 1e6, time.monotonic() - began,
                          sum(c.passthrough for c in prepared.chunks))
            if prepared.rows == 0 and push_type is PushType.DELTA:
                self.log.info("The source has no rows: a DELTA push of nothing changes nothing; no job created.")
                return None, {"pool_id": self.pool_id, "push_job_id": None, "table_name": self.table_name,
                              "rows": 0, "chunks": 0, "bytes": 0, "skipped": True}
            for job_attempt in range(1, MAX_JOB_ATTEMPTS + 1):
                job = hook.create_push_job(
                    self.pool_id, self.table_name, push_type=push_type, file_type=file_type,
                    connection_id=self.connection_id, keys=keys or None, table_schema=table_schema,
                    csv_parsing_options=CSV_PARSING_OPTIONS if file_type is PushFileType.CSV else None,
                    upsert_strategy=self.upsert_strategy)
                self._push_job_id = job.id
                self.log.info("Created push job %s (%s into %s).", job.id, push_type.value, self.table_name)
                try:
                    uploaded_at = time.monotonic()
                    self._upload(job.id, prepared)
                    upload_seconds = time.monotonic() - uploaded_at
                    break
                except UnclearUpload as exc:
                    self._discard_job(f"{exc}: starting over with a new job")
                    self._push_job_id = None
                    if job_attempt == MAX_JOB_ATTEMPTS:
                        raise CelonisError(f"Could not tell which chunks Celonis stored ({exc}) in "
                                           f"{MAX_JOB_ATTEMPTS} jobs; nothing was pushed.") from None
                except BaseException:
                    self._discard_job("the push failed before the job ran")
                    raise
            try:
                self._execute(job.id, deadline)
            except BaseException:
                self._discard_job("the push failed before the job ran")
                raise
        self.log.info("Uploaded %.1f MB in %.2f s (%.1f MB/s) and executed push job %s.", prepared.size / 1e6,
                      upload_seconds, prepared.size / 1e6 / max(upload_seconds, 1e-9), job.id)
        watch = PushJobWatch(pool_id=self.pool_id, push_job_id=job.id, table_name=self.table_name)
        return watch, {"pool_id": self.pool_id, "push_job_id": job.id, "table_name": self.table_name,
                "push_type": push_type.value, "file_type": file_type.value, "rows": prepared.rows,
                "chunks": len(prepared.chunks), "chunks_sent_unchanged": sum(c.passthrough for c in prepared.chunks),
                "bytes": prepared.size, "upload_seconds": round(upload_seconds, 3)}

    def _upload(self, job_id: str, prepared: PreparedPush) -> None:
        """Upload every chunk exactly once (see ``push.upload``)."""
        uploader = ChunkUploader(self.hook, self.pool_id, job_id, self.max_concurrent_uploads, self.log,
                                 PushFileType.parse(self.file_type).value)
        uploader.upload(prepared.chunks)

    def _execute(self, job_id: str, deadline: float) -> None:
        """Submit the job exactly once (``push.submit``): 409s and unclear failures read the job first."""
        submit_push_job(self.hook, self.pool_id, job_id, deadline, self.log)
        self._executed = True

    # --- waiting and cleanup ----------------------------------------------------------------------

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None,
                         summary: dict[str, Any] | None = None, state: dict[str, Any] | None = None) -> dict[str, Any]:
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

        inputs: list[Any] = []
        if self.source_path is not None:
            inputs = lineage.file_datasets(self.source_path)
        elif self.sql is not None and self.sql_conn_id:
            inputs = lineage.sql_datasets(self.sql_conn_id, self.sql)
        return lineage.operator_lineage(inputs, [lineage.dataset_of(self.celonis_target())])

    def on_kill(self) -> None:
        """Killed while spooling, uploading or waiting: delete or cancel the job."""
        if self.cancel_on_kill:
            self._discard_job("task killed")
