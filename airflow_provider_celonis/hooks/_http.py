"""What the sync and async hooks share: the User-Agent, and turning an error response into an exception."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from airflow_provider_celonis.auth import CelonisAuth
from airflow_provider_celonis.endpoints import Endpoint
from airflow_provider_celonis.exceptions import CelonisApiError, CelonisAuthError
from airflow_provider_celonis.retry import RetryPolicy

log = logging.getLogger("airflow_provider_celonis.hooks")

_SUPPORT_ID = re.compile(r"support\s*id\W{0,3}([A-Za-z0-9][A-Za-z0-9_-]{3,})", re.IGNORECASE)
_MAX_DETAIL_CHARS = 500


def user_agent() -> str:
    """``airflow-provider-celonis/<version> apache-airflow/<version>``."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "unknown"

    return f"airflow-provider-celonis/{version('airflow-provider-celonis')} apache-airflow/{version('apache-airflow')}"


def _short(text: Any) -> str | None:
    if text is None:
        return None
    text = str(text).strip()
    return text if len(text) <= _MAX_DETAIL_CHARS else text[:_MAX_DETAIL_CHARS] + "…"


def error_from_response(
    method: str, path: str, status: int, headers: Mapping[str, str], content: bytes, reason: str | None = None
) -> CelonisApiError:
    """Build the exception for an error response, reading every error envelope Celonis is known to use."""
    text = content.decode("utf-8", errors="replace") if content else ""
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = None
    title = detail = error_code = support_id = None
    if isinstance(body, dict):
        title = body.get("title") or body.get("shortMessage") or body.get("frontendErrorKey") or body.get("error")
        detail = body.get("detail") or body.get("message") or body.get("errorInformation")
        if detail is None and isinstance(body.get("errors"), list):  # ValidationExceptionDescriptor
            detail = "; ".join(f"{e.get('attribute')}: {e.get('error')}" for e in body["errors"] if isinstance(e, dict))
        error_code = body.get("errorCode")
        support_id = body.get("supportId") or body.get("reference")
    elif isinstance(body, str):
        detail = body
    elif text and not text.lstrip().startswith("<"):
        detail = text
    if support_id is None:
        match = _SUPPORT_ID.search(text) or _SUPPORT_ID.search(headers.get("x-celonis-support-id", ""))
        support_id = match.group(1) if match else headers.get("x-celonis-support-id")
    cls = CelonisAuthError if status in (401, 403) else CelonisApiError
    return cls(
        method=method,
        path=path,
        status_code=status,
        title=_short(title),
        detail=_short(detail),
        error_code=_short(error_code),
        support_id=_short(support_id),
        reason=reason,
    )


def parse_json(content: bytes) -> Any:
    """The JSON body, or None for an empty body (Celonis answers many POSTs with no body)."""
    if not content or not content.strip():
        return None
    return json.loads(content)


class RequestAttempts:
    """The attempts of one request: after each failure, say how long to wait before the next, or raise.

    Both hooks drive their (sync or async) loops with it, so they retry, refresh tokens and fail alike.
    """

    def __init__(self, policy: RetryPolicy, endpoint: Endpoint, auth: CelonisAuth) -> None:
        self.policy = policy
        self.endpoint = endpoint
        self.auth = auth
        self.number = 0
        self._refreshed_token = False

    def next(self) -> int:
        """Start the next attempt; returns its number (1-based)."""
        self.number += 1
        return self.number

    def after_transport_error(self, exc: Exception, sent: bool) -> float:
        """Seconds to wait before repeating after a network error; raises when it must not be repeated.

        ``sent`` is False when the connection never opened (nothing reached Celonis).
        """
        name = type(exc).__name__
        if self.policy.should_retry_error(sent, self.endpoint.idempotent, self.number):
            return self._retry_in(self.policy.backoff(self.number), name)
        applied = "" if self.endpoint.idempotent or not sent else "; not repeated, it may have been applied"
        raise CelonisApiError(
            method=self.endpoint.method,
            path=self.endpoint.path,
            status_code=None,
            reason=f"{name} after {self.number} attempt(s){applied}",
        ) from None

    def after_response(
        self, status: int, headers: Mapping[str, str], content: bytes, reason: str | None, auth_header: str
    ) -> float | None:
        """None when the response is a success; else seconds to wait before the next attempt, or raise."""
        if status == 401 and self.auth.refreshable and not self._refreshed_token:
            # An OAuth token can be revoked or expire early: fetch one new token, once; not an attempt.
            self.auth.invalidate(auth_header)
            self._refreshed_token = True
            self.number -= 1
            return 0.0
        if status < 400:
            log.debug("Celonis %s %s -> %s", self.endpoint.method, self.endpoint.path, status)
            return None
        if self.policy.should_retry_status(status, self.endpoint.idempotent, self.number):
            return self._retry_in(self.policy.wait_for_response(headers, self.number, content), f"HTTP {status}")
        raise error_from_response(self.endpoint.method, self.endpoint.path, status, headers, content, reason)

    def _retry_in(self, wait: float, why: str) -> float:
        log.warning(
            "Celonis %s %s failed (%s); retrying in %.1f s (attempt %d of %d).",
            self.endpoint.method,
            self.endpoint.path,
            why,
            wait,
            self.number + 1,
            self.policy.max_attempts,
        )
        return wait
