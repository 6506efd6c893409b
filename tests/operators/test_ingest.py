"""CelonisIngestFilesOperator against the emulator's S3-compatible ingestion endpoint (real boto3 over HTTP)."""

from __future__ import annotations

import datetime as dt
import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_celonis.exceptions import CelonisApiError, CelonisError
from airflow_provider_celonis.operators.ingest import CelonisIngestFilesOperator
from tests.helpers.emulator import CONNECTION
from tests.helpers.tasks import FakeTI


class RunTI(FakeTI):
    dag_id, task_id, run_id = "nightly", "ingest", "scheduled__2026-11-22T00:00:00+00:00"


def ingest_op(**kwargs) -> CelonisIngestFilesOperator:
    kwargs.setdefault("primary_keys", ["order_id"])
    kwargs.setdefault("age_column", "created_at")
    return CelonisIngestFilesOperator(task_id="ingest", connection_id=CONNECTION, table_name="shipment", **kwargs)


def run(op) -> dict:
    return op.execute({"ti": RunTI(), "run_id": RunTI.run_id})


def test_parquet_and_csv_files_land_with_the_age_rule(emulator, tmp_path):
    pq.write_table(
        pa.table({"order_id": [1, 2], "created_at": [5, 5], "note": ["a", "b\nc"]}), tmp_path / "part-1.parquet"
    )
    with gzip.open(tmp_path / "part-2.csv.gz", "wt", encoding="utf-8") as handle:
        # order 1 is older (age 4): not applied; order 2 is newer: applied; order 3 is new.
        handle.write('order_id,created_at,note\n1,4,old\n2,6,"new, ✓"\n3,1,\n')
    summary = run(
        ingest_op(
            source_path=str(tmp_path / "part-*"),
            csv_options={"column_types": {"order_id": "int64", "created_at": "int64"}},
        )
    )
    assert summary["rows"] == 5 and len(summary["files"]) == 2
    keys = [f["key"] for f in summary["files"]]
    assert keys == [
        f"connection/{CONNECTION}/shipment/nightly-ingest-scheduled__2026-11-22T00_00_00_00_00-0000-part-1.parquet",
        f"connection/{CONNECTION}/shipment/nightly-ingest-scheduled__2026-11-22T00_00_00_00_00-0001-part-2.parquet",
    ]
    rows = {r["order_id"]: r for r in emulator.table("shipment")["rows"]}
    assert rows == {
        1: {"order_id": 1, "created_at": 5, "note": "a"},
        2: {"order_id": 2, "created_at": 6, "note": "new, ✓"},
        3: {"order_id": 3, "created_at": 1, "note": None},
    }
    assert [e["status"] for e in emulator.admin("GET", "/_emulator/ingestion").json()] == ["PROCESSED"] * 2


def test_retry_overwrites_its_own_objects(emulator, tmp_path):
    pq.write_table(
        pa.table({"order_id": [1], "created_at": [1], "at": [dt.datetime(2024, 1, 1)]}), tmp_path / "a.parquet"
    )
    first, again = (
        run(ingest_op(source_path=str(tmp_path / "a.parquet"))),
        run(ingest_op(source_path=str(tmp_path / "a.parquet"))),
    )
    assert first["files"][0]["key"] == again["files"][0]["key"]
    assert len(emulator.table("shipment")["rows"]) == 1


def test_large_file_goes_multipart(emulator, tmp_path):
    n = 250_000
    pq.write_table(
        pa.table({"order_id": list(range(n)), "created_at": [1] * n, "v": [f"row-{i}" for i in range(n)]}),
        tmp_path / "big.parquet",
        compression="none",
    )
    run(ingest_op(source_path=str(tmp_path / "big.parquet"), multipart_threshold_bytes=5 * 1024 * 1024))
    assert any("uploadId" in r["query"] for r in emulator.requests("/api/data-ingestion"))
    assert len(emulator.table("shipment")["rows"]) == n


