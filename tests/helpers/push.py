"""Push and ingest tasks in tests, the tables they send, and exact checks of what landed in the emulator."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import sqlite3

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.operators.ingest import CelonisIngestDataOperator
from airflow_provider_celonis.operators.push import CelonisPushDataOperator
from tests.helpers.emulator import CONNECTION, POOL
from tests.helpers.tasks import FAST, context

BERLIN = "Europe/Berlin"
TALLY = {"scenarios": 0, "faults": 0, "rows": 0}
"""What the fault-injection suite did (its scenarios, injected faults, rows checked), for the summary line."""


def push_op(**kwargs) -> CelonisPushDataOperator:
    """A push task into ``pushed`` unless told otherwise, polling every 0.05 s."""
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("table_name", "pushed")
    return CelonisPushDataOperator(task_id="push", pool_id=POOL, **kwargs)


def ingest_op(**kwargs) -> CelonisIngestDataOperator:
    """An ingestion task into ``rt`` keyed by ``id`` unless told otherwise."""
    kwargs.setdefault("table_name", "rt")
    kwargs.setdefault("primary_keys", ["id"])
    kwargs.setdefault("file_name_prefix", "test-")
    return CelonisIngestDataOperator(task_id="ingest", connection_id=CONNECTION, **kwargs)


def push_operator(**kwargs) -> CelonisPushDataOperator:
    """A push task (sync wait, fast retries) into ``pushed`` unless told otherwise."""
    return push_op(**{**FAST, **kwargs})


def push(**kwargs) -> dict:
    """Run a push task (fast retries) and return its summary."""
    return push_operator(**kwargs).execute(context())


def stored_chunks(job_id: str) -> int:
    """How many chunks the emulator holds for push job ``job_id``."""
    return len(CelonisHook().list_push_chunks(POOL, job_id))


# --- tables to send ---------------------------------------------------------------------------------------


def quoted_rows(rows: int = 2_000, offset: int = 0) -> pa.Table:
    """Rows ``offset``.. with an id, a text full of quotes, commas, newlines and a check mark, an amount."""
    ids = list(range(offset, offset + rows))
    return pa.table(
        {"id": ids, "text": [f'row {i} ✓, "quoted"\n' * (1 + i % 3) for i in ids], "amount": [i * 0.5 for i in ids]}
    )


def mixed_table(rows: int = 6, offset: int = 0) -> pa.Table:
    """Every type the push must keep: ints, floats, decimals, unicode strings with newlines, bools,
    dates, timestamps with a time zone and without, nulls everywhere."""
    ids = list(range(offset, offset + rows))

    def maybe(values):
        return [None if (i + 1) % 5 == 0 else v for i, v in enumerate(values)]

    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "small": pa.array(maybe([i % 100 for i in ids]), pa.int32()),
            "amount": pa.array(maybe([i * 1.25 + 0.1 for i in ids]), pa.float64()),
            "price": pa.array(maybe([decimal.Decimal(f"{i}.{i % 100:02d}") for i in ids]), pa.decimal128(12, 2)),
            "name": pa.array(maybe([f'Kunde {i} — Größe "{i}", a;b\nnext line' for i in ids]), pa.string()),
            "empty_or_null": pa.array(["" if i % 2 else None for i in ids], pa.string()),
            "flag": pa.array(maybe([i % 3 == 0 for i in ids]), pa.bool_()),
            "day": pa.array(maybe([dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in ids]), pa.date32()),
            "at_berlin": pa.array(
                maybe([dt.datetime(2024, 3, 31, 1, 30, i % 60, 123456) for i in ids]), pa.timestamp("us")
            )
            .cast(pa.timestamp("us", "UTC"))
            .cast(pa.timestamp("us", BERLIN)),
            "local": pa.array(maybe([dt.datetime(2024, 6, 1, 12, 0, i % 60) for i in ids]), pa.timestamp("ms")),
        }
    )


# --- the same four rows from every kind of source ---------------------------------------------------------

ROUND_TRIP_ROWS = [
    (1, 'quote " comma , semicolon ; newline\nend', 1.5),
    (2, "Ünïcödé ✓ 😀", None),
    (3, None, -0.25),
    (4, "", 1e-7),
]
SOURCE_KINDS = [
    "parquet_file",
    "csv_file",
    "gzip_csv_file",
    "jsonl_file",
    "sql",
    "arrow_table",
    "record_batch_reader",
    "pandas",
]


def round_trip_source(kind: str, tmp_path, monkeypatch) -> dict:
    """The source parameters of a task reading ``ROUND_TRIP_ROWS`` from a source of ``kind`` (SOURCE_KINDS)."""
    ids, texts, amounts = (list(column) for column in zip(*ROUND_TRIP_ROWS, strict=True))
    table = pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "text": pa.array(texts, pa.string()),
            "amount": pa.array(amounts, pa.float64()),
        }
    )
    if kind == "parquet_file":
        pq.write_table(table, tmp_path / "t.parquet")
        return {"source_path": str(tmp_path / "t.parquet")}
    if kind in ("csv_file", "gzip_csv_file"):
        path = tmp_path / ("t.csv.gz" if kind == "gzip_csv_file" else "t.csv")
        with (
            pa.CompressedOutputStream(str(path), "gzip")
            if kind == "gzip_csv_file"
            else pa.OSFile(str(path), "wb") as out
        ):
            pacsv.write_csv(table, out)
        return {"source_path": str(path), "csv_options": {"column_types": {"id": "int64", "amount": "double"}}}
    if kind == "jsonl_file":
        with open(tmp_path / "t.jsonl", "w", encoding="utf-8") as handle:
            for row in table.to_pylist():
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return {"source_path": str(tmp_path / "t.jsonl")}
    if kind == "sql":
        db = sqlite3.connect(tmp_path / "t.db")
        db.execute("create table t (id integer, text text, amount real)")
        db.executemany("insert into t values (?, ?, ?)", ROUND_TRIP_ROWS)
        db.commit()
        db.close()
        monkeypatch.setenv("AIRFLOW_CONN_T_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "t.db")}))
        return {"sql": "select id, text, amount from t", "sql_conn_id": "t_db"}
    if kind == "arrow_table":
        return {"data": table}
    if kind == "record_batch_reader":
        return {"data": pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))}
    assert kind == "pandas", kind
    pandas = pytest.importorskip("pandas")
    return {"data": pandas.DataFrame({"id": ids, "text": texts, "amount": amounts})}


def rows_of(table: pa.Table) -> list[tuple]:
    """The rows of ``table`` as tuples, by id."""
    return [tuple(row.values()) for row in table.sort_by("id").to_pylist()]


# --- what landed --------------------------------------------------------------------------------------------


def landed(emulator, table: str = "pushed") -> pa.Table:
    """What landed in the emulator's pool table ``table``, by id."""
    return emulator.arrow_table(table).sort_by("id")


