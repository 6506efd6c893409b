"""The Celonis API paths the provider calls, in one place (see shared/api/celonis-api.md).

Every id is URL-quoted so that a value like ``../x`` or ``a?b`` cannot change the path.
A path marked [client] or [guess] is not in Celonis's public docs; changing it is a one-line fix here.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from airflow_provider_celonis.exceptions import CelonisParameterError


def _q(value: str) -> str:
    text = str(value).strip()
    if not text:
        raise CelonisParameterError("An id is empty: copy it from the Celonis UI URL.")
    return quote(text, safe="")


@dataclass(frozen=True)
class Endpoint:
    """One API call: method, path, and whether repeating it can double an effect."""

    method: str
    path: str
    idempotent: bool


def _v1_data_model(pool_id: str, data_model_id: str) -> str:
    return f"/integration/api/v1/data-pools/{_q(pool_id)}/data-models/{_q(data_model_id)}"


def list_pools() -> Endpoint:
    """[client] The data pools the credential can see; the cheap call behind ``test_connection``."""
    return Endpoint("GET", "/integration/api/pools", True)


def data_model_tables(pool_id: str, data_model_id: str) -> Endpoint:
    """[doc] The tables of a data model, with ids, names and aliases."""
    return Endpoint("GET", f"{_v1_data_model(pool_id, data_model_id)}/tables", True)


# Starting a load or an execution is NOT repeated by the transport after an ambiguous failure (a 5xx, a
# dropped answer): no source shows Celonis refusing a second start with 409 (fact 8 of the evidence), so a
# blind repeat can run the work twice. The operators read the status first (waiting.start_once).
REPEATABLE_START = False


def data_model_load(pool_id: str, data_model_id: str) -> Endpoint:
    """[doc] Start a complete load."""
    return Endpoint("POST", f"{_v1_data_model(pool_id, data_model_id)}/load", REPEATABLE_START)


def data_model_partial_load(pool_id: str, data_model_id: str) -> Endpoint:
    """[doc] Start a partial load; the body is the list of table ids."""
    return Endpoint("POST", f"{_v1_data_model(pool_id, data_model_id)}/load/partial-sync", REPEATABLE_START)


def data_model_last_load(pool_id: str, data_model_id: str) -> Endpoint:
    """[doc path; guessed response shape] The last load of a data model."""
    return Endpoint("GET", f"{_v1_data_model(pool_id, data_model_id)}/last-load", True)


def data_model_cancel_load(pool_id: str, data_model_id: str) -> Endpoint:
    """[client; undocumented] Cancel the running load of a data model."""
    return Endpoint("POST", f"/integration/api/pools/{_q(pool_id)}/data-models/{_q(data_model_id)}/cancel-load", True)


def data_job_execute(pool_id: str, job_id: str) -> Endpoint:
    """[doc] Execute a data job; the mode goes in the query string."""
    return Endpoint(
        "POST", f"/integration/api/v2/data-pools/{_q(pool_id)}/data-jobs/{_q(job_id)}/execute", REPEATABLE_START
    )


def data_job_status(pool_id: str, job_id: str) -> Endpoint:
    """[doc] The data job and the status of its latest execution."""
    return Endpoint("GET", f"/integration/api/pools/{_q(pool_id)}/jobs/{_q(job_id)}", True)


def data_job_cancel(pool_id: str, job_id: str) -> Endpoint:
    """[client; undocumented] Cancel the running execution of a data job."""
    return Endpoint("POST", f"/integration/api/pools/{_q(pool_id)}/jobs/{_q(job_id)}/cancel", True)


def data_job_executions(pool_id: str, job_id: str) -> Endpoint:
    """[client; undocumented] ``{executionItems, numOfPages}``: a data job's executions, newest first (no message)."""
    return Endpoint("GET", f"/integration/api/pools/{_q(pool_id)}/logs/{_q(job_id)}/executions", True)


def execution_items(pool_id: str) -> Endpoint:
    """[client; undocumented] The items (``type`` JOB, TASK, STEP) of one execution: ``?executionId&type&id``."""
    return Endpoint("GET", f"/integration/api/pools/{_q(pool_id)}/logs/executions", True)


def execution_log_messages(pool_id: str) -> Endpoint:
    """[client; undocumented] ``{logMessages, numOfPages}`` of one item: ``?executionId&id&type&logLevels``."""
    return Endpoint("GET", f"/integration/api/pools/{_q(pool_id)}/logs/executions/detail", True)


def job_statuses(pool_id: str) -> Endpoint:
    """[client; undocumented, live 200] ``[{id, status, lastExecutionStartDate}]`` for every data job of a pool."""
    return Endpoint("GET", f"/integration/api/pools/{_q(pool_id)}/logs/status", True)


# --- discovery, job subsets, load history [client: Celonis's Python client, pycelonis 2.14-2.20] -------

# The query parameter that makes a load "from cache" (false) or complete (true) on load and partial-sync.
FULL_RELOAD_PARAM = "fullReload"


def _pool(pool_id: str) -> str:
    return f"/integration/api/pools/{_q(pool_id)}"


