"""Compressed parquet becomes uncompressed parquet page by page: the same values, no codec left."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_celonis.push import parquet_decompress


def table(rows: int = 5000) -> pa.Table:
    ids = list(range(rows))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "text": pa.array([None if i % 7 == 0 else f"Größe {i % 50} ✓" * (1 + i % 3) for i in ids]),
            "amount": pa.array([i / 3 for i in ids]),
            "at": pa.array([dt.datetime(2024, 1, 1) + dt.timedelta(seconds=i) for i in ids], pa.timestamp("us")),
            "tags": pa.array([[f"t{i % 3}"] * (i % 3) for i in ids], pa.list_(pa.string())),
            "point": pa.array([{"x": i, "y": None} for i in ids], pa.struct([("x", pa.int64()), ("y", pa.float64())])),
        }
    )


@pytest.mark.parametrize("codec", ["snappy", "zstd", "gzip", "brotli", "lz4"])
@pytest.mark.parametrize("page_version", ["1.0", "2.0"])
def test_every_codec_and_page_version(tmp_path, codec, page_version):
    source = table()
    pq.write_table(
        source,
        tmp_path / "c.parquet",
        compression=codec,
        row_group_size=1200,
        data_page_version=page_version,
        data_page_size=4096,
        use_deprecated_int96_timestamps=True,
        write_page_index=True,
        write_statistics=True,
    )
    parts = list(parquet_decompress.decompress(str(tmp_path / "c.parquet"), 10**9, str(tmp_path), "d"))
    assert len(parts) == 1 and parts[0][1] == 5000
    metadata = pq.read_metadata(parts[0][0])
    assert {
        metadata.row_group(g).column(c).compression
        for g in range(metadata.num_row_groups)
        for c in range(metadata.num_columns)
    } == {"UNCOMPRESSED"}
    got = pq.read_table(parts[0][0], coerce_int96_timestamp_unit="us")
    assert got.equals(source)
    assert metadata.schema.column(3).physical_type == "INT96"  # the file's own encoding is kept


def test_parts_are_bounded_by_their_uncompressed_size(tmp_path):
    source = table(20_000)
    pq.write_table(source, tmp_path / "c.parquet", compression="zstd", row_group_size=2000)
    limit = 400_000
    parts = list(parquet_decompress.decompress(str(tmp_path / "c.parquet"), limit, str(tmp_path), "d"))
    assert len(parts) > 2 and sum(rows for _, rows in parts) == 20_000
    assert all((tmp_path / p).stat().st_size <= limit for p, _ in parts)
    assert pa.concat_tables(pq.read_table(p) for p, _ in parts).equals(source)
