"""The contract assumptions the conformance command checks: one row per assumption, id and text.

The ids are what the output lines, the JSON report and docs/conformance.md name (a test keeps the docs in
sync). The text says what the emulator's default and docs/api-assumptions.md assume; "[guess]" marks a row
with no public source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assumption:
    """One thing the provider assumes about the Celonis API, and what it takes to check it."""

    id: str
    text: str
    needs: str  # "read" (always probed), "oauth", "data-model", "data-job", "ingestion", "write", "write+data-model"


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption(
        "auth.oauth-token-shape", "The OAuth token answer has token_type Bearer and expires_in in seconds.", "oauth"
    ),
    Assumption("pools.list-shape", "GET /integration/api/pools is a JSON list of {id, name} naming the pool.", "read"),
    Assumption("data-models.list-shape", "GET …/pools/{p}/data-models is a JSON list of {id, name, tables}.", "read"),
    Assumption("data-jobs.list-shape", "GET …/pools/{p}/jobs is a JSON list of {id, name, status}.", "read"),
    Assumption("pool-tables.list-shape", "GET …/pools/{p}/tables is a JSON list of {name, type, columns}.", "read"),
    Assumption(
        "pool-tables.columns-listed",
        "[guess] Every entry of the pool table listing has a columns list [{name, type, length}].",
        "read",
    ),
    Assumption(
        "last-load.shape",
        "[guess] last-load answers {dataLoadId, loadStatus, loadType, startDate, endDate, message}.",
        "data-model",
    ),
    Assumption(
        "last-load.status-values",
        "loadStatus is RUNNING, SUCCESS, WARNING, ERROR, CANCELED, CANCELLING or LOST_CONNECTION.",
        "data-model",
    ),
    Assumption(
        "last-load.never-loaded-404",
        "last-load of a model never loaded answers 404 (not an empty 204) while its load history answers.",
        "data-model",
    ),
    Assumption(
        "load-history.shape",
        "load-history/load-info-sync answers {loadInfo: {currentComputeLoad}, loadHistory: {dataLoadHistory}}.",
        "data-model",
    ),
    Assumption(
        "load-history.newest-first", "[guess] loadHistory.dataLoadHistory is ordered newest first.", "data-model"
    ),
    Assumption(
        "dates.epoch-milliseconds",
        "[guess] Dates (timeStamp, startDate, endDate, lastExecutionStartDate) are epoch milliseconds.",
        "read",
    ),
    Assumption("job.status-fields", "The data job status answers id, name, status and currentExecutionId.", "data-job"),
    Assumption(
        "job.timeStamp-not-execution-time",
        "A data job's timeStamp is not the start or end of its newest execution (fact 1).",
        "data-job",
    ),
    Assumption(
        "job.no-latestExecutionItemId",
        "The data job status carries no latestExecutionItemId, as the live answer of 2022 (fact 2).",
        "data-job",
    ),
    Assumption("logs-status.shape", "logs/status is a JSON list of {id, status, lastExecutionStartDate}.", "read"),
    Assumption(
        "logs-status.start-is-newest-execution",
        "logs/status lastExecutionStartDate is the startDate of the job's newest execution item.",
        "data-job",
    ),
    Assumption(
        "executions.shape",
        "logs/{job}/executions answers {executionItems, numOfPages}; items carry id, executionId, status, "
        "startDate, endDate.",
        "data-job",
    ),
    Assumption("executions.no-message", "Execution items carry no message field (fact 3).", "data-job"),
    Assumption("executions.newest-first", "Execution items are listed newest first.", "data-job"),
    Assumption(
        "execution-log.chain",
        "A failed execution's reason is in logs/executions?type=TASK, then logs/executions/detail "
        "logMessages[].logMessage (fact 3).",
        "data-job",
    ),
    Assumption(
        "ingestion.head-missing-key-404",
        "With working ingestion credentials, HEAD on a missing object answers 404 (S3 semantics).",
        "ingestion",
    ),
    Assumption(
        "ingestion.multipart-accepted",
        "The ingestion endpoint starts a multipart upload (the operators fall back to one PutObject if not).",
        "ingestion",
    ),
    Assumption(
        "ingestion.unsigned-payload-accepted",
        "The ingestion endpoint takes a body sent as UNSIGNED-PAYLOAD (connection extra ingestion_sign_payload: "
        "false).",
        "ingestion",
    ),
    Assumption("push.create-answers-json", "Create push job answers the job as JSON, not 204 with no body.", "write"),
    Assumption(
        "push.every-column-type-done",
        "A push of INTEGER, FLOAT, decimal, BOOLEAN, DATE, TIME, DATETIME and STRING columns ends DONE.",
        "write",
    ),
    Assumption("push.int96-timestamps-accepted", "A parquet chunk with INT96 timestamps is read (fact 6).", "write"),
    Assumption(
        "push.int64-timestamps-rejected",
        "A parquet chunk with INT64 microsecond timestamps makes the push job end ERROR (fact 6).",
        "write",
    ),
    Assumption(
        "push.rapid-submit-409",
        "A submit right after another submit in the team answers 409 and leaves the job NEW (fact 5).",
        "write",
    ),
    Assumption(
        "push.429-names-reset",
        "A 429 on submit names its wait in x-ratelimit-reset, Celonis's documented header (the task also reads "
        "Retry-After and the body's 'Please try again at HH:MM:SS UTC').",
        "write",
    ),
    Assumption("push.hourly-window-on-the-hour", "The hourly submit limit (250) resets on the full UTC hour.", "write"),
    Assumption("load.partial-start-2xx", "A partial-sync start answers 2xx (its body is ignored).", "write+data-model"),
    Assumption(
        "load.partial-reload-completes",
        "A partial reload shows in last-load as a new load with loadType PARTIAL and ends SUCCESS.",
        "write+data-model",
    ),
    Assumption(
        "load.second-start-runs-again",
        "A second start while a load runs is not refused with 409: a second load runs (fact 8).",
        "write+data-model",
    ),
)

BY_ID: dict[str, Assumption] = {a.id: a for a in ASSUMPTIONS}
