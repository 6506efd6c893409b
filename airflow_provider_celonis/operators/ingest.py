"""Send any source (files, SQL, Arrow/pandas) through the S3-compatible Standard Data Ingestion API."""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_celonis import assets
from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.operators._source import SOURCE_TEMPLATE_FIELDS, SourceParameters
from airflow_provider_celonis.push.chunks import MAX_CHUNK_BYTES, MIN_CHUNK_BYTES, Chunk, ChunkSpool
from airflow_provider_celonis.push.encoding import INGESTION_PARQUET
from airflow_provider_celonis.push.ingestion import DEFAULT_MULTIPART_BYTES, MIN_PART_BYTES, ObjectUploader
from airflow_provider_celonis.push.memory import push_memory_pool
from airflow_provider_celonis.push.pipeline import (
    DEFAULT_MAX_SPOOLED_CHUNKS,
    ChunkStream,
    validate_max_spooled_chunks,
)
from airflow_provider_celonis.push.sources import CsvReadOptions, file_columns
from airflow_provider_celonis.validation import DEFAULT_CONCURRENT_UPLOADS, require_concurrent_uploads, require_text

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# Objects of at most 128 MiB by default: twice the multipart threshold (``DEFAULT_MULTIPART_BYTES``), so a
# full object goes up in parts; peak spool disk is (max_spooled_chunks + 1) times this.
DEFAULT_OBJECT_BYTES = 128 * 1024 * 1024
_UNSAFE_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


