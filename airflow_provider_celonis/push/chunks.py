"""Write a push's batches into chunk files of at most ``chunk_size_bytes`` in a local spool directory.

Every batch is normalized (``schema.normalize_batch``) and measured (longest strings) on the way, so the
push job's table schema can be derived from what was written (``push.pipeline`` decides when: at the end
of a source that fits in the spool, else once the spool is full). A parquet file that Celonis can take as
it is, and that fits in a chunk, is sent unchanged (no re-encoding: the push runs at the speed of the
upload); a larger one is split at row-group boundaries, its parts read in place (``parquet_split``). A source that
fails half-way never leaves a half-filled job in Celonis: before the schema is committed no job exists,
after it the push operator deletes the job.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.push import parquet_decompress, parquet_split
from airflow_provider_celonis.push.encoding import DATA_PUSH_PARQUET, ParquetEncoding
from airflow_provider_celonis.push.parquet_lengths import max_string_bytes_in_file
from airflow_provider_celonis.push.schema import SchemaTracker, final_schema, max_string_bytes, normalize_batch
from airflow_provider_celonis.push.sources import PARQUET_READ_BUFFER_BYTES, FileStart, WholeParquetFile

# The Data Push API takes chunks of up to 1 GB each [doc].
MAX_CHUNK_BYTES = 1_000_000_000
MIN_CHUNK_BYTES = 64 * 1024
DEFAULT_CHUNK_BYTES = 256 * 1024 * 1024
# How parquet chunks are written (compression, timestamp encoding): ``push.encoding.DATA_PUSH_PARQUET``.
# How CSV chunks are written, and the csvParsingOptions the push job declares for them. dateFormat is a
# java.text.SimpleDateFormat pattern [client]: there "S" is a number of milliseconds however many digits
# follow (".123456" = 123,456 ms), so timestamps go out with exactly three fraction digits, and a value
# with sub-millisecond digits cannot go into a CSV chunk without loss (see ``csv_text_batch``).
CSV_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # on timestamp[ms], Arrow's %S writes seconds and ".mmm"
CSV_DATE_PATTERN = "yyyy-MM-dd'T'HH:mm:ss.SSS"
CSV_PARSING_OPTIONS = {
    "separatorSequence": ",",
    "quoteSequence": '"',
    "escapeSequence": '"',
    "lineEnding": "\n",
    "charSet": "UTF-8",
    "decimalSeparator": ".",
    "dateFormat": CSV_DATE_PATTERN,
}


@dataclass
class Chunk:
    """One chunk file ready to upload."""

    path: str
    rows: int
    size: int
    schema: pa.Schema
    passthrough: bool = False  # a source file (or a byte-copied part of one) sent as it is
    spooled: bool = True  # the file lives in the spool directory (deleted once uploaded)
    slot: bool = True  # it holds one of the spool's slots (``push.pipeline.SpoolSlots``) until uploaded
    source: str | None = None  # the source file it came from, when it came from one
    layout: parquet_split.PartLayout | None = None  # a part of ``path`` read in place (no file of its own)

    def open(self) -> BinaryIO:
        """The chunk's bytes as a binary file (a part of a source file is read from that file)."""
        if self.layout is not None:
            return self.layout.open()
        return open(self.path, "rb")  # noqa: SIM115 - the caller closes it


@dataclass
class PreparedPush:
    """All chunks of a push and what was learned on the way."""

    chunks: list[Chunk]
    tracker: SchemaTracker

    @property
    def rows(self) -> int:
        """Rows in all chunks."""
        return sum(c.rows for c in self.chunks)

    @property
    def size(self) -> int:
        """Bytes in all chunks."""
        return sum(c.size for c in self.chunks)


