"""Splitting parquet files at row groups without decoding: every part reads back as its rows, exactly, whether
written out or read in place from the source file."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_celonis.push import parquet_split
from tests.helpers.push import mixed_table, push_op, same_rows
from tests.helpers.tasks import context


def table(rows: int = 20_000) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "s": [None if i % 7 == 0 else f"value {i % 313} ✓" for i in range(rows)],
            "f": [i / 3 for i in range(rows)],
            "b": [i % 2 == 0 for i in range(rows)],
            "d": pa.array([decimal.Decimal(i) / 100 for i in range(rows)], pa.decimal128(10, 2)),
            "t": pa.array([dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i) for i in range(rows)]),
        }
    )


WRITE_OPTIONS = {
    "default": {},
    "no-dictionary-uncompressed": {"use_dictionary": False, "compression": "none"},
    "page-index-and-stats": {"write_page_index": True, "write_statistics": True, "data_page_size": 4096},
    "zstd-page-v2": {"compression": "zstd", "data_page_version": "2.0"},
    "int96-legacy": {"use_deprecated_int96_timestamps": True, "version": "1.0"},
    "no-stats-no-arrow-schema": {"write_statistics": False, "store_schema": False},
}


@pytest.mark.parametrize("options", WRITE_OPTIONS.values(), ids=WRITE_OPTIONS.keys())
def test_parts_read_back_as_the_source_rows(tmp_path, options):
    source = table()
    path = tmp_path / "source.parquet"
    pq.write_table(source, path, row_group_size=1_500, **options)
    expected = pq.read_table(path)  # as pyarrow reads this encoding
    metadata, groups = parquet_split.read_footer(str(path))
    writer = parquet_split._Writer()
    writer.struct(metadata)
    raw = path.read_bytes()
    assert bytes(writer.out) == raw[-8 - len(writer.out) : -8]  # the footer re-encodes byte for byte
    limit = path.stat().st_size // 4
    parts = list(parquet_split.split(str(path), limit, str(tmp_path), "part"))
    assert len(parts) >= 4
    offset = 0
    for part, rows in parts:
        assert (tmp_path / part).stat().st_size <= limit
        got = pq.read_table(part)
        assert got.num_rows == rows == pq.read_metadata(part).num_rows
        assert got.equals(expected.slice(offset, rows)), part
        offset += rows
    assert offset == source.num_rows


@pytest.mark.parametrize("options", WRITE_OPTIONS.values(), ids=WRITE_OPTIONS.keys())
def test_parts_read_in_place_are_the_written_parts_byte_for_byte(tmp_path, options):
    path = tmp_path / "source.parquet"
    pq.write_table(table(), path, row_group_size=1_500, **options)
    expected = pq.read_table(path)
    metadata, groups = parquet_split.read_footer(str(path))
    plan = parquet_split.plan_parts(groups, parquet_split.footer_size(metadata), path.stat().st_size // 4)
    offset = 0
    for number, part in enumerate(plan):
        written = tmp_path / f"part-{number}.parquet"
        rows = parquet_split.write_part(str(path), metadata, part, str(written))
        layout = parquet_split.part_layout(str(path), metadata, part)
        assert (layout.rows, layout.size) == (rows, written.stat().st_size)
        with layout.open() as reader:
            pieces = []
            while piece := reader.read(4093):  # reads that straddle the magic, the ranges and the footer
                pieces.append(piece)
            assert b"".join(pieces) == written.read_bytes()
            reader.seek(-8, 2)
            assert reader.read() == written.read_bytes()[-8:]
            reader.seek(0)
            assert pq.read_table(reader).equals(expected.slice(offset, rows))
        offset += rows
    assert offset == expected.num_rows


def test_a_row_group_larger_than_a_part_cannot_be_split(tmp_path):
    path = tmp_path / "one-group.parquet"
    pq.write_table(table(), path)
    with pytest.raises(parquet_split.SplitError, match="row group 0"):
        list(parquet_split.split(str(path), path.stat().st_size // 2, str(tmp_path), "part"))


def test_not_parquet_is_refused(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1 nothing here")
    with pytest.raises(parquet_split.SplitError):
        parquet_split.read_footer(str(path))


def test_operator_sends_a_large_file_as_unchanged_parts(emulator, tmp_path, monkeypatch):
    source = mixed_table(6000)
    path = tmp_path / "big.parquet"
    pq.write_table(source, path, row_group_size=500, use_deprecated_int96_timestamps=True)  # as Data Push takes
    chunk = 64 * 1024
    assert path.stat().st_size > 2 * chunk
    written = []
    monkeypatch.setattr(parquet_split, "write_part", lambda *args, **kwargs: written.append(args))
    summary = push_op(source_path=str(path), chunk_size_bytes=chunk).execute(context())
    assert summary["chunks"] > 1 and summary["chunks_sent_unchanged"] == summary["chunks"]
    assert written == []  # the parts were read in place from the file: no copy on the spool disk
    same_rows(emulator.arrow_table("pushed"), source)


def test_non_nullable_columns_and_mixed_decimals_across_files(emulator, tmp_path):
    """A file with required columns is still sent unchanged; a second file with wider decimals makes the
    first one recast to the common type, and every value lands."""
    strict = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("d", pa.decimal128(5, 2))])
    pq.write_table(
        pa.table({"id": [1, 2], "d": [decimal.Decimal("1.50"), None]}, schema=strict), tmp_path / "a.parquet"
    )
    summary = push_op(source_path=str(tmp_path / "a.parquet")).execute(context())
    assert summary["chunks_sent_unchanged"] == 1
    pq.write_table(
        pa.table({"id": [3], "d": pa.array([decimal.Decimal("12345.678")], pa.decimal128(9, 3))}),
        tmp_path / "b.parquet",
    )
    summary = push_op(source_path=str(tmp_path / "*.parquet")).execute(context())
    assert summary["chunks"] == 2 and summary["chunks_sent_unchanged"] == 1
    got = emulator.arrow_table("pushed").sort_by("id")
    assert got.schema.field("d").type == pa.decimal128(9, 3)
    assert got.column("d").to_pylist() == [decimal.Decimal("1.500"), None, decimal.Decimal("12345.678")]
