"""CelonisPushDataOperator against the emulator: what lands equals the source, for every source kind,
both chunk formats, REPLACE and DELTA, many chunks; failures leave no job behind."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_celonis.exceptions import CelonisError, CelonisRemoteFailure
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.push.chunks import MIN_CHUNK_BYTES
from airflow_provider_celonis.triggers.celonis import CelonisPushJobTrigger
from tests.helpers.emulator import POOL
from tests.helpers.push import (
    BERLIN,
    ROUND_TRIP_ROWS,
    as_pushed,
    landed,
    mixed_table,
    push_op,
    round_trip_source,
    rows_of,
    same_rows,
)
from tests.helpers.tasks import context, run_trigger

LONG = ('ä€😀\n"x", ' * 500)[:5000]  # 5,000 characters, multi-byte, newlines, quotes, separators


@pytest.mark.parametrize("chunk_size", [256 * 1024 * 1024, MIN_CHUNK_BYTES], ids=["unchanged-file", "re-encoded"])
def test_parquet_file_round_trip_with_every_type(emulator, tmp_path, chunk_size):
    source = mixed_table(3000)
    pq.write_table(source, tmp_path / "data.parquet", use_deprecated_int96_timestamps=True)
    assert (tmp_path / "data.parquet").stat().st_size > MIN_CHUNK_BYTES
    summary = push_op(source_path=str(tmp_path / "*.parquet"), chunk_size_bytes=chunk_size).execute(context())
    assert summary["status"] == "DONE" and summary["rows"] == 3000
    if chunk_size > MIN_CHUNK_BYTES:  # the file fits a chunk: its bytes are sent as they are
        assert summary["chunks"] == summary["chunks_sent_unchanged"] == 1
    else:
        assert summary["chunks"] > 1 and summary["chunks_sent_unchanged"] == 0
    same_rows(landed(emulator), source)


def test_int64_timestamp_file_is_reencoded_as_int96(emulator, tmp_path):
    """pyarrow's default (INT64 µs) is not what Data Push is known to read: the file is re-encoded, not sent."""
    source = mixed_table(500)
    pq.write_table(source, tmp_path / "data.parquet")
    summary = push_op(source_path=str(tmp_path / "data.parquet")).execute(context())
    assert summary["status"] == "DONE" and summary["chunks_sent_unchanged"] == 0
    same_rows(landed(emulator), source)


@pytest.mark.parametrize("reader", ["reject", "accept"])
def test_int64_timestamps_are_an_opt_in(emulator, seed_copy, tmp_path, reader):
    """parquet_timestamps="int64_us" sends INT64 µs (an INT64 file then goes unchanged); it works only where
    Celonis reads INT64 (the emulator's push_parquet_int64_timestamps switch)."""
    seed_copy["settings"]["push_parquet_int64_timestamps"] = reader
    emulator.reseed(seed_copy)
    source = mixed_table(200)
    pq.write_table(source, tmp_path / "data.parquet")
    op = push_op(source_path=str(tmp_path / "data.parquet"), parquet_timestamps="int64_us")
    if reader == "reject":
        with pytest.raises(CelonisRemoteFailure, match="at_berlin, local: INT64 timestamps"):
            op.execute(context())
        return
    summary = op.execute(context())
    assert summary["chunks_sent_unchanged"] == 1
    same_rows(landed(emulator), source, zones=True)


def test_default_chunks_carry_int96_timestamps(emulator):
    source = mixed_table(20)
    push_op(data=source).execute(context())
    job = CelonisHook().list_push_jobs(POOL)[0]
    assert job.status.value == "DONE"  # the emulator's default rejects INT64 timestamps: INT96 went out
    same_rows(landed(emulator), source)


def test_long_strings_are_never_cut(emulator):
    """Celonis cuts strings to 80 characters without a schema; the derived one keeps 5,000 whole."""
    source = pa.table({"id": [1, 2], "text": [LONG, "short"]})
    push_op(data=source).execute(context())
    assert landed(emulator).column("text").to_pylist() == [LONG, "short"]
    job = CelonisHook().list_push_jobs(POOL)[0]  # the schema declares the longest value in UTF-8 bytes
    assert {"columnName": "text", "columnType": "STRING", "fieldLength": len(LONG.encode())} in job.raw["tableSchema"][
        "columns"
    ]


def to_milliseconds(table: pa.Table) -> pa.Table:
    """The table with every timestamp cut to milliseconds (what a CSV chunk can carry)."""
    arrays = [
        c.cast(pa.timestamp("ms", c.type.tz), safe=False).cast(c.type) if pa.types.is_timestamp(c.type) else c
        for c in table.columns
    ]
    return pa.table(arrays, names=table.column_names)


