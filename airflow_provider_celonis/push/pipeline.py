"""Source → chunk files → sink, pipelined: a chunk uploads while the next is written, with bounded spool disk.

The source is read in a thread of its own and spooled in another (``ChunkStream``: reading and encoding
overlap, a few batches apart); the caller takes the finished
chunks as they come and uploads them, deleting each file once it is stored. ``SpoolSlots`` allows at
most ``max_spooled_chunks`` finished chunk files (waiting or uploading) plus the one being written in the
spool directory: the reader waits for a free slot, so disk and memory do not grow with the dataset; peak
spool disk ≤ (max_spooled_chunks + 1) × chunk size.

A Data Push job needs its table schema when it is created. With ``hold=True`` (Data Push) the stream keeps
its first chunks back until the schema is **committed**, and hands it out first (a ``Committed`` item):

- the source ends before the spool is full (it fits in ``max_spooled_chunks`` chunks): the schema is
  final, exactly as measured (string lengths included), and chunks written before a column's type was
  known are recast to it;
- the spool is full first: the schema is fixed from what was read so far; later batches are cast to it
  (a later value that does not fit fails naming the column), and the caller declares string columns
  with the largest length Celonis takes, as a later value may be longer than any seen so far.

A source that fails before the commit has created nothing in Celonis.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from airflow_provider_celonis.push.chunks import Chunk, ChunkSpool
from airflow_provider_celonis.push.schema import SchemaTracker
from airflow_provider_celonis.push.sources import FileStart, WholeParquetFile

DEFAULT_MAX_SPOOLED_CHUNKS = 2
JOIN_SECONDS = 30.0
# Parts (batches) read ahead of the chunk writer: reading (a database, a CSV parser) and parquet encoding run
# in two threads, on two cores; the queue bounds the memory this costs to a few batches.
PREFETCH_PARTS = 4


class Stopped(Exception):
    """The consumer stopped the stream (it failed or finished early)."""


def validate_max_spooled_chunks(value: Any) -> int:
    """``max_spooled_chunks`` as an int from 1 to 64, or an error naming the value."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
        raise ValueError(
            f"max_spooled_chunks must be an integer from 1 to 64 (finished chunk files on local disk "
            "at once, besides the one being written), "
            f"not {value!r}; the default is {DEFAULT_MAX_SPOOLED_CHUNKS}."
        )
    return value


class SpoolSlots:
    """A counting limit on chunk files in the spool directory; ``close()`` wakes a waiting reader to stop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._closed = False
        self._cond = threading.Condition()

    def acquire(self, blocking: bool = True) -> bool:
        """Take a slot; wait for one (``blocking``) or answer False at once."""
        with self._cond:
            while self.used >= self.limit and not self._closed:
                if not blocking:
                    return False
                self._cond.wait()
            if self._closed:
                raise Stopped
            self.used += 1
            self.peak = max(self.peak, self.used)
            return True

    def release(self) -> None:
        """Give a slot back (its file was deleted)."""
        with self._cond:
            self.used -= 1
            self._cond.notify_all()

    def close(self) -> None:
        """Stop: a reader waiting for a slot raises ``Stopped``."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Whether the stream was stopped."""
        return self._closed


@dataclass
class Committed:
    """The schema is fixed: ``final`` when the whole source was read first; ``info`` is the ``describe`` result."""

    final: bool
    info: Any
    rows: int


_END = object()


