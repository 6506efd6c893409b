"""CelonisHook against the emulator over real HTTP: every endpoint, with every auth method."""

from __future__ import annotations

import io
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_celonis.exceptions import CelonisApiError, CelonisNameNotFoundError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.models import ExecutionStatus, LoadStatus, LoadType, PushJobStatus
from tests.helpers.emulator import (
    CONNECTION,
    DATA_JOB,
    DATA_MODEL,
    FAILING_DATA_JOB,
    FAILING_DATA_MODEL,
    POOL,
    test_seed,
)


def hook() -> CelonisHook:
    return CelonisHook(retry_delay=0.01)


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_test_connection_with_each_auth(any_auth):
    ok, message = hook().test_connection()
    assert ok, message
    assert any_auth in message and "1 data pool" in message


def test_test_connection_reports_bad_key(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json().replace("demo-api-key", "wrong-key"))
    ok, message = hook().test_connection()
    assert not ok
    assert "401" in message and "wrong-key" not in message


def test_tables_and_name_resolution(any_auth):
    h = hook()
    tables = h.get_data_model_tables(POOL, DATA_MODEL)
    assert {t.name for t in tables} == {"VBAK", "VBAP", "LIKP"}
    by_name = {t.name: t.id for t in tables}
    # by name, by alias (case-insensitive), by id; duplicates collapse
    ids = h.resolve_table_ids(POOL, DATA_MODEL, ["VBAK", "ORDER_ITEMS", by_name["LIKP"], "orders"])
    assert ids == [by_name["VBAK"], by_name["VBAP"], by_name["LIKP"]]


def test_unknown_table_name_lists_existing(emulator):
    with pytest.raises(CelonisNameNotFoundError) as err:
        hook().resolve_table_ids(POOL, DATA_MODEL, ["orders", "nope"])
    assert "'nope'" in str(err.value) and "VBAK" in str(err.value) and "orders" in str(err.value)


def test_complete_load_runs_then_succeeds(any_auth):
    h = hook()
    assert h.get_last_load(POOL, DATA_MODEL) is None
    h.trigger_data_model_load(POOL, DATA_MODEL)
    first = h.get_last_load(POOL, DATA_MODEL)
    assert first.status is LoadStatus.RUNNING and first.load_type is LoadType.COMPLETE
    done = wait_until(lambda: (load := h.get_last_load(POOL, DATA_MODEL)).status.is_terminal and load)
    assert done.status is LoadStatus.SUCCESS and done.load_id == first.load_id
    assert done.ended_at >= done.started_at


def test_partial_load_and_conflict_while_running(emulator):
    """With a Celonis that refuses a second start (seed switch start_conflict=409)."""
    emulator.reseed(test_seed(start_conflict="409"))
    h = hook()
    ids = h.resolve_table_ids(POOL, DATA_MODEL, ["orders"])
    h.trigger_partial_data_model_load(POOL, DATA_MODEL, ids)
    assert h.get_last_load(POOL, DATA_MODEL).load_type is LoadType.PARTIAL
    with pytest.raises(CelonisApiError) as err:
        h.trigger_data_model_load(POOL, DATA_MODEL)
    assert err.value.status_code == 409 and err.value.is_conflict
    # a POST that got a 409 is not repeated
    assert len(emulator.requests("/load", "POST")) == 2


def test_failing_load_carries_message(emulator):
    h = hook()
    h.trigger_data_model_load(POOL, FAILING_DATA_MODEL)
    load = wait_until(lambda: (x := h.get_last_load(POOL, FAILING_DATA_MODEL)).status.is_terminal and x)
    assert load.status is LoadStatus.ERROR
    assert "NETWR" in load.message


def test_cancel_load(emulator, seed_copy):
    seed_copy["pools"][0]["data_models"][0]["load_seconds"] = 30
    emulator.reseed(seed_copy)
    h = hook()
    h.trigger_data_model_load(POOL, DATA_MODEL)
    h.cancel_data_model_load(POOL, DATA_MODEL)
    assert h.get_last_load(POOL, DATA_MODEL).status is LoadStatus.CANCELED


