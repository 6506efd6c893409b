"""Data sources of a push, each read as a stream of Arrow record batches (never all in memory).

- files or globs: parquet (whole, or in slices of rows), CSV, gzip CSV and JSON lines (read block by block);
- a SQL query through any Airflow database connection (``push.sql``: ADBC, Arrow from the cursor, or rows
  from a streaming DB-API cursor);
- a pyarrow Table, RecordBatch, RecordBatchReader or iterable of batches, or a pandas DataFrame.

A parquet file is handed over whole (``WholeParquetFile``) so the chunker can send it unchanged
when Celonis can take it as it is.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.push.sql import (  # noqa: F401  (the SQL source lives in push.sql)
    DEFAULT_SQL_BATCH_ROWS,
    SQL_READERS,
    rows_to_batch,
    sql_batches,
)

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")
JSON_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz")
SOURCE_FORMATS = ("parquet", "csv", "jsonl")
# Bytes of text parsed at a time. pyarrow's streaming readers keep many blocks in flight (measured: with
# 8 MiB blocks a CSV file peaked at +275 MiB, with 1 MiB at +85 MiB, flat from 250 MB to 500 MB files);
# the chunker coalesces the small batches again before writing, so row groups stay large.
CSV_BLOCK_BYTES = 1024 * 1024
JSON_BLOCK_BYTES = 1024 * 1024
# Read buffer of a parquet file read in slices (pages as needed, not whole column chunks).
PARQUET_READ_BUFFER_BYTES = 1024 * 1024
# Celonis type names accepted in csv column_types, as the Arrow types they are read into.
_CELONIS_TO_ARROW = {
    "INTEGER": pa.int64(),
    "FLOAT": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "DATETIME": pa.timestamp("us"),
    "STRING": pa.string(),
}


@dataclass(frozen=True)
class WholeParquetFile:
    """A parquet file of the source, given to the chunker whole."""

    path: str


@dataclass(frozen=True)
class FileStart:
    """Marks where the parts of the next source file begin (for object names and per-file objects)."""

    path: str


@dataclass(frozen=True)
class CsvReadOptions:
    """How CSV source files are read. Without ``column_types`` every column is read as text, unchanged."""

    delimiter: str = ","
    quote_char: str = '"'
    escape_char: str | None = None
    encoding: str = "utf8"
    null_values: tuple[str, ...] = ("",)
    column_types: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, options: Mapping[str, Any] | None) -> CsvReadOptions:
        """Build from the operator's ``csv_options``; unknown keys are an error naming the known ones."""
        options = dict(options or {})
        known = {"delimiter", "quote_char", "escape_char", "encoding", "null_values", "column_types"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise CelonisError(f"Unknown csv_options key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        if "null_values" in options:
            options["null_values"] = tuple(options["null_values"] or ())
        for key in ("delimiter", "quote_char"):
            if key in options and (not isinstance(options[key], str) or len(options[key]) != 1):
                raise CelonisError(f"csv_options[{key!r}] must be one character, not {options[key]!r}.")
        return cls(**options)

    def arrow_types(self) -> dict[str, pa.DataType]:
        """``column_types`` as Arrow types (Arrow aliases such as ``int64`` or Celonis names such as ``FLOAT``)."""
        types = {}
        for name, kind in self.column_types.items():
            if isinstance(kind, pa.DataType):
                types[name] = kind
            elif str(kind).upper() in _CELONIS_TO_ARROW:
                types[name] = _CELONIS_TO_ARROW[str(kind).upper()]
            else:
                try:
                    types[name] = pa.type_for_alias(str(kind))
                except ValueError:
                    raise CelonisError(
                        f"csv_options column_types[{name!r}] = {kind!r} is not a type: use an Arrow type name "
                        f"(int64, double, bool, date32, timestamp[us], string, …) or one of "
                        f"{', '.join(_CELONIS_TO_ARROW)}."
                    ) from None
        return types


def expand_paths(patterns: str | Sequence[str]) -> list[str]:
    """Local files named by paths or glob patterns, in sorted order; a pattern matching nothing is an error."""
    if isinstance(patterns, str | os.PathLike):
        patterns = [patterns]
    paths: list[str] = []
    for pattern in patterns:
        pattern = os.fspath(pattern)
        matches = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not matches:
            raise CelonisError(f"No file matches {pattern!r} (on the machine running the task).")
        paths.extend(m for m in matches if m not in paths)
    return paths


def file_format(path: str, declared: str | None = None) -> str:
    """``parquet``, ``csv`` or ``jsonl``: as declared, else from the file name."""
    if declared:
        value = declared.lower()
        if value not in SOURCE_FORMATS:
            raise CelonisError(f"source_format must be 'parquet', 'csv' or 'jsonl', not {declared!r}.")
        return value
    lower = path.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    if lower.endswith(JSON_SUFFIXES):
        return "jsonl"
    raise CelonisError(
        f"Cannot tell the format of {path!r} from its name: name it .parquet, .csv[.gz] or "
        ".jsonl[.gz], or set source_format='parquet', 'csv' or 'jsonl'."
    )


def json_batches(path: str) -> Iterator[pa.RecordBatch]:
    """A JSON lines file (one object per line, gzip detected from the name) as record batches, block by block.

    Types are inferred by pyarrow from the first block (nested objects become struct columns, arrays list
    columns); a later line that does not fit them fails naming the file.
    """
    read = pajson.ReadOptions(block_size=JSON_BLOCK_BYTES)
    try:
        with pajson.open_json(pa.input_stream(path, compression="detect"), read_options=read) as reader:
            empty = True
            for batch in reader:
                empty = False
                yield batch
            if empty:
                yield pa.RecordBatch.from_pylist([], schema=reader.schema)
    except pa.ArrowInvalid as exc:
        if "Empty" in str(exc) or "empty" in str(exc):
            raise CelonisError(f"JSON lines file {path!r} has no rows, so no columns: nothing to send.") from None
        raise CelonisError(f"Cannot read JSON lines file {path!r}: {exc}") from None


def file_columns(path: str, fmt: str, options: CsvReadOptions) -> list[str]:
    """The column names of a source file, read from its metadata or first block only."""
    if fmt == "parquet":
        try:
            return pq.read_schema(path).names
        except (pa.ArrowInvalid, OSError) as exc:
            raise CelonisError(f"Cannot read parquet file {path!r}: {exc}") from None
    batches = csv_batches(path, options) if fmt == "csv" else json_batches(path)
    try:
        return next(batches).schema.names
    finally:
        batches.close()


def csv_batches(path: str, options: CsvReadOptions) -> Iterator[pa.RecordBatch]:
    """A CSV file (gzip detected from the name) as record batches, one block at a time."""
    parse = pacsv.ParseOptions(
        delimiter=options.delimiter,
        quote_char=options.quote_char,
        escape_char=options.escape_char or False,
        double_quote=options.escape_char in (None, options.quote_char),
        newlines_in_values=True,
    )
    read = pacsv.ReadOptions(encoding=options.encoding, block_size=CSV_BLOCK_BYTES, use_threads=False)

    def open_reader(convert: pacsv.ConvertOptions | None) -> pacsv.CSVStreamingReader:
        stream = pa.input_stream(path, compression="detect")
        return pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)

    try:
        with open_reader(None) as probe:
            names = probe.schema.names
        declared = options.arrow_types()
        unknown = sorted(set(declared) - set(names))
        if unknown:
            raise CelonisError(
                f"csv_options column_types names column(s) {', '.join(unknown)} that {path!r} does "
                f"not have; its columns are: {', '.join(names)}."
            )
        convert = pacsv.ConvertOptions(
            column_types={name: declared.get(name, pa.string()) for name in names},
            null_values=list(options.null_values),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        with open_reader(convert) as reader:
            empty = True
            for batch in reader:
                empty = False
                yield batch
            if empty:  # a header without rows still names the columns
                yield pa.RecordBatch.from_pylist([], schema=reader.schema)
    except pa.ArrowInvalid as exc:
        raise CelonisError(f"Cannot read CSV file {path!r}: {exc}") from None


def file_parts(
    paths: Sequence[str], source_format: str | None, csv_options: CsvReadOptions
) -> Iterator[pa.RecordBatch | WholeParquetFile | FileStart]:
    """The files of a source, parquet whole, CSV and JSON lines as batches."""
    for path in paths:
        fmt = file_format(path, source_format)
        yield FileStart(path)
        if fmt == "parquet":
            yield WholeParquetFile(path)
        elif fmt == "csv":
            yield from csv_batches(path, csv_options)
        else:
            yield from json_batches(path)


def object_batches(data: Any) -> Iterator[pa.RecordBatch]:
    """Record batches of an in-process object: pyarrow Table/RecordBatch/reader, pandas DataFrame, or batches."""
    if isinstance(data, pa.Table):
        yield from data.to_batches()
    elif isinstance(data, pa.RecordBatch):
        yield data
    elif isinstance(data, pa.RecordBatchReader):
        yield from data
    elif type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
        yield from pa.Table.from_pandas(data, preserve_index=False).to_batches()
    elif isinstance(data, Iterable) and not isinstance(data, str | bytes | Mapping):
        for item in data:
            if not isinstance(item, pa.RecordBatch):
                raise CelonisError(f"An iterable source must yield pyarrow RecordBatches, not {type(item).__name__}.")
            yield item
    else:
        raise CelonisError(
            f"data must be a pyarrow Table, RecordBatch or RecordBatchReader, a pandas DataFrame, or "
            f"an iterable of RecordBatches, not {type(data).__name__}."
        )


class ReadProgress:
    """Counts what a source has handed out and logs rows, MB and the rate as it goes.

    A line every ``every_bytes`` read (the chunk size: in Arrow memory a chunk's worth is at least that
    much, so at least one line per chunk) and every ``every_seconds``, also while the source is silent
    (a query still running before its first row), and a last line when the source is exhausted.
    """

    def __init__(self, log: logging.Logger, label: str, every_bytes: int, every_seconds: float = 30.0) -> None:
        self.log, self.label = log, label
        self.every_bytes, self.every_seconds = every_bytes, every_seconds
        self.rows = self.bytes = 0
        self.started = time.monotonic()
        self._logged_bytes = 0
        self._lock = threading.Lock()
        self._last_line = self.started

    def add(self, rows: int, size: int) -> None:
        """Count one part; log when a chunk's worth was read since the last line."""
        with self._lock:
            self.rows += rows
            self.bytes += size
            due = self.bytes - self._logged_bytes >= self.every_bytes
        if due:
            self.line()

    def line(self, final: bool = False) -> None:
        """Log the totals so far and the average rate."""
        with self._lock:
            seconds = max(time.monotonic() - self.started, 1e-9)
            self._logged_bytes, self._last_line = self.bytes, time.monotonic()
            rows, size = self.rows, self.bytes
        self.log.info(
            "%s %s: %s rows, %.1f MB in %.1f s (%s rows/s, %.1f MB/s).",
            self.label,
            "read" if final else "reading",
            f"{rows:,}",
            size / 1e6,
            seconds,
            f"{rows / seconds:,.0f}",
            size / 1e6 / seconds,
        )

    def _ticker(self, stop: threading.Event) -> None:
        while not stop.wait(max(0.05, self.every_seconds - (time.monotonic() - self._last_line))):
            if time.monotonic() - self._last_line >= self.every_seconds:
                self.line()


def with_progress(
    parts: Iterable[pa.RecordBatch | WholeParquetFile],
    log: logging.Logger,
    label: str = "Source",
    every_bytes: int = 256 * 1024 * 1024,
    every_seconds: float = 30.0,
) -> Iterator[pa.RecordBatch | WholeParquetFile]:
    """``parts`` unchanged, with ``ReadProgress`` lines in ``log`` while they are read."""
    progress = ReadProgress(log, label, every_bytes, every_seconds)
    stop = threading.Event()
    ticker = threading.Thread(target=progress._ticker, args=(stop,), name="celonis-read-progress", daemon=True)
    ticker.start()
    try:
        for part in parts:
            if isinstance(part, FileStart):
                pass
            elif isinstance(part, WholeParquetFile):
                progress.add(pq.read_metadata(part.path).num_rows, os.path.getsize(part.path))
            else:
                progress.add(part.num_rows, part.nbytes)
            yield part
        stop.set()
        progress.line(final=True)
    finally:
        stop.set()
