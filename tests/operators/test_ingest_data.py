"""One source layer, two sinks: every source round-trips through Data Push and Standard Data Ingestion against the
emulator; nested data goes through ingestion only; the pipeline keeps its spool bounded and uploads while it reads;
a source failing half-way leaves no executed job; a refused multipart upload becomes one PutObject."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
import os
import re
import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.operators.ingest import CelonisIngestFilesOperator
from airflow_provider_celonis.push.chunks import MIN_CHUNK_BYTES
from airflow_provider_celonis.push.schema import MAX_VARCHAR_BYTES
from tests.helpers.emulator import CONNECTION, POOL
from tests.helpers.postgres import expected_rows, expected_table
from tests.helpers.push import ROUND_TRIP_ROWS, SOURCE_KINDS, ingest_op, push_op, round_trip_source, rows_of, same_rows
from tests.helpers.tasks import context


@pytest.fixture
def ingest_seed(emulator, seed_copy):
    """The demo connection with a table ``rt`` keyed by ``id`` (no age column), for exact round trips."""
    seed_copy["pools"][0]["connections"][0]["tables"].append({"name": "rt", "primary_key": ["id"]})
    emulator.reseed(seed_copy)
    return seed_copy


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_every_source_round_trips_through_ingestion(emulator, ingest_seed, tmp_path, monkeypatch, kind):
    summary = ingest_op(**round_trip_source(kind, tmp_path, monkeypatch)).execute(context())
    got = emulator.arrow_table("rt")
    assert got.column_names == ["id", "text", "amount"] and rows_of(got) == ROUND_TRIP_ROWS
    assert summary["rows"] == 4 and all(
        o["key"].startswith(f"connection/{CONNECTION}/rt/test-0000-") for o in summary["objects"]
    )
    assert [e["status"] for e in emulator.admin("GET", "/_emulator/ingestion").json()] == ["PROCESSED"]


@pytest.mark.parametrize("kind", ["gzip_csv_file", "jsonl_file"])
def test_new_file_sources_round_trip_through_data_push(emulator, tmp_path, monkeypatch, kind):
    push_op(**round_trip_source(kind, tmp_path, monkeypatch)).execute(context())
    assert rows_of(emulator.arrow_table("pushed")) == ROUND_TRIP_ROWS


NESTED_LINES = [
    {
        "id": 1,
        "customer": {"name": "Ünïcödé", "address": {"city": "München", "zip": "80331"}},
        "tags": ["a", "b"],
        "lines": [{"sku": "X-1", "qty": 2}, {"sku": "Y-2", "qty": 1}],
    },
    {"id": 2, "customer": {"name": "Zoë", "address": {"city": "Paris", "zip": None}}, "tags": [], "lines": []},
    {"id": 3, "customer": None, "tags": None, "lines": [{"sku": "Z", "qty": None}]},
]


def test_nested_json_lines_go_through_ingestion(emulator, ingest_seed, tmp_path):
    with gzip.open(tmp_path / "orders.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in NESTED_LINES)
    ingest_op(source_path=str(tmp_path / "orders.jsonl.gz")).execute(context())
    got = emulator.arrow_table("rt").sort_by("id")
    assert pa.types.is_struct(got.schema.field("customer").type) and pa.types.is_list(got.schema.field("lines").type)
    assert got.to_pylist() == NESTED_LINES


def test_nested_arrow_columns_go_through_ingestion_and_read_back_typed(emulator, ingest_seed):
    data = pa.table(
        {
            "id": [1, 2],
            "point": pa.array([{"x": 1.5, "y": -2.0}, None], pa.struct([("x", pa.float64()), ("y", pa.float64())])),
            "scores": pa.array([[1, 2, 3], [None]], pa.list_(pa.int32())),
            "attrs": pa.array([[("k", "v")], []], pa.map_(pa.string(), pa.string())),
        }
    )
    ingest_op(data=data).execute(context())
    assert emulator.arrow_table("rt").sort_by("id").equals(data)


@pytest.mark.parametrize("kind", ["jsonl", "arrow"])
def test_data_push_refuses_nested_before_any_request(emulator, tmp_path, kind):
    if kind == "jsonl":
        (tmp_path / "n.jsonl").write_text("\n".join(json.dumps(line) for line in NESTED_LINES), encoding="utf-8")
        op = push_op(source_path=str(tmp_path / "n.jsonl"))
    else:
        op = push_op(data=pa.table({"id": [1], "tags": [["a"]]}))
    column = "customer" if kind == "jsonl" else "tags"
    with pytest.raises(CelonisError, match=rf"Column '{column}' has the nested type.*CelonisIngestDataOperator"):
        op.execute(context())
    assert emulator.requests("/data-push/") == []


def test_postgres_through_ingestion_round_trips_exactly(emulator, ingest_seed, pg):
    summary = ingest_op(
        sql="select * from every_type", sql_conn_id=pg, sql_batch_rows=700, object_size_bytes=MIN_CHUNK_BYTES * 2
    ).execute(context())
    assert summary["rows"] == len(expected_rows()) and len(summary["objects"]) > 1
    got, expected = emulator.arrow_table("rt").sort_by("id"), expected_table(expected_rows())
    for name in expected.schema.names:
        assert got.column(name).type == expected.column(name).type, name
        assert got.column(name).to_pylist() == expected.column(name).to_pylist(), name


def test_postgres_through_data_push_in_many_chunks(emulator, pg):
    """A source larger than the spool: the job's schema is fixed early (strings at 65,000), every row lands."""
    op = push_op(sql="select * from every_type", sql_conn_id=pg, sql_batch_rows=500, chunk_size_bytes=MIN_CHUNK_BYTES)
    summary = op.execute(context())
    assert summary["chunks"] > 3
    same_rows(emulator.arrow_table("pushed"), expected_table(expected_rows()))  # Data Push keeps UTC wall times
    job = CelonisHook().list_push_jobs(POOL)[0]
    lengths = {c["columnName"]: c.get("fieldLength") for c in job.raw["tableSchema"]["columns"]}
    assert lengths["name"] == lengths["code"] == MAX_VARCHAR_BYTES