class CelonisIngestDataOperator(SourceParameters, BaseOperator):
    """Write any source as uncompressed parquet objects to ``s3://continuous/connection/<id>/<table>/``.

    Celonis applies each object to the table asynchronously, upserting by the primary key configured on
    the "Push data into Celonis" data connection (an older age column value never overwrites a newer
    one). The endpoint takes uncompressed parquet only; flat and nested columns (struct, list) both go.
    The source is read in a thread of its own into objects of at most ``object_size_bytes`` (each source
    file starts an object of its own; an uncompressed parquet file that fits goes up unchanged), and each
    object uploads while the next is written: ``max_concurrent_uploads`` at once, at most
    ``max_spooled_chunks`` finished object files on local disk. Before anything is uploaded the
    ``primary_keys`` and ``age_column`` are checked: in every source file's columns, else in the first batch.
    The API has no status to wait for: the task ends when every object is uploaded.

    The source parameters (exactly one of ``source_path``, ``sql``, ``data``; ``source_format``, ``csv_options``,
    ``sql_conn_id``, ``sql_parameters``, ``sql_batch_rows``, ``sql_reader``) are those of
    [SourceParameters][airflow_provider_celonis.operators._source.SourceParameters], shared with
    ``CelonisPushDataOperator``.

    :param connection_id: the data connection's id (Data Integration > the connection's URL). Templated.
    :param table_name: the target table configured on that connection. Templated.
    :param primary_keys: columns the data must have (the connection's primary key). Templated.
    :param age_column: the connection's age column, checked like the keys (optional). Templated.
    :param celonis_conn_id: the connection whose extras hold ``ingestion_access_key_id`` and
        ``ingestion_secret_access_key`` (the data connection's credentials). Templated.
    :param region: AWS region for the signature; default from the team URL's realm (eu-1 -> eu-central-1).
    :param file_name_prefix: prepended to every object name; default ``<dag_id>-<task_id>-<run_id>-``, so
        an Airflow retry overwrites its own objects instead of adding copies.
    :param object_size_bytes: the largest object written (default 128 MiB).
    :param max_concurrent_uploads: objects uploaded at the same time (default 2).
    :param max_spooled_chunks: finished object files on local disk at once, besides the one being written.
    :param multipart_threshold_bytes: objects larger than this go up in parts of this size (multipart; a
        server refusing multipart gets one PutObject instead).
    :param spool_dir: where object files are written (default: the system temp directory).
    :param emit_asset: on success, emit an asset event for ``celonis://<team>/connections/<id>/<table>`` with
        objects, rows and bytes (default True; see docs/scheduling-on-celonis-data.md).
    """

    template_fields: Sequence[str] = (
        "celonis_conn_id",
        "connection_id",
        "table_name",
        *SOURCE_TEMPLATE_FIELDS,
        "primary_keys",
        "age_column",
        "file_name_prefix",
    )
    template_fields_renderers = {"sql": "sql"}
    ui_color = "#1f4fff"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        connection_id: str,
        table_name: str,
        primary_keys: Sequence[str] | None = None,
        age_column: str | None = None,
        celonis_conn_id: str = CelonisHook.default_conn_name,
        region: str | None = None,
        file_name_prefix: str | None = None,
        object_size_bytes: int = DEFAULT_OBJECT_BYTES,
        max_concurrent_uploads: int = DEFAULT_CONCURRENT_UPLOADS,
        max_spooled_chunks: int = DEFAULT_MAX_SPOOLED_CHUNKS,
        multipart_threshold_bytes: int = DEFAULT_MULTIPART_BYTES,
        spool_dir: str | None = None,
        emit_asset: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.celonis_conn_id = celonis_conn_id
        assets.add_outlet(self, emit_asset)
        self.connection_id = connection_id
        self.table_name = table_name
        self.primary_keys = primary_keys
        self.age_column = age_column
        self.celonis_conn_id = celonis_conn_id
        self.region = region
        self.file_name_prefix = file_name_prefix
        self.object_size_bytes = object_size_bytes
        self.max_concurrent_uploads = max_concurrent_uploads
        self.max_spooled_chunks = max_spooled_chunks
        self.multipart_threshold_bytes = multipart_threshold_bytes
        self.spool_dir = spool_dir
        self.peak_spooled_chunks = 0  # the most object files that existed at once (for tests and the benchmark)

    def _validate(self) -> None:
        for name in ("connection_id", "table_name"):
            require_text(name, getattr(self, name), "copy it from the data connection in Celonis Data Integration.")
        if isinstance(self.primary_keys, str):
            raise ValueError(
                f"primary_keys must be a list of column names, not the string {self.primary_keys!r}: "
                f"write [{self.primary_keys!r}]."
            )
        self._validate_source()
        if (
            isinstance(self.multipart_threshold_bytes, bool)
            or not isinstance(self.multipart_threshold_bytes, int)
            or self.multipart_threshold_bytes < MIN_PART_BYTES
        ):
            raise ValueError(
                f"multipart_threshold_bytes must be an integer of at least 5 MiB (the S3 minimum part "
                f"size), not {self.multipart_threshold_bytes!r}."
            )
        if (
            isinstance(self.object_size_bytes, bool)
            or not isinstance(self.object_size_bytes, int)
            or not MIN_CHUNK_BYTES <= self.object_size_bytes <= MAX_CHUNK_BYTES
        ):
            raise ValueError(
                f"object_size_bytes must be an integer from {MIN_CHUNK_BYTES} to {MAX_CHUNK_BYTES}, not "
                f"{self.object_size_bytes!r}; the default is {DEFAULT_OBJECT_BYTES}."
            )
        require_concurrent_uploads(self.max_concurrent_uploads)
        validate_max_spooled_chunks(self.max_spooled_chunks)

    # --- checks before any upload ---------------------------------------------------------------

    def _required_columns(self) -> list[str]:
        return [*(self.primary_keys or []), *([self.age_column] if self.age_column else [])]

    def _check_columns(self, columns: Sequence[str], where: str) -> None:
        missing = [c for c in self._required_columns() if c not in columns]
        if missing:
            raise CelonisError(
                f"{where} lacks the column(s) {', '.join(missing)} Celonis needs to apply it; its "
                f"columns are: {', '.join(columns)}. Nothing was uploaded."
            )

    def _check_files(self) -> None:
        """Every source file holds the key and age columns (metadata or first block only), before any upload."""
        options = CsvReadOptions.from_dict(self.csv_options)
        for path, fmt in self._source_files():
            self._check_columns(file_columns(path, fmt, options), repr(path))

    def _checked_parts(self, parts: Iterable[Any]) -> Iterator[Any]:
        """The parts, each batch checked for the key and age columns before it is written."""
        checked = self.source_path is not None  # files were checked up front
        for part in parts:
            if not checked and isinstance(part, pa.RecordBatch):
                self._check_columns(part.schema.names, "The source")
                checked = True
            yield part

    # --- the upload -----------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        """Check, then read the source into objects and upload them as they come; return what went where."""
        self._validate()
        self._check_files()
        hook = CelonisHook(self.celonis_conn_id)
        client = hook.get_ingestion_client(region=self.region)
        prefix = self.file_name_prefix if self.file_name_prefix is not None else self._default_prefix(context)
        label = self._source_label()
        started = time.monotonic()
        with push_memory_pool(), tempfile.TemporaryDirectory(prefix="celonis-ingest-", dir=self.spool_dir) as spool_dir:
            spool = ChunkSpool(
                spool_dir, self.object_size_bytes, "PARQUET", encoding=INGESTION_PARQUET, nested=True, measure=False
            )
            parts = self._checked_parts(self._source_parts(self.log, self.object_size_bytes))
            stream = ChunkStream(parts, spool, self.max_spooled_chunks, split_files=True).start()
            uploader = ObjectUploader(
                client,
                self.connection_id,
                self.table_name,
                self.max_concurrent_uploads,
                self.multipart_threshold_bytes,
                self.log,
            )

            def name(index: int, chunk: Chunk) -> str:
                base = os.path.basename(chunk.source).split(".")[0] if chunk.source else label
                return _UNSAFE_KEY_CHARACTERS.sub("_", f"{prefix}{index:04d}-{base or 'file'}") + ".parquet"

            try:
                uploaded = uploader.upload_stream(stream.items(), name, on_stored=stream.done)
            finally:
                stream.close()
                self.peak_spooled_chunks = stream.slots.peak
        uploaded.sort(key=lambda u: u["key"])
        seconds = time.monotonic() - started
        size = sum(u["bytes"] for u in uploaded)
        self.log.info(
            "Uploaded %d object(s), %s rows, %.1f MB in %.1f s (%.1f MB/s).",
            len(uploaded),
            f"{sum(u['rows'] for u in uploaded):,}",
            size / 1e6,
            seconds,
            size / 1e6 / max(seconds, 1e-9),
        )
        result = {
            "connection_id": self.connection_id,
            "table_name": self.table_name,
            "objects": uploaded,
            "files": uploaded,
            "rows": sum(u["rows"] for u in uploaded),
            "bytes": size,
            "multipart": uploader.multipart,
            "duration_seconds": round(seconds, 3),
        }
        assets.emit_asset_event(self, context, self.celonis_target(hook.base_url), "ingestion", result)
        return result

    def celonis_target(self, base_url: str | None = None) -> assets.CelonisTarget:
        """The ingestion table this task feeds (its asset and its OpenLineage output)."""
        base_url = base_url or CelonisHook(self.celonis_conn_id).base_url
        return assets.ingestion_table_target(base_url, self.connection_id, self.table_name)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the source as inputs, the table of the data connection as output."""
        from airflow_provider_celonis import lineage

        output = lineage.dataset_of(self.celonis_target())
        return lineage.operator_lineage(self._source_lineage_inputs(), [output])

    @staticmethod
    def _default_prefix(context: Context) -> str:
        ti = context["ti"]
        run_id = context.get("run_id") or getattr(ti, "run_id", "") or ""
        return f"{getattr(ti, 'dag_id', 'dag')}-{getattr(ti, 'task_id', 'task')}-{run_id}-"


class CelonisIngestFilesOperator(CelonisIngestDataOperator):
    """``CelonisIngestDataOperator`` for files: ``source_path`` is required (parquet, CSV, gzip CSV, JSON lines).

    Kept for DAGs written before ``CelonisIngestDataOperator`` took every source; it behaves the same.

    :param source_path: the files (a path, a glob or a list of them), required here; read as the
        ``source_path`` of [SourceParameters][airflow_provider_celonis.operators._source.SourceParameters].
        Templated.

    The other parameters are those of ``CelonisIngestDataOperator`` except ``sql`` and ``data``.
    """

    def __init__(self, *, source_path: str | Sequence[str], **kwargs: Any) -> None:
        other = sorted(set(kwargs) & {"sql", "data"})
        if other:
            raise ValueError(
                f"CelonisIngestFilesOperator takes files only, not {', '.join(other)}: use "
                "CelonisIngestDataOperator for a SQL query or in-process data."
            )
        super().__init__(source_path=source_path, **kwargs)
