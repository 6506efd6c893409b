"""Turn an Airflow ``celonis`` connection into validated settings: base URL, auth, timeouts, TLS.

Kept apart from the hook so the sync hook, the async hook and the UI field declarations read the
connection the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_celonis.exceptions import CelonisConnectionConfigError

DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_OAUTH_SCOPES = ("integration.data-pools",)

# Celonis realm -> AWS region for the Standard Data Ingestion API (docs/api-assumptions.md): eu-1 (docs),
# us-1 (a public integration), eu-4, eu-5 and ch-1 (Celonis's own DNS configuration points them at AWS load
# balancers in eu-central-1 / eu-central-2); us-2 is a [guess]. Other realms (eu-2, eu-3, uk-1, jp-1, ae-1
# point at no AWS region) get DEFAULT_AWS_REGION with a warning; the connection extra `ingestion_region` wins.
REALM_TO_AWS_REGION: dict[str, str] = {
    "eu-1": "eu-central-1",
    "eu-4": "eu-central-1",
    "eu-5": "eu-central-1",
    "ch-1": "eu-central-2",
    "us-1": "us-east-1",
    "us-2": "us-east-2",
}
DEFAULT_AWS_REGION = "eu-central-1"


class AuthType(StrEnum):
    """How the provider authenticates to Celonis."""

    API_KEY = "api_key"
    APP_KEY = "app_key"
    OAUTH = "oauth"

    @classmethod
    def parse(cls, value: Any) -> AuthType:
        """Accept the enum value or a friendly spelling; name the choices otherwise."""
        text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        aliases = {
            "api_key": cls.API_KEY,
            "apikey": cls.API_KEY,
            "bearer": cls.API_KEY,
            "user_key": cls.API_KEY,
            "app_key": cls.APP_KEY,
            "appkey": cls.APP_KEY,
            "application_key": cls.APP_KEY,
            "oauth": cls.OAUTH,
            "oauth2": cls.OAUTH,
            "oauth_client": cls.OAUTH,
            "client_credentials": cls.OAUTH,
        }
        if text in aliases:
            return aliases[text]
        raise CelonisConnectionConfigError(
            f"Unknown auth_type {value!r} in the Celonis connection extra: use 'api_key', 'app_key' or 'oauth'."
        )


@dataclass(frozen=True)
class TeamUrl:
    """The team URL split into what the provider needs."""

    base_url: str
    team: str | None
    realm: str | None

    @classmethod
    def parse(cls, host: str | None, port: int | None = None, schema: str | None = None) -> TeamUrl:
        """Accept ``myteam.eu-1.celonis.cloud``, with or without scheme, path or trailing slash."""
        if not host or not str(host).strip():
            raise CelonisConnectionConfigError(
                "The Celonis connection has no host: set it to your team URL, e.g. https://myteam.eu-1.celonis.cloud"
            )
        text = str(host).strip()
        if "://" not in text:
            scheme = "http" if schema == "http" else "https"
            text = f"{scheme}://{text}"
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CelonisConnectionConfigError(
                f"The Celonis connection host {host!r} is not a URL: use e.g. https://myteam.eu-1.celonis.cloud"
            )
        hostname = parts.hostname
        netloc = hostname if ":" not in hostname else f"[{hostname}]"
        effective_port = parts.port or port
        if effective_port:
            netloc = f"{netloc}:{effective_port}"
        labels = hostname.split(".")
        team = realm = None
        if hostname.endswith(".celonis.cloud") and len(labels) >= 4:
            team, realm = labels[0], labels[1]
        return cls(base_url=f"{parts.scheme}://{netloc}", team=team, realm=realm)


@dataclass(frozen=True)
class CelonisConnectionSettings:
    """Everything the hooks need from a connection, validated once."""

    team_url: TeamUrl
    auth_type: AuthType
    secret: str = field(repr=False)
    client_id: str | None = None
    scopes: tuple[str, ...] = DEFAULT_OAUTH_SCOPES
    oauth_auth_method: str = "basic"
    timeout: float | None = DEFAULT_TIMEOUT_SECONDS
    verify: bool | str = True
    proxies: dict[str, str] | None = None
    ingestion_access_key_id: str | None = None
    ingestion_secret_access_key: str | None = field(default=None, repr=False)
    ingestion_region: str | None = None
    # False: ingestion uploads are sent as UNSIGNED-PAYLOAD (one read of each body less); see docs/connection.md.
    ingestion_sign_payload: bool = True

    @property
    def base_url(self) -> str:
        """Scheme and host of the team, e.g. ``https://myteam.eu-1.celonis.cloud``."""
        return self.team_url.base_url

    @property
    def token_url(self) -> str:
        """The team's OAuth 2.0 token endpoint."""
        return f"{self.base_url}/oauth2/token"

    @property
    def aws_region(self) -> str:
        """The AWS region to sign Standard Data Ingestion requests for."""
        if self.ingestion_region:
            return self.ingestion_region
        return REALM_TO_AWS_REGION.get(self.team_url.realm or "", DEFAULT_AWS_REGION)

    @property
    def aws_region_is_known(self) -> bool:
        """False only for a Celonis realm whose AWS region has no source (``REALM_TO_AWS_REGION``).

        A host with no realm (the emulator's, a proxy's) is signed for the default, as always.
        """
        realm = self.team_url.realm
        return bool(self.ingestion_region) or not realm or realm in REALM_TO_AWS_REGION

    @classmethod
    def from_connection(cls, conn: Any, extras: dict[str, Any] | None = None) -> CelonisConnectionSettings:
        """Read an Airflow ``Connection``; ``extras`` may be passed when already loaded (async path)."""
        extra = dict(extras if extras is not None else _extra_dejson(conn))
        extra = {_strip_prefix(key): value for key, value in extra.items()}
        team_url = TeamUrl.parse(conn.host, conn.port, conn.schema)
        login = (conn.login or "").strip() or None
        password = conn.password or ""

        raw_auth = extra.get("auth_type")
        auth_type = AuthType.parse(raw_auth) if raw_auth else (AuthType.OAUTH if login else AuthType.API_KEY)
        client_id = extra.get("client_id") or login
        if not password:
            what = "the OAuth client secret" if auth_type is AuthType.OAUTH else "the API or application key"
            raise CelonisConnectionConfigError(
                f"The Celonis connection {conn.conn_id!r} has no password: put {what} in the password field."
            )
        if auth_type is AuthType.OAUTH and not client_id:
            raise CelonisConnectionConfigError(
                f"The Celonis connection {conn.conn_id!r} uses OAuth but has no client id: "
                "put the OAuth client id in the login field."
            )
        method = str(extra.get("oauth_auth_method") or "basic").lower()
        if method not in ("basic", "post"):
            raise CelonisConnectionConfigError(
                f"Unknown oauth_auth_method {method!r}: use 'basic' (client_secret_basic) or 'post'."
            )
        verify = _parse_verify(extra.get("verify", extra.get("verify_ssl", True)))
        return cls(
            team_url=team_url,
            auth_type=auth_type,
            secret=password,
            client_id=client_id if auth_type is AuthType.OAUTH else None,
            scopes=_parse_scopes(extra.get("scopes", extra.get("scope"))),
            oauth_auth_method=method,
            timeout=_parse_timeout(extra.get("timeout", DEFAULT_TIMEOUT_SECONDS)),
            verify=verify,
            proxies=_parse_proxies(extra.get("proxies")),
            ingestion_access_key_id=extra.get("ingestion_access_key_id") or None,
            ingestion_secret_access_key=extra.get("ingestion_secret_access_key") or None,
            ingestion_region=extra.get("ingestion_region") or None,
            ingestion_sign_payload=_parse_flag("ingestion_sign_payload", extra.get("ingestion_sign_payload", True)),
        )