def test_a_file_without_the_key_stops_everything_before_upload(emulator, tmp_path):
    pq.write_table(pa.table({"order_id": [1], "created_at": [1]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": [1], "created_at": [1]}), tmp_path / "b.parquet")
    with pytest.raises(CelonisError, match=r"b\.parquet.*order_id.*Nothing was uploaded"):
        run(ingest_op(source_path=str(tmp_path / "*.parquet")))
    assert emulator.requests("/api/data-ingestion") == []


def test_wrong_secret_fails_without_showing_it(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(ingestion_secret_access_key="wrong-secret-value")
    )
    pq.write_table(pa.table({"order_id": [1], "created_at": [1]}), tmp_path / "a.parquet")
    with pytest.raises(CelonisApiError) as err:
        run(ingest_op(source_path=str(tmp_path / "a.parquet")))
    assert err.value.status_code == 403 and "wrong-secret-value" not in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"connection_id": ""}, "connection_id is empty"),
        ({"primary_keys": "order_id"}, r"\['order_id'\]"),
        ({"multipart_threshold_bytes": 1024}, "5 MiB"),
        ({"source_path": "/nonexistent/*.parquet"}, "No file matches"),
    ],
)
def test_bad_input(emulator, kwargs, message):
    params = {"source_path": __file__, **kwargs}
    with pytest.raises((ValueError, CelonisError), match=message):
        run(CelonisIngestFilesOperator(task_id="i", table_name="shipment", **{"connection_id": CONNECTION, **params}))


def test_compressed_parquet_is_accepted_by_s3_but_not_applied(emulator, tmp_path):
    """The emulator as the evidence says: "Uncompressed parquet files only"; S3 answers 200 anyway."""
    import hashlib
    import io

    from airflow_provider_celonis.hooks.celonis import CelonisHook

    sink = io.BytesIO()
    pq.write_table(pa.table({"order_id": [1], "created_at": [1]}), sink, compression="zstd")
    client = CelonisHook().get_ingestion_client()
    key = f"connection/{CONNECTION}/shipment/raw.parquet"
    answer = client.put_object(Bucket="continuous", Key=key, Body=sink.getvalue())
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert answer["ETag"].strip('"') == hashlib.md5(sink.getvalue()).hexdigest()  # noqa: S324
    [entry] = emulator.admin("GET", "/_emulator/ingestion").json()
    assert entry["status"] == "ERROR" and entry["rows"] == 0
    assert "order_id (ZSTD)" in entry["message"] and "uncompressed parquet files only" in entry["message"]
    with pytest.raises(Exception, match="404"):
        emulator.table("shipment")


@pytest.mark.parametrize("codec", ["snappy", "zstd", "gzip", "brotli", "lz4"])
def test_compressed_parquet_is_reencoded_uncompressed(emulator, tmp_path, codec):
    n = 20_000
    source = pa.table(
        {
            "order_id": list(range(n)),
            "created_at": [3] * n,
            "v": [f"ä-{i}" * 3 for i in range(n)],
            "at": [dt.datetime(2024, 1, 1, 0, 0, 0, i) for i in range(n)],
        }
    )
    pq.write_table(source, tmp_path / "c.parquet", compression=codec, row_group_size=3000)
    summary = run(ingest_op(source_path=str(tmp_path / "c.parquet")))
    assert summary["rows"] == n
    [entry] = emulator.admin("GET", "/_emulator/ingestion").json()
    assert entry["status"] == "PROCESSED", entry
    assert emulator.arrow_table("shipment").sort_by("order_id").equals(source)


def test_uncompressed_parquet_goes_up_unchanged(emulator, tmp_path):
    import hashlib

    from airflow_provider_celonis.hooks.celonis import CelonisHook

    pq.write_table(pa.table({"order_id": [1, 2], "created_at": [1, 1]}), tmp_path / "u.parquet", compression="none")
    summary = run(ingest_op(source_path=str(tmp_path / "u.parquet")))
    head = CelonisHook().get_ingestion_client().head_object(Bucket="continuous", Key=summary["files"][0]["key"])
    assert head["ETag"].strip('"') == hashlib.md5((tmp_path / "u.parquet").read_bytes()).hexdigest()  # noqa: S324
    assert summary["files"][0]["bytes"] == (tmp_path / "u.parquet").stat().st_size


def test_csv_is_converted_to_uncompressed_parquet(emulator, tmp_path):
    (tmp_path / "a.csv").write_text("order_id,created_at\n7,1\n", encoding="utf-8")
    run(ingest_op(source_path=str(tmp_path / "a.csv")))
    assert [e["status"] for e in emulator.admin("GET", "/_emulator/ingestion").json()] == ["PROCESSED"]
    assert emulator.table("shipment")["rows"] == [{"order_id": "7", "created_at": "1"}]


def test_hook_refuses_a_compressed_file_before_any_request(emulator, tmp_path):
    from airflow_provider_celonis.hooks.celonis import CelonisHook

    pq.write_table(pa.table({"order_id": [1]}), tmp_path / "s.parquet", compression="snappy")
    with pytest.raises(CelonisError, match=r"order_id is SNAPPY-compressed.*compression='none'.*Nothing was uploaded"):
        CelonisHook().upload_ingestion_file(tmp_path / "s.parquet", CONNECTION, "shipment")
    assert emulator.requests("/api/data-ingestion") == []