def as_pushed(table: pa.Table, zones: bool = False) -> pa.Table:
    """The source as Celonis keeps it from a parquet push: the same values, to the microsecond; a zoned
    timestamp as its UTC wall time (INT96 carries no zone), or as a UTC instant with ``zones``."""
    arrays = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("us", "UTC" if column.type.tz else None))
            if not zones:
                column = column.cast(pa.timestamp("us"))
        arrays.append(column)
    return pa.table(arrays, names=table.column_names)


def same_rows(actual: pa.Table, expected: pa.Table, key: str = "id", zones: bool = False) -> None:
    """``actual`` holds exactly the rows of ``expected`` as a push keeps them (``as_pushed``), in any order."""
    actual = as_pushed(actual, zones).sort_by(key)
    expected = as_pushed(expected, zones).sort_by(key)
    assert actual.column_names == expected.column_names
    for name in expected.column_names:
        assert actual.column(name).to_pylist() == expected.column(name).to_pylist(), name


def assert_table_is(emulator, expected: pa.Table, table: str = "pushed") -> int:
    """The table equals ``expected`` exactly (no missing, no duplicated rows); returns the rows checked.

    The rows count towards the fault-injection suite's summary line (``TALLY``).
    """
    got = emulator.arrow_table(table)
    assert got.num_rows == expected.num_rows
    same_rows(got, expected)
    TALLY["rows"] += got.num_rows
    return got.num_rows
