"""Read progress: a line per chunk's worth of data and per interval, also while a source is silent."""

from __future__ import annotations

import logging
import time

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_celonis.push.sources import WholeParquetFile, with_progress


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "progress-test"]


def test_a_line_per_chunk_worth_and_a_last_line(caplog):
    batch = pa.record_batch({"id": pa.array(range(1000), pa.int64())})  # 8,000 bytes
    log = logging.getLogger("progress-test")
    with caplog.at_level(logging.INFO, logger="progress-test"):
        parts = list(with_progress([batch] * 10, log, every_bytes=20_000, every_seconds=3600))
    assert parts == [batch] * 10  # handed on unchanged
    got = lines(caplog)
    assert [line.split(":")[0] for line in got] == ["Source reading"] * 3 + ["Source read"]
    assert got[0].startswith("Source reading: 3,000 rows, 0.0 MB in ")
    assert got[-1].startswith("Source read: 10,000 rows, 0.1 MB in ") and "rows/s" in got[-1] and "MB/s" in got[-1]


def test_lines_while_the_source_is_silent(caplog):
    def slow():
        time.sleep(1.0)  # a query still running before its first row
        yield pa.record_batch({"id": [1, 2]})

    log = logging.getLogger("progress-test")
    with caplog.at_level(logging.INFO, logger="progress-test"):
        assert sum(b.num_rows for b in with_progress(slow(), log, every_bytes=1 << 30, every_seconds=0.3)) == 2
    got = lines(caplog)
    assert sum(line.startswith("Source reading: 0 rows") for line in got) >= 2
    assert got[-1].startswith("Source read: 2 rows")


def test_whole_parquet_files_count_their_rows(tmp_path, caplog):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": list(range(123))}), path)
    log = logging.getLogger("progress-test")
    with caplog.at_level(logging.INFO, logger="progress-test"):
        list(with_progress([WholeParquetFile(str(path))], log))
    assert lines(caplog)[-1].startswith("Source read: 123 rows")
