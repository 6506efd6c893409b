"""Split a parquet file at row-group boundaries: no decoding, no re-encoding, and no copy when streamed.

A parquet file is its column chunks followed by a footer (Thrift compact-encoded ``FileMetaData``)
that holds the offsets of every chunk. A part is ``PAR1``, the column chunks of some row groups copied
as they are, and a footer with those row groups and their offsets moved; page indexes and bloom
filters (stored outside the chunks) are left out, as readers treat them as optional. A part is either
written out (``write_part``) or only described (``part_layout``) and read straight from the source file
(``PartReader``): a large file then goes to Celonis in chunks at the speed of the upload.

The Thrift compact protocol is decoded generically (field ids and types are on the wire), so fields
this module does not know about are kept as they are.
"""

from __future__ import annotations

import bisect
import io
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

MAGIC = b"PAR1"
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(13)
_UUID = 13

# Field ids from parquet.thrift.
_FILE_NUM_ROWS, _FILE_ROW_GROUPS, _FILE_ENCRYPTION, _FILE_SIGNING_KEY = 3, 4, 8, 9
_RG_COLUMNS, _RG_NUM_ROWS, _RG_FILE_OFFSET, _RG_TOTAL_COMPRESSED, _RG_ORDINAL = 1, 3, 5, 6, 7
_CC_FILE_PATH, _CC_FILE_OFFSET, _CC_META = 1, 2, 3
_CC_INDEXES = (4, 5, 6, 7)  # offset/column index offset and length: outside the chunk, dropped
_CC_CRYPTO = (8, 9)
_CM_TOTAL_COMPRESSED, _CM_DATA_PAGE, _CM_INDEX_PAGE, _CM_DICT_PAGE = 7, 9, 10, 11
_CM_BLOOM = (14, 15)  # bloom filter offset and length: outside the chunk, dropped


class SplitError(Exception):
    """The file cannot be split by copying (encrypted, malformed, or a row group larger than a part)."""


# --- Thrift compact protocol ------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def take(self, size: int) -> bytes:
        value = self.data[self.pos : self.pos + size]
        if len(value) != size:
            raise SplitError("the parquet footer ends early")
        self.pos += size
        return value

    def value(self, kind: int) -> Any:
        if kind in (_TRUE, _FALSE):  # only inside collections: one byte
            return self.byte() == _TRUE
        if kind == _BYTE:
            return self.byte()
        if kind in (_I16, _I32, _I64):
            return self.zigzag()
        if kind == _DOUBLE:
            return self.take(8)
        if kind == _BINARY:
            return self.take(self.varint())
        if kind == _UUID:
            return self.take(16)
        if kind in (_LIST, _SET):
            header = self.byte()
            size = header >> 4
            if size == 15:
                size = self.varint()
            element = header & 0x0F
            return (element, [self.value(element) for _ in range(size)])
        if kind == _MAP:
            size = self.varint()
            if size == 0:
                return (0, 0, [])
            types = self.byte()
            key, val = types >> 4, types & 0x0F
            return (key, val, [(self.value(key), self.value(val)) for _ in range(size)])
        if kind == _STRUCT:
            return self.struct()
        raise SplitError(f"unknown Thrift type {kind} in the parquet footer")

    def struct(self) -> list[list[Any]]:
        fields: list[list[Any]] = []
        last = 0
        while True:
            header = self.byte()
            kind = header & 0x0F
            if kind == _STOP:
                return fields
            delta = header >> 4
            fid = last + delta if delta else self.zigzag()
            last = fid
            value = kind == _TRUE if kind in (_TRUE, _FALSE) else self.value(kind)
            fields.append([fid, kind, value])


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def varint(self, value: int) -> None:
        while True:
            if value < 0x80:
                self.out.append(value)
                return
            self.out.append((value & 0x7F) | 0x80)
            value >>= 7

    def zigzag(self, value: int) -> None:
        self.varint((value << 1) ^ (value >> 63))

    def value(self, kind: int, value: Any) -> None:
        if kind in (_TRUE, _FALSE):
            self.out.append(_TRUE if value else _FALSE)
        elif kind == _BYTE:
            self.out.append(value & 0xFF)
        elif kind in (_I16, _I32, _I64):
            self.zigzag(value)
        elif kind in (_DOUBLE, _UUID):
            self.out += value
        elif kind == _BINARY:
            self.varint(len(value))
            self.out += value
        elif kind in (_LIST, _SET):
            element, items = value
            if len(items) < 15:
                self.out.append((len(items) << 4) | element)
            else:
                self.out.append(0xF0 | element)
                self.varint(len(items))
            for item in items:
                self.value(element, item)
        elif kind == _MAP:
            key, val, items = value
            self.varint(len(items))
            if items:
                self.out.append((key << 4) | val)
                for k, v in items:
                    self.value(key, k)
                    self.value(val, v)
        elif kind == _STRUCT:
            self.struct(value)
        else:
            raise SplitError(f"unknown Thrift type {kind}")

    def struct(self, fields: list[list[Any]]) -> None:
        last = 0
        for fid, kind, value in fields:
            wire = (_TRUE if value else _FALSE) if kind in (_TRUE, _FALSE) else kind
            if 0 < fid - last <= 15:
                self.out.append(((fid - last) << 4) | wire)
            else:
                self.out.append(wire)
                self.zigzag(fid)
            last = fid
            if kind not in (_TRUE, _FALSE):
                self.value(kind, value)
        self.out.append(_STOP)


