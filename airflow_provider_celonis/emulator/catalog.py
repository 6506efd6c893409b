"""Emulator routes for discovery, data job subsets and load history (pycelonis's integration endpoints).

What exists comes from the seed (data models, data jobs with their ``extractions``, ``transformations``
and ``data_model_loads``) and from the pushed tables; loads and executions are the runs the state
machines in ``state.py`` keep, read here and never copied. ``register_routes`` adds the routes to the
server's routers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from airflow_provider_celonis.emulator.state import ApiError, EmulatorState, Run, epoch_ms

# A task's template id (``taskId``) is derived from its instance id, so it is stable across reseeds.
_TASK_NAMESPACE = uuid.UUID("8f2c4d1e-0000-4000-8000-00000000ffff")


def full_reload_param(query: dict[str, str]) -> bool | None:
    """The ``fullReload`` query parameter as a bool (None when absent); 400 for anything but true/false."""
    value = query.get("fullReload")
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise ApiError(400, "Bad Request", f"fullReload must be true or false, not {value!r}.", "INVALID_PARAMETER")
    return value.lower() == "true"


# --- discovery ---------------------------------------------------------------------------------


def list_data_models(state: EmulatorState, pool_id: str) -> list[dict[str, Any]]:
    """``DataModelTransport`` records of a pool."""
    with state.lock:
        pool = state.pool(pool_id)
        return [
            {
                "id": m["id"],
                "name": m.get("name"),
                "poolId": pool_id,
                "description": m.get("description"),
                "tables": [_model_table(m, t) for t in m.get("tables", [])],
            }
            for m in pool.get("data_models", [])
        ]


def list_data_jobs(state: EmulatorState, pool_id: str) -> list[dict[str, Any]]:
    """``JobTransport`` records of a pool, with the same status fields as the job status endpoint."""
    with state.lock:
        pool = state.pool(pool_id)
        return [state.job_status(pool_id, job["id"]) for job in pool.get("data_jobs", [])]


def list_pool_tables(state: EmulatorState, pool_id: str) -> list[dict[str, Any]]:
    """``PoolTable`` records: the tables data models use and every table pushed or ingested into the pool."""
    with state.lock:
        pool = state.pool(pool_id)
        for job in state.push_jobs.values():
            state._settle(job)  # a finished push creates its table
        found: dict[str, dict[str, Any]] = {}
        for model in pool.get("data_models", []):
            for table in model.get("tables", []):
                found.setdefault(
                    table["name"],
                    _pool_table(
                        table["name"], table.get("dataSourceId"), [_seed_column(c) for c in table.get("columns", [])]
                    ),
                )
        for (table_pool, name), data in state.tables.items():
            if table_pool == pool_id:
                found[name] = _pool_table(name, None, [_arrow_column(f) for f in data.schema])
        return sorted(found.values(), key=lambda t: t["name"])


def _pool_table(name: str, data_source_id: str | None, columns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "schemaName": data_source_id,
        "dataSourceId": data_source_id,
        "dataSourceName": None,
        "loaderSource": None,
        "available": True,
        "type": "TABLE",
        "columns": columns,
    }


def _seed_column(column: dict[str, Any]) -> dict[str, Any]:
    return {"name": column["name"], "type": column.get("type", "STRING"), "length": column.get("length")}


def _arrow_column(arrow_field: pa.Field) -> dict[str, Any]:
    """A pool column for an Arrow field; Celonis's pool column types are STRING, DATE, FLOAT and INTEGER."""
    t = arrow_field.type
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        kind = "INTEGER"
    elif pa.types.is_floating(t) or pa.types.is_decimal(t):
        kind = "FLOAT"
    elif pa.types.is_temporal(t):
        kind = "DATE"
    else:
        kind = "STRING"
    return {"name": arrow_field.name, "type": kind, "length": None}


def _model_table(model: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": table["id"],
        "dataModelId": model["id"],
        "dataSourceId": table.get("dataSourceId"),
        "name": table["name"],
        "alias": table.get("alias"),
        "aliasOrName": table.get("alias") or table["name"],
    }


# --- tasks and data model loads of a job --------------------------------------------------------