def test_csv_chunks_round_trip(emulator):
    """Celonis reads dateFormat as a Java pattern (emulated): milliseconds, three digits, land exactly."""
    source = to_milliseconds(mixed_table(30))
    assert source.column("at_berlin").cast(pa.int64()).to_pylist()[0] % 1000 == 0
    at = pa.array([dt.datetime(2024, 1, 1, 0, 0, 0, 5000)] * 30, pa.timestamp("us"))  # .005 s, not .5 s
    source = source.set_column(source.column_names.index("local"), "local", at)
    summary = push_op(data=source, file_type="CSV").execute(context())
    assert summary["file_type"] == "CSV"
    got = landed(emulator)
    expected = as_pushed(source)
    for name in ("id", "small", "price", "name", "empty_or_null", "flag", "day"):
        assert got.column(name).to_pylist() == expected.column(name).to_pylist(), name
    assert (
        got.column("amount").to_pylist() == pytest.approx(expected.column("amount").to_pylist(), nan_ok=True)
        or got.column("amount").to_pylist() == expected.column("amount").to_pylist()
    )
    # Celonis DATETIME has no zone: the instant lands as UTC wall time.
    utc = expected.column("at_berlin").cast(pa.timestamp("us")).to_pylist()
    assert got.column("at_berlin").to_pylist() == utc
    assert got.column("local").to_pylist() == expected.column("local").to_pylist()


def test_many_chunks_reader_source_and_delta_upsert(emulator):
    first = mixed_table(3000)
    reader = pa.RecordBatchReader.from_batches(first.schema, first.to_batches(max_chunksize=500))
    summary = push_op(data=reader, chunk_size_bytes=MIN_CHUNK_BYTES, max_concurrent_uploads=3).execute(context())
    assert summary["chunks"] >= 4, summary  # the data is several times the chunk size
    assert len(CelonisHook().list_push_chunks(POOL, summary["push_job_id"])) == summary["chunks"]
    same_rows(landed(emulator), first)
    # DELTA: rows 2500..3499 — 500 updates (new values) and 500 inserts.
    change = mixed_table(1000, offset=2500).set_column(2, "amount", pa.array([-1.0] * 1000))
    push_op(data=change, push_type="DELTA", keys=["id"]).execute(context())
    expected = pa.concat_tables([first.slice(0, 2500), change])
    same_rows(landed(emulator), expected)


def test_csv_chunks_refuse_sub_millisecond_timestamps_before_any_request(emulator):
    with pytest.raises(CelonisError, match=r"'at_berlin'.*sub-millisecond.*file_type=\"PARQUET\""):
        push_op(data=mixed_table(30), file_type="CSV").execute(context())
    assert emulator.requests("/data-push/") == []


def test_csv_job_declares_a_java_millisecond_pattern(emulator):
    push_op(data=pa.table({"id": [1]}), file_type="CSV").execute(context())
    options = CelonisHook().list_push_jobs(POOL)[0].raw["csvParsingOptions"]
    assert options["dateFormat"] == "yyyy-MM-dd'T'HH:mm:ss.SSS"


