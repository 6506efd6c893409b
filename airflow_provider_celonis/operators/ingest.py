"""Upload parquet files (CSV converted on the way) through the S3-compatible Standard Data Ingestion API."""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_celonis import assets
from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.push.encoding import INGESTION_PARQUET
from airflow_provider_celonis.push.schema import normalize_batch
from airflow_provider_celonis.push.sources import CsvReadOptions, csv_batches, expand_paths, file_format
from airflow_provider_celonis.validation import require_text

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

DEFAULT_MULTIPART_BYTES = 64 * 1024 * 1024
REENCODE_BATCH_ROWS = 64 * 1024
_UNSAFE_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class _IngestFile:
    source: str
    fmt: str
    columns: list[str]
    reencode: str | None = None  # why a parquet file cannot go up as it is


class CelonisIngestFilesOperator(BaseOperator):
    """Upload files to ``s3://continuous/connection/<connection_id>/<table_name>/`` with boto3.

    Celonis applies each file to the table asynchronously, upserting by the primary key configured on
    the "Push data into Celonis" data connection (an older age column value never overwrites a newer
    one). The endpoint takes uncompressed parquet only: uncompressed parquet files go up as they are
    (multipart above ``multipart_threshold_bytes``); compressed ones (snappy, zstd, gzip, …) are re-encoded
    without compression and CSV files converted, both streamed batch by batch (bounded memory). Before
    anything is uploaded, every file is checked to hold the ``primary_keys`` (and ``age_column``)
    columns, so a bad file never lands half a batch.
    The API has no status to wait for: the task ends when every file is uploaded.

    :param connection_id: the data connection's id (Data Integration > the connection's URL). Templated.
    :param table_name: the target table configured on that connection. Templated.
    :param source_path: a local path or glob (or a list) of parquet, CSV or gzip CSV files. Templated.
    :param primary_keys: columns every file must have (the connection's primary key). Templated.
    :param age_column: the connection's age column, checked like the keys (optional). Templated.
    :param celonis_conn_id: the connection whose extras hold ``ingestion_access_key_id`` and
        ``ingestion_secret_access_key`` (the data connection's credentials). Templated.
    :param region: AWS region for the signature; default from the team URL's realm (eu-1 -> eu-central-1).
    :param source_format: ``parquet`` or ``csv`` for files whose names do not tell.
    :param csv_options: how CSV files are read (as for ``CelonisPushDataOperator``).
    :param file_name_prefix: prepended to every object name; default ``<dag_id>-<task_id>-<run_id>-``, so
        an Airflow retry overwrites its own objects instead of adding copies.
    :param multipart_threshold_bytes: files larger than this are uploaded in parts of this size.
    :param emit_asset: on success, emit an asset event for ``celonis://<team>/connections/<id>/<table>`` with
        files, rows and bytes (default True; see docs/scheduling-on-celonis-data.md).
    """

    template_fields: Sequence[str] = ("celonis_conn_id", "connection_id", "table_name", "source_path",
                                      "primary_keys", "age_column", "file_name_prefix")
    ui_color = "#1f4fff"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        connection_id: str,
        table_name: str,
        source_path: str | Sequence[str],
        primary_keys: Sequence[str] | None = None,
        age_column: str | None = None,
        celonis_conn_id: str = CelonisHook.default_conn_name,
        region: str | None = None,
        source_format: str | None = None,
        csv_options: Mapping[str, Any] | None = None,
        file_name_prefix: str | None = None,
        multipart_threshold_bytes: int = DEFAULT_MULTIPART_BYTES,
        emit_asset: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.celonis_conn_id = celonis_conn_id
        assets.add_outlet(self, emit_asset)
        self.connection_id = connection_id
        self.table_name = table_name
        self.source_path = source_path
        self.primary_keys = primary_keys
        self.age_column = age_column
        self.celonis_conn_id = celonis_conn_id
        self.region = region
        self.source_format = source_format
        self.csv_options = csv_options
        self.file_name_prefix = file_name_prefix
        self.multipart_threshold_bytes = multipart_threshold_bytes

    def _validate(self) -> None:
        for name in ("connection_id", "table_name"):
            require_text(name, getattr(self, name), "copy it from the data connection in Celonis Data Integration.")
        if isinstance(self.primary_keys, str):
            raise ValueError(f"primary_keys must be a list of column names, not the string {self.primary_keys!r}: "
                             f"write [{self.primary_keys!r}].")
        if not isinstance(self.multipart_threshold_bytes, int) or self.multipart_threshold_bytes < 5 * 1024 * 1024:
            raise ValueError(f"multipart_threshold_bytes must be an integer of at least 5 MiB (the S3 minimum part "
                             f"size), not {self.multipart_threshold_bytes!r}.")

    def _inspect(self, path: str, options: CsvReadOptions) -> _IngestFile:
        fmt = file_format(path, self.source_format)
        if fmt == "parquet":
            try:
                metadata = pq.read_metadata(path)
                columns = metadata.schema.to_arrow_schema().names
            except Exception as exc:  # noqa: BLE001 - any unreadable file is named
                raise CelonisError(f"Cannot read parquet file {path!r}: {exc}") from None
            reencode = INGESTION_PARQUET.mismatch(metadata)
        else:
            batches = csv_batches(path, options)
            try:
                columns = next(batches).schema.names  # the header, from the first block only
            finally:
                batches.close()
        required = [*(self.primary_keys or []), *([self.age_column] if self.age_column else [])]
        missing = [c for c in required if c not in columns]
        if missing:
            raise CelonisError(f"{path!r} lacks the column(s) {', '.join(missing)} Celonis needs to apply it; its "
                               f"columns are: {', '.join(columns)}. Nothing was uploaded.")
        return _IngestFile(path, fmt, columns, reencode if fmt == "parquet" else "CSV")

    def execute(self, context: Context) -> dict[str, Any]:
        """Check every file, then upload them one by one; return what went where."""
        self._validate()
        options = CsvReadOptions.from_dict(self.csv_options)
        files = [self._inspect(path, options) for path in expand_paths(self.source_path)]
        hook = CelonisHook(self.celonis_conn_id)
        client = hook.get_ingestion_client(region=self.region)
        prefix = self.file_name_prefix if self.file_name_prefix is not None else self._default_prefix(context)
        started = time.monotonic()
        uploaded: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory(prefix="celonis-ingest-") as spool:
            for index, item in enumerate(files):
                base = os.path.basename(item.source).split(".")[0] or "file"
                name = _UNSAFE_KEY_CHARACTERS.sub("_", f"{prefix}{index:04d}-{base}") + ".parquet"
                local = item.source
                if item.reencode:
                    self.log.info("Re-encoding %s as uncompressed parquet (%s).", item.source, item.reencode)
                    target = os.path.join(spool, f"{index:04d}.parquet")
                    if item.fmt == "csv":
                        batches = (normalize_batch(b) for b in csv_batches(item.source, options))
                    else:  # the same columns and types; only the encoding changes
                        batches = _parquet_batches(item.source)
                    local = _write_ingestion_parquet(batches, target)
                key = hook.upload_ingestion_file(local, self.connection_id, self.table_name, file_name=name,
                                                 client=client, multipart_threshold=self.multipart_threshold_bytes)
                size = os.path.getsize(local)
                rows = pq.read_metadata(local).num_rows
                self.log.info("Uploaded %s (%d rows, %.1f MB) to s3://continuous/%s", item.source, rows,
                              size / 1e6, key)
                uploaded.append({"source": item.source, "key": key, "rows": rows, "bytes": size})
        result = {"connection_id": self.connection_id, "table_name": self.table_name, "files": uploaded,
                  "rows": sum(f["rows"] for f in uploaded), "bytes": sum(f["bytes"] for f in uploaded),
                  "duration_seconds": round(time.monotonic() - started, 3)}
        assets.emit_asset_event(self, context, self.celonis_target(hook.base_url), "ingestion", result)
        return result

    def celonis_target(self, base_url: str | None = None) -> assets.CelonisTarget:
        """The ingestion table this task feeds (its asset and its OpenLineage output)."""
        base_url = base_url or CelonisHook(self.celonis_conn_id).base_url
        return assets.ingestion_table_target(base_url, self.connection_id, self.table_name)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the files as inputs, the table of the data connection as output."""
        from airflow_provider_celonis import lineage

        output = lineage.dataset_of(self.celonis_target())
        return lineage.operator_lineage(lineage.file_datasets(self.source_path), [output])

    @staticmethod
    def _default_prefix(context: Context) -> str:
        ti = context["ti"]
        run_id = context.get("run_id") or getattr(ti, "run_id", "") or ""
        return f"{getattr(ti, 'dag_id', 'dag')}-{getattr(ti, 'task_id', 'task')}-{run_id}-"


def _parquet_batches(path: str) -> Iterator[pa.RecordBatch]:
    """A parquet file's rows in batches of ``REENCODE_BATCH_ROWS`` (pages read as needed: bounded memory)."""
    with pq.ParquetFile(path, pre_buffer=False) as parquet:
        empty = True
        for batch in parquet.iter_batches(batch_size=REENCODE_BATCH_ROWS):
            empty = False
            yield batch
        if empty:  # no rows: the file still carries its columns
            yield pa.RecordBatch.from_pylist([], schema=parquet.schema_arrow)


def _write_ingestion_parquet(batches: Iterable[pa.RecordBatch], target: str) -> str:
    """Write batches to ``target`` as parquet the ingestion endpoint takes (``INGESTION_PARQUET``)."""
    writer = None
    try:
        for batch in batches:
            if writer is None:
                writer = pq.ParquetWriter(target, batch.schema, **INGESTION_PARQUET.writer_options())
            writer.write_batch(batch)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise CelonisError(f"Internal error: no rows or columns were read for {target!r}.")
    return target
