"""Reading the Airflow connection: team URL forms, auth types, extras, and clear errors for bad values."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from airflow_provider_celonis.connection_settings import AuthType, CelonisConnectionSettings, TeamUrl
from airflow_provider_celonis.exceptions import CelonisConnectionConfigError


def conn(
    host="https://myteam.eu-1.celonis.cloud", login=None, password="secret-key", extra=None, port=None, schema=None
):
    return SimpleNamespace(
        conn_id="c", host=host, login=login, password=password, port=port, schema=schema, extra_dejson=extra or {}
    )


@pytest.mark.parametrize(
    "host",
    [
        "https://myteam.eu-1.celonis.cloud",
        "myteam.eu-1.celonis.cloud",
        "https://myteam.eu-1.celonis.cloud/",
        "myteam.eu-1.celonis.cloud/",
        "https://myteam.eu-1.celonis.cloud/integration/ui/pools/x",
    ],
)
def test_team_url_forms(host):
    url = TeamUrl.parse(host)
    assert (url.base_url, url.team, url.realm) == ("https://myteam.eu-1.celonis.cloud", "myteam", "eu-1")


def test_emulator_url_and_port_fields():
    assert TeamUrl.parse("http://127.0.0.1:8089").base_url == "http://127.0.0.1:8089"
    assert TeamUrl.parse("127.0.0.1", port=8089, schema="http").base_url == "http://127.0.0.1:8089"
    assert TeamUrl.parse("127.0.0.1:8089").realm is None


@pytest.mark.parametrize("host", [None, "", "   ", "ftp://x.y"])
def test_bad_host_names_the_fix(host):
    with pytest.raises(CelonisConnectionConfigError, match="myteam.eu-1.celonis.cloud"):
        TeamUrl.parse(host)


def test_auth_type_defaults_and_aliases():
    assert CelonisConnectionSettings.from_connection(conn()).auth_type is AuthType.API_KEY
    assert CelonisConnectionSettings.from_connection(conn(login="client")).auth_type is AuthType.OAUTH
    settings = CelonisConnectionSettings.from_connection(conn(extra={"auth_type": "AppKey"}))
    assert settings.auth_type is AuthType.APP_KEY
    prefixed = CelonisConnectionSettings.from_connection(conn(extra={"extra__celonis__auth_type": "app_key"}))
    assert prefixed.auth_type is AuthType.APP_KEY


def test_unknown_auth_type_lists_choices():
    with pytest.raises(CelonisConnectionConfigError, match="'api_key', 'app_key' or 'oauth'"):
        CelonisConnectionSettings.from_connection(conn(extra={"auth_type": "kerberos"}))


def test_missing_password_and_client_id():
    with pytest.raises(CelonisConnectionConfigError, match="API or application key in the password"):
        CelonisConnectionSettings.from_connection(conn(password=None))
    with pytest.raises(CelonisConnectionConfigError, match="client id in the login"):
        CelonisConnectionSettings.from_connection(conn(extra={"auth_type": "oauth"}))


def test_oauth_scopes_timeout_verify_proxies():
    settings = CelonisConnectionSettings.from_connection(
        conn(
            login="cid",
            extra={
                "scopes": "integration.data-pools, integration.data-pools:data_push",
                "timeout": "15",
                "verify": "false",
                "proxies": '{"https": "http://proxy:3128"}',
            },
        )
    )
    assert settings.scopes == ("integration.data-pools", "integration.data-pools:data_push")
    assert settings.timeout == 15.0 and settings.verify is False
    assert settings.proxies == {"https": "http://proxy:3128"}
    assert settings.token_url == "https://myteam.eu-1.celonis.cloud/oauth2/token"
    defaults = CelonisConnectionSettings.from_connection(conn(login="cid"))
    assert defaults.scopes == ("integration.data-pools",) and defaults.timeout == 60.0 and defaults.verify is True


@pytest.mark.parametrize(
    "extra,fix",
    [
        ({"timeout": "soon"}, "number of seconds"),
        ({"timeout": -1}, "positive"),
        ({"proxies": "proxy:3128"}, "JSON object"),
        ({"oauth_auth_method": "jwt"}, "'basic'"),
    ],
)
def test_bad_extras_name_value_and_fix(extra, fix):
    with pytest.raises(CelonisConnectionConfigError, match=fix):
        CelonisConnectionSettings.from_connection(conn(extra=extra))


def test_secret_not_in_repr():
    settings = CelonisConnectionSettings.from_connection(conn(password="very-secret-value"))
    assert "very-secret-value" not in repr(settings)


@pytest.mark.parametrize(
    "host,region",
    [
        ("https://t.eu-1.celonis.cloud", "eu-central-1"),
        ("https://t.us-1.celonis.cloud", "us-east-1"),
        ("https://t.eu-4.celonis.cloud", "eu-central-1"),
        ("https://t.ch-1.celonis.cloud", "eu-central-2"),
        ("https://t.eu-2.celonis.cloud", "eu-central-1"),  # no region known: the default, with a warning
    ],
)
def test_ingestion_region_from_realm_and_override(host, region):
    assert CelonisConnectionSettings.from_connection(conn(host=host)).aws_region == region
    override = CelonisConnectionSettings.from_connection(conn(host=host, extra={"ingestion_region": "ap-x"}))
    assert override.aws_region == "ap-x"


@pytest.mark.parametrize(
    ("host", "extra", "warned"),
    [
        ("https://t.eu-1.celonis.cloud", {}, False),
        ("https://t.eu-2.celonis.cloud", {}, True),  # not hosted on AWS as far as sources show
        ("https://t.eu-2.celonis.cloud", {"ingestion_region": "x-1"}, False),
    ],
)
def test_an_unknown_ingestion_region_is_named_with_the_fix(monkeypatch, host, extra, warned):
    """A realm with no known AWS region signs for the default and says so, naming the extra that fixes it."""
    from airflow_provider_celonis.hooks.celonis import CelonisHook

    connection = {"conn_type": "celonis", "host": host, "password": "key", "extra": {"auth_type": "api_key", **extra}}
    monkeypatch.setenv("AIRFLOW_CONN_REGION_TEST", json.dumps(connection))
    lines: list[str] = []
    recorder = SimpleNamespace(warning=lambda message, *args: lines.append(message % args), debug=print, info=print)
    monkeypatch.setattr(CelonisHook, "log", property(lambda self: recorder))  # Airflow 2 and 3 log differently
    CelonisHook("region_test").get_ingestion_client("id", "secret")
    warnings = [line for line in lines if "No AWS region is known" in line]
    assert bool(warnings) is warned
    if warned:
        assert "'eu-2'" in warnings[0] and "eu-central-1" in warnings[0] and "ingestion_region" in warnings[0]


@pytest.mark.parametrize(
    ("value", "signed"), [(None, True), (True, True), (False, False), ("false", False), ("yes", True)]
)
def test_ingestion_payload_signing_extra(value, signed):
    extra = {} if value is None else {"ingestion_sign_payload": value}
    assert CelonisConnectionSettings.from_connection(conn(extra=extra)).ingestion_sign_payload is signed


def test_a_bad_payload_signing_extra_names_it():
    with pytest.raises(
        CelonisConnectionConfigError, match="ingestion_sign_payload must be true or false, not 'sometimes'"
    ):
        CelonisConnectionSettings.from_connection(conn(extra={"ingestion_sign_payload": "sometimes"}))