# --- the pipeline ---------------------------------------------------------------------------------------------


class SpoolWatch:
    """Polls a spool directory tree: the most files and bytes it ever held."""

    def __init__(self, root) -> None:
        self.root, self.files, self.bytes = str(root), 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            sizes = []
            for folder, _, names in os.walk(self.root):
                for name in names:
                    try:
                        sizes.append(os.path.getsize(os.path.join(folder, name)))
                    except OSError:
                        pass
            self.files, self.bytes = max(self.files, len(sizes)), max(self.bytes, sum(sizes))
            self._stop.wait(0.002)

    def __enter__(self) -> SpoolWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def wide_batches(count: int, rows: int = 2000, seen: list | None = None, server=None):
    """Batches of hard-to-compress rows (each about 70 kB as parquet); ``seen`` gets the chunk uploads the
    emulator ``server`` had received before each batch was read."""
    import random

    rng = random.Random(7)
    for number in range(count):
        ids = list(range(number * rows, (number + 1) * rows))
        if seen is not None:
            seen.append(len([r for r in list(server.state.request_log) if r["path"].endswith("/chunks/upserted")]))
        yield pa.record_batch(
            {"id": pa.array(ids, pa.int64()), "blob": pa.array([f"{rng.getrandbits(128):032x}" for _ in ids])}
        )


@pytest.mark.parametrize("max_spooled", [1, 2, 3])
def test_data_push_spool_is_bounded_and_uploads_while_reading(emulator, emulator_server, tmp_path, max_spooled):
    seen: list[int] = []
    op = push_op(
        data=wide_batches(40, seen=seen, server=emulator_server),
        chunk_size_bytes=MIN_CHUNK_BYTES * 2,
        max_spooled_chunks=max_spooled,
        spool_dir=str(tmp_path),
    )
    with SpoolWatch(tmp_path) as watch:
        summary = op.execute(context())
    assert summary["rows"] == 80_000 and summary["chunks"] > max_spooled + 3
    assert op.peak_spooled_chunks <= max_spooled + 1
    assert watch.files <= max_spooled + 1 and watch.bytes <= (max_spooled + 1) * MIN_CHUNK_BYTES * 2
    assert seen[-1] > 0  # chunks went up before the source's last batch was read
    got = emulator.arrow_table("pushed").sort_by("id")
    assert got.column("id").to_pylist() == list(range(80_000))


def test_ingestion_spool_is_bounded_and_objects_go_up_at_once(emulator, ingest_seed, tmp_path):
    op = ingest_op(
        data=wide_batches(30),
        object_size_bytes=MIN_CHUNK_BYTES * 2,
        max_spooled_chunks=3,
        max_concurrent_uploads=3,
        spool_dir=str(tmp_path),
    )
    with SpoolWatch(tmp_path) as watch:
        summary = op.execute(context())
    assert len(summary["objects"]) > 6 and summary["rows"] == 60_000
    assert op.peak_spooled_chunks <= 4 and watch.files <= 4 and watch.bytes <= 4 * MIN_CHUNK_BYTES * 2
    assert all(o["bytes"] <= MIN_CHUNK_BYTES * 2 for o in summary["objects"])
    assert emulator.arrow_table("rt").sort_by("id").column("id").to_pylist() == list(range(60_000))
    again = ingest_op(data=wide_batches(30), object_size_bytes=MIN_CHUNK_BYTES * 2).execute(context())
    assert [o["key"] for o in again["objects"]] == [o["key"] for o in summary["objects"]]  # a retry overwrites