def test_data_job_execute_status_and_executions(any_auth):
    """The job status carries the running execution's id; its timeStamp is the job's change date, not a run's."""
    h = hook()
    assert h.get_data_job(POOL, DATA_JOB).current_execution_id is None
    assert h.get_data_job_executions(POOL, DATA_JOB) == []
    h.execute_data_job(POOL, DATA_JOB, "full")
    running = h.get_data_job(POOL, DATA_JOB)
    assert running.status in (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
    assert running.current_execution_id
    done = wait_until(lambda: (j := h.get_data_job(POOL, DATA_JOB)).status.is_terminal and j)
    assert done.status is ExecutionStatus.SUCCESS and done.current_execution_id is None
    assert done.latest_execution_item_id is None  # absent, as in the live answer of 2022
    assert done.changed_at.year == 2022
    executions = h.get_data_job_executions(POOL, DATA_JOB)
    assert [e.id for e in executions] == [running.current_execution_id]
    assert executions[0].status is ExecutionStatus.SUCCESS and executions[0].mode == "FULL"
    assert executions[0].ended_at >= executions[0].started_at
    statuses = {s["id"]: s for s in h.get_job_statuses(POOL)}
    assert statuses[DATA_JOB]["status"] == "SUCCESS" and statuses[DATA_JOB]["lastExecutionStartDate"]


def test_data_job_mode_in_query(emulator):
    hook().execute_data_job(POOL, DATA_JOB, "DELTA")
    assert emulator.requests("/execute", "POST")[0]["query"] == "mode=DELTA"


def test_failing_data_job_and_cancel(emulator, seed_copy):
    h = hook()
    h.execute_data_job(POOL, FAILING_DATA_JOB, "DELTA")
    job = wait_until(lambda: (j := h.get_data_job(POOL, FAILING_DATA_JOB)).status.is_terminal and j)
    assert job.status is ExecutionStatus.FAIL
    execution = h.get_data_job_executions(POOL, FAILING_DATA_JOB)[0]
    assert "division by zero" in h.execution_failure_message(POOL, FAILING_DATA_JOB, execution.id)
    seed_copy["pools"][0]["data_jobs"][0]["run_seconds"] = 30
    emulator.reseed(seed_copy)
    h.execute_data_job(POOL, DATA_JOB, "FULL")
    h.cancel_data_job(POOL, DATA_JOB)
    assert h.get_data_job(POOL, DATA_JOB).status is ExecutionStatus.CANCEL


def test_bad_mode_fails_before_any_request(emulator):
    with pytest.raises(ValueError, match="'FULL' or 'DELTA'"):
        hook().execute_data_job(POOL, DATA_JOB, "SOMETIMES")
    assert emulator.requests("/execute") == []


def test_push_job_lifecycle(any_auth, emulator):
    h = hook()
    data = pa.table({"id": [1, 2, 3], "name": ["a", "b", "ü\nnew line"]})
    job = h.create_push_job(POOL, "orders_push", push_type="REPLACE", file_type="PARQUET")
    assert job.status is PushJobStatus.NEW
    assert [j.id for j in h.list_push_jobs(POOL)] == [job.id]
    h.add_push_chunk(POOL, job.id, parquet_bytes(data))
    chunks = h.list_push_chunks(POOL, job.id)
    assert len(chunks) == 1 and chunks[0].chunk_type == "UPSERT"
    h.execute_push_job(POOL, job.id)
    done = wait_until(lambda: (j := h.get_push_job(POOL, job.id)).status.is_terminal and j)
    assert done.status is PushJobStatus.DONE
    assert emulator.table("orders_push")["rows"] == data.to_pylist()
    h.delete_push_job(POOL, job.id)
    assert h.list_push_jobs(POOL) == []


def test_push_chunk_from_path_and_file_object(emulator, tmp_path):
    h = hook()
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"k": [1]}), path)
    job = h.create_push_job(POOL, "t", push_type="DELTA", keys=["k"])
    h.add_push_chunk(POOL, job.id, path)
    with open(path, "rb") as handle:
        h.add_push_chunk(POOL, job.id, handle)
    assert len(h.list_push_chunks(POOL, job.id)) == 2


def test_push_cancel_and_conflicts(emulator):
    h = hook()
    job = h.create_push_job(POOL, "t")
    h.cancel_push_job(POOL, job.id)
    assert h.get_push_job(POOL, job.id).status is PushJobStatus.CANCELED
    with pytest.raises(CelonisApiError) as err:
        h.execute_push_job(POOL, job.id)
    assert err.value.status_code == 409


def test_push_without_schema_cuts_strings_to_80(emulator):
    """The emulator reproduces Celonis's VARCHAR(80) trap, so schema derivation can be tested."""
    h = hook()
    job = h.create_push_job(POOL, "long")
    h.add_push_chunk(POOL, job.id, parquet_bytes(pa.table({"s": ["x" * 200]})))
    h.execute_push_job(POOL, job.id)
    wait_until(lambda: h.get_push_job(POOL, job.id).status.is_terminal)
    assert len(emulator.table("long")["rows"][0]["s"]) == 80


def test_unknown_ids_give_404_with_hint(emulator):
    with pytest.raises(CelonisApiError) as err:
        hook().get_last_load(POOL, "no-such-model")
    text = str(err.value)
    assert err.value.status_code == 404 and "no-such-model" in text and "Celonis UI URL" in text


def test_ids_are_url_quoted(emulator):
    with pytest.raises(CelonisApiError) as err:
        hook().get_data_job(POOL, "../../pools")
    assert err.value.status_code == 404
    assert emulator.requests("/jobs/")[0]["path"].endswith("/jobs/..%2F..%2Fpools")


