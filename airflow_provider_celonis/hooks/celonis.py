"""CelonisHook: one method per Celonis endpoint the provider supports, over ``requests``.

The hook owns the base URL, authentication, timeouts, TLS, proxies and retries. It knows nothing
about Airflow tasks, XCom or context; operators call it and decide what a result means via
``airflow_provider_celonis.models``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import cached_property
from typing import IO, Any

import requests
from airflow.providers.common.compat.sdk import BaseHook
from requests.adapters import HTTPAdapter

from airflow_provider_celonis import endpoints
from airflow_provider_celonis.auth import CelonisAuth
from airflow_provider_celonis.connection_form import ui_field_behaviour
from airflow_provider_celonis.connection_settings import DEFAULT_TIMEOUT_SECONDS, CelonisConnectionSettings
from airflow_provider_celonis.endpoints import Endpoint
from airflow_provider_celonis.exceptions import (
    CelonisApiError,
    CelonisConnectionConfigError,
    CelonisError,
    CelonisNameNotFoundError,
    CelonisParameterError,
)
from airflow_provider_celonis.hooks._http import RequestAttempts, parse_json, user_agent
from airflow_provider_celonis.hooks._multipart import MultipartFileBody
from airflow_provider_celonis.models import (
    MAX_FAILED_TASKS_REPORTED,
    DataJob,
    DataJobMode,
    DataJobSelection,
    DataJobSummary,
    DataModel,
    DataModelExecution,
    DataModelLoad,
    DataModelTable,
    DataPool,
    ExecutionLog,
    ExecutionLogMessage,
    JobTask,
    LoadHistory,
    PoolTable,
    PushChunk,
    PushFileType,
    PushJob,
    PushJobStatus,
    PushType,
    choose_last_load,
    executions_from_api,
    failure_text,
    log_detail_params,
    needs_load_history,
)
from airflow_provider_celonis.pacing import wait_for_submission_slot
from airflow_provider_celonis.retry import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT, MAX_RETRY_WAIT, RetryPolicy

log = logging.getLogger(__name__)

# Retries are the hook's own (``retry.RetryPolicy``), not urllib3's (``max_retries=0``). The session keeps
# connection pools for up to 4 hosts (it talks to one: the team's, OAuth tokens included) and up to 8 open
# connections per host for reuse: the default 2 concurrent uploads plus status reads fit; with more uploads
# at once (up to 16) urllib3 opens extra connections and closes them after use.
HTTP_POOL_HOSTS = 4
HTTP_POOL_CONNECTIONS = 8


class CelonisHook(BaseHook):
    """Call the Celonis Platform API with the credential of an Airflow ``celonis`` connection.

    :param celonis_conn_id: the Airflow connection (type ``celonis``) holding the team URL and credential.
    :param retry_limit: attempts per request for transient failures (5xx, 429, network), at least 1.
    :param retry_delay: first backoff wait in seconds; doubles per attempt.
    :param max_retry_wait: the longest single wait, also the cap on ``Retry-After``.
    """

    conn_name_attr = "celonis_conn_id"
    default_conn_name = "celonis_default"
    conn_type = "celonis"
    hook_name = "Celonis"

    def __init__(
        self,
        celonis_conn_id: str = default_conn_name,
        *,
        retry_limit: int = DEFAULT_RETRY_LIMIT,
        retry_delay: float = DEFAULT_RETRY_DELAY,
        max_retry_wait: float = MAX_RETRY_WAIT,
    ) -> None:
        super().__init__()
        self.celonis_conn_id = celonis_conn_id
        self.retry_policy = RetryPolicy(max_attempts=retry_limit, base_delay=retry_delay, max_delay=max_retry_wait)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide connection form fields (Airflow 2 and UIs without ``conn-fields``)."""
        return ui_field_behaviour()

    # --- connection -----------------------------------------------------------------------------

    @cached_property
    def settings(self) -> CelonisConnectionSettings:
        """The validated connection settings (read once per hook)."""
        return CelonisConnectionSettings.from_connection(self.get_connection(self.celonis_conn_id))

    @cached_property
    def auth(self) -> CelonisAuth:
        """The credential of the connection."""
        return CelonisAuth(self.settings)

    @cached_property
    def session(self) -> requests.Session:
        """A pooled HTTP session with the connection's TLS, proxies and User-Agent."""
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=0, pool_connections=HTTP_POOL_HOSTS, pool_maxsize=HTTP_POOL_CONNECTIONS)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = user_agent()
        session.verify = self.settings.verify
        if self.settings.verify is False:
            log.warning(
                "TLS certificate verification is OFF for Celonis connection %r: only do this for a local "
                "emulator or a proxy you trust.",
                self.celonis_conn_id,
            )
        if self.settings.proxies:
            session.proxies.update(self.settings.proxies)
        return session

    @property
    def base_url(self) -> str:
        """The team URL, e.g. ``https://myteam.eu-1.celonis.cloud``."""
        return self.settings.base_url

    # --- transport ------------------------------------------------------------------------------

    def _request(
        self,
        endpoint: Endpoint,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        body: MultipartFileBody | None = None,
        policy: RetryPolicy | None = None,
    ) -> requests.Response:
        url = self.base_url + endpoint.path
        attempts = RequestAttempts(policy or self.retry_policy, endpoint, self.auth)
        while True:
            attempts.next()
            header = self.auth.header(self.session)
            headers = {"Authorization": header, "Accept": "application/json"}
            if body is not None:
                body.rewind()
                headers["Content-Type"] = body.content_type
            try:
                response = self.session.request(
                    endpoint.method,
                    url,
                    params=params,
                    json=json,
                    data=body,
                    headers=headers,
                    timeout=self.settings.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                time.sleep(attempts.after_transport_error(exc, sent=not _never_sent(exc)))
                continue
            wait = attempts.after_response(
                response.status_code, response.headers, response.content, response.reason, header
            )
            if wait is None:
                return response
            time.sleep(wait)

    def _json(self, endpoint: Endpoint, **kwargs: Any) -> Any:
        return parse_json(self._request(endpoint, **kwargs).content)

    def raw_response(
        self,
        endpoint: Endpoint,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        body: MultipartFileBody | None = None,
    ) -> requests.Response:
        """One request answered as it is, whatever its status: no retry, no error raised.

        For the conformance command, which records Celonis's raw answers; a 401 on an OAuth token is
        answered by fetching one new token, once, as ``_request`` does.
        """
        for attempt in (1, 2):
            header = self.auth.header(self.session)
            headers = {"Authorization": header, "Accept": "application/json"}
            if body is not None:
                body.rewind()
                headers["Content-Type"] = body.content_type
            response = self.session.request(
                endpoint.method,
                self.base_url + endpoint.path,
                params=params,
                json=json,
                data=body,
                headers=headers,
                timeout=self.settings.timeout,
            )
            if response.status_code != 401 or not self.auth.refreshable or attempt == 2:
                return response
            self.auth.invalidate(header)
        raise AssertionError("unreachable")  # pragma: no cover

    def raw_token_response(self) -> requests.Response | None:
        """The token endpoint's answer to a fresh client-credentials request; None unless the connection is OAuth.

        The cached token is left alone; the answer holds a new access token, so callers must redact it.
        """
        if not self.auth.refreshable:
            return None
        from airflow_provider_celonis.auth import TOKEN_REQUEST_TIMEOUT_SECONDS, OAuthTokenProvider

        form, headers = OAuthTokenProvider.for_settings(self.settings).request_parts()
        return self.session.post(
            self.settings.token_url, data=form, headers=headers, timeout=TOKEN_REQUEST_TIMEOUT_SECONDS
        )

    # --- connection test ------------------------------------------------------------------------

    def list_data_pools(self) -> list[DataPool]:
        """The data pools the credential can see."""
        return [DataPool.from_api(item) for item in self._json(endpoints.list_pools()) or []]

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated request; return ``(ok, message)`` with the reason."""
        try:
            pools = self.list_data_pools()
        except CelonisError as exc:
            return False, str(exc)
        except Exception as exc:  # noqa: BLE001 - the UI shows the message, never a traceback
            return False, f"{type(exc).__name__}: {exc}"
        auth = self.settings.auth_type.value
        return True, f"Connected to {self.base_url} with {auth}; {len(pools)} data pool(s) visible."

    # --- process data models --------------------------------------------------------------------

    def get_data_model_tables(self, pool_id: str, data_model_id: str) -> list[DataModelTable]:
        """The tables of a data model."""
        raw = self._json(endpoints.data_model_tables(pool_id, data_model_id)) or []
        return [DataModelTable.from_api(item) for item in raw]

    def resolve_table_ids(self, pool_id: str, data_model_id: str, tables: Iterable[str]) -> list[str]:
        """Turn table ids, names or aliases into table ids; an unknown one fails and lists what exists."""
        wanted = [str(t).strip() for t in tables]
        if not wanted or any(not t for t in wanted):
            raise CelonisParameterError(f"tables must be a non-empty list of table ids or names, not {list(tables)!r}.")
        known = self.get_data_model_tables(pool_id, data_model_id)
        by_id = {t.id: t.id for t in known}
        by_name: dict[str, set[str]] = {}
        for table in known:
            for label in {table.name, table.alias_or_name, table.alias}:
                if label:
                    by_name.setdefault(label.lower(), set()).add(table.id)
        resolved: list[str] = []
        missing: list[str] = []
        for item in wanted:
            if item in by_id:
                resolved.append(item)
                continue
            ids = by_name.get(item.lower(), set())
            if len(ids) == 1:
                resolved.append(next(iter(ids)))
            elif len(ids) > 1:
                raise CelonisNameNotFoundError(
                    f"Table name {item!r} matches {len(ids)} tables of data model {data_model_id}: "
                    f"use one of the ids {sorted(ids)}."
                )
            else:
                missing.append(item)
        if missing:
            names = sorted({t.alias_or_name for t in known} | {t.name for t in known})
            raise CelonisNameNotFoundError(
                f"Data model {data_model_id} in pool {pool_id} has no table {', '.join(map(repr, missing))}. "
                f"Tables it has: {', '.join(names) or '(none)'}."
            )
        return list(dict.fromkeys(resolved))

    def trigger_data_model_load(self, pool_id: str, data_model_id: str, *, full_reload: bool | None = None) -> None:
        """Start a complete load of a data model; ``full_reload=False`` reloads from cache (``fullReload=false``)."""
        params = _full_reload_params(full_reload)
        self._request(endpoints.data_model_load(pool_id, data_model_id), params=params)

    def trigger_partial_data_model_load(
        self, pool_id: str, data_model_id: str, table_ids: Sequence[str], *, full_reload: bool | None = None
    ) -> None:
        """Start a partial load: the given table ids completely, the rest from cache.

        ``full_reload`` is sent as the ``fullReload`` query parameter when given (None sends nothing).
        """
        if not table_ids:
            raise CelonisParameterError("A partial load needs at least one table id.")
        params = _full_reload_params(full_reload)
        self._request(endpoints.data_model_partial_load(pool_id, data_model_id), json=list(table_ids), params=params)

    def get_load_history(self, pool_id: str, data_model_id: str) -> LoadHistory:
        """The current load, the earlier loads and the table row counts of a data model (undocumented endpoint)."""
        return LoadHistory.from_api(self._json(endpoints.data_model_load_history(pool_id, data_model_id)))

    def get_last_load(self, pool_id: str, data_model_id: str) -> DataModelLoad | None:
        """The last load of a data model, or None when it was never loaded.

        When last-load is missing (404) or unclear (no body, no status), the load history decides: a 404
        from a model whose history answers means "never loaded"; a 404 from both is an unknown model.
        """
        try:
            load = (
                DataModelLoad.from_api(raw)
                if (raw := self._json(endpoints.data_model_last_load(pool_id, data_model_id)))
                else None
            )
        except CelonisApiError as exc:
            if exc.status_code != 404:
                raise
            return choose_last_load(None, self.get_load_history(pool_id, data_model_id))
        if not needs_load_history(load):
            return load
        try:
            history = self.get_load_history(pool_id, data_model_id)
        except CelonisApiError:
            log.debug("No load history for data model %s; keeping last-load's answer.", data_model_id)
            return load
        return choose_last_load(load, history)

    def cancel_data_model_load(self, pool_id: str, data_model_id: str) -> None:
        """Cancel the running load of a data model (undocumented endpoint; best effort)."""
        self._request(endpoints.data_model_cancel_load(pool_id, data_model_id))

    # --- discovery ------------------------------------------------------------------------------

    def list_data_models(self, pool_id: str) -> list[DataModel]:
        """The data models of a pool (undocumented endpoint)."""
        return [DataModel.from_api(item) for item in self._json(endpoints.list_data_models(pool_id)) or []]

    def list_data_jobs(self, pool_id: str) -> list[DataJobSummary]:
        """The data jobs of a pool (undocumented endpoint)."""
        return [DataJobSummary.from_api(item) for item in self._json(endpoints.list_data_jobs(pool_id)) or []]

    def list_pool_tables(self, pool_id: str) -> list[PoolTable]:
        """The tables stored in a pool, with their columns (undocumented endpoint)."""
        return [PoolTable.from_api(item) for item in self._json(endpoints.list_pool_tables(pool_id)) or []]

    def list_data_job_tasks(self, pool_id: str, job_id: str) -> list[JobTask]:
        """The tasks of a data job: extractions and transformations, by id and name (undocumented endpoint)."""
        return [JobTask.from_api(item) for item in self._json(endpoints.data_job_tasks(pool_id, job_id)) or []]

    def list_data_job_loads(self, pool_id: str, job_id: str) -> list[DataModelExecution]:
        """The data model loads inside a data job, with their tables (undocumented endpoint)."""
        raw = self._json(endpoints.data_job_loads(pool_id, job_id)) or []
        return [DataModelExecution.from_api(item) for item in raw]

    # --- data jobs ------------------------------------------------------------------------------

    def execute_data_job_subset(self, pool_id: str, job_id: str, selection: DataJobSelection) -> None:
        """Execute only the chosen extractions, transformations and data model loads of a data job.

        Celonis answers 204 with no execution id, like a plain execute; an unknown task id is a 400.
        """
        if not isinstance(selection, DataJobSelection):
            raise CelonisParameterError(f"selection must be a DataJobSelection, not {type(selection).__name__}.")
        self._request(endpoints.data_job_execute_subset(pool_id, job_id), json=selection.to_body())

    def execute_data_job(self, pool_id: str, job_id: str, mode: str | DataJobMode = DataJobMode.DELTA) -> None:
        """Execute a data job in FULL or DELTA mode (Celonis returns no execution id)."""
        parsed = DataJobMode.parse(mode)
        self._request(endpoints.data_job_execute(pool_id, job_id), params={"mode": parsed.value})

    def get_data_job(self, pool_id: str, job_id: str) -> DataJob:
        """The data job and the status of its latest execution."""
        return DataJob.from_api(self._json(endpoints.data_job_status(pool_id, job_id)) or {})

    def cancel_data_job(self, pool_id: str, job_id: str) -> None:
        """Cancel the running execution of a data job (undocumented endpoint; best effort)."""
        self._request(endpoints.data_job_cancel(pool_id, job_id))

    def get_data_job_executions(self, pool_id: str, job_id: str, limit: int = 10, page: int = 0) -> list[ExecutionLog]:
        """A data job's executions, newest first (undocumented endpoint; items carry no message)."""
        raw = self._json(endpoints.data_job_executions(pool_id, job_id), params={"limit": limit, "page": page})
        return executions_from_api(raw)

    def get_job_statuses(self, pool_id: str) -> list[dict[str, Any]]:
        """``logs/status``: ``{id, status, lastExecutionStartDate}`` of every data job of a pool (undocumented)."""
        return list(self._json(endpoints.job_statuses(pool_id)) or [])

    def get_execution_items(
        self, pool_id: str, job_id: str, execution_id: str, item_type: str = "TASK"
    ) -> list[ExecutionLog]:
        """The items of one execution of a data job (its tasks for ``TASK``)."""
        raw = self._json(
            endpoints.execution_items(pool_id), params={"executionId": execution_id, "type": item_type, "id": job_id}
        )
        return executions_from_api(raw)

    def get_execution_log(
        self, pool_id: str, execution_id: str, item: ExecutionLog, levels: Sequence[str] = ("ERROR",)
    ) -> list[ExecutionLogMessage]:
        """The log lines of one execution item (a task), at the given levels."""
        raw = self._json(
            endpoints.execution_log_messages(pool_id), params=log_detail_params(execution_id, item, levels)
        )
        return [ExecutionLogMessage.from_api(m) for m in (raw or {}).get("logMessages") or []]

    def execution_failure_message(self, pool_id: str, job_id: str, execution_id: str) -> str:
        """Why an execution failed, read as Celonis's own client does: executions -> failed tasks -> their logs."""
        failed = [item for item in self.get_execution_items(pool_id, job_id, execution_id) if item.status.is_failure]
        return failure_text(
            [
                (item.name or item.task_id or "?", self.get_execution_log(pool_id, execution_id, item))
                for item in failed[:MAX_FAILED_TASKS_REPORTED]
            ]
        )

    # --- Data Push API ------------------------------------------------------------------------

    def create_push_job(
        self,
        pool_id: str,
        target_name: str,
        *,
        push_type: str | PushType = PushType.REPLACE,
        file_type: str | PushFileType = PushFileType.PARQUET,
        connection_id: str | None = None,
        keys: Sequence[str] | None = None,
        table_schema: dict[str, Any] | None = None,
        csv_parsing_options: dict[str, Any] | None = None,
        fallback_varchar_length: int | None = None,
        upsert_strategy: str | None = None,
    ) -> PushJob:
        """Create a Data Push job for ``target_name``; chunks are added to it next."""
        if not str(target_name).strip():
            raise CelonisParameterError("target_name must name the table to push into.")
        body: dict[str, Any] = {
            "type": PushType.parse(push_type).value,
            "fileType": PushFileType.parse(file_type).value,
            "targetName": target_name,
            "dataPoolId": pool_id,
        }
        optional = {
            "connectionId": connection_id,
            "keys": list(keys) if keys else None,
            "tableSchema": table_schema,
            "csvParsingOptions": csv_parsing_options,
            "fallbackVarcharLength": fallback_varchar_length,
            "upsertStrategy": upsert_strategy,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        # The Data Push OpenAPI lists 204 (no body) for create: then the job is found in the job list,
        # as the one NEW job for this table that did not exist before the request.
        known = {job.id for job in self.list_push_jobs(pool_id) if job.target_name == target_name}
        requested_at_ms = int(time.time() * 1000)
        raw = self._json(endpoints.push_job_create(pool_id), json=body)
        if raw:
            return PushJob.from_api(raw)
        return find_created_push_job(self.list_push_jobs(pool_id), target_name, known, requested_at_ms)

    def list_push_jobs(self, pool_id: str) -> list[PushJob]:
        """All Data Push jobs of a pool."""
        return [PushJob.from_api(item) for item in self._json(endpoints.push_job_list(pool_id)) or []]

    def get_push_job(self, pool_id: str, job_id: str) -> PushJob:
        """One Data Push job."""
        return PushJob.from_api(self._json(endpoints.push_job(pool_id, job_id)))

    def list_push_chunks(self, pool_id: str, job_id: str) -> list[PushChunk]:
        """The chunks added to a push job so far."""
        raw = self._json(endpoints.push_job_chunks(pool_id, job_id, method="GET")) or []
        return [PushChunk.from_api(item) for item in raw]

    def add_push_chunk(
        self,
        pool_id: str,
        job_id: str,
        data: bytes | str | os.PathLike[str] | IO[bytes],
        *,
        file_name: str = "chunk.parquet",
        kind: str = "upserted",
    ) -> None:
        """Add one chunk (bytes, a file path or a binary file object; < 1 GB) to a NEW push job.

        The body is streamed, never copied. The upload is not repeated after an ambiguous failure
        (the chunk may have been stored); callers check ``list_push_chunks`` before resending.
        """
        if isinstance(data, bytes | bytearray):
            body = MultipartFileBody.from_bytes(bytes(data), file_name=file_name)
        elif isinstance(data, str | os.PathLike):
            body = MultipartFileBody.from_path(data, file_name=file_name)
        else:
            start = data.tell()
            data.seek(0, os.SEEK_END)
            size = data.tell() - start
            data.seek(start)
            body = MultipartFileBody(data, size, file_name=file_name)
        try:
            self._request(endpoints.push_job_chunks(pool_id, job_id, kind), body=body)
        finally:
            if not hasattr(data, "read"):
                body.close()

    def execute_push_job(self, pool_id: str, job_id: str) -> None:
        """Submit a push job: Celonis applies its chunks (rate limited per team: 10/s, 250/h).

        Submissions from this process are paced to 10 per second. A refusal that names a wait (429 with
        ``Retry-After`` / ``x-ratelimit-reset``) is not slept here: it raises ``ServerAskedToWait`` (the
        hourly window can ask for up to an hour; the caller knows whether that fits its timeout).
        """
        wait_for_submission_slot(self.base_url)
        self._request(
            endpoints.push_job(pool_id, job_id, method="POST"),
            policy=replace(self.retry_policy, defer_advised_waits=True),
        )

    def cancel_push_job(self, pool_id: str, job_id: str) -> None:
        """Cancel a push job that has not ended."""
        self._request(endpoints.push_job_cancel(pool_id, job_id))

    def delete_push_job(self, pool_id: str, job_id: str) -> None:
        """Delete a push job."""
        self._request(endpoints.push_job(pool_id, job_id, method="DELETE"))

    # --- Standard Data Ingestion API (S3-compatible) --------------------------------------------

    def get_ingestion_client(
        self,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str | None = None,
        sign_payload: bool | None = None,
    ) -> Any:
        """A boto3 S3 client for ``<team URL>/api/data-ingestion`` (path-style, SigV4).

        The access key and secret are those of the "Push data into Celonis" data connection; by
        default they come from the connection extras ``ingestion_access_key_id`` and
        ``ingestion_secret_access_key``. ``sign_payload`` (default: the extra ``ingestion_sign_payload``)
        False sends bodies as UNSIGNED-PAYLOAD.
        """
        import boto3
        from botocore.config import Config

        key_id = access_key_id or self.settings.ingestion_access_key_id
        secret = secret_access_key or self.settings.ingestion_secret_access_key
        if not key_id or not secret:
            raise CelonisConnectionConfigError(
                f"No Standard Data Ingestion credentials: pass access_key_id and secret_access_key, or set "
                f"ingestion_access_key_id and ingestion_secret_access_key in the extra of {self.celonis_conn_id!r}."
            )
        if not region and not self.settings.aws_region_is_known:
            self.log.warning(
                "No AWS region is known for Celonis realm %r: Standard Data Ingestion requests are signed for %s. "
                "If Celonis refuses the signature, set the connection extra ingestion_region (%s).",
                self.settings.team_url.realm,
                self.settings.aws_region,
                self.celonis_conn_id,
            )
        config = Config(
            signature_version="s3v4",
            # The payload is signed (botocore hashes each body: one more read of it) unless the connection says
            # ingestion_sign_payload: false (UNSIGNED-PAYLOAD, as the AWS SDKs send over https by default).
            s3={
                "addressing_style": "path",
                "payload_signing_enabled": self.settings.ingestion_sign_payload
                if sign_payload is None
                else sign_payload,
            },
            retries={"mode": "standard", "max_attempts": self.retry_policy.max_attempts},
            # boto3 has no "no timeout": a connection without one (timeout: null) gets the default.
            connect_timeout=self.settings.timeout or DEFAULT_TIMEOUT_SECONDS,
            read_timeout=self.settings.timeout or DEFAULT_TIMEOUT_SECONDS,
            # Plain PutObject bodies: whether the gateway takes aws-chunked trailers is unknown [guess].
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            proxies=self.settings.proxies,
            user_agent_extra=user_agent(),
        )
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.base_url + endpoints.INGESTION_PATH,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            region_name=region or self.settings.aws_region,
            verify=self.settings.verify,
            config=config,
        )

    def upload_ingestion_file(
        self,
        local_path: str | os.PathLike[str],
        connection_id: str,
        table: str,
        *,
        file_name: str | None = None,
        client: Any = None,
        multipart_threshold: int | None = None,
    ) -> str:
        """Upload one parquet file to ``s3://continuous/connection/<connectionId>/<table>/<file>``.

        The operators' uploader (``push.ingestion.ObjectUploader``) sends it: a file above
        ``multipart_threshold`` bytes (default 64 MiB) goes up as a multipart upload, or as one PutObject
        when the endpoint refuses multipart. Returns the object key. The endpoint takes uncompressed parquet
        only: a compressed file fails here, before any request (S3 would accept it and Celonis's processing
        would then drop it); ``CelonisIngestFilesOperator`` re-encodes such files.
        """
        import pyarrow.parquet as pq

        from airflow_provider_celonis.push.encoding import INGESTION_PARQUET
        from airflow_provider_celonis.push.ingestion import DEFAULT_MULTIPART_BYTES, ObjectUploader

        try:
            mismatch = INGESTION_PARQUET.mismatch(pq.read_metadata(os.fspath(local_path)))
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise CelonisError(f"{os.fspath(local_path)!r} is not a readable parquet file: {exc}") from None
        if mismatch:
            raise CelonisError(
                f"{os.fspath(local_path)!r} cannot go to Standard Data Ingestion as it is: {mismatch}, and the "
                "endpoint takes uncompressed parquet files only. Write it with compression='none' (pyarrow: "
                "pq.write_table(table, path, compression='none')), or upload it with CelonisIngestFilesOperator, "
                "which re-encodes it. Nothing was uploaded."
            )

        uploader = ObjectUploader(
            client or self.get_ingestion_client(),
            connection_id,
            table,
            concurrency=1,  # one file; its parts go up one after another
            multipart_threshold=DEFAULT_MULTIPART_BYTES if multipart_threshold is None else multipart_threshold,
            log=log,
        )
        key = uploader.key(file_name or os.path.basename(os.fspath(local_path)))
        uploader.put(os.fspath(local_path), key)  # S3 failures become CelonisApiError (``_ingestion_error``)
        return key

    # --- Celonis UI links -----------------------------------------------------------------------

    def data_pool_url(self, pool_id: str) -> str:
        """The Celonis UI page of a data pool."""
        return endpoints.ui_data_pool(self.base_url, pool_id)

    def data_model_url(self, pool_id: str, data_model_id: str) -> str:
        """The Celonis UI page of a process data model."""
        return endpoints.ui_data_model(self.base_url, pool_id, data_model_id)

    def data_job_url(self, pool_id: str, job_id: str) -> str:
        """The Celonis UI page of a data job."""
        return endpoints.ui_data_job(self.base_url, pool_id, job_id)


def _full_reload_params(full_reload: bool | None) -> dict[str, str] | None:
    """``{"fullReload": "true"|"false"}``, or None when not given; a non-bool fails before any request."""
    if full_reload is None:
        return None
    if not isinstance(full_reload, bool):
        raise CelonisParameterError(f"full_reload must be True, False or None, not {full_reload!r}.")
    return {endpoints.FULL_RELOAD_PARAM: "true" if full_reload else "false"}


# A job created this long before our request (by the server's clock) is not ours, whatever our clock says.
CREATED_JOB_CLOCK_SKEW_MS = 5 * 60 * 1000


def find_created_push_job(jobs: Sequence[PushJob], target_name: str, known: set[str], requested_at_ms: int) -> PushJob:
    """The push job an empty create answer made; exactly one, else an error (never a guess).

    It is NEW, for ``target_name``, not in ``known`` (listed before the request) and not older than the
    request by the server's ``creationDate`` (allowing for clock skew).
    """

    def created(job: PushJob) -> int | None:
        value = job.raw.get("creationDate")
        return value if isinstance(value, int) else None

    candidates = [
        job
        for job in jobs
        if job.target_name == target_name
        and job.status is PushJobStatus.NEW
        and job.id not in known
        and (created(job) is None or created(job) >= requested_at_ms - CREATED_JOB_CLOCK_SKEW_MS)
    ]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise CelonisError(
            f"Celonis answered the push job creation for {target_name!r} without a body, and no new "
            "NEW job for that table appears in the job list; nothing was pushed."
        )
    ids = ", ".join(job.id for job in candidates)
    raise CelonisError(
        f"Celonis answered the push job creation for {target_name!r} without a body, and "
        f"{len(candidates)} new NEW jobs for that table appeared ({ids}): "
        "another client is pushing into the same table at the same time; push to one table from "
        "one task at a time. Nothing was pushed."
    )


def _ingestion_error(exc: BaseException, key: str) -> CelonisApiError:
    """Turn a boto3 upload failure into the provider's error, with the S3 error code and message."""
    from botocore.exceptions import ClientError

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ClientError):
        cause = cause.__cause__ or cause.__context__
    path = f"{endpoints.INGESTION_PATH}/{endpoints.INGESTION_BUCKET}/{key}"
    if isinstance(cause, ClientError):
        error = cause.response.get("Error", {})
        status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        hint = ""
        if error.get("Code") in ("SignatureDoesNotMatch", "InvalidAccessKeyId"):
            hint = " (check the ingestion access key and secret of the data connection)"
        return CelonisApiError(
            method="PUT",
            path=path,
            status_code=status,
            title=error.get("Code"),
            detail=(error.get("Message") or "") + hint,
        )
    return CelonisApiError(method="PUT", path=path, status_code=None, reason=f"{type(exc).__name__}: {exc}")


def _never_sent(exc: BaseException) -> bool:
    """Whether a transport error happened before the request reached the server (safe to repeat)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if type(current).__name__ in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError"):
            return True
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return False
