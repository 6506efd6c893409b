"""Execute part of a data job: the typed selection, name resolution, and the emulator's checks, over real HTTP."""

from __future__ import annotations

import time

import pytest

from airflow_provider_celonis.discovery import resolve_job_selection
from airflow_provider_celonis.emulator import seed as seeds
from airflow_provider_celonis.exceptions import CelonisApiError, CelonisNameNotFoundError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.models import (
    DataJobSelection,
    DataModelLoadSelection,
    ExecutionStatus,
    ExtractionSelection,
    TaskType,
)
from tests.helpers.emulator import DATA_JOB, DATA_MODEL, FAILING_DATA_JOB, POOL, test_seed

EXTRACTION = seeds.DEMO_EXTRACTION_ID
TRANSFORMATION = seeds.DEMO_TRANSFORMATION_ID
SECOND_TRANSFORMATION = seeds.DEMO_SECOND_TRANSFORMATION_ID
LOAD = seeds.DEMO_DATA_MODEL_LOAD_ID
VBAK, VBAP, LIKP = (f"8f2c4d1e-0000-4000-8000-0000000000e{i}" for i in (1, 2, 3))


def hook() -> CelonisHook:
    return CelonisHook(retry_delay=0.01)


def ran(emulator, job: str = DATA_JOB) -> list[dict]:
    return emulator.admin("GET", f"/_emulator/pools/{POOL}/jobs/{job}/executions").json()


