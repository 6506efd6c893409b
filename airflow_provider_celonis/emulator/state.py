"""The emulator's state: who may call, what exists, and the state machines of loads, jobs and pushes.

Time-based states are computed from the clock when read (a load RUNNING for ``load_seconds``, then
its outcome), so there are no background threads. All access goes through one lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from airflow_provider_celonis.emulator import tables
from airflow_provider_celonis.emulator.s3 import S3Error
from airflow_provider_celonis.emulator.seed import SWITCHES, demo_seed, validate_seed

DATA_POOL_SCOPES = {"integration.data-pools"}
PUSH_SCOPES = {"integration.data-pools", "integration.data-pools:data_push"}


def _choice(settings: dict[str, Any], name: str) -> str:
    """A seed switch's value (``seed.SWITCHES``; validated with the seed), else its default."""
    return str(settings.get(name, SWITCHES[name][0])).lower()


class ApiError(Exception):
    """An error answer: HTTP status and the Celonis error envelope."""

    def __init__(
        self, status: int, title: str, detail: str, error_code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"title": title, "status": status, "detail": detail, "errorCode": error_code}
        self.headers = headers or {}


# A data job's timeStamp as read live in July 2022 (a January 2022 change date), not an execution time.
JOB_CHANGED_AT_MS = 1642237998799


def epoch_ms(seconds: float | None) -> int | None:
    """Celonis-style epoch milliseconds."""
    return None if seconds is None else int(seconds * 1000)


def load_type(table_ids: list[str] | None, full_reload: bool | None) -> str:
    """The loadType of a new load: PARTIAL, FROM_CACHE (complete with fullReload=false [client]) or COMPLETE.

    A partial-sync stays PARTIAL whatever fullReload says [guess]; the flag is kept on the run.
    """
    if table_ids is not None:
        return "PARTIAL"
    return "FROM_CACHE" if full_reload is False else "COMPLETE"


@dataclass
class Principal:
    """Who made a request (never the credential itself)."""

    kind: str  # api_key | app_key | oauth
    label: str
    scopes: frozenset[str] | None  # None = a key, which is not scope-limited

    def require(self, needed: set[str]) -> None:
        """403 unless the principal has one of the ``needed`` scopes."""
        if self.scopes is not None and not (self.scopes & needed):
            raise ApiError(
                403, "Forbidden", f"The OAuth client lacks the scope {' or '.join(sorted(needed))}.", "MISSING_SCOPE"
            )


@dataclass
class Run:
    """One load of a data model or execution of a data job."""

    id: str
    started: float
    duration: float
    outcome: str
    message: str | None
    kind: str  # COMPLETE / PARTIAL for loads, FULL / DELTA for jobs
    canceled_at: float | None = None
    table_ids: list[str] = field(default_factory=list)
    visible_at: float = 0.0  # before this, status reads still show the previous run (registration delay)
    full_reload: bool | None = None  # the fullReload query parameter a load was started with
    subset: dict[str, Any] | None = None  # what a subset execution of a data job ran (emulator/catalog.py)

    def status(self, now: float, running: str, queued: str | None = None, canceled: str = "CANCELED") -> str:
        if self.canceled_at is not None:
            return canceled
        if now < self.started + self.duration:
            if queued and now < self.started + min(0.5, self.duration / 4):
                return queued
            return running
        return self.outcome

    def ended(self, now: float) -> float | None:
        if self.canceled_at is not None:
            return self.canceled_at
        end = self.started + self.duration
        return end if now >= end else None


@dataclass
class Fault:
    """An injected fault: matches requests by path regex (and method); lets ``skip`` pass, then hits ``count``."""

    path: re.Pattern[str]
    method: str | None
    count: int
    skip: int = 0  # matching requests to let through untouched first (skip=2: the 3rd match is hit)
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: str | None = None  # "before" (no answer, nothing done) or "after" (done, then no answer)
    outcome: str | None = None  # for a load or job started by a matching request
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.count > 0 and (self.method is None or self.method == method) and bool(self.path.search(path))


def _parse_chunk(data: bytes) -> pa.Table | str:
    """A parquet chunk's rows, or why they cannot be read."""
    try:
        return tables.read_parquet(data)
    except tables.PushRejected as exc:
        return str(exc)


def _parsed_table(chunk: dict[str, Any]) -> pa.Table:
    """A parquet chunk's rows (decoded in the background when it arrived); raises as reading it would."""
    parsed = chunk["_parsed"].result()
    if isinstance(parsed, str):
        raise tables.PushRejected(parsed)
    return parsed


def _checksum(data: bytes) -> str:
    """A chunk's checksum as the chunk list shows it (the algorithm is a guess: docs/api-assumptions.md)."""
    return hashlib.md5(data).hexdigest()  # noqa: S324 - not security


# One background thread decodes push chunks in the order they arrive (pyarrow releases the GIL meanwhile);
# another computes their checksums, as a server does when it stores a chunk (hashlib releases the GIL too).
_CHUNK_PARSER = ThreadPoolExecutor(1, thread_name_prefix="emulator-chunks")
_CHUNK_CHECKSUMS = ThreadPoolExecutor(1, thread_name_prefix="emulator-checksums")