def failing_source(batches: int):
    yield from wide_batches(batches)
    raise RuntimeError("the source broke half-way")


@pytest.mark.parametrize("batches", [0, 25], ids=["before-the-first-chunk", "after-chunks-were-uploaded"])
def test_a_source_failing_half_way_leaves_no_executed_job(emulator, batches):
    with pytest.raises(RuntimeError, match="half-way"):
        push_op(data=failing_source(batches), chunk_size_bytes=MIN_CHUNK_BYTES * 2).execute(context())
    created = [r for r in emulator.requests("/jobs/", "POST") if r["path"].endswith("/jobs/")]
    uploads = emulator.requests("/chunks/upserted", "POST")
    if batches:
        assert len(created) == 1 and uploads, "the job existed and chunks went up before the failure"
    else:
        assert created == [] and uploads == []
    assert CelonisHook().list_push_jobs(POOL) == []  # the unexecuted job was deleted
    assert [r for r in emulator.requests("/jobs/", "POST") if re.search(r"/jobs/[^/]+$", r["path"])] == []  # not run


def test_late_long_string_lands_whole_when_the_schema_was_fixed_early(emulator):
    long = "é" * 30_000  # 60,000 bytes, read after the schema was fixed from 32-character values
    data = iter([*wide_batches(20), pa.record_batch({"id": [10**9], "blob": [long]})])
    push_op(data=data, chunk_size_bytes=MIN_CHUNK_BYTES * 2).execute(context())
    assert long in emulator.arrow_table("pushed").column("blob").to_pylist()


def test_small_source_schema_is_final_with_exact_lengths(emulator):
    push_op(data=pa.table({"id": [1, 2], "s": ["abc", None]})).execute(context())
    job = CelonisHook().list_push_jobs(POOL)[0]
    assert {"columnName": "s", "columnType": "STRING", "fieldLength": 3} in job.raw["tableSchema"]["columns"]


def test_a_column_typed_late_fails_clearly_when_the_schema_was_fixed_early(emulator):
    early = [b.append_column("n", pa.nulls(b.num_rows)) for b in wide_batches(15)]
    late = pa.record_batch({"id": [10**9], "blob": ["x"], "n": [decimal.Decimal("1.5")]})
    with pytest.raises(CelonisError, match=r"Column 'n' changed type.*max_spooled_chunks"):
        push_op(data=iter([*early, late]), chunk_size_bytes=MIN_CHUNK_BYTES).execute(context())
    assert CelonisHook().list_push_jobs(POOL) == []


# --- multipart ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("multipart", ["accept", "refuse"])
def test_large_objects_go_multipart_or_fall_back_to_one_put(emulator, ingest_seed, tmp_path, multipart):
    ingest_seed["settings"]["ingestion_multipart"] = multipart
    emulator.reseed(ingest_seed)
    n = 250_000
    big = pa.table({"id": list(range(n)), "v": [f"row-{i}" for i in range(n)]})
    pq.write_table(big, tmp_path / "a.parquet", compression="none")
    pq.write_table(big.slice(0, 10), tmp_path / "b.parquet", compression="none")
    summary = ingest_op(
        source_path=str(tmp_path / "*.parquet"),
        multipart_threshold_bytes=5 * 1024 * 1024,
        object_size_bytes=64 * 1024 * 1024,
    ).execute(context())
    calls = emulator.requests("/api/data-ingestion")
    starts = [r for r in calls if r["method"] == "POST" and "uploads" in r["query"]]
    parts = [r for r in calls if r["method"] == "PUT" and "uploadId" in r["query"]]
    puts = [r for r in calls if r["method"] == "PUT" and "uploadId" not in r["query"]]
    if multipart == "accept":
        assert summary["multipart"] is True and [s["status"] for s in starts] == [200] and len(parts) > 1
        assert len(puts) == 1  # the small file
    else:
        assert summary["multipart"] is False and [s["status"] for s in starts] == [501] and parts == []
        assert len(puts) == 2 and all(p["status"] == 200 for p in puts)
    assert emulator.arrow_table("rt").sort_by("id").equals(big)