def _extra_dejson(conn: Any) -> dict[str, Any]:
    try:
        return dict(conn.extra_dejson or {})
    except Exception:  # noqa: BLE001 - a malformed extra must not leak its text
        raise CelonisConnectionConfigError(
            f"The extra of the Celonis connection {getattr(conn, 'conn_id', '?')!r} is not a JSON object."
        ) from None


def _strip_prefix(key: str) -> str:
    """The UI stores custom fields as ``extra__celonis__<name>`` in older Airflow versions."""
    return key.removeprefix("extra__celonis__")


def _parse_scopes(value: Any) -> tuple[str, ...]:
    if value is None or value == "" or value == []:
        return DEFAULT_OAUTH_SCOPES
    if isinstance(value, str):
        items = value.replace(",", " ").split()
    elif isinstance(value, list | tuple):
        items = [str(item).strip() for item in value]
    else:
        raise CelonisConnectionConfigError(f"scopes must be a string or a list of strings, not {value!r}.")
    return tuple(item for item in items if item) or DEFAULT_OAUTH_SCOPES


def _parse_timeout(value: Any) -> float | None:
    if value is None or value == "" or str(value).lower() in ("none", "null"):
        return None
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        raise CelonisConnectionConfigError(
            f"timeout {value!r} in the Celonis connection extra is not a number of seconds."
        ) from None
    if timeout <= 0:
        raise CelonisConnectionConfigError(f"timeout must be a positive number of seconds, not {value!r}.")
    return timeout


def _parse_verify(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes", "on", ""):
        return True
    if text.lower() in ("false", "0", "no", "off"):
        return False
    return text  # a CA bundle path


def _parse_flag(name: str, value: Any) -> bool:
    """A true/false extra, given as JSON boolean or as text."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise CelonisConnectionConfigError(f"The connection extra {name} must be true or false, not {value!r}.")


def _parse_proxies(value: Any) -> dict[str, str] | None:
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise CelonisConnectionConfigError(
                'proxies in the Celonis connection extra must be a JSON object like {"https": "http://proxy:3128"}.'
            ) from None
    if not isinstance(value, dict):
        raise CelonisConnectionConfigError('proxies must be an object like {"https": "http://proxy:3128"}.')
    return {str(k): str(v) for k, v in value.items()}