def test_csv_source_files_keep_text_exactly(emulator, tmp_path):
    text = 'id,comment,code\n1,"Hello, ""world""\nsecond line",007\n2,Ünïcödé ✓,\n3,"",010\n'
    (tmp_path / "a.csv").write_text(text, encoding="utf-8")
    with gzip.open(tmp_path / "b.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write("id,comment,code\n4,gz row;semi,42\n")
    push_op(source_path=[str(tmp_path / "a.csv"), str(tmp_path / "b.csv.gz")]).execute(context())
    got = landed(emulator)
    assert got.column("id").to_pylist() == ["1", "2", "3", "4"]  # text stays text: no type guessing
    assert got.column("comment").to_pylist() == ['Hello, "world"\nsecond line', "Ünïcödé ✓", "", "gz row;semi"]
    assert got.column("code").to_pylist() == ["007", None, "010", "42"]


def test_csv_source_with_declared_types_and_options(emulator, tmp_path):
    (tmp_path / "x.txt").write_text("id;amount;when\n1;2.5;2024-01-02 03:04:05\n2;NULL;\n", encoding="utf-8")
    push_op(
        source_path=str(tmp_path / "x.txt"),
        source_format="csv",
        csv_options={
            "delimiter": ";",
            "null_values": ["NULL", ""],
            "column_types": {"id": "INTEGER", "amount": "double", "when": "timestamp[us]"},
        },
    ).execute(context())
    got = landed(emulator)
    assert got.column("id").to_pylist() == [1, 2]
    assert got.column("amount").to_pylist() == [2.5, None]
    assert got.column("when").to_pylist() == [dt.datetime(2024, 1, 2, 3, 4, 5), None]


@pytest.fixture
def sqlite_conn(tmp_path, monkeypatch) -> str:
    path = tmp_path / "source.db"
    db = sqlite3.connect(path)
    db.execute("create table orders (id integer, note text, amount real, maybe integer)")
    db.executemany(
        "insert into orders values (?, ?, ?, ?)",
        [(i, f"order {i} ✓\n{LONG if i == 7 else ''}", i / 4, None if i < 150 else i) for i in range(400)],
    )
    db.commit()
    db.close()
    monkeypatch.setenv("AIRFLOW_CONN_SOURCE_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return "source_db"


def test_sql_source_streams_in_batches(emulator, sqlite_conn):
    # 'maybe' is NULL in the first batches and an integer later: the chunks are recast to one schema.
    summary = push_op(
        sql="select * from orders where id >= :low order by id",
        sql_parameters={"low": 0},
        sql_conn_id=sqlite_conn,
        sql_batch_rows=64,
        chunk_size_bytes=MIN_CHUNK_BYTES,
    ).execute(context())
    assert summary["rows"] == 400
    got = landed(emulator)
    assert got.schema.field("maybe").type == pa.int64()
    assert got.column("maybe").to_pylist() == [None if i < 150 else i for i in range(400)]
    assert got.column("note").to_pylist()[7] == f"order 7 ✓\n{LONG}"
    assert got.column("amount").to_pylist() == [i / 4 for i in range(400)]


def test_empty_query_replaces_with_an_empty_table(emulator, sqlite_conn):
    push_op(data=pa.table({"id": [1, 2]})).execute(context())
    summary = push_op(sql="select id from orders where id < 0", sql_conn_id=sqlite_conn).execute(context())
    assert summary["rows"] == 0 and landed(emulator).num_rows == 0


def test_pandas_dataframe_source(emulator):
    pandas = pytest.importorskip("pandas")
    at = pandas.to_datetime(["2024-01-01 10:00", "2024-01-02 11:00", None]).tz_localize(BERLIN)
    frame = pandas.DataFrame({"id": [1, 2, 3], "name": ["a", None, "ç"], "at": at})
    push_op(data=frame).execute(context())
    got = landed(emulator)
    assert got.column("name").to_pylist() == ["a", None, "ç"]
    assert got.column("at").to_pylist()[:2] == [dt.datetime(2024, 1, 1, 9), dt.datetime(2024, 1, 2, 10)]  # UTC


def test_deferred_push_round_trip(emulator):
    op = push_op(data=mixed_table(10), deferrable=True)
    ctx = context()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    trigger = deferred.value.trigger
    assert isinstance(trigger, CelonisPushJobTrigger)
    rebuilt = CelonisPushJobTrigger(**trigger.serialize()[1])
    event = run_trigger(rebuilt)
    assert event["status"] == "success"
    summary = push_op(data=None).execute_complete(ctx, event, **deferred.value.kwargs)
    assert summary["status"] == "DONE" and summary["rows"] == 10
    assert ctx["ti"].xcom["celonis_ids"]["push_job_id"] == summary["push_job_id"]


def test_remote_error_fails_with_the_job_logs(emulator):
    # A DELTA push with keys the data lacks is rejected by Celonis when it runs: the operator stops first.
    with pytest.raises(CelonisError, match="Key column"):
        push_op(data=pa.table({"id": [1]}), push_type="DELTA", keys=["order_id"]).execute(context())
    emulator.fault(path="/data-push/.*/jobs/[^/]+$", method="POST", outcome="ERROR", message="disk full", count=1)
    with pytest.raises(CelonisRemoteFailure, match="disk full"):
        push_op(data=pa.table({"id": [1]})).execute(context())


def test_failed_upload_deletes_the_job(emulator):
    emulator.fault(path="/chunks/upserted", method="POST", status=400, count=1)
    with pytest.raises(CelonisError):
        push_op(data=mixed_table(10)).execute(context())
    assert CelonisHook().list_push_jobs(POOL) == []


def test_timeout_cancels_the_running_job(emulator, seed_copy):
    seed_copy["settings"]["push_seconds"] = 30
    emulator.reseed(seed_copy)
    with pytest.raises(CelonisError, match="Timed out"):
        push_op(data=pa.table({"id": [1]}), timeout=0.5).execute(context())
    assert [job.status.value for job in CelonisHook().list_push_jobs(POOL)] == ["CANCELED"]


def test_kill_before_execution_deletes_and_after_cancels(emulator, seed_copy):
    hook = CelonisHook()
    op = push_op(data=pa.table({"id": [1]}))
    op._push_job_id = hook.create_push_job(POOL, "pushed").id
    op.on_kill()
    assert hook.list_push_jobs(POOL) == []
    seed_copy["settings"]["push_seconds"] = 30
    emulator.reseed(seed_copy)
    op = push_op(data=pa.table({"id": [1]}), wait_for_completion=False)
    summary = op.execute(context())
    op.on_kill()
    assert hook.get_push_job(POOL, summary["push_job_id"]).status.value == "CANCELED"


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (pa.array([b"\x00"]), "binary"),
        (pa.array([[1, 2]]), "nested"),
        (pa.array([2**64 - 1], pa.uint64()), "uint64"),
        (pa.array([1], pa.int64()).cast(pa.timestamp("ns")), "nanoseconds"),  # 1 ns past the epoch
        (pa.array([dt.timedelta(seconds=1)]), "duration"),
    ],
)
def test_types_celonis_cannot_take_fail_before_upload(emulator, column, message):
    with pytest.raises(CelonisError, match=message):
        push_op(data=pa.table({"id": [1], "bad": column})).execute(context())
    assert emulator.requests("/data-push/") == []