def job_tasks(state: EmulatorState, pool_id: str, job_id: str) -> list[dict[str, Any]]:
    """``TaskInstanceTransport`` records: the job's extractions, then its transformations."""
    with state.lock:
        job = state.data_job(pool_id, job_id)
        tasks = [("EXTRACTION", t) for t in job.get("extractions", [])]
        tasks += [("TRANSFORMATION", t) for t in job.get("transformations", [])]
        return [
            {
                "id": t["id"],
                "poolId": pool_id,
                "taskId": str(uuid.uuid5(_TASK_NAMESPACE, t["id"])),
                "taskType": kind,
                "template": False,
                "name": t.get("name"),
                "description": None,
                "jobId": job_id,
                "executionOrder": order,
                "published": False,
                "disabled": bool(t.get("disabled", False)),
            }
            for order, (kind, t) in enumerate(tasks)
        ]


def job_loads(state: EmulatorState, pool_id: str, job_id: str) -> list[dict[str, Any]]:
    """``DataModelExecutionTransport`` records: each data model load of the job with its model's tables."""
    with state.lock:
        job = state.data_job(pool_id, job_id)
        out = []
        for load in job.get("data_model_loads", []):
            model = state.data_model(pool_id, load["data_model_id"])
            chosen = load.get("tables")  # None = every table of the model
            out.append(
                {
                    "id": load["id"],
                    "dataModelId": model["id"],
                    "jobId": job_id,
                    "disabled": False,
                    "dataModelName": model.get("name"),
                    "partialLoad": chosen is not None,
                    "tables": [
                        {
                            "id": t["id"],
                            "aliasOrName": t.get("alias") or t["name"],
                            "selected": chosen is None or t["id"] in chosen,
                        }
                        for t in model.get("tables", [])
                    ],
                }
            )
        return out


def execute_subset(state: EmulatorState, pool_id: str, job_id: str, body: Any, path: str) -> None:
    """Check a ``JobExecutionConfiguration`` against the job (400 naming unknown ids) and run what it selects."""
    with state.lock:
        job = state.data_job(pool_id, job_id)
        if not isinstance(body, dict):
            raise ApiError(
                400, "Bad Request", "The body must be a JobExecutionConfiguration JSON object.", "INVALID_BODY"
            )
        for flag in (
            "executeOnlySubsetOfExtractions",
            "executeOnlySubsetOfTransformations",
            "loadOnlySubsetOfDataModels",
        ):
            if not isinstance(body.get(flag, False), bool):
                raise ApiError(400, "Bad Request", f"{flag} must be true or false.", "INVALID_BODY")
        problems: list[str] = []
        ran = {
            "mode": body.get("mode"),
            "extractions": _chosen_extractions(job, body, problems),
            "transformations": _chosen_transformations(job, body, problems),
            "dataModels": _chosen_loads(state, pool_id, job, body, problems),
        }
        if problems:
            raise ApiError(400, "Bad Request", f"Data job {job_id}: " + "; ".join(problems) + ".", "INVALID_IDS")
        state.execute_job(pool_id, job_id, body.get("mode"), path, subset=ran)


def _unknown(label: str, wanted: list[Any], known: list[str], problems: list[str]) -> None:
    missing = [w for w in wanted if w not in known]
    if missing:
        problems.append(f"unknown {label} {missing} (known: {known})")


def _list_of(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key) or []
    if not isinstance(value, list):
        raise ApiError(400, "Bad Request", f"{key} must be a list.", "INVALID_BODY")
    return value


def _chosen_extractions(job: dict[str, Any], body: dict[str, Any], problems: list[str]) -> list[dict[str, Any]]:
    by_id = {e["id"]: e for e in job.get("extractions", [])}
    if not body.get("executeOnlySubsetOfExtractions"):
        return [{"id": e["id"], "tables": list(e.get("tables", []))} for e in by_id.values()]
    items = _list_of(body, "extractions")
    if not all(isinstance(i, dict) for i in items):
        raise ApiError(400, "Bad Request", "Each extraction must be an ExtractionConfiguration object.", "INVALID_BODY")
    _unknown("extraction ids", [i.get("extractionId") for i in items], list(by_id), problems)
    out = []
    for item in items:
        extraction = by_id.get(item.get("extractionId"))
        if extraction is None:
            continue
        tables = list(extraction.get("tables", []))
        if item.get("loadOnlySubsetOfTables"):
            wanted = item.get("tables") or []
            _unknown(f"tables of extraction {extraction['id']}", wanted, tables, problems)
            tables = [t for t in tables if t in wanted]
        out.append({"id": extraction["id"], "tables": tables})
    return out