def validate_chunk_size(chunk_size_bytes: Any) -> int:
    """The chunk size as an int within the API's limit, or an error naming the allowed range."""
    if (
        isinstance(chunk_size_bytes, bool)
        or not isinstance(chunk_size_bytes, int)
        or not MIN_CHUNK_BYTES <= chunk_size_bytes <= MAX_CHUNK_BYTES
    ):
        raise CelonisError(
            f"chunk_size_bytes must be an integer from {MIN_CHUNK_BYTES} to {MAX_CHUNK_BYTES} (the "
            f"Data Push limit of 1 GB per chunk), not {chunk_size_bytes!r}; the default is "
            f"{DEFAULT_CHUNK_BYTES}."
        )
    return chunk_size_bytes


class _OpenChunk:
    """The chunk file being written, with the writer for its format."""

    def __init__(
        self, path: str, schema: pa.Schema, file_type: str, encoding: ParquetEncoding = DATA_PUSH_PARQUET
    ) -> None:
        self.path = path
        self.schema = schema
        self.rows = 0
        self.batches = 0
        self._sink = pa.OSFile(path, "wb")
        if file_type == "PARQUET":
            self._writer: Any = pq.ParquetWriter(self._sink, schema, **encoding.writer_options())
        else:
            text_schema = pa.schema([pa.field(name, pa.string()) for name in schema.names])
            self._writer = pacsv.CSVWriter(
                self._sink, text_schema, write_options=pacsv.WriteOptions(quoting_style="needed")
            )
        self.file_type = file_type

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        """Write rows: one row group per call for parquet."""
        if self.file_type == "CSV":
            batches = data.to_batches() if isinstance(data, pa.Table) else [data]
            for batch in batches:
                self._writer.write_batch(csv_text_batch(batch))
        elif isinstance(data, pa.Table):
            self._writer.write_table(data, row_group_size=max(1, data.num_rows))
        else:
            self._writer.write_batch(data)
        self.rows += data.num_rows
        self.batches += 1

    @property
    def size(self) -> int:
        return self._sink.tell()

    def close(self) -> Chunk:
        self._writer.close()
        self._sink.close()
        return Chunk(self.path, self.rows, os.path.getsize(self.path), self.schema)