def test_string_longer_than_celonis_can_hold_fails_before_upload(emulator):
    with pytest.raises(CelonisError, match="65000"):
        push_op(data=pa.table({"s": ["x" * 65_001]})).execute(context())
    assert emulator.requests("/data-push/") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one source"),
        ({"data": pa.table({"a": [1]}), "sql": "select 1", "sql_conn_id": "x"}, "exactly one source"),
        ({"sql": "select 1"}, "sql_conn_id"),
        ({"data": pa.table({"a": [1]}), "push_type": "UPSERT"}, "REPLACE"),
        ({"data": pa.table({"a": [1]}), "keys": "a", "push_type": "DELTA"}, r"\['a'\]"),
        ({"data": pa.table({"a": [1]}), "keys": ["a"]}, "DELTA"),
        ({"data": pa.table({"a": [1]}), "chunk_size_bytes": 2 * 10**9}, "1 GB"),
        ({"data": pa.table({"a": [1]}), "upsert_strategy": "X"}, "UPSERT_WITH"),
        ({"data": pa.table({"a": [1]}), "file_type": "XLSX"}, "PARQUET"),
        ({"data": pa.table({"a": [1]}), "max_concurrent_uploads": 0}, "max_concurrent_uploads"),
        ({"data": pa.table({"a": [1]}), "parquet_timestamps": "int64"}, "'int96'.*'int64_us'"),
        ({"data": pa.table({"a": [1]}), "csv_options": {"sep": ";"}}, "Unknown csv_options"),
        ({"source_path": "/nonexistent/*.parquet"}, "No file matches"),
        ({"source_path": __file__}, "Cannot tell the format"),
        ({"data": {"a": [1]}}, "pyarrow Table"),
        ({"data": pa.table({"a": [1]}), "table_schema": {"b": {"fieldLength": 5}}}, "does not have"),
        ({"data": pa.table({"a": ["xyz"]}), "table_schema": {"a": {"fieldLength": 2}}}, "at least 3"),
        ({"data": pa.table({"a": [1]}), "table_schema": {"a": {"columnType": "MONEY"}}}, "MONEY"),
    ],
)
def test_bad_input_names_the_value_and_the_fix(emulator, kwargs, message):
    with pytest.raises((ValueError, CelonisError), match=message):
        push_op(**kwargs).execute(context())
    assert emulator.requests("/data-push/", method="POST") == []


def test_user_schema_override_is_sent(emulator):
    push_op(data=pa.table({"id": [1], "s": ["ab"]}), table_schema={"s": {"fieldLength": 400}}).execute(context())
    job = CelonisHook().list_push_jobs(POOL)[0]
    assert {"columnName": "s", "columnType": "STRING", "fieldLength": 400} in job.raw["tableSchema"]["columns"]


@pytest.mark.parametrize("file_type", ["PARQUET", "CSV"])
@pytest.mark.parametrize("kind", ["parquet_file", "csv_file", "sql", "arrow_table", "record_batch_reader", "pandas"])
def test_every_source_and_chunk_format_round_trips(emulator, tmp_path, monkeypatch, kind, file_type):
    push_op(file_type=file_type, **round_trip_source(kind, tmp_path, monkeypatch)).execute(context())
    got = landed(emulator)
    assert got.column_names == ["id", "text", "amount"]
    assert rows_of(got) == ROUND_TRIP_ROWS
