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
from airflow_provider_celonis.hooks._http import error_from_response, parse_json, user_agent
from airflow_provider_celonis.models import DataJob, DataModelLoad, PushJob
from airflow_provider_celonis.retry import RetryPolicy

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
        retry_limit: int = 6,
        retry_delay: float = 1.0,
        max_retry_wait: float = 60.0,
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
        attempt = 0
        refreshed_token = False
        async with self._client(settings) as client:
            while True:
                attempt += 1
                header = await self._auth.aheader(client)
                try:
                    response = await client.request(
                        endpoint.method, endpoint.path, params=params, headers={"Authorization": header}
                    )
                except httpx.TransportError as exc:
                    sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                    if self.retry_policy.should_retry_error(sent, endpoint.idempotent, attempt):
                        wait = self.retry_policy.backoff(attempt)
                        self._log_retry(endpoint, type(exc).__name__, wait, attempt)
                        await asyncio.sleep(wait)
                        continue
                    raise CelonisApiError(
                        method=endpoint.method, path=endpoint.path, status_code=None,
                        reason=f"{type(exc).__name__} after {attempt} attempt(s)",
                    ) from None
                status = response.status_code
                if status == 401 and self._auth.refreshable and not refreshed_token:
                    self._auth.invalidate(header)
                    refreshed_token = True
                    attempt -= 1
                    continue
                if status >= 400:
                    if self.retry_policy.should_retry_status(status, endpoint.idempotent, attempt):
                        wait = self.retry_policy.wait_for_response(response.headers, attempt)
                        self._log_retry(endpoint, f"HTTP {status}", wait, attempt)
                        await asyncio.sleep(wait)
                        continue
                    raise error_from_response(
                        endpoint.method, endpoint.path, status, response.headers, response.content,
                        response.reason_phrase,
                    )
                return response.content

    def _log_retry(self, endpoint: Endpoint, why: str, wait: float, attempt: int) -> None:
        log.warning(
            "Celonis %s %s failed (%s); retrying in %.1f s (attempt %d of %d).",
            endpoint.method, endpoint.path, why, wait, attempt + 1, self.retry_policy.max_attempts,
        )

    async def get_last_load(self, pool_id: str, data_model_id: str) -> DataModelLoad | None:
        """The last load of a data model, or None when it was never loaded."""
        raw = parse_json(await self._request(endpoints.data_model_last_load(pool_id, data_model_id)))
        return DataModelLoad.from_api(raw) if raw else None

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