def csv_text_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Every column as text, as CSV chunks carry it: timestamps in UTC, to the millisecond (``CSV_DATE_PATTERN``).

    A timestamp with sub-millisecond digits fails, naming the column: the Java pattern cannot carry them,
    and cutting them would change the data silently. Parquet chunks carry microseconds.
    """
    arrays = []
    for i, field in enumerate(batch.schema):
        column = batch.column(i)
        if pa.types.is_timestamp(field.type):
            target_tz = "UTC" if field.type.tz else None
            try:
                column = column.cast(pa.timestamp("ms", target_tz))  # safe cast: refuses to drop digits
            except pa.ArrowInvalid:
                raise CelonisError(
                    f"Column {field.name!r} holds timestamps with sub-millisecond digits, which a CSV chunk cannot "
                    f"carry (Celonis reads its dateFormat {CSV_DATE_PATTERN!r} as a Java pattern: milliseconds "
                    'at most). Use file_type="PARQUET" (microseconds kept), or round the column to '
                    "milliseconds first."
                ) from None
            column = pc.strftime(column, format=CSV_DATETIME_FORMAT)
        elif pa.types.is_boolean(field.type):
            column = pc.if_else(column, "true", "false")
        elif not pa.types.is_string(field.type):
            column = column.cast(pa.string())
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


class ChunkSpool:
    """Turns source parts (batches and whole parquet files) into chunk files under ``directory``.

    Small batches are coalesced (up to ``max_batch_bytes``) so that a chunk's row groups stay large however
    small the source's batches are. Each finished chunk goes to ``emit`` (default: ``self.chunks``);
    ``reserve`` is called before each new file is created in the spool directory, so a caller can bound
    how many exist at once (``push.pipeline``). Once ``target`` is set (a push job's schema was fixed
    before the source ended), every batch is cast to it.
    """

    def __init__(
        self,
        directory: str,
        chunk_size_bytes: int = DEFAULT_CHUNK_BYTES,
        file_type: str = "PARQUET",
        allow_passthrough: bool = True,
        encoding: ParquetEncoding = DATA_PUSH_PARQUET,
        *,
        nested: bool = False,
        measure: bool = True,
        declared_lengths: Iterable[str] = (),
        emit: Callable[[Chunk], None] | None = None,
        reserve: Callable[[], None] | None = None,
    ) -> None:
        self.directory = directory
        self.encoding = encoding
        self.chunk_size = validate_chunk_size(chunk_size_bytes)
        self.file_type = file_type
        self.allow_passthrough = allow_passthrough and file_type == "PARQUET"
        self.nested = nested  # nested columns pass (Standard Data Ingestion), else they fail naming the column
        # Batches are cut so one never fills more than an eighth of a chunk: chunks end close to the limit.
        self.max_batch_bytes = max(16 * 1024, min(self.chunk_size // 8, 64 * 1024 * 1024))
        self.tracker = SchemaTracker()
        self.chunks: list[Chunk] = []
        self.emit = emit or self.chunks.append
        self.reserve = reserve or (lambda: None)
        self.release: Callable[[], None] = lambda: None  # gives back a slot taken by ``reserve`` but not used
        self.measure = measure  # measure string lengths (a push job's schema needs them)
        # String columns whose length the user declared: a parquet file sent unchanged is not read for them
        # before the job is created, but while its chunks upload (``settle_lengths`` before execute).
        self.declared_lengths = frozenset(declared_lengths)
        self._later_lengths: list[Future[dict[str, int]]] = []
        self._measurer: ThreadPoolExecutor | None = None
        self._pending_part = False
        self.target: pa.Schema | None = None
        self.source: str | None = None  # the source file being read, named on its chunks
        self._open: _OpenChunk | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0
        self._ratio = 1.0  # worst bytes-on-disk per byte-in-memory seen so far (1.0 until measured)
        self._measured = False
        self._files = 0
        self._splits = 0
        self.rows = 0
        self.size = 0
        self.count = 0

    # --- input ----------------------------------------------------------------------------------

    def add(self, parts: Iterable[pa.RecordBatch | WholeParquetFile]) -> PreparedPush:
        """Spool every part of a source; return the chunks, all in one final schema."""
        self.add_parts(parts)
        return self.finish()

    def add_parts(self, parts: Iterable[pa.RecordBatch | WholeParquetFile]) -> None:
        """Spool every part of a source (chunks go to ``emit`` as they are finished)."""
        for part in parts:
            if isinstance(part, FileStart):
                self.source = part.path
            elif isinstance(part, WholeParquetFile):
                self.add_parquet_file(part.path)
            else:
                self.add_batch(part)
        self.flush()

    def normalize(self, batch: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
        """The batch in types Celonis takes (``schema.normalize_batch``)."""
        return normalize_batch(batch, nested=self.nested)

    def add_parquet_file(self, path: str) -> None:
        """A parquet file: sent unchanged (split at row groups if larger than a chunk), else re-encoded.

        Unchanged only when its types and its encoding (timestamps, compression) are what the sink takes.
        """
        try:
            # pre_buffer=False: read pages as needed rather than whole column chunks (less memory, same speed)
            parquet = pq.ParquetFile(
                path, pre_buffer=False, buffer_size=PARQUET_READ_BUFFER_BYTES, coerce_int96_timestamp_unit="us"
            )
        except (pa.ArrowInvalid, OSError) as exc:
            raise CelonisError(f"Cannot read parquet file {path!r}: {exc}") from None
        with parquet:
            schema = parquet.schema_arrow
            if self._types_unchanged(schema):
                normalized = self.normalize(schema.empty_table()).schema  # nullable fields, as every chunk has
                if self.target is None or normalized.equals(self.target):
                    mismatch = self.encoding.mismatch(parquet.metadata)
                    if mismatch is None and self._add_unchanged(path, parquet, normalized):
                        return
                    if mismatch is not None and self._decompress_only() and self._add_decompressed(path, normalized):
                        return
            rows_per_batch = self._rows_per_batch(parquet)
            for batch in parquet.iter_batches(batch_size=rows_per_batch):
                self.add_batch(batch)
            if parquet.metadata.num_rows == 0:  # no rows: the file still carries its columns
                self.add_batch(pa.RecordBatch.from_pylist([], schema=parquet.schema_arrow))

    def _add_unchanged(self, path: str, parquet: pq.ParquetFile, schema: pa.Schema) -> bool:
        """Send the file as it is, or in parts at row-group boundaries read in place; False when neither fits."""
        strings = [f.name for f in schema if pa.types.is_string(f.type)] if self.measure else []
        later = [name for name in strings if name in self.declared_lengths]
        lengths = max_string_bytes_in_file(
            path,
            [name for name in strings if name not in self.declared_lengths],
            buffer_size=PARQUET_READ_BUFFER_BYTES,
            coerce_int96_timestamp_unit="us",
        )
        if later:
            self._measure_later(path, later)
        if os.path.getsize(path) <= self.chunk_size:
            self.flush()
            self._close_open()
            self.tracker.add(schema, lengths)
            self._emit(
                Chunk(
                    path,
                    parquet.metadata.num_rows,
                    os.path.getsize(path),
                    schema,
                    passthrough=True,
                    spooled=False,
                    slot=False,
                    source=self.source,
                )
            )
            return True
        try:
            metadata, groups = parquet_split.read_footer(path)
            plan = parquet_split.plan_parts(groups, parquet_split.footer_size(metadata), self.chunk_size)
        except parquet_split.SplitError:
            return False
        self.flush()
        self._close_open()
        self.tracker.add(schema, lengths)
        for part in plan:  # read in place from the file when uploaded: no copy, no spool disk, no slot
            layout = parquet_split.part_layout(path, metadata, part)
            self._emit(
                Chunk(
                    path,
                    layout.rows,
                    layout.size,
                    schema,
                    passthrough=True,
                    spooled=False,
                    slot=False,
                    source=self.source,
                    layout=layout,
                )
            )
        return True

    def _measure_later(self, path: str, columns: list[str]) -> None:
        """Read the declared string columns of ``path`` in the background (the job need not wait for them)."""
        if self._measurer is None:
            self._measurer = ThreadPoolExecutor(1, thread_name_prefix="celonis-lengths")
        self._later_lengths.append(
            self._measurer.submit(
                max_string_bytes_in_file,
                path,
                columns,
                buffer_size=PARQUET_READ_BUFFER_BYTES,
                coerce_int96_timestamp_unit="us",
            )
        )

    def settle_lengths(self) -> None:
        """Wait for the background reads of declared string columns and take their lengths in (before execute)."""
        for future in self._later_lengths:
            self.tracker.add_lengths(future.result())
        self._later_lengths = []

    def stop_measuring(self) -> None:
        """Drop background length reads not yet started (the push ended another way)."""
        if self._measurer is not None:
            self._measurer.shutdown(wait=False, cancel_futures=True)
            self._measurer = None

    def _decompress_only(self) -> bool:
        """Whether a compressed file fits the sink once its pages are decompressed (ingestion: any timestamps)."""
        return self.allow_passthrough and self.encoding.compression == "none" and not self.encoding.timestamps_required

    def _add_decompressed(self, path: str, schema: pa.Schema) -> bool:
        """The file's pages decompressed into parts (``parquet_decompress``); False when it cannot be done."""
        self._splits += 1
        parts = parquet_decompress.decompress(
            path, self.chunk_size, self.directory, f"plain-{self._splits:04d}", before_part=self._before_part
        )
        self._pending_part = False
        try:
            first = next(parts, None)
        except parquet_decompress.SplitError:
            if self._pending_part:  # a slot was taken for a part that was never written
                self.release()
            return False
        self.flush()
        self._close_open()
        self.tracker.add(schema, {})
        try:
            while first is not None:
                target, rows = first
                self._emit(Chunk(target, rows, os.path.getsize(target), schema, source=self.source))
                first = next(parts, None)
        except parquet_decompress.SplitError as exc:
            raise CelonisError(f"Cannot rewrite parquet file {path!r} uncompressed: {exc}") from None
        return True

    def _before_part(self) -> None:
        self.reserve()
        self._pending_part = True

    def add_batch(self, batch: pa.RecordBatch) -> None:
        """One batch of rows (coalesced with small ones, cut when large)."""
        batch = self.normalize(batch)
        if self.target is not None:
            batch = cast_to(batch, self.target)
        if batch.num_rows == 0:
            self.tracker.add(batch.schema, {})
            return
        self.tracker.add(batch.schema, max_string_bytes(batch) if self.measure else {})
        if self._pending and not self._pending[0].schema.equals(batch.schema):
            self.flush()
        if batch.nbytes > self.max_batch_bytes and batch.num_rows > 1:
            step = max(1, batch.num_rows * self.max_batch_bytes // batch.nbytes)
            for offset in range(0, batch.num_rows, step):
                self._buffer(batch.slice(offset, step))
        else:
            self._buffer(batch)

    def _buffer(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_bytes += batch.nbytes
        if self._pending_bytes >= self.max_batch_bytes:
            self.flush()

    def flush(self) -> None:
        """Write the coalesced batches into the open chunk (one row group)."""
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending)
        self._pending, self._pending_bytes = [], 0
        self._write(table)

    def end_part(self) -> None:
        """Finish the open chunk (a source file ends: the next starts a chunk of its own)."""
        self.flush()
        self._close_open()

    # --- output ---------------------------------------------------------------------------------

    def finish(self) -> PreparedPush:
        """Close the last chunk and bring every chunk to the push's final schema."""
        self.end_part()
        target = self.final_schema()
        if not self.chunks:  # no rows: one empty chunk still carries the columns (a REPLACE empties the table)
            self.chunks.append(self.empty_chunk(target))
        if self.file_type == "PARQUET":
            self.chunks = [c if c.schema.equals(target) else self.recast(c, target) for c in self.chunks]
        return PreparedPush(self.chunks, self.tracker)

    def final_schema(self) -> pa.Schema:
        """The schema every chunk is written in, from everything seen so far."""
        if self.tracker.schema is None:
            raise CelonisError("The source produced no columns: there is nothing to push.")
        target = final_schema(self.tracker.schema)
        self.tracker.schema = target
        return target

    def empty_chunk(self, schema: pa.Schema) -> Chunk:
        """A chunk without rows that still carries the columns."""
        self.reserve()
        self._files += 1
        chunk = _OpenChunk(
            os.path.join(self.directory, f"chunk-{self._files:05d}.{self.file_type.lower()}"),
            schema,
            self.file_type,
            self.encoding,
        )
        return self._checked(chunk.close())

    def _types_unchanged(self, schema: pa.Schema) -> bool:
        """Whether Celonis can take the file's columns as they are (no lossless conversion needed)."""
        if not self.allow_passthrough:
            return False
        try:
            normalized = self.normalize(schema.empty_table()).schema
        except CelonisError:
            return False
        return normalized.types == schema.types and not any(pa.types.is_null(f.type) for f in schema)

    def _rows_per_batch(self, parquet: pq.ParquetFile) -> int:
        metadata = parquet.metadata
        if metadata.num_rows == 0 or metadata.num_row_groups == 0:
            return 64 * 1024
        uncompressed = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        per_row = max(1.0, uncompressed / metadata.num_rows)
        return max(1, min(256 * 1024, int(self.max_batch_bytes / per_row)))

    def _write(self, table: pa.Table) -> None:
        estimate = table.nbytes * self._ratio * 1.25 + 4096
        schema_changed = (
            self.file_type == "PARQUET" and self._open is not None and not self._open.schema.equals(table.schema)
        )
        full = self._open is not None and self._open.size + estimate + self._footer_margin() > self.chunk_size
        if schema_changed or full:
            self._close_open()
        if self._open is None:
            self.reserve()
            if self.target is not None:  # the schema was fixed while waiting for the slot
                table = cast_to(table, self.target)
            self._files += 1
            path = os.path.join(self.directory, f"chunk-{self._files:05d}.{self.file_type.lower()}")
            self._open = _OpenChunk(path, table.schema, self.file_type, self.encoding)
        before = self._open.size
        self._open.write(table)
        if table.nbytes:
            measured = (self._open.size - before) / table.nbytes
            self._ratio = measured if not self._measured else max(self._ratio, measured)
            self._measured = True

    def _footer_margin(self) -> int:
        columns = len(self._open.schema) if self._open else 1
        batches = self._open.batches if self._open else 0
        return 64 * 1024 + (batches + 1) * columns * 256

    def _close_open(self) -> None:
        if self._open is None:
            return
        chunk = self._open.close()
        self._open = None
        chunk.source = self.source
        self._emit(self._checked(chunk))

    def _checked(self, chunk: Chunk) -> Chunk:
        if chunk.size > self.chunk_size:  # the estimate was wrong: never send an oversized chunk
            raise CelonisError(
                f"Internal error: chunk {chunk.path} came out at {chunk.size} bytes, above "
                f"chunk_size_bytes={self.chunk_size}; set a smaller chunk_size_bytes."
            )
        return chunk

    def _emit(self, chunk: Chunk) -> None:
        if self.target is not None and self.file_type == "PARQUET" and not chunk.schema.equals(self.target):
            chunk = self.recast(chunk, self.target)
        self.rows += chunk.rows
        self.size += chunk.size
        self.count += 1
        self.emit(chunk)

    def recast(self, chunk: Chunk, target: pa.Schema) -> Chunk:
        """A chunk written before the final schema was known (a column null so far, a wider number), recast.

        The recast copy is written before the old file is removed: one file more than the chunks for a moment.
        """
        self._files += 1
        path = os.path.join(self.directory, f"recast-{self._files:05d}.{self.file_type.lower()}")
        out = _OpenChunk(path, target, self.file_type, self.encoding)
        try:
            for batch in _read_chunk(chunk, self.file_type):
                out.write(cast_to(batch, target))
        finally:
            rewritten = out.close()
        if chunk.spooled:
            os.remove(chunk.path)
        rewritten.source, rewritten.slot = chunk.source, chunk.slot
        if rewritten.size > self.chunk_size:
            raise CelonisError(
                f"A chunk recast to the final column types came out at {rewritten.size} bytes, above "
                f"chunk_size_bytes={self.chunk_size}: set a smaller chunk_size_bytes, or give every "
                "file the same column types."
            )
        return rewritten


def cast_to(batch: pa.RecordBatch | pa.Table, target: pa.Schema) -> pa.RecordBatch | pa.Table:
    """The batch in the push's fixed schema (a lossless cast), or an error naming the column and the fix."""
    if batch.schema.equals(target):
        return batch
    if batch.schema.names != target.names:
        raise CelonisError(
            f"The source's columns changed between batches: {target.names} then "
            f"{batch.schema.names}. Every file and batch of one push must have the same columns "
            "in the same order."
        )
    arrays = []
    for field, column in zip(target, batch.columns, strict=True):
        if column.type == field.type:
            arrays.append(column)
            continue
        # A column null so far was fixed as a string: a value of another type would land as its text.
        kind = column.type
        wrong = pa.types.is_string(field.type) and not (pa.types.is_string(kind) or pa.types.is_null(kind))
        try:
            if wrong:
                raise pa.ArrowInvalid(f"{field.type} was fixed while the column held only nulls")
            arrays.append(column.cast(field.type))  # safe: refuses to lose values
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise CelonisError(
                f"Column {field.name!r} changed type from {field.type} to {column.type} part-way through the "
                f"source, and its values do not fit the first type ({exc}). Give every file the same types, or "
                "cast it in the query (or raise max_spooled_chunks, so more of the source is read before the "
                "push job's schema is fixed)."
            ) from None
    if isinstance(batch, pa.Table):
        return pa.Table.from_arrays(arrays, schema=target)
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def _read_chunk(chunk: Chunk, file_type: str) -> Iterable[pa.RecordBatch]:
    with chunk.open() as handle, pq.ParquetFile(handle, coerce_int96_timestamp_unit="us") as parquet:
        for batch in parquet.iter_batches(batch_size=64 * 1024):
            yield normalize_batch(batch, nested=True)
