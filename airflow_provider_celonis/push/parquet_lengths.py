"""The longest value of each string column of a parquet file, read as cheaply as the file allows.

A Data Push job declares exact string lengths, so a parquet file sent unchanged is measured before the
job is created: that time is on the clock before the first byte goes up. Each (row group, column) is
read on its own, on two threads (pyarrow releases the GIL while it decodes). A column chunk whose data
pages are all dictionary-encoded (the footer's page encoding statistics say so) is read as a dictionary:
its longest value is the longest dictionary entry, found without building one string per row (parquet
writers put into a column chunk's dictionary only values of that chunk).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airflow_provider_celonis.push.parquet_split import (
    _CC_META,
    _FILE_ROW_GROUPS,
    _RG_COLUMNS,
    SplitError,
    _get,
    read_footer,
)

THREADS = 2
BATCH_BYTES = 32 * 1024 * 1024  # decoded bytes of one column read at a time, per thread
_CM_PATH, _CM_ENCODING_STATS = 3, 13
_DATA_PAGE_TYPES = (0, 3)  # DATA_PAGE, DATA_PAGE_V2
_DICTIONARY_ENCODINGS = (2, 8)  # PLAIN_DICTIONARY, RLE_DICTIONARY


def _dictionary_only(path: str) -> set[tuple[int, str]]:
    """(row group, top-level column) pairs whose data pages are all dictionary-encoded, per the footer."""
    try:
        metadata, _ = read_footer(path)
    except SplitError:
        return set()
    found = set()
    for index, group in enumerate((_get(metadata, _FILE_ROW_GROUPS) or (0, []))[1]):
        for chunk in _get(group, _RG_COLUMNS)[1]:
            meta = _get(chunk, _CC_META) or []
            stats = (_get(meta, _CM_ENCODING_STATS) or (0, []))[1]
            path_in_schema = (_get(meta, _CM_PATH) or (0, []))[1]
            data_pages = [s for s in stats if _get(s, 1) in _DATA_PAGE_TYPES and (_get(s, 3) or 0) > 0]
            if len(path_in_schema) == 1 and data_pages and all(_get(s, 2) in _DICTIONARY_ENCODINGS for s in data_pages):
                found.add((index, path_in_schema[0].decode("utf-8", "replace")))
    return found


def _longest(values: pa.Array) -> int:
    if isinstance(values, pa.DictionaryArray):
        values = values.dictionary
    return int(pc.max(pc.binary_length(values)).as_py() or 0)


def max_string_bytes_in_file(path: str, columns: list[str], **options: Any) -> dict[str, int]:
    """For each of ``columns`` (string columns) of parquet file ``path``, the longest value in UTF-8 bytes.

    ``options`` go to ``pq.ParquetFile``. Memory stays bounded: each thread reads batches of about
    ``BATCH_BYTES`` of one column.
    """
    lengths = dict.fromkeys(columns, 0)
    if not columns:
        return lengths
    dictionary_only = _dictionary_only(path)
    with pq.ParquetFile(path, **options) as parquet:
        metadata = parquet.metadata
        index = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
        tasks = []
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for name in columns:
                size = row_group.column(index[name]).total_uncompressed_size if name in index else 0
                rows = max(1, row_group.num_rows)
                batch_rows = max(64 * 1024, int(rows * BATCH_BYTES / max(size, 1)))
                tasks.append((group, name, batch_rows))
    local = threading.local()
    opened: list[pq.ParquetFile] = []

    def measure(task: tuple[int, str, int]) -> tuple[str, int]:
        group, name, batch_rows = task
        as_dictionary = (group, name) in dictionary_only
        files = local.__dict__.setdefault("files", {})
        if as_dictionary not in files:
            files[as_dictionary] = pq.ParquetFile(path, read_dictionary=columns if as_dictionary else None, **options)
            opened.append(files[as_dictionary])
        longest = 0
        for batch in files[as_dictionary].iter_batches(
            batch_size=batch_rows, row_groups=[group], columns=[name], use_threads=False
        ):
            longest = max(longest, _longest(batch.column(0)))
        return name, longest

    try:
        with ThreadPoolExecutor(min(THREADS, len(tasks)), thread_name_prefix="celonis-measure") as pool:
            results = list(pool.map(measure, tasks))
    finally:
        for parquet in opened:
            parquet.close()
    for name, longest in results:
        lengths[name] = max(lengths[name], longest)
    return lengths
