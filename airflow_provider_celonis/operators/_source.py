"""The source parameters both sinks take (files, SQL, Arrow/pandas), their checks and their reading, in one place.

``CelonisPushDataOperator`` (Data Push) and ``CelonisIngestDataOperator`` (Standard Data Ingestion) mix
this in, so a source means the same to both and is checked the same way before any request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from airflow_provider_celonis.push.pipeline import rereadable
from airflow_provider_celonis.push.sources import (
    DEFAULT_SQL_BATCH_ROWS,
    SQL_READERS,
    CsvReadOptions,
    FileStart,
    WholeParquetFile,
    expand_paths,
    file_format,
    file_parts,
    object_batches,
    sql_batches,
    with_progress,
)

SOURCE_TEMPLATE_FIELDS = ("source_path", "sql", "sql_conn_id", "sql_parameters")


class SourceParameters:
    """Mixin: the source parameters of an operator, checked before any request and read as Arrow parts.

    Give exactly one of ``source_path``, ``sql`` and ``data``.

    :param source_path: a local path or glob (or a list of them) of parquet, CSV, gzip CSV or JSON lines
        (``.jsonl``/``.ndjson``, gzip by ``.gz``) files. Templated.
    :param sql: a query run through ``sql_conn_id`` (any Airflow database connection). Templated.
    :param data: a pyarrow Table / RecordBatch / RecordBatchReader, an iterable of RecordBatches, or a
        pandas DataFrame, built in the DAG file or a callable; not an XCom (it would go through the database).
    :param source_format: ``parquet``, ``csv`` or ``jsonl`` for ``source_path`` files whose names do not tell.
    :param csv_options: how CSV source files are read: ``delimiter``, ``quote_char``, ``escape_char``,
        ``encoding``, ``null_values``, ``column_types`` (without it every column is text, exactly as written).
    :param sql_conn_id: the Airflow connection ``sql`` runs on. Templated.
    :param sql_parameters: parameters bound to ``sql``. Templated.
    :param sql_batch_rows: rows fetched from the cursor at a time (default 50,000).
    :param sql_reader: how ``sql`` is read: ``auto`` (ADBC when a driver is installed for the connection's
        database, else DB-API), ``adbc`` or ``dbapi`` (see ``push.sql``).
    """

    def __init__(
        self,
        *,
        source_path: str | Sequence[str] | None = None,
        sql: str | None = None,
        data: Any = None,
        source_format: str | None = None,
        csv_options: Mapping[str, Any] | None = None,
        sql_conn_id: str | None = None,
        sql_parameters: Any = None,
        sql_batch_rows: int = DEFAULT_SQL_BATCH_ROWS,
        sql_reader: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_path = source_path
        self.sql = sql
        self.data = data
        self.source_format = source_format
        self.csv_options = csv_options
        self.sql_conn_id = sql_conn_id
        self.sql_parameters = sql_parameters
        self.sql_batch_rows = sql_batch_rows
        self.sql_reader = sql_reader

    def _validate_source(self) -> None:
        """Exactly one source, and every source option well-formed; errors name the value and the fix."""
        given = [name for name in ("source_path", "sql", "data") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"Give exactly one source: source_path, sql or data (got {', '.join(given) or 'none'}).")
        if self.sql is not None and not self.sql_conn_id:
            raise ValueError("sql needs sql_conn_id: the Airflow connection of the database to query.")
        if not isinstance(self.sql_batch_rows, int) or self.sql_batch_rows < 1:
            raise ValueError(f"sql_batch_rows must be a positive integer, not {self.sql_batch_rows!r}.")
        if self.sql_reader not in SQL_READERS:
            raise ValueError(f"sql_reader must be one of {', '.join(SQL_READERS)}, not {self.sql_reader!r}.")
        if self.source_format is not None:
            file_format("", self.source_format)
        CsvReadOptions.from_dict(self.csv_options)

    def _source_files(self) -> list[tuple[str, str]]:
        """(path, format) of every source file (an error for a pattern matching nothing or an unknown format)."""
        if self.source_path is None:
            return []
        return [(path, file_format(path, self.source_format)) for path in expand_paths(self.source_path)]

    def _source_parts(self, log: Any, every_bytes: int) -> Iterator[pa.RecordBatch | WholeParquetFile | FileStart]:
        """The source as Arrow parts, with progress lines in ``log``."""
        if self.source_path is not None:
            parts = file_parts(
                expand_paths(self.source_path), self.source_format, CsvReadOptions.from_dict(self.csv_options)
            )
        elif self.sql is not None:
            parts = sql_batches(
                self.sql_conn_id, self.sql, self.sql_parameters, self.sql_batch_rows, self.sql_reader, log
            )
        else:
            parts = object_batches(self.data)
        return with_progress(parts, log, every_bytes=every_bytes)

    def _source_rereadable(self) -> bool:
        """Whether the source can be read again from the start (files, a query, a Table or DataFrame)."""
        return self.data is None or rereadable(self.data)

    def _source_label(self) -> str:
        """A short name for objects made from a source that is not a file."""
        return "sql" if self.sql is not None else "data"

    def _source_lineage_inputs(self) -> list[Any]:
        """OpenLineage inputs: the files, or the tables the query reads."""
        from airflow_provider_celonis import lineage

        if self.source_path is not None:
            return lineage.file_datasets(self.source_path)
        if self.sql is not None and self.sql_conn_id:
            return lineage.sql_datasets(self.sql_conn_id, self.sql)
        return []