@pytest.mark.parametrize("multipart", ["accept", "refuse"])
def test_an_uncompressed_file_larger_than_an_object_goes_up_in_parts_read_in_place(
    emulator, ingest_seed, tmp_path, monkeypatch, multipart
):
    from airflow_provider_celonis.push import parquet_split

    ingest_seed["settings"]["ingestion_multipart"] = multipart
    emulator.reseed(ingest_seed)
    n = 600_000
    big = pa.table({"id": list(range(n)), "v": [f"row-{i}" for i in range(n)]})
    pq.write_table(big, tmp_path / "big.parquet", compression="none", row_group_size=50_000)
    assert (tmp_path / "big.parquet").stat().st_size > 12 * 1024 * 1024
    written = []
    monkeypatch.setattr(parquet_split, "write_part", lambda *args, **kwargs: written.append(args))
    summary = ingest_op(
        source_path=str(tmp_path / "big.parquet"),
        multipart_threshold_bytes=5 * 1024 * 1024,
        object_size_bytes=8 * 1024 * 1024,
    ).execute(context())
    sizes = [f["bytes"] for f in summary["files"]]
    assert len(sizes) >= 2 and max(sizes) <= 8 * 1024 * 1024 and max(sizes) > 5 * 1024 * 1024, sizes
    assert written == []  # every object was read in place from the file
    parts = [r for r in emulator.requests("/api/data-ingestion") if "uploadId" in r["query"] and r["method"] == "PUT"]
    assert (len(parts) > 0) is (multipart == "accept")
    assert emulator.arrow_table("rt").sort_by("id").equals(big)


def test_files_operator_is_the_data_operator_for_files(emulator, tmp_path):
    (tmp_path / "s.jsonl").write_text('{"order_id": 1, "created_at": 2, "carrier": "DHL"}\n', encoding="utf-8")
    summary = CelonisIngestFilesOperator(
        task_id="i",
        connection_id=CONNECTION,
        table_name="shipment",
        source_path=str(tmp_path / "s.jsonl"),
        primary_keys=["order_id"],
        age_column="created_at",
    ).execute(context())
    assert summary["files"][0]["key"].endswith("-0000-s.parquet")
    assert emulator.table("shipment")["rows"] == [{"order_id": 1, "created_at": 2, "carrier": "DHL"}]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": pa.table({"x": [1]})}, "lacks the column.*id.*Nothing was uploaded"),
        ({"data": pa.table({"id": [1]}), "object_size_bytes": 10}, "object_size_bytes"),
        ({"data": pa.table({"id": [1]}), "max_spooled_chunks": 0}, "max_spooled_chunks"),
        ({"data": pa.table({"id": [1]}), "source_format": "xml"}, "source_format"),
        ({}, "exactly one source"),
    ],
)
def test_ingest_bad_input_fails_before_any_request(emulator, ingest_seed, kwargs, message):
    with pytest.raises((ValueError, CelonisError), match=message):
        ingest_op(**kwargs).execute(context())
    assert emulator.requests("/api/data-ingestion") == []


def test_timestamps_reach_ingestion_as_int64_with_zone(emulator, ingest_seed):
    at = pa.array([dt.datetime(2024, 3, 31, 1, 30, 0, 123456)], pa.timestamp("us", "UTC"))
    ingest_op(data=pa.table({"id": [1], "at": at})).execute(context())
    assert emulator.arrow_table("rt").column("at").type == pa.timestamp("us", "UTC")


def test_compressed_parquet_is_decompressed_page_by_page(emulator, ingest_seed, tmp_path):
    """A snappy file with INT96 timestamps goes up with its pages decompressed, not re-encoded (INT96 kept)."""
    n = 30_000
    source = pa.table(
        {
            "id": list(range(n)),
            "at": pa.array([dt.datetime(2024, 1, 1, 0, 0, i % 60, i) for i in range(n)], pa.timestamp("us")),
        }
    )
    pq.write_table(source, tmp_path / "s.parquet", use_deprecated_int96_timestamps=True, row_group_size=5000)
    summary = ingest_op(source_path=str(tmp_path / "s.parquet"), object_size_bytes=MIN_CHUNK_BYTES * 2).execute(
        context()
    )
    assert len(summary["objects"]) > 1
    stored = dict(emulator.state.objects)
    for key in (o["key"] for o in summary["objects"]):
        metadata = pq.read_metadata(pa.BufferReader(stored[key]))
        assert metadata.schema.column(1).physical_type == "INT96"
        assert metadata.row_group(0).column(0).compression == "UNCOMPRESSED"
    assert emulator.arrow_table("rt").sort_by("id").equals(source)


def test_files_operator_refuses_other_sources(emulator):
    with pytest.raises(ValueError, match="files only, not sql.*CelonisIngestDataOperator"):
        CelonisIngestFilesOperator(
            task_id="i",
            connection_id=CONNECTION,
            table_name="shipment",
            source_path="x",
            sql="select 1",
            sql_conn_id="db",
        )