def test_ingestion_upload_small_and_multipart(emulator, tmp_path):
    h = hook()
    small = tmp_path / "shipment.parquet"
    pq.write_table(pa.table({"order_id": [1, 2], "created_at": [1, 1], "v": ["a", "b"]}), small, compression="none")
    key = h.upload_ingestion_file(small, CONNECTION, "shipment")
    assert key == f"connection/{CONNECTION}/shipment/shipment.parquet"
    assert emulator.table("shipment")["rows"] == [
        {"order_id": 1, "created_at": 1, "v": "a"},
        {"order_id": 2, "created_at": 1, "v": "b"},
    ]
    # older age is not applied, newer is; multipart for a file over the threshold
    big = tmp_path / "big.parquet"
    n = 300_000
    pq.write_table(
        pa.table({"order_id": list(range(n)), "created_at": [0] + [2] * (n - 1), "v": [f"row-{i}" for i in range(n)]}),
        big,
        compression="none",
    )
    assert big.stat().st_size > 5 * 1024 * 1024
    h.upload_ingestion_file(big, CONNECTION, "shipment", multipart_threshold=5 * 1024 * 1024)
    assert any("uploadId" in r["query"] for r in emulator.requests("/api/data-ingestion"))
    rows = {r["order_id"]: r for r in emulator.table("shipment")["rows"]}
    assert len(rows) == n
    assert rows[1]["v"] == "row-1" and rows[1]["created_at"] == 2
    assert rows[0]["v"] == "row-0"  # key 0 is new, so it is inserted
    log = emulator.admin("GET", "/_emulator/ingestion").json()
    assert [e["status"] for e in log] == ["PROCESSED", "PROCESSED"]


def test_ingestion_age_rule_keeps_newer_row(emulator, tmp_path):
    h = hook()
    first = tmp_path / "a.parquet"
    pq.write_table(pa.table({"order_id": [1], "created_at": [5], "v": ["new"]}), first, compression="none")
    h.upload_ingestion_file(first, CONNECTION, "shipment")
    older = tmp_path / "b.parquet"
    pq.write_table(pa.table({"order_id": [1], "created_at": [4], "v": ["old"]}), older, compression="none")
    h.upload_ingestion_file(older, CONNECTION, "shipment")
    assert emulator.table("shipment")["rows"][0]["v"] == "new"


def test_ingestion_wrong_secret_is_refused(emulator, tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"order_id": [1]}), path, compression="none")
    client = hook().get_ingestion_client(secret_access_key="not-the-secret")
    with pytest.raises(CelonisApiError) as err:
        hook().upload_ingestion_file(path, CONNECTION, "shipment", client=client)
    assert err.value.status_code == 403 and "SignatureDoesNotMatch" in str(err.value)
    assert "not-the-secret" not in str(err.value)


def test_ingestion_missing_primary_key_is_reported(emulator, tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"other": [1]}), path, compression="none")
    hook().upload_ingestion_file(path, CONNECTION, "shipment")
    log = emulator.admin("GET", "/_emulator/ingestion").json()
    assert log[-1]["status"] == "ERROR" and "order_id" in log[-1]["message"]


def test_ui_urls(emulator):
    h = hook()
    assert h.data_pool_url(POOL) == f"{emulator.url}/integration/ui/pools/{POOL}/"
    assert h.data_model_url(POOL, DATA_MODEL).endswith(
        f"/pools/{POOL}/data-configuration/process-data-models/{DATA_MODEL}?tab=data-model"
    )
    assert h.data_job_url(POOL, DATA_JOB).endswith(f"/pools/{POOL}/data-configuration/data-jobs?jobId={DATA_JOB}")


def test_csv_push_with_quotes_separators_newlines_and_schema(emulator):
    h = hook()
    schema = {
        "tableName": "csv",
        "columns": [
            {"columnName": "id", "columnType": "INTEGER"},
            {"columnName": "note", "columnType": "STRING", "fieldLength": 500},
        ],
    }
    job = h.create_push_job(
        POOL,
        "csv",
        file_type="CSV",
        table_schema=schema,
        csv_parsing_options={"separatorSequence": ";", "quoteSequence": '"'},
    )
    body = 'id;note\n1;"semi; colon, ""quoted""\nnext line ü"\n2;plain\n'.encode()
    h.add_push_chunk(POOL, job.id, body, file_name="chunk.csv")
    h.execute_push_job(POOL, job.id)
    done = wait_until(lambda: (j := h.get_push_job(POOL, job.id)).status.is_terminal and j)
    assert done.status is PushJobStatus.DONE, done.logs
    assert emulator.table("csv")["rows"] == [
        {"id": 1, "note": 'semi; colon, "quoted"\nnext line ü'},
        {"id": 2, "note": "plain"},
    ]
