"""Discovery over real HTTP: listing pools, data models, data jobs, pool tables; names to ids."""

from __future__ import annotations

import re

import pytest

from airflow_provider_celonis import discovery
from airflow_provider_celonis.exceptions import CelonisApiError, CelonisNameNotFoundError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from tests.helpers.emulator import DATA_JOB, DATA_MODEL, FAILING_DATA_JOB, POOL


def hook() -> CelonisHook:
    return CelonisHook(retry_delay=0.01)


def test_listings_carry_the_fields_the_client_reads(emulator):
    h = hook()
    models = {m.name: m for m in h.list_data_models(POOL)}
    assert models["O2C"].id == DATA_MODEL and models["O2C"].pool_id == POOL
    jobs = {j.name: j for j in h.list_data_jobs(POOL)}
    assert jobs["Extract orders"].id == DATA_JOB and jobs["Extract orders"].data_pool_id == POOL
    assert jobs["Transform (always fails)"].id == FAILING_DATA_JOB
    tables = {t.name for t in h.list_pool_tables(POOL)}
    assert {"VBAK", "VBAP", "LIKP", "EKKO"} <= tables


def test_pool_tables_include_pushed_tables_with_columns(emulator):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    h = hook()
    job = h.create_push_job(POOL, "shipments_x")
    sink = io.BytesIO()
    pq.write_table(pa.table({"order_id": [1, 2], "city": ["a", "b"], "weight": [1.5, 2.5]}), sink)
    h.add_push_chunk(POOL, job.id, sink.getvalue())
    h.execute_push_job(POOL, job.id)
    import time

    deadline = time.monotonic() + 10
    while h.get_push_job(POOL, job.id).status.value != "DONE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    table = next(t for t in h.list_pool_tables(POOL) if t.name == "shipments_x")
    assert [(c.name, c.type) for c in table.columns] == [
        ("order_id", "INTEGER"),
        ("city", "STRING"),
        ("weight", "FLOAT"),
    ]


def test_unknown_pool_in_a_listing_is_a_404(emulator):
    with pytest.raises(CelonisApiError) as err:
        hook().list_data_models("no-such-pool")
    assert err.value.status_code == 404


def test_an_id_is_returned_without_a_request(emulator):
    h = hook()
    assert discovery.resolve_pool_id(h, pool_id=f" {POOL} ") == POOL
    assert discovery.resolve_data_model_id(h, POOL, data_model_id=DATA_MODEL) == DATA_MODEL
    assert discovery.resolve_data_job_id(h, POOL, data_job_id=DATA_JOB) == DATA_JOB
    assert emulator.requests("/integration/api") == []


def test_names_resolve_with_one_listing_call_each(emulator):
    h = hook()
    assert discovery.resolve_pool_id(h, pool_name="Sales (demo)") == POOL
    assert discovery.resolve_data_model_id(h, POOL, data_model_name="o2c") == DATA_MODEL  # case-insensitive
    assert discovery.resolve_data_job_id(h, POOL, data_job_name="EXTRACT ORDERS") == DATA_JOB
    paths = [r["path"] for r in emulator.requests("/integration/api")]
    assert paths == [
        "/integration/api/pools",
        f"/integration/api/pools/{POOL}/data-models",
        f"/integration/api/pools/{POOL}/jobs",
    ]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "Give data_job_id (from the Celonis UI URL) or data_job_name"),
        ({"data_job_id": DATA_JOB, "data_job_name": "Extract orders"}, "not both"),
        ({"data_job_name": ""}, "data_job_name is empty"),
        ({"data_job_name": "   "}, "data_job_name is empty"),
        ({"data_job_id": ""}, "data_job_id is empty"),
        ({"data_job_name": 42}, "not text"),
    ],
)
def test_bad_arguments_fail_before_any_request(emulator, kwargs, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        discovery.resolve_data_job_id(hook(), POOL, **kwargs)
    assert emulator.requests("/integration/api") == []


def test_missing_name_lists_near_matches_and_what_exists(emulator):
    with pytest.raises(CelonisNameNotFoundError) as err:
        discovery.resolve_data_job_id(hook(), POOL, data_job_name="Extract order")
    text = str(err.value)
    assert "No data job is named 'Extract order' in pool " + POOL in text
    assert "Did you mean 'Extract orders'?" in text
    assert "'Transform (always fails)'" in text


def test_missing_name_without_near_match_lists_what_exists(emulator):
    with pytest.raises(CelonisNameNotFoundError) as err:
        discovery.resolve_data_model_id(hook(), POOL, data_model_name="zzz")
    assert "Did you mean" not in str(err.value)
    assert "'O2C', 'P2P (always fails)'" in str(err.value)


def test_ambiguous_name_lists_the_ids(emulator, seed_copy):
    jobs = seed_copy["pools"][0]["data_jobs"]
    jobs.append({"id": "job-dup-1", "name": "Nightly", "run_seconds": 0.2})
    jobs.append({"id": "job-dup-2", "name": "nightly", "run_seconds": 0.2})
    emulator.reseed(seed_copy)
    with pytest.raises(CelonisNameNotFoundError) as err:
        discovery.resolve_data_job_id(hook(), POOL, data_job_name="NIGHTLY")
    assert "ambiguous" in str(err.value) and "job-dup-1, job-dup-2" in str(err.value)
    assert "data_job_id=" in str(err.value)
    # an exact match wins over a case-insensitive one
    assert discovery.resolve_data_job_id(hook(), POOL, data_job_name="nightly") == "job-dup-2"


def test_a_long_list_of_names_is_truncated(emulator, seed_copy):
    seed_copy["pools"][0]["data_models"] += [
        {"id": f"dm-{i}", "name": f"Model {i:03d}", "tables": []} for i in range(60)
    ]
    emulator.reseed(seed_copy)
    with pytest.raises(CelonisNameNotFoundError) as err:
        discovery.resolve_data_model_id(hook(), POOL, data_model_name="Sales")
    text = str(err.value)
    assert f"… and {62 - discovery.MAX_LISTED_NAMES} more" in text
    assert "Model 059" not in text


def test_missing_pool_name(emulator):
    with pytest.raises(CelonisNameNotFoundError, match=r"No data pool is named 'Sale' .*Did you mean 'Sales \(demo\)'"):
        discovery.resolve_pool_id(hook(), pool_name="Sale")
