"""Rewrite a compressed parquet file as an uncompressed one page by page: no decoding, no re-encoding.

Standard Data Ingestion takes uncompressed parquet only. A snappy/zstd/gzip/brotli/LZ4_RAW file need not
be decoded into Arrow and encoded again: each page's bytes are decompressed and written with a new page
header (sizes updated, CRC dropped), and the footer is rewritten with codec UNCOMPRESSED and the new
offsets (``parquet_split`` decodes and encodes the footer's Thrift). Values, encodings, dictionaries and
statistics stay exactly as they were. Row groups are packed into parts of at most ``max_bytes`` by their
uncompressed sizes. Anything this module does not handle (LZO, Hadoop-framed LZ4, encryption) raises
``SplitError`` and the caller re-encodes instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import pyarrow as pa

from airflow_provider_celonis.push import parquet_split
from airflow_provider_celonis.push.parquet_split import (
    _CC_FILE_OFFSET,
    _CC_INDEXES,
    _CC_META,
    _CM_BLOOM,
    _CM_DATA_PAGE,
    _CM_DICT_PAGE,
    _CM_INDEX_PAGE,
    _CM_TOTAL_COMPRESSED,
    _FILE_ROW_GROUPS,
    _I32,
    _I64,
    _RG_COLUMNS,
    _STRUCT,
    RowGroupInfo,
    SplitError,
    _ColumnRange,
    _drop,
    _get,
    _Reader,
    _set,
    _Writer,
    footer_size,
    plan_parts,
    read_footer,
)

# parquet.thrift CompressionCodec -> pyarrow codec name (the ones pyarrow decompresses as parquet writes them).
_CODECS = {1: "snappy", 2: "gzip", 4: "brotli", 6: "zstd", 7: "lz4_raw"}
_UNCOMPRESSED = 0
# parquet.thrift ids: ColumnMetaData fields (_CM_), PageHeader fields (_PH_), PageType values, DataPageHeaderV2
# fields (_V2_); and the compact protocol's type id of a false boolean.
_CM_CODEC, _CM_TOTAL_UNCOMPRESSED = 4, 6
_PH_TYPE, _PH_UNCOMPRESSED, _PH_COMPRESSED, _PH_CRC, _PH_V2 = 1, 2, 3, 4, 8
_DICTIONARY_PAGE, _DATA_PAGE_V2 = 2, 3
_V2_DEF_BYTES, _V2_REP_BYTES, _V2_IS_COMPRESSED = 5, 6, 7
_BOOL_FALSE = 2
# A page header is read from a window of 64 KiB (headers are small, but page statistics of long strings
# can make one larger); one that runs past the window is read again from a window 4 times larger.
_HEADER_WINDOW_BYTES = 64 * 1024
_HEADER_WINDOW_GROWTH = 4


def _column_metas(metadata: list[list[Any]], group: int) -> list[list[list[Any]]]:
    row_group = _get(metadata, _FILE_ROW_GROUPS)[1][group]
    return [_get(chunk, _CC_META) for chunk in _get(row_group, _RG_COLUMNS)[1]]


def check(metadata: list[list[Any]]) -> None:
    """Raise ``SplitError`` unless every column chunk uses a codec this module can undo."""
    for group in range(len((_get(metadata, _FILE_ROW_GROUPS) or (0, []))[1])):
        for meta in _column_metas(metadata, group):
            codec = _get(meta, _CM_CODEC)
            if codec != _UNCOMPRESSED and codec not in _CODECS:
                raise SplitError(f"parquet codec {codec} is not decompressed page by page")


def _uncompressed_groups(metadata: list[list[Any]], groups: list[RowGroupInfo]) -> list[RowGroupInfo]:
    """The row groups with their sizes once decompressed (what a part will hold)."""
    sized = []
    for info in groups:
        size = sum(_get(meta, _CM_TOTAL_UNCOMPRESSED) or 0 for meta in _column_metas(metadata, info.index))
        sized.append(RowGroupInfo(info.index, info.rows, size, info.columns))
    return sized


def _page_header(source: BinaryIO, offset: int) -> tuple[list[list[Any]], int]:
    """The page header at ``offset`` and its length in bytes."""
    window = _HEADER_WINDOW_BYTES
    while True:
        source.seek(offset)
        data = source.read(window)
        reader = _Reader(data)
        try:
            return reader.struct(), reader.pos
        except (IndexError, SplitError):
            if len(data) < window:
                raise SplitError("a parquet page header runs past the end of the file") from None
            window *= _HEADER_WINDOW_GROWTH


def _copy_column(source: BinaryIO, out: BinaryIO, start: int, length: int, codec: int) -> tuple[int, int | None]:
    """Copy one column chunk's pages decompressed; return the new start of its data pages and of its dictionary."""
    position, end = start, start + length
    data_start = dictionary_start = None
    while position < end:
        header, header_bytes = _page_header(source, position)
        compressed = _get(header, _PH_COMPRESSED)
        uncompressed = _get(header, _PH_UNCOMPRESSED)
        source.seek(position + header_bytes)
        body = source.read(compressed)
        if len(body) != compressed:
            raise SplitError("the parquet file ends inside a page")
        if codec != _UNCOMPRESSED:
            v2 = _get(header, _PH_V2) if _get(header, _PH_TYPE) == _DATA_PAGE_V2 else None
            if v2 is not None:
                levels = (_get(v2, _V2_DEF_BYTES) or 0) + (_get(v2, _V2_REP_BYTES) or 0)
                if _get(v2, _V2_IS_COMPRESSED) is not False:
                    body = body[:levels] + _decompress(body[levels:], uncompressed - levels, codec)
                    _set(v2, _V2_IS_COMPRESSED, _BOOL_FALSE, False)
            else:
                body = _decompress(body, uncompressed, codec)
            header = _drop(header, (_PH_CRC,))
            _set(header, _PH_COMPRESSED, _I32, len(body))
        page_start = out.tell()
        if _get(header, _PH_TYPE) == _DICTIONARY_PAGE:
            dictionary_start = page_start
        elif data_start is None:
            data_start = page_start
        writer = _Writer()
        writer.struct(header)
        out.write(writer.out)
        out.write(body)
        position += header_bytes + compressed
    if data_start is None:
        raise SplitError("a column chunk without data pages")
    return data_start, dictionary_start