def list_data_models(pool_id: str) -> Endpoint:
    """[client] The data models of a pool (``id``, ``name``, ``poolId``, ``tables`` ...)."""
    return Endpoint("GET", f"{_pool(pool_id)}/data-models", True)


def list_data_jobs(pool_id: str) -> Endpoint:
    """[client; live 200] The data jobs of a pool (``id``, ``name``, ``dataPoolId`` ...)."""
    return Endpoint("GET", f"{_pool(pool_id)}/jobs", True)


def list_pool_tables(pool_id: str) -> Endpoint:
    """[client] The tables of a pool with their columns (``name``, ``schemaName``, ``columns`` ...)."""
    return Endpoint("GET", f"{_pool(pool_id)}/tables", True)


def data_job_tasks(pool_id: str, job_id: str) -> Endpoint:
    """[client] The tasks (extractions, transformations) of a data job; the trailing slash is the client's."""
    return Endpoint("GET", f"{_pool(pool_id)}/jobs/{_q(job_id)}/tasks/", True)


def data_job_loads(pool_id: str, job_id: str) -> Endpoint:
    """[client] The data model loads inside a data job (``dataModelExecution`` records with their tables)."""
    return Endpoint("GET", f"{_pool(pool_id)}/jobs/{_q(job_id)}/loads", True)


def data_job_execute_subset(pool_id: str, job_id: str) -> Endpoint:
    """[client; live 204] Execute chosen extractions, transformations and data model loads of a job (JSON body)."""
    return Endpoint("POST", f"{_pool(pool_id)}/jobs/{_q(job_id)}/execute", REPEATABLE_START)


def data_model_load_history(pool_id: str, data_model_id: str) -> Endpoint:
    """[client] The current load, the load history and per-table row counts of a data model."""
    return Endpoint("GET", f"{_pool(pool_id)}/data-models/{_q(data_model_id)}/load-history/load-info-sync", True)


def _push_jobs(pool_id: str) -> str:
    return f"/data-ingestion/api/v1/data-push/{_q(pool_id)}/jobs/"


def push_job_create(pool_id: str) -> Endpoint:
    """[doc] Create a Data Push job (trailing slash as documented)."""
    return Endpoint("POST", _push_jobs(pool_id), False)


def push_job_list(pool_id: str) -> Endpoint:
    """[doc] All Data Push jobs of a pool."""
    return Endpoint("GET", _push_jobs(pool_id), True)


def push_job(pool_id: str, job_id: str, method: str = "GET") -> Endpoint:
    """[doc] GET a push job, POST to execute it, DELETE [client] to delete it."""
    idempotent = method in ("GET", "DELETE")
    return Endpoint(method, f"{_push_jobs(pool_id)}{_q(job_id)}", idempotent)


def push_job_chunks(pool_id: str, job_id: str, kind: str = "upserted", method: str = "POST") -> Endpoint:
    """[client] Add a chunk (multipart field ``file``) or, with GET, list the chunks of a job."""
    if method == "GET":
        return Endpoint("GET", f"{_push_jobs(pool_id)}{_q(job_id)}/chunks", True)
    if kind not in ("upserted", "deleted"):
        raise CelonisParameterError(f"Unknown chunk kind {kind!r}: use 'upserted' or 'deleted'.")
    return Endpoint("POST", f"{_push_jobs(pool_id)}{_q(job_id)}/chunks/{kind}", False)


def push_job_cancel(pool_id: str, job_id: str) -> Endpoint:
    """[doc] Cancel a push job that is not DONE, CANCELED or ERROR."""
    return Endpoint("POST", f"{_push_jobs(pool_id)}{_q(job_id)}/cancel", True)


# Standard Data Ingestion API (S3-compatible) [doc]
INGESTION_PATH = "/api/data-ingestion"
INGESTION_BUCKET = "continuous"


def ingestion_key(connection_id: str, table: str, file_name: str) -> str:
    """The object key ``connection/<connectionId>/<table>/<file>`` for an ingested file."""
    for label, value in (("connection id", connection_id), ("table", table), ("file name", file_name)):
        if not str(value).strip() or "/" in str(value):
            raise CelonisParameterError(f"The {label} {value!r} must be non-empty and contain no '/'.")
    return f"connection/{connection_id}/{table}/{file_name}"


# Celonis UI pages for extra links [doc]
def ui_data_pool(base_url: str, pool_id: str) -> str:
    """The data pool page."""
    return f"{base_url}/integration/ui/pools/{_q(pool_id)}/"


def ui_data_model(base_url: str, pool_id: str, data_model_id: str) -> str:
    """The process data model page."""
    return (
        f"{base_url}/integration/ui/pools/{_q(pool_id)}/data-configuration/process-data-models/"
        f"{_q(data_model_id)}?tab=data-model"
    )


def ui_data_job(base_url: str, pool_id: str, job_id: str) -> str:
    """The data job page."""
    return f"{base_url}/integration/ui/pools/{_q(pool_id)}/data-configuration/data-jobs?jobId={_q(job_id)}"