def _chosen_transformations(job: dict[str, Any], body: dict[str, Any], problems: list[str]) -> list[str]:
    known = [t["id"] for t in job.get("transformations", [])]
    if not body.get("executeOnlySubsetOfTransformations"):
        return known
    wanted = _list_of(body, "transformations")
    _unknown("transformation ids", wanted, known, problems)
    return [t for t in known if t in wanted]


def _chosen_loads(
    state: EmulatorState, pool_id: str, job: dict[str, Any], body: dict[str, Any], problems: list[str]
) -> list[dict[str, Any]]:
    loads = {load["id"]: load for load in job.get("data_model_loads", [])}

    def model_tables(load: dict[str, Any]) -> list[str]:
        return [t["id"] for t in state.data_model(pool_id, load["data_model_id"]).get("tables", [])]

    if not body.get("loadOnlySubsetOfDataModels"):
        return [
            {"id": lid, "dataModelId": load["data_model_id"], "tables": load.get("tables") or model_tables(load)}
            for lid, load in loads.items()
        ]
    items = _list_of(body, "dataModels")
    if not all(isinstance(i, dict) for i in items):
        raise ApiError(
            400, "Bad Request", "Each data model must be a DataModelExecutionConfiguration object.", "INVALID_BODY"
        )
    _unknown("data model load ids", [i.get("dataModelExecutionId") for i in items], list(loads), problems)
    out = []
    for item in items:
        load = loads.get(item.get("dataModelExecutionId"))
        if load is None:
            continue
        known = model_tables(load)
        wanted = item.get("tables") or []
        _unknown(f"table ids of data model load {load['id']}", wanted, known, problems)
        out.append(
            {"id": load["id"], "dataModelId": load["data_model_id"], "tables": [t for t in known if t in wanted]}
        )
    return out


# --- load history -------------------------------------------------------------------------------


def _load_entry(run: Run, dm_id: str, now: float) -> dict[str, Any]:
    """A ``DataModelDataLoadHistoryTransport``: the same fields and values last-load shows for the run."""
    status = run.status(now, "RUNNING")
    return {
        "dataLoadId": run.id,
        "dataModelId": dm_id,
        "startDate": epoch_ms(run.started),
        "endDate": epoch_ms(run.ended(now)),
        "loadStatus": status,
        "loadType": run.kind,
        "message": run.message if status in ("ERROR", "WARNING") else None,
        "dataPoolVersion": None,
    }


