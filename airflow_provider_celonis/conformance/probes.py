"""The probes: each asks Celonis one thing through the hook and records a verdict on the assumptions it checks.

Read-only probes run by default; ``run_write_probes`` pushes into a scratch table and (with a data model)
starts a partial reload. Every request goes through ``CelonisHook`` (``raw_response`` when the raw answer
is the evidence), and every answer is kept for the report.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from airflow_provider_celonis import endpoints, retry
from airflow_provider_celonis.conformance.assumptions import BY_ID
from airflow_provider_celonis.conformance.report import Exchange, Finding, Redactor, Verdict, body_of, kept_headers
from airflow_provider_celonis.endpoints import Endpoint
from airflow_provider_celonis.hooks._multipart import MultipartFileBody
from airflow_provider_celonis.hooks.celonis import CelonisHook, find_created_push_job
from airflow_provider_celonis.models import LoadStatus, PushJobStatus, executions_from_api, log_detail_params

# Two dates closer than this are "the same moment" (timeStamp vs an execution's start or end).
SAME_MOMENT_MS = 2_000
# Epoch milliseconds are above this (1973); epoch seconds of any recent date are far below.
MIN_EPOCH_MS = 100_000_000_000
# A 429 reset landing this close to a full UTC hour counts as "on the hour".
ON_THE_HOUR_TOLERANCE_S = 3
MISSING_OBJECT = "conformance-probe-missing-object.parquet"


class UsageError(Exception):
    """Bad arguments or an unusable connection: the message names the fix (exit code 2)."""


@dataclass
class Answer:
    """One raw answer: status (None when no answer came), the kept headers and the parsed body."""

    status: int | None
    headers: dict[str, str]
    body: Any
    error: str | None = None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300

    def brief(self) -> str:
        """``HTTP 404`` or the transport error, for a one-line answer."""
        return f"HTTP {self.status}" if self.status is not None else f"no answer ({self.error})"


@dataclass
class Probe:
    """The state of one conformance run: the hook, what was asked, and what was found."""

    hook: CelonisHook
    redactor: Redactor
    pool_id: str = ""
    data_model_id: str | None = None
    data_job_id: str | None = None
    ingestion_connection_id: str | None = None
    wait_timeout: float = 600.0
    poll_interval: float = 2.0
    submit_spacing: float = 30.0
    findings: dict[str, Finding] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)
    dates: list[tuple[str, Any]] = field(default_factory=list)

    # --- recording ------------------------------------------------------------------------------

    def found(self, assumption_id: str, verdict: Verdict, answer: str) -> None:
        """Record the verdict on one assumption (the id must be in the table)."""
        if assumption_id not in BY_ID:
            raise KeyError(f"Unknown assumption id {assumption_id!r}: add it to conformance/assumptions.py.")
        self.findings[assumption_id] = Finding(assumption_id, verdict, answer)

    def call(
        self,
        probe: str,
        endpoint: Endpoint,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        body: MultipartFileBody | None = None,
    ) -> Answer:
        """Send one request through the hook, keep its raw answer, and return it."""
        try:
            response = self.hook.raw_response(endpoint, params=params, json=json, body=body)
        except requests.RequestException as exc:
            answer = Answer(None, {}, None, f"{type(exc).__name__}")
        else:
            headers = kept_headers({k.lower(): v for k, v in response.headers.items()})
            answer = Answer(response.status_code, headers, body_of(response.content, headers.get("content-type")))
        self.exchanges.append(
            Exchange(
                probe, endpoint.method, endpoint.path, params, answer.status, answer.headers, answer.body, answer.error
            )
        )
        return answer

    def date(self, source: str, value: Any) -> None:
        """Remember a date Celonis answered, for ``dates.epoch-milliseconds``."""
        if value is not None:
            self.dates.append((source, value))

    # --- read-only probes -----------------------------------------------------------------------

    def token(self) -> None:
        """``auth.oauth-token-shape``: a fresh token's ``token_type`` and ``expires_in`` (OAuth connections)."""
        try:
            response = self.hook.raw_token_response()
        except requests.RequestException as exc:
            self.found("auth.oauth-token-shape", Verdict.NOT_CHECKED, f"no answer ({type(exc).__name__})")
            return
        if response is None:
            self.found("auth.oauth-token-shape", Verdict.NOT_CHECKED, "the connection uses a key, not OAuth")
            return
        body = body_of(response.content, response.headers.get("Content-Type"))
        if isinstance(body, dict):
            self.redactor.add(body.get("access_token"))
            self.redactor.add(body.get("refresh_token"))
        self.exchanges.append(
            Exchange(
                "token",
                "POST",
                "/oauth2/token",
                None,
                response.status_code,
                kept_headers({k.lower(): v for k, v in response.headers.items()}),
                body,
            )
        )
        if response.status_code != 200 or not isinstance(body, dict):
            self.found("auth.oauth-token-shape", Verdict.NOT_CHECKED, f"HTTP {response.status_code}")
            return
        token_type, expires_in = body.get("token_type"), body.get("expires_in")
        good = str(token_type).lower() == "bearer" and isinstance(expires_in, int | float) and expires_in > 0
        self.found(
            "auth.oauth-token-shape",
            Verdict.AGREES if good else Verdict.DIFFERS,
            f"token_type {token_type!r}, expires_in {expires_in!r}",
        )

    def pools(self, wanted: str) -> None:
        """``pools.list-shape``, and find the pool (by id, else by exact name); a missing pool is a usage error."""
        answer = self.call("pools", endpoints.list_pools())
        if answer.status in (401, 403):
            raise UsageError(
                f"Celonis refused the credential of connection {self.hook.celonis_conn_id!r} "
                f"(HTTP {answer.status}): check its key or OAuth client and scopes."
            )
        if not answer.ok:
            raise UsageError(
                f"Cannot list the data pools ({answer.brief()}): check the connection's team URL "
                f"({self.hook.base_url}) and that the team is reachable."
            )
        pools = answer.body if isinstance(answer.body, list) else []
        shaped = isinstance(answer.body, list) and all(isinstance(p, dict) and "id" in p and "name" in p for p in pools)
        match = [p for p in pools if str(p.get("id")) == wanted] or [p for p in pools if str(p.get("name")) == wanted]
        if len(match) != 1:
            names = ", ".join(f"{p.get('name')!r} ({p.get('id')})" for p in pools[:20]) or "(none)"
            why = "matches several pools" if match else "is not visible to this connection"
            raise UsageError(f"--pool {wanted!r} {why}. Pass --pool with one of these ids: {names}.")
        self.pool_id = str(match[0]["id"])
        self.found(
            "pools.list-shape",
            Verdict.AGREES if shaped else Verdict.DIFFERS,
            f"{len(pools)} pool(s); {'each with id and name' if shaped else 'not a list of {id, name}'}",
        )

    def listings(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The data model, data job and pool table listings: their shapes; returns the three lists."""
        out = []
        for probe, endpoint, keys, assumption in (
            (
                "data-models",
                endpoints.list_data_models(self.pool_id),
                ("id", "name", "tables"),
                "data-models.list-shape",
            ),
            ("data-jobs", endpoints.list_data_jobs(self.pool_id), ("id", "name", "status"), "data-jobs.list-shape"),
            ("pool-tables", endpoints.list_pool_tables(self.pool_id), ("name", "type"), "pool-tables.list-shape"),
        ):
            answer = self.call(probe, endpoint)
            items = answer.body if answer.ok and isinstance(answer.body, list) else []
            if not answer.ok:
                self.found(assumption, Verdict.NOT_CHECKED, answer.brief())
            elif not isinstance(answer.body, list):
                self.found(assumption, Verdict.DIFFERS, f"not a JSON list: {type(answer.body).__name__}")
            else:
                missing = sorted({k for item in items for k in keys if not isinstance(item, dict) or k not in item})
                self.found(
                    assumption,
                    Verdict.DIFFERS if missing else Verdict.AGREES,
                    f"{len(items)} item(s)" + (f"; missing {', '.join(missing)}" if missing else ""),
                )
            out.append([item for item in items if isinstance(item, dict)])
        tables = out[2]
        if not tables:
            self.found("pool-tables.columns-listed", Verdict.NOT_CHECKED, "the pool lists no tables")
        else:
            without = [t.get("name") for t in tables if not isinstance(t.get("columns"), list)]
            filled = sum(1 for t in tables if isinstance(t.get("columns"), list) and t["columns"])
            self.found(
                "pool-tables.columns-listed",
                Verdict.DIFFERS if without else Verdict.AGREES,
                f"{len(tables)} table(s), {filled} with columns filled"
                + (f"; no columns list for {without[:3]}" if without else ""),
            )
        return out[0], out[1], out[2]

    def data_model(self) -> None:
        """last-load and the load history of ``--data-model``: shapes, status values, never-loaded answer."""
        dm = self.data_model_id
        assert dm is not None
        last = self.call("last-load", endpoints.data_model_last_load(self.pool_id, dm))
        history = self.call("load-history", endpoints.data_model_load_history(self.pool_id, dm))
        entries: list[Any] = []
        current = None
        if history.ok and isinstance(history.body, dict) and {"loadInfo", "loadHistory"} <= set(history.body):
            current = (history.body.get("loadInfo") or {}).get("currentComputeLoad")
            entries = (history.body.get("loadHistory") or {}).get("dataLoadHistory") or []
            self.found("load-history.shape", Verdict.AGREES, f"{len(entries)} earlier load(s)")
        elif history.ok:
            keys = sorted(history.body) if isinstance(history.body, dict) else type(history.body).__name__
            self.found("load-history.shape", Verdict.DIFFERS, f"keys {keys}")
        else:
            self.found("load-history.shape", Verdict.NOT_CHECKED, history.brief())
        starts = [e.get("startDate") for e in entries if isinstance(e, dict)]
        for value in starts:
            self.date("load-history startDate", value)
        if len(starts) < 2 or not all(isinstance(s, int | float) for s in starts):
            self.found("load-history.newest-first", Verdict.NOT_CHECKED, f"{len(starts)} dated load(s)")
        else:
            newest_first = all(a >= b for a, b in zip(starts, starts[1:], strict=False))
            self.found(
                "load-history.newest-first",
                Verdict.AGREES if newest_first else Verdict.DIFFERS,
                f"startDates {starts[:3]}…",
            )
        never_loaded = history.ok and not current and not entries
        if last.status in (404, 204) or (last.ok and not last.body):
            code = last.status
            if not history.ok:
                self.found(
                    "last-load.never-loaded-404",
                    Verdict.NOT_CHECKED,
                    f"last-load HTTP {code}, history {history.brief()}",
                )
            elif not never_loaded:
                self.found(
                    "last-load.never-loaded-404",
                    Verdict.DIFFERS if code == 404 else Verdict.NOT_CHECKED,
                    f"last-load HTTP {code} although the load history shows a load",
                )
            else:
                self.found(
                    "last-load.never-loaded-404",
                    Verdict.AGREES if code == 404 else Verdict.DIFFERS,
                    f"HTTP {code} for a model never loaded",
                )
            self.found("last-load.shape", Verdict.NOT_CHECKED, f"HTTP {code}: no load to read yet")
            self.found("last-load.status-values", Verdict.NOT_CHECKED, f"HTTP {code}: no load to read yet")
            return
        self.found(
            "last-load.never-loaded-404", Verdict.NOT_CHECKED, "the model has been loaded" if last.ok else last.brief()
        )
        if not last.ok:
            self.found("last-load.shape", Verdict.NOT_CHECKED, last.brief())
            self.found("last-load.status-values", Verdict.NOT_CHECKED, last.brief())
            return
        body = last.body if isinstance(last.body, dict) else {}
        missing = [k for k in ("dataLoadId", "loadStatus", "loadType", "startDate", "endDate") if k not in body]
        self.found(
            "last-load.shape",
            Verdict.DIFFERS if missing or not body else Verdict.AGREES,
            f"keys {sorted(body)[:12]}" if missing or not body else "all fields present",
        )
        status = body.get("loadStatus", body.get("status"))
        known = LoadStatus.parse(status) is not LoadStatus.UNKNOWN
        self.found("last-load.status-values", Verdict.AGREES if known else Verdict.DIFFERS, f"loadStatus {status!r}")
        self.date("last-load startDate", body.get("startDate"))
        self.date("last-load endDate", body.get("endDate"))

    def data_job(self) -> None:
        """Job status, logs/status, executions and the log chain of ``--data-job``."""
        job_id = self.data_job_id
        assert job_id is not None
        status = self.call("job-status", endpoints.data_job_status(self.pool_id, job_id))
        job = status.body if status.ok and isinstance(status.body, dict) else None
        if job is None:
            for aid in ("job.status-fields", "job.no-latestExecutionItemId", "job.timeStamp-not-execution-time"):
                self.found(aid, Verdict.NOT_CHECKED, status.brief())
        else:
            missing = [k for k in ("id", "name", "status", "currentExecutionId") if k not in job]
            self.found(
                "job.status-fields",
                Verdict.DIFFERS if missing else Verdict.AGREES,
                f"missing {', '.join(missing)}" if missing else f"status {job.get('status')!r}",
            )
            has_latest = "latestExecutionItemId" in job
            self.found(
                "job.no-latestExecutionItemId",
                Verdict.DIFFERS if has_latest else Verdict.AGREES,
                f"latestExecutionItemId {job['latestExecutionItemId']!r}" if has_latest else "absent",
            )
            self.date("job timeStamp", job.get("timeStamp"))
        statuses = self.call("logs-status", endpoints.job_statuses(self.pool_id))
        entry = self._logs_status_entry(statuses, job_id)
        executions = self.call(
            "executions", endpoints.data_job_executions(self.pool_id, job_id), params={"limit": 10, "page": 0}
        )
        items = self._executions(executions)
        newest = items[0] if items else None
        if job is not None:
            self._time_stamp(job.get("timeStamp"), newest)
        if entry is None or newest is None:
            self.found(
                "logs-status.start-is-newest-execution",
                Verdict.NOT_CHECKED,
                "no execution yet" if entry is not None else "the job is not in logs/status",
            )
        else:
            last_start, start = entry.get("lastExecutionStartDate"), newest.get("startDate")
            same = (
                isinstance(last_start, int | float)
                and isinstance(start, int | float)
                and abs(last_start - start) <= SAME_MOMENT_MS
            )
            self.found(
                "logs-status.start-is-newest-execution",
                Verdict.AGREES if same else Verdict.DIFFERS,
                f"lastExecutionStartDate {last_start!r}, newest item startDate {start!r}",
            )
        self._log_chain(items)

    def _logs_status_entry(self, answer: Answer, job_id: str) -> dict[str, Any] | None:
        if not answer.ok:
            self.found("logs-status.shape", Verdict.NOT_CHECKED, answer.brief())
            return None
        rows = answer.body if isinstance(answer.body, list) else None
        if rows is None:
            self.found("logs-status.shape", Verdict.DIFFERS, f"not a JSON list: {type(answer.body).__name__}")
            return None
        bad = [r for r in rows if not isinstance(r, dict) or not {"id", "status", "lastExecutionStartDate"} <= set(r)]
        entry = next((r for r in rows if isinstance(r, dict) and r.get("id") == job_id), None)
        for row in rows:
            if isinstance(row, dict):
                self.date("logs/status lastExecutionStartDate", row.get("lastExecutionStartDate"))
        self.found(
            "logs-status.shape",
            Verdict.DIFFERS if bad else Verdict.AGREES,
            f"{len(rows)} job(s)" + (f"; {len(bad)} without id/status/lastExecutionStartDate" if bad else ""),
        )
        return entry

    def _executions(self, answer: Answer) -> list[dict[str, Any]]:
        if not answer.ok:
            for aid in ("executions.shape", "executions.no-message", "executions.newest-first"):
                self.found(aid, Verdict.NOT_CHECKED, answer.brief())
            return []
        body = answer.body
        if not isinstance(body, dict) or "executionItems" not in body:
            self.found(
                "executions.shape",
                Verdict.DIFFERS,
                f"not {{executionItems, numOfPages}}: "
                f"{sorted(body) if isinstance(body, dict) else type(body).__name__}",
            )
            items = body if isinstance(body, list) else []
        else:
            items = body.get("executionItems") or []
            missing = sorted(
                {
                    k
                    for i in items
                    for k in ("id", "executionId", "status", "startDate", "endDate")
                    if not isinstance(i, dict) or k not in i
                }
            )
            if "numOfPages" not in body:
                missing.append("numOfPages")
            self.found(
                "executions.shape",
                Verdict.DIFFERS if missing else Verdict.AGREES,
                f"{len(items)} item(s)" + (f"; missing {', '.join(missing)}" if missing else ""),
            )
        items = [i for i in items if isinstance(i, dict)]
        if not items:
            self.found("executions.no-message", Verdict.NOT_CHECKED, "no execution yet")
        else:
            with_message = [i for i in items if "message" in i]
            self.found(
                "executions.no-message",
                Verdict.DIFFERS if with_message else Verdict.AGREES,
                f"message {with_message[0]['message']!r}" if with_message else f"{len(items)} item(s), none",
            )
        starts = [i.get("startDate") for i in items]
        for item in items:
            self.date("execution startDate", item.get("startDate"))
            self.date("execution endDate", item.get("endDate"))
        if len(starts) < 2 or not all(isinstance(s, int | float) for s in starts):
            self.found("executions.newest-first", Verdict.NOT_CHECKED, f"{len(starts)} dated execution(s)")
        else:
            ordered = all(a >= b for a, b in zip(starts, starts[1:], strict=False))
            self.found(
                "executions.newest-first", Verdict.AGREES if ordered else Verdict.DIFFERS, f"startDates {starts[:3]}…"
            )
        return items

    def _time_stamp(self, stamp: Any, newest: dict[str, Any] | None) -> None:
        if newest is None or stamp is None:
            self.found(
                "job.timeStamp-not-execution-time",
                Verdict.NOT_CHECKED,
                "no execution yet" if stamp is not None else "no timeStamp",
            )
            return
        moments = [v for v in (newest.get("startDate"), newest.get("endDate")) if isinstance(v, int | float)]
        if not isinstance(stamp, int | float) or not moments:
            self.found(
                "job.timeStamp-not-execution-time",
                Verdict.NOT_CHECKED,
                f"timeStamp {stamp!r}, execution dates {moments}",
            )
            return
        same = any(abs(stamp - m) <= SAME_MOMENT_MS for m in moments)
        self.found(
            "job.timeStamp-not-execution-time",
            Verdict.DIFFERS if same else Verdict.AGREES,
            f"timeStamp {_when(stamp)}, newest execution started {_when(moments[0])}",
        )

    def _log_chain(self, items: list[dict[str, Any]]) -> None:
        failed = next((i for i in executions_from_api(items) if i.status.is_failure), None)
        if failed is None:
            self.found("execution-log.chain", Verdict.NOT_CHECKED, "no failed execution among the newest 10")
            return
        job_id = self.data_job_id or ""
        tasks = self.call(
            "execution-items",
            endpoints.execution_items(self.pool_id),
            params={"executionId": failed.id, "type": "TASK", "id": job_id},
        )
        if not tasks.ok:
            self.found("execution-log.chain", Verdict.DIFFERS, f"logs/executions?type=TASK {tasks.brief()}")
            return
        failed_tasks = [t for t in executions_from_api(tasks.body) if t.status.is_failure]
        if not failed_tasks:
            self.found(
                "execution-log.chain",
                Verdict.DIFFERS,
                f"execution {failed.id} {failed.raw_status}: no failed TASK item",
            )
            return
        detail = self.call(
            "execution-log",
            endpoints.execution_log_messages(self.pool_id),
            params=log_detail_params(failed.id, failed_tasks[0], ("ERROR",)),
        )
        messages = (detail.body or {}).get("logMessages") if detail.ok and isinstance(detail.body, dict) else None
        texts = [str(m.get("logMessage") or "").strip() for m in messages or [] if isinstance(m, dict)]
        texts = [t for t in texts if t]
        if texts:
            self.found("execution-log.chain", Verdict.AGREES, f"task {failed_tasks[0].name!r}: {texts[0][:80]!r}")
        else:
            self.found(
                "execution-log.chain",
                Verdict.DIFFERS,
                f"detail {detail.brief()}, no logMessage for failed task {failed_tasks[0].name!r}",
            )

    def ingestion(self) -> None:
        """``ingestion.head-missing-key-404``: HEAD a key that does not exist, with the ingestion credentials."""
        settings = self.hook.settings
        if not (settings.ingestion_access_key_id and settings.ingestion_secret_access_key):
            self.found(
                "ingestion.head-missing-key-404",
                Verdict.NOT_CHECKED,
                "the connection has no ingestion "
                "credentials (extras ingestion_access_key_id, ingestion_secret_access_key)",
            )
            return
        from botocore.exceptions import BotoCoreError, ClientError

        connection = self.ingestion_connection_id or "conformance-probe-connection"
        key = endpoints.ingestion_key(connection, "conformance_probe", MISSING_OBJECT)
        client = self.hook.get_ingestion_client()
        path = f"{endpoints.INGESTION_PATH}/{endpoints.INGESTION_BUCKET}/{key}"
        status: int | None
        try:
            meta = client.head_object(Bucket=endpoints.INGESTION_BUCKET, Key=key)
            status, code = meta.get("ResponseMetadata", {}).get("HTTPStatusCode"), "exists"
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code")
        except BotoCoreError as exc:
            status, code = None, type(exc).__name__
        self.exchanges.append(Exchange("ingestion-head", "HEAD", path, None, status, {}, None, code))
        if status == 404:
            self.found("ingestion.head-missing-key-404", Verdict.AGREES, "HTTP 404: the credentials are accepted")
            self.ingestion_multipart(client, key, path)
        elif status in (401, 403) and not self.ingestion_connection_id:
            self.found(
                "ingestion.head-missing-key-404",
                Verdict.NOT_CHECKED,
                f"HTTP {status} on a placeholder connection id: pass --ingestion-connection ID (the data "
                "connection of the ingestion key) to tell refused credentials from another connection's key",
            )
        elif status in (401, 403):
            self.found(
                "ingestion.head-missing-key-404",
                Verdict.DIFFERS,
                f"HTTP {status}: the ingestion credentials are refused, or HEAD is not allowed",
            )
        else:
            self.found(
                "ingestion.head-missing-key-404",
                Verdict.DIFFERS if status else Verdict.NOT_CHECKED,
                f"HTTP {status} ({code})" if status else f"no answer ({code})",
            )

    def ingestion_multipart(self, client: Any, key: str, path: str) -> None:
        """``ingestion.multipart-accepted``: start a multipart upload of a probe key and abort it (nothing stored)."""
        from botocore.exceptions import BotoCoreError, ClientError

        if not self.ingestion_connection_id:
            self.found(
                "ingestion.multipart-accepted",
                Verdict.NOT_CHECKED,
                "needs --ingestion-connection (the data connection of the ingestion key)",
            )
            return
        try:
            started = client.create_multipart_upload(Bucket=endpoints.INGESTION_BUCKET, Key=key)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code")
            self.exchanges.append(
                Exchange("ingestion-multipart", "POST", path + "?uploads", None, status, {}, None, code)
            )
            self.found("ingestion.multipart-accepted", Verdict.DIFFERS, f"HTTP {status} ({code})")
            return
        except BotoCoreError as exc:
            self.found("ingestion.multipart-accepted", Verdict.NOT_CHECKED, f"no answer ({type(exc).__name__})")
            return
        self.exchanges.append(
            Exchange("ingestion-multipart", "POST", path + "?uploads", None, 200, {}, None, "started")
        )
        self.found("ingestion.multipart-accepted", Verdict.AGREES, "HTTP 200: an upload id, then aborted")
        try:
            self.ingestion_unsigned_part(key, path, started["UploadId"])
        finally:
            client.abort_multipart_upload(Bucket=endpoints.INGESTION_BUCKET, Key=key, UploadId=started["UploadId"])

    def ingestion_unsigned_part(self, key: str, path: str, upload_id: str) -> None:
        """``ingestion.unsigned-payload-accepted``: one part sent as UNSIGNED-PAYLOAD into the probe's upload.

        The caller aborts that upload afterwards, so nothing is stored.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        unsigned = self.hook.get_ingestion_client(sign_payload=False)
        query = f"?partNumber=1&uploadId={upload_id}"
        try:
            unsigned.upload_part(
                Bucket=endpoints.INGESTION_BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=b"conformance probe"
            )
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code")
            self.exchanges.append(
                Exchange("ingestion-unsigned-part", "PUT", path + query, None, status, {}, None, code)
            )
            self.found("ingestion.unsigned-payload-accepted", Verdict.DIFFERS, f"HTTP {status} ({code})")
            return
        except BotoCoreError as exc:
            self.found("ingestion.unsigned-payload-accepted", Verdict.NOT_CHECKED, f"no answer ({type(exc).__name__})")
            return
        self.exchanges.append(Exchange("ingestion-unsigned-part", "PUT", path + query, None, 200, {}, None, "stored"))
        self.found(
            "ingestion.unsigned-payload-accepted", Verdict.AGREES, "HTTP 200 for a part sent as UNSIGNED-PAYLOAD"
        )

    def check_dates(self) -> None:
        """``dates.epoch-milliseconds`` over every date the other probes saw."""
        if not self.dates:
            self.found("dates.epoch-milliseconds", Verdict.NOT_CHECKED, "no dates answered")
            return
        odd = [(s, v) for s, v in self.dates if not isinstance(v, int) or isinstance(v, bool) or v < MIN_EPOCH_MS]
        self.found(
            "dates.epoch-milliseconds",
            Verdict.DIFFERS if odd else Verdict.AGREES,
            f"{odd[0][0]} = {odd[0][1]!r}" if odd else f"{len(self.dates)} date(s), all epoch ms",
        )

    # --- waiting --------------------------------------------------------------------------------

    def wait_push_job(self, job_id: str) -> Answer:
        """Poll a push job until it ends or ``wait_timeout`` passes; the last answer."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            answer = self.call("push-job", endpoints.push_job(self.pool_id, job_id))
            status = PushJobStatus.parse((answer.body or {}).get("status") if isinstance(answer.body, dict) else None)
            if status.is_terminal or time.monotonic() >= deadline:
                return answer
            time.sleep(self.poll_interval)


def _when(epoch_ms: float) -> str:
    try:
        return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return repr(epoch_ms)


# --- write probes -------------------------------------------------------------------------------


def sample_table() -> Any:
    """Three rows with one column of every type a push takes (decimal goes as FLOAT with decimals)."""
    import decimal

    import pyarrow as pa

    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "amount": pa.array([1.5, -2.25, None], pa.float64()),
            "price": pa.array([decimal.Decimal("10.10"), decimal.Decimal("0.01"), None], pa.decimal128(10, 2)),
            "flag": pa.array([True, False, None], pa.bool_()),
            "day": pa.array([dt.date(2024, 1, 31), dt.date(1999, 12, 31), None], pa.date32()),
            "at_time": pa.array([dt.time(12, 30, 1), dt.time(0, 0), None], pa.time64("us")),
            "created_at": pa.array(
                [dt.datetime(2024, 1, 31, 12, 30, 1, 123000), dt.datetime(2000, 1, 1), None], pa.timestamp("us")
            ),
            "label": pa.array(["conformance", "ä ü ß", None], pa.string()),
        }
    )


def chunk_bytes(table: Any, timestamps: str) -> bytes:
    """The table as a Data Push parquet chunk with ``int96`` or ``int64_us`` timestamps."""
    import pyarrow.parquet as pq

    from airflow_provider_celonis.push.encoding import DATA_PUSH_PARQUET

    sink = io.BytesIO()
    pq.write_table(table, sink, **DATA_PUSH_PARQUET.with_timestamps(timestamps).writer_options())
    return sink.getvalue()


def table_schema(table: Any, name: str) -> dict[str, Any]:
    """The ``tableSchema`` the push operator would declare for ``table``."""
    from airflow_provider_celonis.push.schema import celonis_column, max_string_bytes, normalize_batch

    table = normalize_batch(table)
    lengths = max_string_bytes(table)
    return {"tableName": name, "columns": [celonis_column(f, lengths.get(f.name)) for f in table.schema]}


@dataclass
class PushRun:
    """One test push job: its id and whether its submit was accepted."""

    job_id: str | None
    submitted: bool = False


def run_write_probes(
    probe: Probe, scratch_table: str, pool_tables: list[dict[str, Any]], overwrite: bool, double_start: bool
) -> None:
    """Push into the scratch table (at most 3 submits) and, with a data model, start a partial reload."""
    if not overwrite and any(str(t.get("name", "")).lower() == scratch_table.lower() for t in pool_tables):
        raise UsageError(
            f"--scratch-table {scratch_table!r} already exists in pool {probe.pool_id}: pick a new "
            "table name, or pass --overwrite to replace its data."
        )
    push_probes(probe, scratch_table)
    if probe.data_model_id:
        reload_probes(probe, double_start)
    else:
        for aid in ("load.partial-start-2xx", "load.partial-reload-completes", "load.second-start-runs-again"):
            probe.found(aid, Verdict.NOT_CHECKED, "needs --data-model")


def _create_job(probe: Probe, name: str, table: Any, timestamps: str) -> PushRun:
    """Create a REPLACE parquet job for the scratch table and add one chunk; the create answer is recorded."""
    hook, pool = probe.hook, probe.pool_id
    known = {job.id for job in hook.list_push_jobs(pool) if job.target_name == name}
    requested_at = int(time.time() * 1000)
    body = {
        "type": "REPLACE",
        "fileType": "PARQUET",
        "targetName": name,
        "dataPoolId": pool,
        "tableSchema": table_schema(table, name),
    }
    created = probe.call("push-create", endpoints.push_job_create(pool), json=body)
    if not created.ok:
        if "push.create-answers-json" not in probe.findings:
            probe.found("push.create-answers-json", Verdict.NOT_CHECKED, created.brief())
        return PushRun(None)
    if isinstance(created.body, dict) and created.body.get("id"):
        job_id = str(created.body["id"])
        probe.findings.setdefault(
            "push.create-answers-json",
            Finding("push.create-answers-json", Verdict.AGREES, f"HTTP {created.status}, JSON"),
        )
    else:
        probe.findings.setdefault(
            "push.create-answers-json",
            Finding("push.create-answers-json", Verdict.DIFFERS, f"HTTP {created.status} with no job in the body"),
        )
        try:
            job_id = find_created_push_job(hook.list_push_jobs(pool), name, known, requested_at).id
        except Exception as exc:  # noqa: BLE001 - recorded, the probe goes on
            probe.found("push.every-column-type-done", Verdict.NOT_CHECKED, f"job not found: {exc}")
            return PushRun(None)
    chunk = MultipartFileBody.from_bytes(chunk_bytes(table, timestamps), file_name=f"{timestamps}.parquet")
    added = probe.call("push-chunk", endpoints.push_job_chunks(pool, job_id), body=chunk)
    return PushRun(job_id if added.ok else None)


def _submit(probe: Probe, run: PushRun, label: str) -> Answer:
    from airflow_provider_celonis.pacing import wait_for_submission_slot

    wait_for_submission_slot(probe.hook.base_url)
    answer = probe.call(f"push-submit-{label}", endpoints.push_job(probe.pool_id, run.job_id or "", method="POST"))
    run.submitted = answer.ok
    return answer


def _job_status(answer: Answer) -> tuple[PushJobStatus, str]:
    body = answer.body if isinstance(answer.body, dict) else {}
    logs = body.get("logs") or []
    return PushJobStatus.parse(body.get("status")), str(logs[-1] if logs else "")[:120]


def push_probes(probe: Probe, name: str) -> None:
    """Two jobs: every column type with INT96 timestamps, then INT64 timestamps submitted right after it."""
    table = sample_table()
    first = _create_job(probe, name, table, "int96")
    second = _create_job(probe, name, table, "int64_us")
    if first.job_id is None or second.job_id is None:
        for aid in (
            "push.every-column-type-done",
            "push.int96-timestamps-accepted",
            "push.int64-timestamps-rejected",
            "push.rapid-submit-409",
        ):
            if aid not in probe.findings:
                probe.found(aid, Verdict.NOT_CHECKED, "the test jobs could not be prepared")
        _rate_limit_not_seen(probe)
        return
    first_submit = _submit(probe, first, "1")
    if first_submit.status == 429:
        _rate_limited(probe, first_submit)
        for aid in (
            "push.every-column-type-done",
            "push.int96-timestamps-accepted",
            "push.int64-timestamps-rejected",
            "push.rapid-submit-409",
        ):
            probe.found(aid, Verdict.NOT_CHECKED, "the first submit got 429; no further submit was made")
        return
    second_submit = _submit(probe, second, "2")
    if second_submit.status == 409:
        still_new = _job_status(probe.call("push-job", endpoints.push_job(probe.pool_id, second.job_id)))[0]
        probe.found(
            "push.rapid-submit-409",
            Verdict.AGREES if still_new is PushJobStatus.NEW else Verdict.DIFFERS,
            f"HTTP 409; the job is {still_new.value}",
        )
    elif second_submit.status == 429:
        probe.found("push.rapid-submit-409", Verdict.NOT_CHECKED, "HTTP 429 (rate limit) instead")
        _rate_limited(probe, second_submit)
    else:
        probe.found(
            "push.rapid-submit-409",
            Verdict.DIFFERS if second_submit.ok else Verdict.NOT_CHECKED,
            f"{second_submit.brief()} for a submit right after another",
        )
    if second_submit.status != 429:
        _rate_limit_not_seen(probe)
    first_status, first_log = (
        _job_status(probe.wait_push_job(first.job_id))
        if first.submitted
        else (PushJobStatus.UNKNOWN, first_submit.brief())
    )
    done = first_status is PushJobStatus.DONE
    probe.found(
        "push.every-column-type-done",
        Verdict.AGREES if done else Verdict.DIFFERS,
        f"{first_status.value}" + (f": {first_log}" if not done and first_log else ""),
    )
    timestamp_error = "timestamp" in first_log.lower() or "int96" in first_log.lower()
    probe.found(
        "push.int96-timestamps-accepted",
        Verdict.AGREES if done else Verdict.DIFFERS if timestamp_error else Verdict.NOT_CHECKED,
        f"{first_status.value}" + (f": {first_log}" if not done and first_log else ""),
    )
    if second_submit.status == 409 and first.submitted:
        time.sleep(probe.submit_spacing)  # the third and last submit, spaced as Celonis support advised
        third = _submit(probe, second, "3")
        if not third.ok:
            probe.found("push.int64-timestamps-rejected", Verdict.NOT_CHECKED, f"resubmit {third.brief()}")
            return
    elif not second.submitted:
        probe.found("push.int64-timestamps-rejected", Verdict.NOT_CHECKED, f"submit {second_submit.brief()}")
        return
    second_status, second_log = _job_status(probe.wait_push_job(second.job_id))
    rejected = second_status is PushJobStatus.ERROR
    probe.found(
        "push.int64-timestamps-rejected",
        Verdict.AGREES if rejected else Verdict.DIFFERS if second_status is PushJobStatus.DONE else Verdict.NOT_CHECKED,
        f"{second_status.value}" + (f": {second_log}" if second_log and rejected else ""),
    )


def _rate_limited(probe: Probe, answer: Answer) -> None:
    """Judge a 429: its wait in x-ratelimit-reset (the documented header); the hourly window on the full hour.

    The wait is read as the task reads it: from the headers, else from the body's "Please try again at".
    """
    retry_after, reset = answer.headers.get("retry-after"), answer.headers.get("x-ratelimit-reset")
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
    named = retry.server_advised_wait(answer.headers, content=str(detail or "").encode())
    probe.found(
        "push.429-names-reset",
        Verdict.AGREES if reset else Verdict.DIFFERS,
        f"x-ratelimit-reset {reset!r}, Retry-After {retry_after!r}, body {str(detail or '')[:120]!r}",
    )
    if named is None:
        probe.found("push.hourly-window-on-the-hour", Verdict.NOT_CHECKED, "the 429 names no wait")
        return
    wait = named
    if wait <= 1:
        probe.found("push.hourly-window-on-the-hour", Verdict.NOT_CHECKED, "the per-second limit, not the hourly one")
        return
    ends = time.time() + wait
    off = min(ends % 3600, 3600 - ends % 3600)
    probe.found(
        "push.hourly-window-on-the-hour",
        Verdict.AGREES if off <= ON_THE_HOUR_TOLERANCE_S else Verdict.DIFFERS,
        f"wait {wait:g} s, ends {_when(ends * 1000)}",
    )


def _rate_limit_not_seen(probe: Probe) -> None:
    for aid in ("push.429-names-reset", "push.hourly-window-on-the-hour"):
        if aid not in probe.findings:
            probe.found(aid, Verdict.NOT_CHECKED, "no 429 seen (the probe does not spend the hourly budget)")


def reload_probes(probe: Probe, double_start: bool) -> None:
    """A partial reload of the data model's first table; with ``double_start`` a second start right after it."""
    pool, dm = probe.pool_id, probe.data_model_id or ""
    tables = probe.call("data-model-tables", endpoints.data_model_tables(pool, dm))
    rows = tables.body if tables.ok and isinstance(tables.body, list) else []
    if not rows or not isinstance(rows[0], dict) or not rows[0].get("id"):
        for aid in ("load.partial-start-2xx", "load.partial-reload-completes", "load.second-start-runs-again"):
            probe.found(aid, Verdict.NOT_CHECKED, f"no table to reload ({tables.brief()})")
        return
    table_id = str(rows[0]["id"])
    before = probe.hook.get_last_load(pool, dm)
    started = probe.call("partial-sync", endpoints.data_model_partial_load(pool, dm), json=[table_id])
    probe.found(
        "load.partial-start-2xx",
        Verdict.AGREES if started.ok else Verdict.DIFFERS,
        f"{started.brief()} for table {rows[0].get('name')!r}",
    )
    if not started.ok:
        probe.found("load.partial-reload-completes", Verdict.NOT_CHECKED, "the start was refused")
        probe.found("load.second-start-runs-again", Verdict.NOT_CHECKED, "the start was refused")
        return
    if double_start:
        again = probe.call("partial-sync-again", endpoints.data_model_partial_load(pool, dm), json=[table_id])
        probe.found(
            "load.second-start-runs-again",
            Verdict.AGREES if again.ok else Verdict.DIFFERS if again.status == 409 else Verdict.NOT_CHECKED,
            f"{again.brief()} for a second start while the first runs",
        )
    else:
        probe.found("load.second-start-runs-again", Verdict.NOT_CHECKED, "needs --probe-double-start")
    deadline = time.monotonic() + probe.wait_timeout
    while True:
        load = probe.hook.get_last_load(pool, dm)
        fresh = load is not None and (before is None or load.load_id != before.load_id)
        if (fresh and load.status.is_terminal) or time.monotonic() >= deadline:
            break
        time.sleep(probe.poll_interval)
    last = probe.call("last-load-after", endpoints.data_model_last_load(pool, dm))
    if not fresh or load is None:
        probe.found(
            "load.partial-reload-completes",
            Verdict.DIFFERS,
            f"no new load in last-load within {probe.wait_timeout:g} s ({last.brief()})",
        )
        return
    good = load.status.is_terminal and load.status is LoadStatus.SUCCESS and load.load_type.value == "PARTIAL"
    probe.found(
        "load.partial-reload-completes",
        Verdict.AGREES if good else Verdict.DIFFERS,
        f"{load.status.value}, loadType {load.load_type.value}" + (f": {load.message}" if load.message else ""),
    )
