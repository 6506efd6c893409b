"""The longest string of each column of a parquet file, measured per row group and column (dictionaries as such)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airflow_provider_celonis.push import parquet_lengths
from airflow_provider_celonis.push.parquet_lengths import max_string_bytes_in_file


def longest(table: pa.Table, name: str) -> int:
    return pc.max(pc.binary_length(table.column(name))).as_py() or 0


def test_dictionary_plain_and_mixed_columns_in_several_row_groups(tmp_path):
    rows = 30_000
    table = pa.table(
        {
            "few": [["a", "bb", "Größe ✓"][i % 3] for i in range(rows)],  # dictionary-encoded throughout
            "many": [f"value {i * 7919}" for i in range(rows)],  # the dictionary overflows: plain pages follow
            "late": ["x" if i < rows - 1 else "😀" * 40 for i in range(rows)],  # the longest value comes last
            "empty": [None if i % 2 else "" for i in range(rows)],
            "n": list(range(rows)),
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=7000, dictionary_pagesize_limit=4096, data_page_size=4096)
    dictionary_only = parquet_lengths._dictionary_only(str(path))
    assert {(g, "few") for g in range(5)} <= dictionary_only
    assert not any(name == "many" for _, name in dictionary_only)  # plain pages: read value by value
    names = ["few", "many", "late", "empty"]
    got = max_string_bytes_in_file(str(path), names)
    assert got == {name: longest(table, name) for name in names}
    assert got["late"] == 160 and got["empty"] == 0


def test_no_rows_and_no_string_columns(tmp_path):
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"s": pa.array([], pa.string()), "n": pa.array([], pa.int64())}), path)
    assert max_string_bytes_in_file(str(path), ["s"]) == {"s": 0}
    assert max_string_bytes_in_file(str(path), []) == {}
