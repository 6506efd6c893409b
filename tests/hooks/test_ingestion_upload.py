"""CelonisHook.upload_ingestion_file sends through the operators' uploader: multipart, or one PutObject when refused."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.push.ingestion import MIN_PART_BYTES
from tests.helpers.emulator import CONNECTION

ROWS = 300_000  # about 7 MB uncompressed: more than one smallest S3 part (5 MiB)


def ingestion_calls(emulator) -> tuple[list[dict], list[dict], list[dict]]:
    """The multipart starts, the part uploads and the single PutObjects the emulator saw, in order."""
    calls = emulator.requests("/api/data-ingestion")
    starts = [r for r in calls if r["method"] == "POST" and "uploads" in r["query"]]
    parts = [r for r in calls if r["method"] == "PUT" and "uploadId" in r["query"]]
    puts = [r for r in calls if r["method"] == "PUT" and "uploadId" not in r["query"]]
    return starts, parts, puts


@pytest.mark.parametrize("multipart", ["accept", "refuse"])
def test_a_large_file_goes_multipart_or_falls_back_to_one_put(emulator, seed_copy, tmp_path, multipart):
    seed_copy["settings"]["ingestion_multipart"] = multipart
    emulator.reseed(seed_copy)
    path = tmp_path / "big.parquet"
    table = pa.table({"order_id": list(range(ROWS)), "created_at": [1] * ROWS, "v": [f"row-{i}" for i in range(ROWS)]})
    pq.write_table(table, path, compression="none")
    assert path.stat().st_size > MIN_PART_BYTES  # two parts at the smallest part size

    key = CelonisHook(retry_delay=0.01).upload_ingestion_file(
        path, CONNECTION, "shipment", multipart_threshold=MIN_PART_BYTES
    )

    assert key == f"connection/{CONNECTION}/shipment/big.parquet"
    starts, parts, puts = ingestion_calls(emulator)
    if multipart == "accept":
        assert [s["status"] for s in starts] == [200] and len(parts) > 1 and puts == []
    else:
        assert [s["status"] for s in starts] == [501] and parts == []
        assert [p["status"] for p in puts] == [200]
    rows = {r["order_id"]: r["v"] for r in emulator.table("shipment")["rows"]}
    assert rows == {i: f"row-{i}" for i in range(ROWS)}
    log = emulator.admin("GET", "/_emulator/ingestion").json()
    assert [e["status"] for e in log] == ["PROCESSED"]


@pytest.mark.parametrize("multipart", ["accept", "refuse"])
def test_a_small_file_is_one_put_whatever_the_endpoint_says_of_multipart(emulator, seed_copy, tmp_path, multipart):
    seed_copy["settings"]["ingestion_multipart"] = multipart
    emulator.reseed(seed_copy)
    path = tmp_path / "small.parquet"
    pq.write_table(pa.table({"order_id": [1, 2], "created_at": [1, 1], "v": ["a", "b"]}), path, compression="none")

    CelonisHook(retry_delay=0.01).upload_ingestion_file(path, CONNECTION, "shipment")

    starts, parts, puts = ingestion_calls(emulator)
    assert starts == [] and parts == [] and [p["status"] for p in puts] == [200]
    assert emulator.table("shipment")["rows"] == [
        {"order_id": 1, "created_at": 1, "v": "a"},
        {"order_id": 2, "created_at": 1, "v": "b"},
    ]


@pytest.mark.parametrize(("extra", "sent"), [({}, "signed"), ({"ingestion_sign_payload": False}, "UNSIGNED-PAYLOAD")])
def test_payload_signing_follows_the_connection(emulator, monkeypatch, tmp_path, extra, sent):
    """Signed by default; ``ingestion_sign_payload: false`` sends UNSIGNED-PAYLOAD (no hashing read of the body),
    which the endpoint verifies and applies like a signed upload."""
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(**extra))
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"order_id": [1, 2], "created_at": [1, 1], "v": ["a", "b"]}), path, compression="none")
    hook = CelonisHook()
    client = hook.get_ingestion_client()
    seen: list[str] = []

    def record(request, **_) -> None:
        value = request.headers["X-Amz-Content-SHA256"]
        seen.append(value.decode() if isinstance(value, bytes) else value)

    client.meta.events.register("before-send.s3.PutObject", record)

    hook.upload_ingestion_file(path, CONNECTION, "shipment", client=client)

    assert len(seen) == 1
    if sent == "signed":
        assert re.fullmatch("[0-9a-f]{64}", seen[0]), seen  # the body's SHA-256
    else:
        assert seen == [sent]
    assert {r["order_id"]: r["v"] for r in emulator.table("shipment")["rows"]} == {1: "a", 2: "b"}