def _decompress(data: bytes, size: int, codec: int) -> bytes:
    if size == 0:
        return b""
    try:
        return pa.decompress(data, decompressed_size=size, codec=_CODECS[codec], asbytes=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise SplitError(f"a {_CODECS[codec]} page could not be decompressed: {exc}") from None


def _decompress_column(
    source: BinaryIO, out: BinaryIO, chunk: list[list[Any]], column: _ColumnRange
) -> list[list[Any]]:
    """``parquet_split.write_part``'s column writer: one column chunk's pages decompressed, its metadata to match."""
    meta = _drop([list(f) for f in _get(chunk, _CC_META)], _CM_BLOOM)
    start = out.tell()
    data_start, dictionary_start = _copy_column(source, out, column.start, column.length, _get(meta, _CM_CODEC))
    size = out.tell() - start
    _set(meta, _CM_CODEC, _I32, _UNCOMPRESSED)
    _set(meta, _CM_TOTAL_COMPRESSED, _I64, size)
    _set(meta, _CM_TOTAL_UNCOMPRESSED, _I64, size)
    _set(meta, _CM_DATA_PAGE, _I64, data_start)
    meta = _drop(meta, (_CM_INDEX_PAGE,))
    if dictionary_start is not None:
        _set(meta, _CM_DICT_PAGE, _I64, dictionary_start)
    else:
        meta = _drop(meta, (_CM_DICT_PAGE,))
    chunk = _drop([list(f) for f in chunk], _CC_INDEXES)
    _set(chunk, _CC_META, _STRUCT, meta)
    _set(chunk, _CC_FILE_OFFSET, _I64, start)
    return chunk


def write_part(path: str, metadata: list[list[Any]], groups: list[RowGroupInfo], target: str) -> int:
    """Write the row groups ``groups`` of ``path``, decompressed, as parquet file ``target``; return its rows."""
    return parquet_split.write_part(path, metadata, groups, target, write_column=_decompress_column)


def decompress(
    path: str, max_bytes: int, directory: str, prefix: str, before_part: Callable[[], None] = lambda: None
) -> Iterator[tuple[str, int]]:
    """``path`` as uncompressed parts of at most ``max_bytes``; yields (part path, rows). Raises ``SplitError``.

    ``before_part`` runs before each part file is created (the spool's slot).
    """
    metadata, groups = read_footer(path)
    check(metadata)
    plan = plan_parts(_uncompressed_groups(metadata, groups), footer_size(metadata), max_bytes)
    for number, part in enumerate(plan):
        before_part()
        target = os.path.join(directory, f"{prefix}-{number:05d}.parquet")
        rows = write_part(path, metadata, part, target)
        if os.path.getsize(target) > max_bytes:
            os.remove(target)
            raise SplitError(f"a decompressed part came out above {max_bytes} bytes")
        yield target, rows