class EmulatorState:
    """Everything the emulator knows, behind one lock."""

    def __init__(self, seed: dict[str, Any] | None = None, clock: Any = time.time) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.faults_fired = 0  # faults that hit a request since start (not reset by a reseed)
        self.load(seed or demo_seed())

    # --- seed ---------------------------------------------------------------------------------

    def load(self, seed: dict[str, Any]) -> None:
        """Replace all state with a seed."""
        validate_seed(seed)
        with self.lock:
            self.seed = seed
            creds = seed.get("credentials", {})
            self.api_keys = list(creds.get("api_keys", []))
            self.app_keys = list(creds.get("app_keys", []))
            self.oauth_clients = {c["client_id"]: c for c in creds.get("oauth_clients", [])}
            settings = seed.get("settings", {})
            self.push_seconds = float(settings.get("push_seconds", 1.0))
            self.token_lifetime = float(settings.get("token_lifetime_seconds", 899))
            # How long a new load or execution stays invisible to status reads after it was started:
            # Celonis registers it asynchronously, so a read right after the trigger shows the previous one.
            self.registration_seconds = float(settings.get("registration_seconds", 0.0))
            # Seed switches where the evidence allows two answers (docs/emulator.md, "Seed switches"):
            # a second start while one runs: no source shows a 409, so by default it starts a second run.
            self.start_conflict = _choice(settings, "start_conflict")
            # The live job status of 2022 had no latestExecutionItemId; pycelonis declares it.
            self.job_status_has_latest_execution_item = (
                _choice(settings, "job_status_has_latest_execution_item") == "true"
            )
            # last-load of a model that was never loaded: not documented; 404 or an empty 204.
            self.last_load_never_loaded = _choice(settings, "last_load_never_loaded")
            # How Data Push reads INT64 timestamp columns: every Celonis-written client sends INT96 and no
            # source shows INT64 being read, so by default a chunk with INT64 timestamps fails the job.
            self.push_int64_timestamps = _choice(settings, "push_parquet_int64_timestamps")
            self.ingestion_multipart = _choice(settings, "ingestion_multipart")
            self.rate_limit_headers = _choice(settings, "rate_limit_headers")
            # Create job answers the job (JSON) or, as the Data Push OpenAPI also lists, 204 with no body.
            self.create_push_job_response = _choice(settings, "create_push_job_response")
            # A submit this soon after another submit in the team answers 409 (Celonis support advised ~30 s
            # between submits after parallel submits got 409; the emulator's default is short for tests).
            self.push_submit_spacing = float(settings.get("push_submit_spacing_seconds", 1.0))
            limits = settings.get("rate_limits", {})
            self.push_per_second = int(limits.get("push_execute_per_second", 10))
            self.push_per_hour = int(limits.get("push_execute_per_hour", 250))
            # The "hourly" window's length: 3600 s starting on the full UTC hour [doc]; shorter in tests.
            self.rate_window = float(settings.get("rate_limit_window_seconds", 3600))
            self.pools = {p["id"]: p for p in seed.get("pools", [])}
            self.data_models = {(p["id"], m["id"]): m for p in seed.get("pools", []) for m in p.get("data_models", [])}
            self.data_jobs = {(p["id"], j["id"]): j for p in seed.get("pools", []) for j in p.get("data_jobs", [])}
            self.connections = {c["id"]: (p["id"], c) for p in seed.get("pools", []) for c in p.get("connections", [])}
            self.loads: dict[tuple[str, str], list[Run]] = {}
            self.executions: dict[tuple[str, str], list[Run]] = {}
            self.push_jobs: dict[str, dict[str, Any]] = {}
            self.tables: dict[tuple[str, str], pa.Table] = {}
            self.tokens: dict[str, tuple[str, frozenset[str], float]] = {}
            self.revoked_clients: set[str] = set()
            self.faults: list[Fault] = []
            self.request_log: list[dict[str, Any]] = []
            self.push_submits: deque[float] = deque()
            self.last_push_submit: float | None = None
            self.objects: dict[str, bytes] = {}
            self.object_etags: dict[str, str] = {}  # multipart objects: S3's ETag of the parts ("<md5>-<parts>")
            self.uploads: dict[str, dict[str, Any]] = {}
            self.ingestion_log: list[dict[str, Any]] = []

    # --- auth ---------------------------------------------------------------------------------

    def authenticate(self, header: str | None) -> Principal:
        """Who is calling, from the Authorization header; 401 when missing or unknown."""
        if not header or " " not in header.strip():
            raise ApiError(
                401,
                "Unauthorized",
                "Missing Authorization header (use 'Bearer <key>' or 'AppKey <key>').",
                "UNAUTHORIZED",
            )
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        scheme = scheme.lower()
        with self.lock:
            if scheme == "bearer":
                if value in self.api_keys:
                    return Principal("api_key", f"api_key#{self.api_keys.index(value) + 1}", None)
                token = self.tokens.get(value)
                if token:
                    client_id, scopes, expires = token
                    if client_id in self.revoked_clients:
                        raise ApiError(401, "Unauthorized", "The OAuth client was revoked.", "UNAUTHORIZED")
                    if self.clock() >= expires:
                        raise ApiError(401, "Unauthorized", "The access token has expired.", "TOKEN_EXPIRED")
                    return Principal("oauth", f"oauth:{client_id}", scopes)
            elif scheme == "appkey" and value in self.app_keys:
                return Principal("app_key", f"app_key#{self.app_keys.index(value) + 1}", None)
        raise ApiError(401, "Unauthorized", "The credential is not valid for this team.", "UNAUTHORIZED")

    def issue_token(self, client_id: str | None, client_secret: str | None, scope: str | None) -> dict[str, Any]:
        """OAuth client credentials grant; raises ``ApiError`` with an OAuth error body on failure."""
        with self.lock:
            client = self.oauth_clients.get(client_id or "")
            if not client or client["client_secret"] != client_secret or client_id in self.revoked_clients:
                error = ApiError(401, "invalid_client", "Client authentication failed.")
                error.body = {"error": "invalid_client", "error_description": "Client authentication failed."}
                raise error
            allowed = set(client.get("scopes", []))
            wanted = set((scope or "").split()) or allowed
            if not wanted <= allowed:
                error = ApiError(400, "invalid_scope", "Scope not allowed.")
                error.body = {
                    "error": "invalid_scope",
                    "error_description": f"The client may not request {' '.join(sorted(wanted - allowed))}.",
                }
                raise error
            token = secrets.token_urlsafe(32)
            self.tokens[token] = (client["client_id"], frozenset(wanted), self.clock() + self.token_lifetime)
            return {
                "access_token": token,
                "scope": " ".join(sorted(wanted)),
                "token_type": "Bearer",
                "expires_in": int(self.token_lifetime),
            }

    def expire_tokens(self) -> int:
        """Make every issued token expired (admin API), as if time had passed."""
        with self.lock:
            now = self.clock()
            for token, (client, scopes, _) in list(self.tokens.items()):
                self.tokens[token] = (client, scopes, now - 1)
            return len(self.tokens)

    # --- lookups ------------------------------------------------------------------------------

    def pool(self, pool_id: str) -> dict[str, Any]:
        if pool_id not in self.pools:
            raise ApiError(404, "Not Found", f"Data pool {pool_id} does not exist.", "NOT_FOUND")
        return self.pools[pool_id]

    def data_model(self, pool_id: str, dm_id: str) -> dict[str, Any]:
        self.pool(pool_id)
        model = self.data_models.get((pool_id, dm_id))
        if model is None:
            raise ApiError(404, "Not Found", f"Data model {dm_id} does not exist in pool {pool_id}.", "NOT_FOUND")
        return model

    def data_job(self, pool_id: str, job_id: str) -> dict[str, Any]:
        self.pool(pool_id)
        job = self.data_jobs.get((pool_id, job_id))
        if job is None:
            raise ApiError(404, "Not Found", f"Data job {job_id} does not exist in pool {pool_id}.", "NOT_FOUND")
        return job

    # --- faults -------------------------------------------------------------------------------

    def add_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Register a fault from the admin API's JSON."""
        try:
            fault = Fault(
                path=re.compile(spec.get("path", ".*")),
                method=(spec.get("method") or None) and str(spec["method"]).upper(),
                count=int(spec.get("count", 1)),
                skip=int(spec.get("skip", 0)),
                status=spec.get("status"),
                retry_after=spec.get("retry_after"),
                delay=float(spec.get("delay", 0)),
                drop=spec.get("drop"),
                outcome=spec.get("outcome"),
                message=spec.get("message"),
            )
        except (re.error, TypeError, ValueError) as exc:
            raise ApiError(400, "Bad Request", f"Invalid fault: {exc}") from None
        if fault.drop not in (None, "before", "after"):
            raise ApiError(400, "Bad Request", "drop must be 'before' or 'after'.")
        if fault.skip < 0 or fault.count < 0:
            raise ApiError(400, "Bad Request", "skip and count must be 0 or more.")
        with self.lock:
            self.faults.append(fault)
        return {"faults": len(self.faults)}

    def take_fault(self, method: str, path: str, outcome_only: bool = False) -> Fault | None:
        """The first matching fault (transport faults, or outcome faults), counted down by one.

        A fault with ``skip`` left lets the request through (counting ``skip`` down) and the next matching
        fault in the list, if any, is tried instead.
        """
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path) and (fault.outcome is not None) == outcome_only:
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.count -= 1
                    self.faults_fired += 1
                    return fault
        return None

    # --- data model loads ---------------------------------------------------------------------

    def start_load(
        self, pool_id: str, dm_id: str, table_ids: list[str] | None, path: str, full_reload: bool | None = None
    ) -> None:
        with self.lock:
            model = self.data_model(pool_id, dm_id)
            now = self.clock()
            runs = self.loads.setdefault((pool_id, dm_id), [])
            if self.start_conflict == "409" and runs and runs[-1].status(now, "RUNNING") == "RUNNING":
                raise ApiError(
                    409, "Conflict", f"A load of data model {dm_id} is already running.", "LOAD_ALREADY_RUNNING"
                )
            if table_ids is not None:
                known = {t["id"] for t in model.get("tables", [])}
                unknown = [t for t in table_ids if t not in known]
                if not table_ids or unknown:
                    raise ApiError(
                        400, "Bad Request", f"Unknown table ids for data model {dm_id}: {unknown}", "INVALID_TABLE_IDS"
                    )
            fault = self.take_fault("POST", path, outcome_only=True)
            runs.append(
                Run(
                    id=str(uuid.uuid4()),
                    started=now,
                    duration=float(model.get("load_seconds", 2)),
                    outcome=(fault.outcome if fault else model.get("load_outcome", "SUCCESS")).upper(),
                    message=(fault.message if fault else model.get("load_message")),
                    kind=load_type(table_ids, full_reload),
                    table_ids=table_ids or [],
                    visible_at=now + self.registration_seconds,
                    full_reload=full_reload,
                )
            )

    def _visible(self, runs: list[Run] | None) -> list[Run]:
        """The runs status reads can see now (a just-started run may not be registered yet)."""
        now = self.clock()
        return [run for run in runs or [] if run.visible_at <= now]

    def last_load(self, pool_id: str, dm_id: str) -> dict[str, Any] | None:
        with self.lock:
            self.data_model(pool_id, dm_id)
            runs = self._visible(self.loads.get((pool_id, dm_id)))
            if not runs:
                if self.last_load_never_loaded == "404":
                    raise ApiError(404, "Not Found", f"Data model {dm_id} has no load yet.", "NOT_FOUND")
                return None
            run, now = runs[-1], self.clock()
            status = run.status(now, "RUNNING")
            return {
                "dataModelId": dm_id,
                "dataLoadId": run.id,
                "loadStatus": status,
                "loadType": run.kind,
                "startDate": epoch_ms(run.started),
                "endDate": epoch_ms(run.ended(now)),
                "message": run.message if status in ("ERROR", "WARNING") else None,
            }

    def cancel_load(self, pool_id: str, dm_id: str) -> None:
        with self.lock:
            self.data_model(pool_id, dm_id)
            runs = self.loads.get((pool_id, dm_id)) or []
            if runs and runs[-1].status(self.clock(), "RUNNING") == "RUNNING":
                runs[-1].canceled_at = self.clock()
                runs[-1].message = "Canceled by user"

    # --- data jobs ----------------------------------------------------------------------------

    def execute_job(
        self, pool_id: str, job_id: str, mode: str | None, path: str, subset: dict[str, Any] | None = None
    ) -> None:
        with self.lock:
            job = self.data_job(pool_id, job_id)
            if mode not in ("FULL", "DELTA"):
                raise ApiError(400, "Bad Request", f"Unknown mode {mode!r}: use FULL or DELTA.", "INVALID_MODE")
            now = self.clock()
            runs = self.executions.setdefault((pool_id, job_id), [])
            if (
                self.start_conflict == "409"
                and runs
                and runs[-1].status(now, "RUNNING", "QUEUED") in ("RUNNING", "QUEUED")
            ):
                raise ApiError(409, "Conflict", f"Data job {job_id} is already running.", "JOB_ALREADY_RUNNING")
            fault = self.take_fault("POST", path, outcome_only=True)
            runs.append(
                Run(
                    id=str(uuid.uuid4()),
                    started=now,
                    duration=float(job.get("run_seconds", 2)),
                    outcome=(fault.outcome if fault else job.get("outcome", "SUCCESS")).upper(),
                    message=(fault.message if fault else job.get("message")),
                    kind=mode,
                    visible_at=now + self.registration_seconds,
                    subset=subset,
                )
            )

    def job_status(self, pool_id: str, job_id: str) -> dict[str, Any]:
        """JobTransport: ``timeStamp`` is when the job was last changed, not an execution time (live, 2022)."""
        with self.lock:
            job = self.data_job(pool_id, job_id)
            runs = self._visible(self.executions.get((pool_id, job_id)))
            now = self.clock()
            current = latest = status = None
            if runs:
                run = runs[-1]
                status = run.status(now, "RUNNING", "QUEUED", canceled="CANCEL")
                current = run.id if status in ("QUEUED", "RUNNING") else None
                latest = self._job_item_id(run)
            answer = {
                "id": job_id,
                "name": job.get("name"),
                "dataPoolId": pool_id,
                "dataSourceId": None,
                "timeStamp": job.get("time_stamp", JOB_CHANGED_AT_MS),
                "status": status,
                "currentExecutionId": current,
                "dagBasedExecutionEnabled": False,
            }
            if self.job_status_has_latest_execution_item:
                answer["latestExecutionItemId"] = latest
            return answer

    @staticmethod
    def _job_item_id(run: Run) -> str:
        return f"{run.id}-job"

    def _job_tasks(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        """The tasks an execution runs: the job's extractions and transformations, or one default task."""
        tasks = [*job.get("extractions", []), *job.get("transformations", [])]
        if not tasks:
            tasks = [{"id": f"{job['id']}-task", "name": f"Run {job.get('name') or job['id']}"}]
        return [{"id": str(t.get("id")), "name": t.get("name") or str(t.get("id"))} for t in tasks]

    def _execution_item(
        self,
        pool_id: str,
        job: dict[str, Any],
        run: Run,
        now: float,
        *,
        item_type: str = "JOB",
        task: dict[str, Any] | None = None,
        order: int = 0,
    ) -> dict[str, Any]:
        """An ExecutionItem as pycelonis 2.20 declares it: ids, status, dates, type, mode; no message."""
        status = run.status(now, "RUNNING", "QUEUED", canceled="CANCEL")
        if task is not None and status == "FAIL" and not self._is_failing_task(job, task):
            status = "SUCCESS" if order < len(self._job_tasks(job)) - 1 else "SKIPPED"
        return {
            "id": self._job_item_id(run) if task is None else f"{run.id}-{task['id']}",
            "poolId": pool_id,
            "poolName": self.pools[pool_id].get("name"),
            "executionId": run.id,
            "schedulingId": None,
            "jobId": job["id"],
            "taskId": None if task is None else task["id"],
            "stepId": None,
            "name": job.get("name") if task is None else task["name"],
            "status": status,
            "dataPoolVersion": 1,
            "startDate": epoch_ms(run.started),
            "endDate": epoch_ms(run.ended(now)),
            "type": item_type,
            "mode": run.kind,
            "schedulingName": None,
            "executionOrder": order,
            "monitored": True,
        }

    def _is_failing_task(self, job: dict[str, Any], task: dict[str, Any]) -> bool:
        """The last task of a failing execution is the one that failed (the others succeeded)."""
        return task["id"] == self._job_tasks(job)[-1]["id"]

    def _run_of(self, pool_id: str, job_id: str, execution_id: str | None) -> Run:
        for run in self._visible(self.executions.get((pool_id, job_id))):
            if run.id == execution_id:
                return run
        raise ApiError(404, "Not Found", f"No execution {execution_id} of data job {job_id}.", "NOT_FOUND")

    def job_executions(self, pool_id: str, job_id: str, limit: int = 10, page: int = 0) -> dict[str, Any]:
        """``{executionItems, numOfPages}``: the job's executions, newest first, paged."""
        with self.lock:
            job = self.data_job(pool_id, job_id)
            now = self.clock()
            runs = list(reversed(self._visible(self.executions.get((pool_id, job_id)))))
            limit = max(1, limit)
            items = [self._execution_item(pool_id, job, run, now) for run in runs[page * limit : (page + 1) * limit]]
            return {"executionItems": items, "numOfPages": max(1, -(-len(runs) // limit))}

    def execution_items(
        self, pool_id: str, execution_id: str | None, item_type: str, job_id: str | None
    ) -> list[dict[str, Any]]:
        """``logs/executions``: the items of one execution of the given type (JOB or TASK)."""
        with self.lock:
            self.pool(pool_id)
            job = self.data_job(pool_id, job_id or "")
            run, now = self._run_of(pool_id, job["id"], execution_id), self.clock()
            if item_type == "JOB":
                return [self._execution_item(pool_id, job, run, now)]
            if item_type != "TASK":
                return []
            return [
                self._execution_item(pool_id, job, run, now, item_type="TASK", task=task, order=i)
                for i, task in enumerate(self._job_tasks(job))
            ]

    def execution_detail(
        self, pool_id: str, execution_id: str | None, item_id: str | None, levels: set[str]
    ) -> dict[str, Any]:
        """``logs/executions/detail``: ``{logMessages, numOfPages}`` of one task of an execution."""
        with self.lock:
            self.pool(pool_id)
            for (pool, job_id), runs in self.executions.items():
                if pool != pool_id:
                    continue
                for run in self._visible(runs):
                    if run.id != execution_id:
                        continue
                    job, now = self.data_jobs[(pool, job_id)], self.clock()
                    messages = []
                    for order, task in enumerate(self._job_tasks(job)):
                        if item_id not in (task["id"], f"{run.id}-{task['id']}"):
                            continue
                        item = self._execution_item(pool_id, job, run, now, item_type="TASK", task=task, order=order)
                        messages.append(("INFO", f"Task {task['name']} started."))
                        if item["status"] in ("FAIL", "CANCEL") and run.message:
                            messages.append(("ERROR", run.message))
                        elif item["status"] == "SUCCESS":
                            messages.append(("INFO", f"Task {task['name']} finished."))
                    return {
                        "logMessages": [
                            {
                                "id": f"{run.id}-{i}",
                                "executionItemId": f"{run.id}-{item_id}",
                                "level": level,
                                "date": epoch_ms(run.started),
                                "logMessage": text,
                                "logTranslationCode": None,
                                "logTranslationParameters": [],
                            }
                            for i, (level, text) in enumerate(messages)
                            if not levels or level in levels
                        ],
                        "numOfPages": 1,
                    }
            raise ApiError(404, "Not Found", f"No execution {execution_id} in pool {pool_id}.", "NOT_FOUND")

    def job_statuses(self, pool_id: str) -> list[dict[str, Any]]:
        """``logs/status``: EntityStatus ``{id, status, lastExecutionStartDate}`` of every job of the pool."""
        with self.lock:
            self.pool(pool_id)
            now, answer = self.clock(), []
            for (pool, job_id), _job in self.data_jobs.items():
                if pool != pool_id:
                    continue
                runs = self._visible(self.executions.get((pool, job_id)))
                last = runs[-1] if runs else None
                answer.append(
                    {
                        "id": job_id,
                        "status": last.status(now, "RUNNING", "QUEUED", canceled="CANCEL") if last else None,
                        "lastExecutionStartDate": epoch_ms(last.started) if last else None,
                    }
                )
            return answer

    def cancel_job(self, pool_id: str, job_id: str) -> None:
        with self.lock:
            self.data_job(pool_id, job_id)
            runs = self.executions.get((pool_id, job_id)) or []
            if runs and runs[-1].status(self.clock(), "RUNNING", "QUEUED") in ("RUNNING", "QUEUED"):
                runs[-1].canceled_at = self.clock()
                runs[-1].message = "Canceled by user"

    # --- Data Push ----------------------------------------------------------------------------

    def create_push_job(self, pool_id: str, body: Any) -> dict[str, Any] | None:
        with self.lock:
            self.pool(pool_id)
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request", "The body must be a DataPushJob JSON object.")
            problems = []
            if body.get("type") not in ("REPLACE", "DELTA"):
                problems.append("type must be REPLACE or DELTA")
            if body.get("fileType") not in (None, "PARQUET", "CSV"):
                problems.append("fileType must be PARQUET or CSV")
            if not body.get("targetName"):
                problems.append("targetName is required")
            if problems:
                raise ApiError(400, "Bad Request", "; ".join(problems), "VALIDATION_ERROR")
            now = self.clock()
            job = {
                "id": str(uuid.uuid4()),
                "targetName": body["targetName"],
                "dataPoolId": pool_id,
                "connectionId": body.get("connectionId"),
                "type": body["type"],
                "fileType": body.get("fileType"),
                "keys": body.get("keys") or [],
                "upsertStrategy": body.get("upsertStrategy"),
                "tableSchema": body.get("tableSchema"),
                "csvParsingOptions": body.get("csvParsingOptions"),
                "fallbackVarcharLength": body.get("fallbackVarcharLength"),
                "status": "NEW",
                "logs": [],
                "creationDate": epoch_ms(now),
                "lastModified": epoch_ms(now),
                "_chunks": [],
                "_submitted": None,
                "_result": None,
            }
            self.push_jobs[job["id"]] = job
            return None if self.create_push_job_response == "empty_204" else self._public_job(job)

    def _push_job(self, pool_id: str, job_id: str) -> dict[str, Any]:
        self.pool(pool_id)
        job = self.push_jobs.get(job_id)
        if job is None or job["dataPoolId"] != pool_id:
            raise ApiError(404, "Not Found", f"Push job {job_id} does not exist in pool {pool_id}.", "NOT_FOUND")
        self._settle(job)
        return job

    def _public_job(self, job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def get_push_job(self, pool_id: str, job_id: str) -> dict[str, Any]:
        with self.lock:
            return self._public_job(self._push_job(pool_id, job_id))

    def list_push_jobs(self, pool_id: str) -> list[dict[str, Any]]:
        with self.lock:
            self.pool(pool_id)
            jobs = [j for j in self.push_jobs.values() if j["dataPoolId"] == pool_id]
            for job in jobs:
                self._settle(job)
            return [self._public_job(j) for j in jobs]

    def add_chunk(self, pool_id: str, job_id: str, kind: str, data: bytes) -> None:
        with self.lock:
            job = self._push_job(pool_id, job_id)
            if job["status"] != "NEW":
                raise ApiError(
                    409, "Conflict", f"Chunks can only be added to a NEW job; job is {job['status']}.", "JOB_NOT_NEW"
                )
            # A parquet chunk is decoded in the background as it arrives, so execute does not decode them all at
            # once: the same rows and the same errors, at execute as before.
            job["_chunks"].append(
                {
                    "id": str(uuid.uuid4()),
                    "type": "UPSERT" if kind == "upserted" else "DELETE",
                    "pushJobId": job_id,
                    "checksum": None,  # filled in from "_checksum" (computed in the background) when listed
                    "creationDate": epoch_ms(self.clock()),
                    "_data": data,
                    "_checksum": _CHUNK_CHECKSUMS.submit(_checksum, data),
                    "_parsed": _CHUNK_PARSER.submit(_parse_chunk, data) if job["fileType"] != "CSV" else None,
                }
            )

    def list_chunks(self, pool_id: str, job_id: str) -> list[dict[str, Any]]:
        with self.lock:
            chunks = list(self._push_job(pool_id, job_id)["_chunks"])
        # A checksum still being computed is waited for outside the lock: other requests go on meanwhile.
        return [
            {**{k: v for k, v in c.items() if not k.startswith("_")}, "checksum": c["_checksum"].result()}
            for c in chunks
        ]

    def _check_push_rate(self) -> None:
        """429 when the team's submissions (accepted ones) fill the second or the hour window."""
        now = self.clock()
        window = self.rate_window
        while self.push_submits and self.push_submits[0] <= now - window:
            self.push_submits.popleft()
        window_start = now - (now % window)
        last_second = sum(1 for t in self.push_submits if t > now - 1)
        this_window = sum(1 for t in self.push_submits if t >= window_start)
        wait = None
        if this_window >= self.push_per_hour:
            wait, limit = window_start + window - now, self.push_per_hour
            detail = f"More than {self.push_per_hour} push job submissions this hour."
        elif last_second >= self.push_per_second:
            oldest_in_window = min(t for t in self.push_submits if t > now - 1)
            wait, limit = oldest_in_window + 1 - now, self.push_per_second
            detail = f"More than {self.push_per_second} push job submissions per second."
        if wait is not None:
            seconds = max(1, int(wait + 0.999))
            reset_at = dt.datetime.fromtimestamp(now + seconds, dt.UTC).strftime("%H:%M:%S")
            raise ApiError(
                429,
                "Rate limit exceeded",
                f"{detail} Please try again at {reset_at} UTC.",
                "LIMIT_RATE_EXCEEDED",
                headers=(
                    {"x-ratelimit-reset": str(seconds), "x-ratelimit-limit": str(limit), "x-ratelimit-remaining": "0"}
                    if self.rate_limit_headers == "reset"
                    else {}
                ),
            )

    def _check_push_spacing(self, job_id: str) -> None:
        """409 when another submit in the team was accepted less than ``push_submit_spacing`` ago."""
        now = self.clock()
        if self.last_push_submit is not None and now - self.last_push_submit < self.push_submit_spacing:
            raise ApiError(
                409,
                "Conflict",
                f"Push job {job_id} could not be submitted: another submission is being "
                "processed. Please try again later.",
                "CONCURRENT_SUBMISSION",
            )

    def execute_push_job(self, pool_id: str, job_id: str, path: str = "") -> None:
        with self.lock:
            job = self._push_job(pool_id, job_id)
            if job["status"] != "NEW":
                raise ApiError(409, "Conflict", f"Push job {job_id} is {job['status']}, not NEW.", "JOB_NOT_NEW")
            self._check_push_rate()
            self._check_push_spacing(job_id)
            self.push_submits.append(self.clock())
            self.last_push_submit = self.clock()
            job["_submitted"] = self.clock()
            job["status"] = "QUEUED"
            fault = self.take_fault("POST", path, outcome_only=True)
            try:
                if fault is not None and fault.outcome.upper() != "DONE":
                    raise tables.PushRejected(fault.message or f"Push job ended {fault.outcome}.")
                job["_result"] = ("ok", self._compute_push(job))
            except tables.PushRejected as exc:
                job["_result"] = ("error", str(exc))
            self._settle(job)

    def _compute_push(self, job: dict[str, Any]) -> pa.Table | None:
        upserts = [c["_data"] for c in job["_chunks"] if c["type"] == "UPSERT"]
        if not upserts:
            raise tables.PushRejected("The job has no chunks.")
        if job["fileType"] == "CSV":
            parts = [tables.read_csv(d, job.get("csvParsingOptions"), job.get("tableSchema")) for d in upserts]
        else:
            if self.push_int64_timestamps == "reject":
                for data in upserts:
                    columns = tables.int64_timestamp_columns(data)
                    if columns:
                        raise tables.PushRejected(
                            f"Column(s) {', '.join(columns)}: INT64 timestamps are not read by Data Push; "
                            "write parquet timestamps as INT96."
                        )
            parts = [_parsed_table(c) for c in job["_chunks"] if c["type"] == "UPSERT"]
        data = tables.concat(parts)
        tables.check_flat(data)
        data = tables.cut_strings(data, job.get("tableSchema"), job.get("fallbackVarcharLength"))
        key = (job["dataPoolId"], job["targetName"])
        old = self.tables.get(key)
        if job["type"] == "REPLACE":
            return data
        if job["keys"]:
            return tables.upsert(old, data, job["keys"])
        return tables.append(old, data)

    def _settle(self, job: dict[str, Any]) -> None:
        """Move a submitted job along its states; apply its data when it finishes."""
        if job["_submitted"] is None or job["status"] in ("DONE", "ERROR", "CANCELED"):
            return
        elapsed = self.clock() - job["_submitted"]
        if elapsed < self.push_seconds * 0.3:
            job["status"] = "QUEUED"
            return
        if elapsed < self.push_seconds:
            job["status"] = "RUNNING"
            return
        outcome, value = job["_result"]
        if outcome == "ok" and job["type"] != "REPLACE":
            # An upsert computed at submit time may be stale if another job finished since: recompute against
            # the table as it is now, as Celonis applies jobs one by one.
            try:
                value = self._compute_push(job)
            except tables.PushRejected as exc:
                outcome, value = "error", str(exc)
        if outcome == "ok":
            self.tables[(job["dataPoolId"], job["targetName"])] = value
            job["status"] = "DONE"
            job["logs"].append(self._log_line(f"Pushed {value.num_rows} rows into {job['targetName']}."))
        else:
            job["status"] = "ERROR"
            job["logs"].append(self._log_line(value))
        job["lastModified"] = epoch_ms(self.clock())

    def _log_line(self, text: str) -> str:
        """A push job log line as Celonis writes them: ``2020-02-04T19:34:03 - Starting execution…``."""
        return f"{dt.datetime.fromtimestamp(self.clock(), dt.UTC).strftime('%Y-%m-%dT%H:%M:%S')} - {text}"

    def cancel_push_job(self, pool_id: str, job_id: str) -> None:
        with self.lock:
            job = self._push_job(pool_id, job_id)
            if job["status"] in ("DONE", "ERROR", "CANCELED"):
                raise ApiError(
                    409,
                    "Conflict",
                    f"Push job {job_id} is {job['status']} and cannot be canceled.",
                    "JOB_NOT_CANCELABLE",
                )
            job["status"] = "CANCELED"
            job["logs"].append(self._log_line("Canceled by user."))

    def delete_push_job(self, pool_id: str, job_id: str) -> None:
        with self.lock:
            self._push_job(pool_id, job_id)
            del self.push_jobs[job_id]

    # --- Standard Data Ingestion ----------------------------------------------------------------

    def ingestion_secret(self, access_key: str) -> tuple[str, dict[str, Any]]:
        """The (pool id, connection) an S3 access key belongs to."""
        with self.lock:
            for pool_id, connection in self.connections.values():
                if connection.get("access_key") == access_key:
                    return pool_id, connection
        raise S3Error(403, "InvalidAccessKeyId", "The AWS access key id you provided does not exist in our records.")

    def start_multipart(self, key: str) -> str:
        """A new multipart upload's id, or 501 NotImplemented under ``ingestion_multipart: refuse``."""
        with self.lock:
            if self.ingestion_multipart == "refuse":
                raise S3Error(
                    501,
                    "NotImplemented",
                    "A header you provided implies functionality that is not implemented (multipart upload).",
                )
            upload_id = uuid.uuid4().hex
            self.uploads[upload_id] = {"key": key, "parts": {}}
            return upload_id

    def ingest(
        self, pool_id: str, connection: dict[str, Any], table_name: str, key: str, data: bytes, etag: str | None = None
    ) -> None:
        """Store an uploaded object and apply it like Celonis does (asynchronously there; at once here)."""
        with self.lock:
            self.objects[key] = data
            if etag:
                self.object_etags[key] = etag
            else:
                self.object_etags.pop(key, None)
            entry = {
                "key": key,
                "table": table_name,
                "bytes": len(data),
                "status": "PROCESSED",
                "message": None,
                "rows": 0,
            }
            config = next((t for t in connection.get("tables", []) if t.get("name") == table_name), None)
            try:
                if config is None:
                    raise tables.PushRejected(f"Table {table_name} is not configured in connection {connection['id']}.")
                compressed = tables.compressed_columns(data)
                if compressed:  # "File formats: Uncompressed parquet files only" [doc]
                    raise tables.PushRejected(
                        f"Compressed parquet is not supported: column(s) {', '.join(compressed)}. Standard Data "
                        "Ingestion takes uncompressed parquet files only; nothing of this file was applied."
                    )
                data_table = tables.read_parquet(data)
                keys = list(config.get("primary_key") or [])
                missing = [k for k in keys if k not in data_table.column_names]
                if missing:
                    raise tables.PushRejected(f"Primary key column(s) {', '.join(missing)} missing from the file.")
                store_key = (pool_id, table_name)
                old = self.tables.get(store_key)
                if keys:
                    self.tables[store_key] = tables.upsert_with_age(old, data_table, keys, config.get("age_column"))
                else:
                    self.tables[store_key] = tables.append(old, data_table)
                entry["rows"] = data_table.num_rows
            except tables.PushRejected as exc:
                entry.update(status="ERROR", message=str(exc))
            self.ingestion_log.append(entry)

    # --- admin --------------------------------------------------------------------------------

    def table(self, pool_id: str, table_name: str) -> pa.Table:
        with self.lock:
            for job in self.push_jobs.values():
                self._settle(job)
            table = self.tables.get((pool_id, table_name))
            if table is None:
                raise ApiError(404, "Not Found", f"Table {table_name} has no data in pool {pool_id}.", "NOT_FOUND")
            return table

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.request_log.append(entry)
            if len(self.request_log) > 10000:
                del self.request_log[:1000]