def load_history(state: EmulatorState, pool_id: str, dm_id: str) -> dict[str, Any]:
    """A ``DataModelLoadSyncTransport`` built from the load runs last-load reads (newest first [guess])."""
    with state.lock:
        model = state.data_model(pool_id, dm_id)
        runs = state._visible(state.loads.get((pool_id, dm_id)))
        now = state.clock()
        entries = [_load_entry(run, dm_id, now) for run in reversed(runs)]
        good = next((e for e in entries if e["loadStatus"] in ("SUCCESS", "WARNING")), None)
        live = None
        last_ok = None
        if good is not None:
            last_ok = {
                "dataModelId": dm_id,
                "dataLoadId": good["dataLoadId"],
                "message": good["message"],
                "loadStatus": good["loadStatus"],
                "startDate": good["startDate"],
                "endDate": good["endDate"],
                "warmupDuration": 0,
                "done": True,
            }
            tables = model.get("tables", [])
            live = {
                "dataModelId": dm_id,
                "dataModelName": model.get("name"),
                "done": True,
                "error": False,
                "tablesLoaded": True,
                "errorMessage": None,
                "lastLoad": good["endDate"],
                "numTables": len(tables),
                "dataLoadId": good["dataLoadId"],
                "startTime": good["startDate"],
                "endTime": good["endDate"],
                "tableLoads": [
                    {
                        "tableId": t["id"],
                        "tableName": t["name"],
                        "tableRowCount": _row_count(state, pool_id, t),
                        "done": True,
                        "invisible": False,
                        "cancel": False,
                    }
                    for t in tables
                ],
            }
        durations = [e["endDate"] - e["startDate"] for e in entries if e["endDate"] is not None]
        average = [{"type": "COMPLETE", "averageLoadingTime": sum(durations) // len(durations)}] if durations else []
        return {
            "loadInfo": {"liveDataModel": live, "currentComputeLoad": entries[0] if entries else None},
            "loadHistory": {"lastSuccessfulDataModel": last_ok, "dataLoadHistory": entries, "averageLoadTime": average},
        }


def _row_count(state: EmulatorState, pool_id: str, table: dict[str, Any]) -> int:
    """Rows of a model table: the pushed table of that name if there is one, else the seed's ``row_count``."""
    data = state.tables.get((pool_id, table["name"]))
    return data.num_rows if data is not None else int(table.get("row_count", 0))


# --- admin views --------------------------------------------------------------------------------


def executions_ran(state: EmulatorState, pool_id: str, job_id: str) -> list[dict[str, Any]]:
    """Every execution of a job in start order, with what a subset execution ran (None = a plain execute)."""
    with state.lock:
        state.data_job(pool_id, job_id)
        return [{"id": r.id, "mode": r.kind, "subset": r.subset} for r in state.executions.get((pool_id, job_id), [])]


def loads_started(state: EmulatorState, pool_id: str, dm_id: str) -> list[dict[str, Any]]:
    """Every load of a data model in start order, with its loadType and the fullReload it was started with."""
    with state.lock:
        state.data_model(pool_id, dm_id)
        return [
            {"id": r.id, "loadType": r.kind, "fullReload": r.full_reload, "tableIds": list(r.table_ids)}
            for r in state.loads.get((pool_id, dm_id), [])
        ]


def _execute_route(state: EmulatorState, req: Any) -> tuple[int, Any]:
    """Celonis answers a subset execute with 204 and no body (seen live)."""
    execute_subset(state, req.params["pool"], req.params["job"], req.json(), req.path)
    return 204, None


def register_routes(api: Any, admin: Any) -> None:
    """Add this module's Celonis routes to ``api`` and its admin views to ``admin`` (server.Router objects)."""
    Route = Callable[[EmulatorState, Any], tuple[int, Any]]
    routes: list[tuple[Any, str, str, Route]] = [
        (
            api,
            "GET",
            "/integration/api/pools/{pool}/data-models",
            lambda s, r: (200, list_data_models(s, r.params["pool"])),
        ),
        (api, "GET", "/integration/api/pools/{pool}/jobs", lambda s, r: (200, list_data_jobs(s, r.params["pool"]))),
        (api, "GET", "/integration/api/pools/{pool}/tables", lambda s, r: (200, list_pool_tables(s, r.params["pool"]))),
        (
            api,
            "GET",
            "/integration/api/pools/{pool}/jobs/{job}/tasks/?",
            lambda s, r: (200, job_tasks(s, r.params["pool"], r.params["job"])),
        ),
        (
            api,
            "GET",
            "/integration/api/pools/{pool}/jobs/{job}/loads",
            lambda s, r: (200, job_loads(s, r.params["pool"], r.params["job"])),
        ),
        (api, "POST", "/integration/api/pools/{pool}/jobs/{job}/execute", _execute_route),
        (
            api,
            "GET",
            "/integration/api/pools/{pool}/data-models/{dm}/load-history/load-info-sync",
            lambda s, r: (200, load_history(s, r.params["pool"], r.params["dm"])),
        ),
        (
            admin,
            "GET",
            "/_emulator/pools/{pool}/jobs/{job}/executions",
            lambda s, r: (200, executions_ran(s, r.params["pool"], r.params["job"])),
        ),
        (
            admin,
            "GET",
            "/_emulator/pools/{pool}/data-models/{dm}/loads",
            lambda s, r: (200, loads_started(s, r.params["pool"], r.params["dm"])),
        ),
    ]
    for router, method, template, handler in routes:
        if router is admin:
            router.add(method, template, scopes=None)(handler)
        else:
            router.add(method, template)(handler)