def _get(fields: list[list[Any]], fid: int) -> Any:
    return next((f[2] for f in fields if f[0] == fid), None)


def _set(fields: list[list[Any]], fid: int, kind: int, value: Any) -> None:
    for field in fields:
        if field[0] == fid:
            field[1], field[2] = kind, value
            return
    fields.append([fid, kind, value])
    fields.sort(key=lambda f: f[0])


def _drop(fields: list[list[Any]], fids: tuple[int, ...]) -> list[list[Any]]:
    return [f for f in fields if f[0] not in fids]


# --- the file ---------------------------------------------------------------------------------------


@dataclass
class _ColumnRange:
    start: int
    length: int


@dataclass
class RowGroupInfo:
    """One row group: its rows, its bytes, and where its column chunks are."""

    index: int
    rows: int
    size: int
    columns: list[_ColumnRange]


def read_footer(path: str) -> tuple[list[list[Any]], list[RowGroupInfo]]:
    """The decoded ``FileMetaData`` of a parquet file and its row groups' byte ranges."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        if handle.read(4) != MAGIC:
            raise SplitError("not a plain parquet file (encrypted files start with PARE)")
        handle.seek(size - 8)
        tail = handle.read(8)
        if tail[4:] != MAGIC:
            raise SplitError("not a plain parquet file")
        footer_length = struct.unpack("<I", tail[:4])[0]
        handle.seek(size - 8 - footer_length)
        metadata = _Reader(handle.read(footer_length)).struct()
    if _get(metadata, _FILE_ENCRYPTION) is not None or _get(metadata, _FILE_SIGNING_KEY) is not None:
        raise SplitError("encrypted parquet files are not split")
    groups = []
    for index, group in enumerate((_get(metadata, _FILE_ROW_GROUPS) or (0, []))[1]):
        ranges = []
        for chunk in _get(group, _RG_COLUMNS)[1]:
            if _get(chunk, _CC_FILE_PATH) is not None or any(_get(chunk, f) is not None for f in _CC_CRYPTO):
                raise SplitError("column chunks in other files or encrypted columns are not split")
            meta = _get(chunk, _CC_META)
            data_page = _get(meta, _CM_DATA_PAGE)
            dictionary = _get(meta, _CM_DICT_PAGE)
            start = min(data_page, dictionary) if dictionary and dictionary > 0 else data_page
            ranges.append(_ColumnRange(start, _get(meta, _CM_TOTAL_COMPRESSED)))
        groups.append(RowGroupInfo(index, _get(group, _RG_NUM_ROWS), sum(r.length for r in ranges), ranges))
    return metadata, groups


def plan_parts(groups: list[RowGroupInfo], footer_bytes: int, max_bytes: int) -> list[list[RowGroupInfo]]:
    """Row groups packed in order into parts of at most ``max_bytes`` (footer included)."""
    parts: list[list[RowGroupInfo]] = []
    current: list[RowGroupInfo] = []
    size = len(MAGIC) + footer_bytes + 8
    for group in groups:
        if len(MAGIC) + footer_bytes + 8 + group.size > max_bytes:
            raise SplitError(f"row group {group.index} ({group.size} bytes) is larger than a part")
        if current and size + group.size > max_bytes:
            parts.append(current)
            current, size = [], len(MAGIC) + footer_bytes + 8
        current.append(group)
        size += group.size
    if current or not parts:
        parts.append(current)
    return parts


# Writes one column chunk of the source into the part and answers its ColumnChunk footer entry: bytes
# copied as they are (``copy_column``) or pages rewritten (``parquet_decompress``).
ColumnWriter = Callable[[BinaryIO, BinaryIO, list[list[Any]], _ColumnRange], list[list[Any]]]


def moved_column(chunk: list[list[Any]], column: _ColumnRange, new_start: int) -> list[list[Any]]:
    """A column chunk's footer entry for its bytes moved, unchanged, to ``new_start`` (indexes dropped)."""
    delta = new_start - column.start
    meta = _drop([list(f) for f in _get(chunk, _CC_META)], _CM_BLOOM)
    for fid in (_CM_DATA_PAGE, _CM_INDEX_PAGE, _CM_DICT_PAGE):
        offset = _get(meta, fid)
        if offset is not None and offset > 0:
            _set(meta, fid, _I64, offset + delta)
    chunk = _drop([list(f) for f in chunk], _CC_INDEXES)
    _set(chunk, _CC_META, _STRUCT, meta)
    offset = _get(chunk, _CC_FILE_OFFSET)
    if offset is not None:
        _set(chunk, _CC_FILE_OFFSET, _I64, offset + delta if offset > 0 else offset)
    return chunk


