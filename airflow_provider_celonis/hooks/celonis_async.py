"""CelonisAsyncHook: the status reads and cancels that triggers need, over ``httpx``, never blocking.

It shares endpoints, auth, error parsing and the retry policy with ``CelonisHook``; the connection
is fetched with the async-safe helper from ``common.compat`` (a sync lookup in the triggerer's event
loop has broken across Airflow 3.x releases).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

from airflow_provider_celonis import endpoints
from airflow_provider_celonis.auth import CelonisAuth
from airflow_provider_celonis.connection_settings import CelonisConnectionSettings
from airflow_provider_celonis.endpoints import Endpoint
from airflow_provider_celonis.exceptions import CelonisApiError
from airflow_provider_celonis.hooks._http import RequestAttempts, parse_json, user_agent
from airflow_provider_celonis.models import (
    MAX_FAILED_TASKS_REPORTED,
    DataJob,
    DataModelLoad,
    ExecutionLog,
    ExecutionLogMessage,
    LoadHistory,
    PushJob,
    choose_last_load,
    executions_from_api,
    failure_text,
    log_detail_params,
    needs_load_history,
)
from airflow_provider_celonis.retry import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT, MAX_RETRY_WAIT, RetryPolicy

log = logging.getLogger(__name__)


class CelonisAsyncHook:
    """Async twin of ``CelonisHook`` for status polling and cancelling inside triggers.

    :param celonis_conn_id: the Airflow connection (type ``celonis``).
    :param retry_limit: attempts per request for transient failures.
    :param retry_delay: first backoff wait in seconds.
    :param max_retry_wait: the longest single wait, also the cap on ``Retry-After``.
    """

    default_conn_name = "celonis_default"

    def __init__(
        self,
        celonis_conn_id: str = default_conn_name,
        *,
        retry_limit: int = DEFAULT_RETRY_LIMIT,
        retry_delay: float = DEFAULT_RETRY_DELAY,
        max_retry_wait: float = MAX_RETRY_WAIT,
    ) -> None:
        self.celonis_conn_id = celonis_conn_id
        self.retry_policy = RetryPolicy(max_attempts=retry_limit, base_delay=retry_delay, max_delay=max_retry_wait)
        self._settings: CelonisConnectionSettings | None = None
        self._auth: CelonisAuth | None = None

    async def get_settings(self) -> CelonisConnectionSettings:
        """The validated connection settings, looked up without blocking the event loop."""
        if self._settings is None:
            conn = await get_async_connection(self.celonis_conn_id)
            extras = await get_async_extra_dejson(conn)
            self._settings = CelonisConnectionSettings.from_connection(conn, extras)
            self._auth = CelonisAuth(self._settings)
            if self._settings.verify is False:
                log.warning(
                    "TLS certificate verification is OFF for Celonis connection %r: only do this for a "
                    "local emulator or a proxy you trust.",
                    self.celonis_conn_id,
                )
        return self._settings

    def _client(self, settings: CelonisConnectionSettings) -> httpx.AsyncClient:
        proxy = None
        if settings.proxies:
            proxy = settings.proxies.get("https") or settings.proxies.get("http")
        return httpx.AsyncClient(
            base_url=settings.base_url,
            timeout=settings.timeout,
            verify=settings.verify,
            proxy=proxy,
            headers={"User-Agent": user_agent(), "Accept": "application/json"},
        )

    async def _request(self, endpoint: Endpoint, *, params: dict[str, Any] | None = None) -> bytes:
        settings = await self.get_settings()
        assert self._auth is not None
        attempts = RequestAttempts(self.retry_policy, endpoint, self._auth)
        async with self._client(settings) as client:
            while True:
                attempts.next()
                header = await self._auth.aheader(client)
                try:
                    response = await client.request(
                        endpoint.method, endpoint.path, params=params, headers={"Authorization": header}
                    )
                except httpx.TransportError as exc:
                    sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                    await asyncio.sleep(attempts.after_transport_error(exc, sent=sent))
                    continue
                wait = attempts.after_response(
                    response.status_code, response.headers, response.content, response.reason_phrase, header
                )
                if wait is None:
                    return response.content
                await asyncio.sleep(wait)

    async def get_last_load(self, pool_id: str, data_model_id: str) -> DataModelLoad | None:
        """The last load of a data model, or None when it was never loaded (as ``CelonisHook.get_last_load``)."""
        try:
            raw = parse_json(await self._request(endpoints.data_model_last_load(pool_id, data_model_id)))
        except CelonisApiError as exc:
            if exc.status_code != 404:
                raise
            return choose_last_load(None, await self.get_load_history(pool_id, data_model_id))
        load = DataModelLoad.from_api(raw) if raw else None
        if not needs_load_history(load):
            return load
        try:
            history = await self.get_load_history(pool_id, data_model_id)
        except CelonisApiError:
            return load
        return choose_last_load(load, history)

    async def get_data_job_executions(
        self, pool_id: str, job_id: str, limit: int = 10, page: int = 0
    ) -> list[ExecutionLog]:
        """A data job's executions, newest first (items carry no message)."""
        return executions_from_api(
            parse_json(
                await self._request(
                    endpoints.data_job_executions(pool_id, job_id), params={"limit": limit, "page": page}
                )
            )
        )

    async def execution_failure_message(self, pool_id: str, job_id: str, execution_id: str) -> str:
        """Why an execution failed: its failed tasks and their ERROR log lines (as ``CelonisHook``)."""
        items = executions_from_api(
            parse_json(
                await self._request(
                    endpoints.execution_items(pool_id),
                    params={"executionId": execution_id, "type": "TASK", "id": job_id},
                )
            )
        )
        failed = []
        for item in [item for item in items if item.status.is_failure][:MAX_FAILED_TASKS_REPORTED]:
            raw = parse_json(
                await self._request(
                    endpoints.execution_log_messages(pool_id), params=log_detail_params(execution_id, item, ("ERROR",))
                )
            )
            failed.append(
                (
                    item.name or item.task_id or "?",
                    [ExecutionLogMessage.from_api(m) for m in (raw or {}).get("logMessages") or []],
                )
            )
        return failure_text(failed)

    async def get_load_history(self, pool_id: str, data_model_id: str) -> LoadHistory:
        """The current load, the earlier loads and the table row counts of a data model."""
        return LoadHistory.from_api(
            parse_json(await self._request(endpoints.data_model_load_history(pool_id, data_model_id)))
        )

    async def get_data_job(self, pool_id: str, job_id: str) -> DataJob:
        """The data job and the status of its latest execution."""
        return DataJob.from_api(parse_json(await self._request(endpoints.data_job_status(pool_id, job_id))) or {})

    async def get_push_job(self, pool_id: str, job_id: str) -> PushJob:
        """One Data Push job."""
        return PushJob.from_api(parse_json(await self._request(endpoints.push_job(pool_id, job_id))))

    async def cancel_data_model_load(self, pool_id: str, data_model_id: str) -> None:
        """Cancel the running load of a data model (best effort)."""
        await self._request(endpoints.data_model_cancel_load(pool_id, data_model_id))

    async def cancel_data_job(self, pool_id: str, job_id: str) -> None:
        """Cancel the running execution of a data job (best effort)."""
        await self._request(endpoints.data_job_cancel(pool_id, job_id))

    async def cancel_push_job(self, pool_id: str, job_id: str) -> None:
        """Cancel a push job that has not ended."""
        await self._request(endpoints.push_job_cancel(pool_id, job_id))