def test_body_is_the_clients_job_execution_configuration():
    selection = DataJobSelection(
        mode="full",
        extractions=[{"extraction_id": EXTRACTION, "tables": ["VBAK"]}],
        transformations=[TRANSFORMATION],
        data_models=[DataModelLoadSelection(LOAD, [VBAK])],
    )
    assert selection.to_body() == {
        "mode": "FULL",
        "executeOnlySubsetOfExtractions": True,
        "extractions": [{"extractionId": EXTRACTION, "loadOnlySubsetOfTables": True, "tables": ["VBAK"]}],
        "executeOnlySubsetOfTransformations": True,
        "transformations": [TRANSFORMATION],
        "loadOnlySubsetOfDataModels": True,
        "dataModels": [{"dataModelExecutionId": LOAD, "tables": [VBAK]}],
    }
    assert DataJobSelection.from_body(selection.to_body()) == selection
    assert DataJobSelection.from_body(DataJobSelection(transformations=[]).to_body()) == DataJobSelection(
        transformations=[]
    )
    everything = DataJobSelection().to_body()
    assert everything["mode"] == "DELTA"
    assert not everything["executeOnlySubsetOfExtractions"] and everything["extractions"] == []
    assert ExtractionSelection(EXTRACTION).to_body()["loadOnlySubsetOfTables"] is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "PARTIAL"}, "Unknown data job mode 'PARTIAL': use 'FULL' or 'DELTA'"),
        ({"transformations": [""]}, "transformations has an empty or non-text id ''"),
        ({"transformations": [TRANSFORMATION, TRANSFORMATION]}, f"transformations names {TRANSFORMATION!r} twice"),
        ({"transformations": TRANSFORMATION}, "transformations must be a list of ids"),
        ({"extractions": [" "]}, "extraction_id has an empty or non-text id"),
        ({"extractions": [{"extraction_id": EXTRACTION, "tables": []}]}, "leave it None to extract every table"),
        ({"extractions": [42]}, "An extraction must be an id"),
        ({"data_models": [{"data_model_execution_id": LOAD}]}, "name every table id to reload"),
        ({"data_models": [LOAD]}, "A data model load must be a dict"),
        ({"data_models": {"data_model_execution_id": LOAD}}, "data_models must be a list"),
        ({"extractions": [], "transformations": [], "data_models": []}, "runs nothing"),
    ],
)
def test_bad_selections_fail_before_any_request(emulator, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        hook().execute_data_job_subset(POOL, DATA_JOB, DataJobSelection(**kwargs))
    assert emulator.requests("/integration/api") == []


def test_only_a_selection_object_is_sent(emulator):
    with pytest.raises(ValueError, match="selection must be a DataJobSelection"):
        hook().execute_data_job_subset(POOL, DATA_JOB, {"mode": "FULL"})  # type: ignore[arg-type]
    assert emulator.requests("/integration/api") == []


def test_tasks_and_loads_of_a_job(emulator):
    h = hook()
    tasks = h.list_data_job_tasks(POOL, DATA_JOB)
    assert [(t.id, t.task_type) for t in tasks] == [
        (EXTRACTION, TaskType.EXTRACTION),
        (TRANSFORMATION, TaskType.TRANSFORMATION),
        (SECOND_TRANSFORMATION, TaskType.TRANSFORMATION),
    ]
    assert emulator.requests("/tasks/")[0]["path"].endswith(f"/jobs/{DATA_JOB}/tasks/")
    [load] = h.list_data_job_loads(POOL, DATA_JOB)
    assert load.id == LOAD and load.data_model_id == DATA_MODEL and load.data_model_name == "O2C"
    assert [(t.id, t.alias_or_name, t.selected) for t in load.tables] == [
        (VBAK, "orders", True),
        (VBAP, "order_items", True),
        (LIKP, "LIKP", True),
    ]


def test_subset_runs_exactly_what_was_selected(emulator):
    h = hook()
    selection = DataJobSelection(
        mode="FULL",
        extractions=[ExtractionSelection(EXTRACTION, ["VBAP"])],
        transformations=[SECOND_TRANSFORMATION],
        data_models=[],
    )
    h.execute_data_job_subset(POOL, DATA_JOB, selection)
    [request] = emulator.requests(f"/jobs/{DATA_JOB}/execute", method="POST")
    assert request["status"] == 204
    [execution] = ran(emulator)
    assert execution["mode"] == "FULL"
    assert execution["subset"] == {
        "mode": "FULL",
        "extractions": [{"id": EXTRACTION, "tables": ["VBAP"]}],
        "transformations": [SECOND_TRANSFORMATION],
        "dataModels": [],
    }
    # the same state machine as a plain execute: the job status follows the run
    deadline = time.monotonic() + 10
    while h.get_data_job(POOL, DATA_JOB).status is not ExecutionStatus.SUCCESS:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_none_runs_all_of_a_kind(emulator):
    hook().execute_data_job_subset(POOL, DATA_JOB, DataJobSelection(transformations=[TRANSFORMATION]))
    [execution] = ran(emulator)
    assert execution["subset"]["extractions"] == [{"id": EXTRACTION, "tables": ["VBAK", "VBAP", "LIKP"]}]
    assert execution["subset"]["transformations"] == [TRANSFORMATION]
    assert execution["subset"]["dataModels"] == [{"id": LOAD, "dataModelId": DATA_MODEL, "tables": [VBAK, VBAP, LIKP]}]


def test_a_subset_while_the_job_runs_is_a_conflict(emulator):
    """With a Celonis that refuses a second start (seed switch start_conflict=409)."""
    emulator.reseed(test_seed(start_conflict="409"))
    h = hook()
    h.execute_data_job(POOL, DATA_JOB, "DELTA")
    with pytest.raises(CelonisApiError) as err:
        h.execute_data_job_subset(POOL, DATA_JOB, DataJobSelection(transformations=[TRANSFORMATION]))
    assert err.value.status_code == 409


@pytest.mark.parametrize(
    ("selection", "named"),
    [
        (DataJobSelection(extractions=["no-such-extraction"]), "unknown extraction ids ['no-such-extraction']"),
        (
            DataJobSelection(extractions=[ExtractionSelection(EXTRACTION, ["EKKO"])]),
            f"unknown tables of extraction {EXTRACTION} ['EKKO']",
        ),
        (DataJobSelection(transformations=["t-404"]), "unknown transformation ids ['t-404']"),
        (
            DataJobSelection(data_models=[DataModelLoadSelection(LOAD, ["tbl-404"])]),
            f"unknown table ids of data model load {LOAD} ['tbl-404']",
        ),
        (
            DataJobSelection(data_models=[DataModelLoadSelection("load-404", [VBAK])]),
            "unknown data model load ids ['load-404']",
        ),
    ],
)
def test_unknown_ids_are_a_400_naming_them(emulator, selection, named):
    with pytest.raises(CelonisApiError) as err:
        hook().execute_data_job_subset(POOL, DATA_JOB, selection)
    assert err.value.status_code == 400
    assert named in str(err.value) and f"POST /integration/api/pools/{POOL}/jobs/{DATA_JOB}/execute" in str(err.value)
    assert ran(emulator) == []  # nothing started


def test_resolve_job_selection_from_names(emulator):
    h = hook()
    selection = resolve_job_selection(
        h,
        POOL,
        DATA_JOB,
        mode="full",
        extractions=[{"extraction": "extract sap orders", "tables": ["VBAK"]}],
        transformations=["Enrich orders", TRANSFORMATION],
        data_models=[{"data_model": "O2C", "tables": ["orders", "LIKP"]}],
    )
    assert selection == DataJobSelection(
        mode="FULL",
        extractions=[ExtractionSelection(EXTRACTION, ["VBAK"])],
        transformations=[SECOND_TRANSFORMATION, TRANSFORMATION],
        data_models=[DataModelLoadSelection(LOAD, [VBAK, LIKP])],
    )
    assert len(emulator.requests("/tasks/")) == 1 and len(emulator.requests("/loads")) == 1
    # a data model named without tables reloads the tables its load reloads
    assert resolve_job_selection(h, POOL, DATA_JOB, data_models=["O2C"]).data_models == (
        DataModelLoadSelection(LOAD, [VBAK, VBAP, LIKP]),
    )
    h.execute_data_job_subset(POOL, DATA_JOB, selection)
    assert ran(emulator)[0]["subset"]["dataModels"] == [{"id": LOAD, "dataModelId": DATA_MODEL, "tables": [VBAK, LIKP]}]


def test_resolve_job_selection_makes_no_call_it_does_not_need(emulator):
    selection = resolve_job_selection(hook(), POOL, DATA_JOB, extractions=[], data_models=[], transformations=None)
    assert selection.extractions == () and selection.data_models == () and selection.transformations is None
    assert emulator.requests("/integration/api") == []


def test_resolve_job_selection_names_what_is_missing(emulator):
    h = hook()
    with pytest.raises(
        CelonisNameNotFoundError,
        match=r"No transformation is named 'Enrich order' in data job .*"
        r"Did you mean 'Enrich orders'",
    ):
        resolve_job_selection(h, POOL, DATA_JOB, transformations=["Enrich order"])
    with pytest.raises(CelonisNameNotFoundError, match=r"No table is named 'EKKO' .*data model O2C.*'orders'"):
        resolve_job_selection(h, POOL, DATA_JOB, data_models=[{"data_model": "O2C", "tables": ["EKKO"]}])
    with pytest.raises(CelonisNameNotFoundError, match=r"No extraction is named 'Create activity table'"):
        resolve_job_selection(h, POOL, DATA_JOB, extractions=["Create activity table"])  # a transformation
    with pytest.raises(CelonisNameNotFoundError, match=r"No transformation is named 'x'.*\(none\)"):
        resolve_job_selection(h, POOL, FAILING_DATA_JOB, transformations=["x"])


def test_resolve_job_selection_refuses_malformed_entries_before_any_request(emulator):
    with pytest.raises(ValueError, match="must look like"):
        resolve_job_selection(hook(), POOL, DATA_JOB, extractions=[{"name": "x"}])
    with pytest.raises(ValueError, match="transformations must be a list"):
        resolve_job_selection(hook(), POOL, DATA_JOB, transformations="Enrich orders")
    with pytest.raises(ValueError, match="Unknown data job mode"):
        resolve_job_selection(hook(), POOL, DATA_JOB, mode="SOMETIMES")
    assert emulator.requests("/integration/api") == []


def test_ambiguous_transformation_names_list_ids(emulator, seed_copy):
    job = seed_copy["pools"][0]["data_jobs"][0]
    job["transformations"].append({"id": "t-dup", "name": "enrich orders"})
    emulator.reseed(seed_copy)
    with pytest.raises(CelonisNameNotFoundError, match=f"ambiguous.*{SECOND_TRANSFORMATION}, t-dup"):
        resolve_job_selection(hook(), POOL, DATA_JOB, transformations=["ENRICH ORDERS"])