def copy_column(source: BinaryIO, out: BinaryIO, chunk: list[list[Any]], column: _ColumnRange) -> list[list[Any]]:
    """Copy one column chunk's bytes as they are; its offsets moved to where they now stand."""
    new_start = out.tell()
    _copy(source, out, column.start, column.length)
    return moved_column(chunk, column, new_start)


def _moved_group(group: list[list[Any]], chunks: list[list[list[Any]]], start: int, end: int, ordinal: int) -> Any:
    """A row group's footer entry with its column chunks ``chunks`` now between ``start`` and ``end``."""
    group = [list(f) for f in group]
    _set(group, _RG_COLUMNS, _LIST, (_STRUCT, chunks))
    if _get(group, _RG_TOTAL_COMPRESSED) is not None:
        _set(group, _RG_TOTAL_COMPRESSED, _I64, end - start)
    if _get(group, _RG_FILE_OFFSET) is not None and chunks:
        _set(group, _RG_FILE_OFFSET, _I64, start)
    if _get(group, _RG_ORDINAL) is not None:
        _set(group, _RG_ORDINAL, _I16, ordinal)
    return group


def _footer(metadata: list[list[Any]], groups: list[Any], rows: int) -> bytes:
    """The encoded footer of a part holding ``groups``, with its length and the closing magic."""
    footer = [list(f) for f in metadata]
    _set(footer, _FILE_NUM_ROWS, _I64, rows)
    _set(footer, _FILE_ROW_GROUPS, _LIST, (_STRUCT, groups))
    writer = _Writer()
    writer.struct(footer)
    return bytes(writer.out) + struct.pack("<I", len(writer.out)) + MAGIC


def write_part(
    path: str,
    metadata: list[list[Any]],
    groups: list[RowGroupInfo],
    target: str,
    write_column: ColumnWriter = copy_column,
) -> int:
    """Write the row groups ``groups`` of ``path`` as a parquet file ``target``; return its rows.

    ``write_column`` writes each column chunk (default: its bytes copied as they are).
    """
    all_groups = _get(metadata, _FILE_ROW_GROUPS)[1]
    new_groups = []
    with open(path, "rb") as source, open(target, "wb") as out:
        out.write(MAGIC)
        for ordinal, info in enumerate(groups):
            group = all_groups[info.index]
            group_start = out.tell()
            chunks = [
                write_column(source, out, chunk, column)
                for chunk, column in zip(_get(group, _RG_COLUMNS)[1], info.columns, strict=True)
            ]
            new_groups.append(_moved_group(group, chunks, group_start, out.tell(), ordinal))
        rows = sum(g.rows for g in groups)
        out.write(_footer(metadata, new_groups, rows))
    return rows


