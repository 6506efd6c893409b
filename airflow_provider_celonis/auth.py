"""Authorization headers for the three Celonis credential kinds.

- API key: ``Authorization: Bearer <key>``
- application key: ``Authorization: AppKey <key>``
- OAuth 2.0 client credentials: a token from ``<team>/oauth2/token``, cached until shortly before it
  expires, shared by every hook in the process, refreshed once when Celonis answers 401, and masked
  in Airflow logs as soon as it is minted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests

from airflow_provider_celonis.connection_settings import AuthType, CelonisConnectionSettings
from airflow_provider_celonis.exceptions import CelonisAuthError

# Refresh a token this many seconds before Celonis says it expires.
TOKEN_REFRESH_MARGIN_SECONDS = 60.0
TOKEN_REQUEST_TIMEOUT_SECONDS = 30.0
# A token's lifetime when the token answer has no usable ``expires_in``: the 899 s Celonis answers
# (docs example and Celonis's client, see the API contract).
DEFAULT_TOKEN_LIFETIME_SECONDS = 899.0


def mask(value: str) -> None:
    """Register a minted secret with Airflow's log masker (best effort outside a task)."""
    try:
        from airflow.providers.common.compat.sdk import mask_secret

        mask_secret(value)
    except Exception:  # noqa: BLE001 - masking must never break a request
        pass


@dataclass
class _Token:
    value: str = field(repr=False)
    expires_at: float

    def fresh(self, now: float) -> bool:
        return now < self.expires_at - TOKEN_REFRESH_MARGIN_SECONDS


class OAuthTokenProvider:
    """Client-credentials tokens for one (team, client, scopes), cached across hooks in a process."""

    _registry: dict[tuple[str, str, tuple[str, ...]], OAuthTokenProvider] = {}
    _registry_lock = threading.Lock()

    def __init__(self, settings: CelonisConnectionSettings) -> None:
        self._settings = settings
        self._token: _Token | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: CelonisConnectionSettings) -> OAuthTokenProvider:
        """The shared provider for these settings (a new secret gets a new provider)."""
        key = (settings.token_url, f"{settings.client_id}:{hash(settings.secret)}", settings.scopes)
        with cls._registry_lock:
            provider = cls._registry.get(key)
            if provider is None:
                provider = cls._registry[key] = cls(settings)
            return provider

    def invalidate(self, value: str | None = None) -> None:
        """Forget the cached token (only if it is still ``value``, when given)."""
        with self._lock:
            if value is None or (self._token and self._token.value == value):
                self._token = None

    def request_parts(self) -> tuple[dict[str, str], dict[str, str]]:
        """The token request's form and headers (client credentials grant; secret in the form or Basic auth)."""
        s = self._settings
        form = {"grant_type": "client_credentials", "scope": " ".join(s.scopes)}
        headers = {"Accept": "application/json"}
        if s.oauth_auth_method == "post":
            form.update(client_id=s.client_id or "", client_secret=s.secret)
        else:
            pair = f"{s.client_id}:{s.secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return form, headers

    def _accept(self, status: int, body: Any, started: float) -> str:
        if status != 200 or not isinstance(body, dict) or not body.get("access_token"):
            error = body.get("error") if isinstance(body, dict) else None
            description = body.get("error_description") if isinstance(body, dict) else None
            raise CelonisAuthError(
                method="POST",
                path="/oauth2/token",
                status_code=status,
                title=error or "OAuth token request refused",
                detail=description
                or "check the client id and secret, and that the client has the scopes "
                f"{' '.join(self._settings.scopes)!r}",
            )
        value = str(body["access_token"])
        mask(value)
        try:
            lifetime = float(body.get("expires_in", DEFAULT_TOKEN_LIFETIME_SECONDS))
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME_SECONDS
        self._token = _Token(value=value, expires_at=started + lifetime)
        return value

    def get_token(self, session: requests.Session | None = None) -> str:
        """A valid access token, fetching one over ``requests`` when the cache has none."""
        with self._lock:
            now = time.monotonic()
            if self._token and self._token.fresh(now):
                return self._token.value
            form, headers = self.request_parts()
            http = session or requests
            try:
                response = http.post(
                    self._settings.token_url,
                    data=form,
                    headers=headers,
                    timeout=TOKEN_REQUEST_TIMEOUT_SECONDS,
                    verify=self._settings.verify,
                    proxies=self._settings.proxies,
                )
            except requests.RequestException as exc:
                raise CelonisAuthError(
                    method="POST", path="/oauth2/token", status_code=None, reason=type(exc).__name__
                ) from None
            return self._accept(response.status_code, _json_or_none(response.content), now)

    async def aget_token(self, client: httpx.AsyncClient) -> str:
        """A valid access token, fetching one over ``httpx`` without blocking the event loop."""
        now = time.monotonic()
        token = self._token
        if token and token.fresh(now):
            return token.value
        async with _async_lock(self):
            token = self._token
            if token and token.fresh(time.monotonic()):
                return token.value
            form, headers = self.request_parts()
            try:
                response = await client.post(
                    self._settings.token_url, data=form, headers=headers, timeout=TOKEN_REQUEST_TIMEOUT_SECONDS
                )
            except httpx.HTTPError as exc:
                raise CelonisAuthError(
                    method="POST", path="/oauth2/token", status_code=None, reason=type(exc).__name__
                ) from None
            return self._accept(response.status_code, _json_or_none(response.content), now)


_ASYNC_LOCKS: dict[tuple[int, int], asyncio.Lock] = {}


def _async_lock(provider: OAuthTokenProvider) -> asyncio.Lock:
    """One asyncio lock per provider and event loop (locks cannot cross loops)."""
    key = (id(provider), id(asyncio.get_running_loop()))
    lock = _ASYNC_LOCKS.get(key)
    if lock is None:
        lock = _ASYNC_LOCKS[key] = asyncio.Lock()
    return lock


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


class CelonisAuth:
    """Produces the ``Authorization`` header value for a connection's credential."""

    def __init__(self, settings: CelonisConnectionSettings) -> None:
        self.settings = settings
        self._oauth = OAuthTokenProvider.for_settings(settings) if settings.auth_type is AuthType.OAUTH else None

    @property
    def refreshable(self) -> bool:
        """Whether a 401 can be cured by fetching a new token (OAuth only)."""
        return self._oauth is not None

    def header(self, session: requests.Session | None = None) -> str:
        """The header value, fetching an OAuth token synchronously when needed."""
        if self._oauth is not None:
            return f"Bearer {self._oauth.get_token(session)}"
        return self._static_header()

    async def aheader(self, client: httpx.AsyncClient) -> str:
        """The header value, fetching an OAuth token asynchronously when needed."""
        if self._oauth is not None:
            return f"Bearer {await self._oauth.aget_token(client)}"
        return self._static_header()

    def invalidate(self, header_value: str) -> None:
        """Drop the token behind ``header_value`` after Celonis refused it."""
        if self._oauth is not None:
            self._oauth.invalidate(header_value.removeprefix("Bearer "))

    def _static_header(self) -> str:
        prefix = "AppKey" if self.settings.auth_type is AuthType.APP_KEY else "Bearer"
        return f"{prefix} {self.settings.secret}"