class ChunkStream:
    """Reads ``parts`` into ``spool`` in a thread; ``items()`` hands out ``Committed`` (hold mode) and chunks."""

    def __init__(
        self,
        parts: Iterable[Any],
        spool: ChunkSpool,
        max_spooled_chunks: int,
        *,
        hold: bool = False,
        describe: Callable[[SchemaTracker, bool], Any] | None = None,
        split_files: bool = False,
    ) -> None:
        self.parts = parts
        self.spool = spool
        self.max_spooled_chunks = max_spooled_chunks
        self.slots = SpoolSlots(max_spooled_chunks + 1)  # the finished ones and the one being written
        self.hold = hold
        self.describe = describe or (lambda tracker, final: None)
        self.split_files = split_files
        self.committed = not hold
        self._held: list[Chunk] = []
        self._queue: queue.Queue[Any] = queue.Queue()
        self._parts: queue.Queue[Any] = queue.Queue(maxsize=PREFETCH_PARTS)
        self._reader = threading.Thread(target=self._read, name="celonis-read", daemon=True)
        self._thread = threading.Thread(target=self._run, name="celonis-spool", daemon=True)
        spool.emit = self._emitted
        spool.reserve = self._reserve
        spool.release = self.slots.release

    # --- the reading thread -------------------------------------------------------------------------

    def start(self) -> ChunkStream:
        """Start reading."""
        self._reader.start()
        self._thread.start()
        return self

    def _read(self) -> None:
        """The reading thread: the source's parts into ``_parts`` (at most ``PREFETCH_PARTS`` ahead)."""
        try:
            for part in self.parts:
                while not self.slots.closed:
                    try:
                        self._parts.put(part, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self.slots.closed:
                    return
            self._parts.put(_END)
        except BaseException as exc:  # noqa: BLE001 - raised in the spooling thread
            self._parts.put(exc)
        finally:
            close = getattr(self.parts, "close", None)
            if close is not None:  # a generator stopped early: close its cursor or file now, in this thread
                close()

    def _prefetched(self) -> Iterator[Any]:
        while True:
            part = self._parts.get()
            if part is _END:
                return
            if isinstance(part, BaseException):
                raise part
            yield part

    def _run(self) -> None:
        try:
            for part in self._prefetched():
                if self.slots.closed:
                    raise Stopped
                if isinstance(part, FileStart):
                    if self.split_files:
                        self.spool.end_part()
                    self.spool.source = part.path
                elif isinstance(part, WholeParquetFile):
                    self.spool.add_parquet_file(part.path)
                else:
                    self.spool.add_batch(part)
            self.spool.end_part()
            if not self.committed:
                self._commit(final=True)
            self._queue.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._queue.put(exc)

    def _reserve(self) -> None:
        # Holding max_spooled_chunks finished chunks and about to start another: fix the schema now (a recast
        # of the held chunks then still fits in the last slot), hand them out, then wait for a slot.
        if not self.committed and self.slots.used >= self.max_spooled_chunks:
            self._commit(final=False)
        self.slots.acquire()

    def _emitted(self, chunk: Chunk) -> None:
        if self.committed:
            self._queue.put(chunk)
        else:
            self._held.append(chunk)

    def _commit(self, final: bool) -> None:
        """Fix the schema, bring the held chunks to it, and hand them out after the ``Committed`` item."""
        spool = self.spool
        target = spool.final_schema()
        spool.target = target
        if not self._held and final:  # no rows: one empty chunk still carries the columns (REPLACE empties)
            spool._emit(spool.empty_chunk(target))
        if spool.file_type == "PARQUET":
            self._held = [c if c.schema.equals(target) else spool.recast(c, target) for c in self._held]
        self.committed = True
        info = self.describe(spool.tracker, final)
        self._queue.put(Committed(final, info, spool.rows))
        for chunk in self._held:
            self._queue.put(chunk)
        self._held = []

    # --- the consumer -------------------------------------------------------------------------------

    def items(self, idle_seconds: float | None = None) -> Iterator[Committed | Chunk | None]:
        """Everything the reader hands out, in order; a reader's failure is raised here.

        With ``idle_seconds``, None comes whenever nothing arrived for that long (the consumer may have
        work meanwhile, such as settling uploads that failed unclearly, which frees the reader's slots).
        """
        while True:
            try:
                item = self._queue.get(timeout=idle_seconds)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def done(self, chunk: Chunk) -> None:
        """A chunk is stored: delete its file (a spooled one) and free its slot."""
        if chunk.spooled:
            try:
                os.remove(chunk.path)
            except FileNotFoundError:
                pass
        if chunk.slot:
            self.slots.release()

    def close(self) -> None:
        """Stop the reader (if still reading) and wait for it, so the spool directory can be removed."""
        self.slots.close()
        for thread in (self._thread, self._reader):
            if thread.is_alive():
                thread.join(JOIN_SECONDS)


def rereadable(data: Any) -> bool:
    """Whether an in-process source can be read a second time (not a one-shot reader or iterator)."""
    return (
        data is None
        or isinstance(data, pa.Table | pa.RecordBatch)
        or (type(data).__module__.startswith("pandas") and hasattr(data, "columns"))
    )