@dataclass
class PartLayout:
    """A part of a parquet file described, not written: its bytes are ``MAGIC``, ranges of the file, a footer.

    Reading it (``open``) streams those ranges from the file, so a split costs no copy and no disk.
    """

    path: str
    ranges: list[tuple[int, int]]  # (offset in ``path``, length), in the part's order
    footer: bytes  # the part's footer, its length and the closing magic
    rows: int

    @property
    def size(self) -> int:
        """Bytes of the part."""
        return len(MAGIC) + sum(length for _, length in self.ranges) + len(self.footer)

    def open(self) -> PartReader:
        """The part as a read-only, seekable binary file."""
        return PartReader(self)


def part_layout(path: str, metadata: list[list[Any]], groups: list[RowGroupInfo]) -> PartLayout:
    """The row groups ``groups`` of ``path`` as a ``PartLayout``: offsets moved as ``write_part`` moves them."""
    all_groups = _get(metadata, _FILE_ROW_GROUPS)[1]
    new_groups, ranges = [], []
    position = len(MAGIC)
    for ordinal, info in enumerate(groups):
        group = all_groups[info.index]
        group_start = position
        chunks = []
        for chunk, column in zip(_get(group, _RG_COLUMNS)[1], info.columns, strict=True):
            chunks.append(moved_column(chunk, column, position))
            ranges.append((column.start, column.length))
            position += column.length
        new_groups.append(_moved_group(group, chunks, group_start, position, ordinal))
    rows = sum(g.rows for g in groups)
    return PartLayout(path, _merged(ranges), _footer(metadata, new_groups, rows), rows)


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent byte ranges joined (a row group's column chunks usually follow each other)."""
    merged: list[tuple[int, int]] = []
    for start, length in ranges:
        if merged and merged[-1][0] + merged[-1][1] == start:
            merged[-1] = (merged[-1][0], merged[-1][1] + length)
        else:
            merged.append((start, length))
    return merged


class PartReader(io.RawIOBase):
    """A ``PartLayout`` as a read-only, seekable file: the file's ranges read with ``pread`` (thread-safe)."""

    def __init__(self, layout: PartLayout) -> None:
        super().__init__()
        self._fd = os.open(layout.path, os.O_RDONLY)
        self._pieces: list[bytes | tuple[int, int]] = [MAGIC, *layout.ranges, layout.footer]
        self._starts: list[int] = []  # where each piece starts in the part
        position = 0
        for piece in self._pieces:
            self._starts.append(position)
            position += len(piece) if isinstance(piece, bytes) else piece[1]
        self._size = position
        self._pos = 0

    def readable(self) -> bool:
        """Always: the part is read."""
        return True

    def seekable(self) -> bool:
        """Always (pyarrow and botocore seek)."""
        return True

    def tell(self) -> int:
        """Position in the part."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move within the part."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the part; answer the bytes filled (0 at the end)."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._pos < self._size:
            index = bisect.bisect_right(self._starts, self._pos) - 1
            start, piece = self._starts[index], self._pieces[index]
            inside = self._pos - start
            if isinstance(piece, bytes):
                data = piece[inside : inside + len(view) - filled]
                view[filled : filled + len(data)] = data
                count = len(data)
            else:
                offset, length = piece
                want = min(length - inside, len(view) - filled)
                count = os.preadv(self._fd, [view[filled : filled + want]], offset + inside)
                if count <= 0:
                    raise SplitError("the parquet file ended inside a column chunk (was it changed?)")
            filled += count
            self._pos += count
        return filled

    def close(self) -> None:
        """Close the source file."""
        if not self.closed:
            os.close(self._fd)
        super().close()


def footer_size(metadata: list[list[Any]]) -> int:
    """Bytes of the encoded footer (an upper bound for any part's footer, which has fewer row groups)."""
    writer = _Writer()
    writer.struct(metadata)
    return len(writer.out)


def split(path: str, max_bytes: int, directory: str, prefix: str) -> Iterator[tuple[str, int]]:
    """Split ``path`` into parts of at most ``max_bytes``; yields (part path, rows). Raises SplitError."""
    metadata, groups = read_footer(path)
    for number, part in enumerate(plan_parts(groups, footer_size(metadata), max_bytes)):
        target = os.path.join(directory, f"{prefix}-{number:05d}.parquet")
        yield target, write_part(path, metadata, part, target)


def _copy(source: Any, out: Any, start: int, length: int) -> None:
    source.seek(start)
    remaining = length
    while remaining:
        block = source.read(min(remaining, 8 * 1024 * 1024))
        if not block:
            raise SplitError("the parquet file ends inside a column chunk")
        out.write(block)
        remaining -= len(block)
