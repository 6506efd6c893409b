"""Known secrets run through real DAGs (`airflow dags test`, SQLite): none appears in the output, task
logs, XCom, rendered templates (all in the Airflow home and its database), exceptions, or the request
log the emulator prints."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers.emulator import POOL, test_seed
from tests.helpers.tasks import dags_test

SECRETS = {
    "api_key": "apikey-SECRET-7f3a91c2e4b5",
    "app_key": "appkey-SECRET-c81d22f09ab3",
    "client_secret": "oauthsecret-SECRET-5e6f7a8b9c0d",
    "s3_secret": "s3secret-SECRET-0a1b2c3d4e5f",
}


def secret_seed() -> dict:
    seed = test_seed(load_seconds=0.5)
    seed["credentials"]["api_keys"] = [SECRETS["api_key"]]
    seed["credentials"]["app_keys"] = [SECRETS["app_key"]]
    seed["credentials"]["oauth_clients"][0]["client_secret"] = SECRETS["client_secret"]
    seed["pools"][0]["connections"][0]["secret_key"] = SECRETS["s3_secret"]
    return seed


def connection(url: str, auth: str) -> str:
    password = {"api_key": SECRETS["api_key"], "app_key": SECRETS["app_key"], "oauth": SECRETS["client_secret"]}
    conn = {
        "conn_type": "celonis",
        "host": url,
        "password": password[auth],
        "extra": {
            "auth_type": auth,
            "ingestion_access_key_id": "DEMOACCESSKEY",
            "ingestion_secret_access_key": SECRETS["s3_secret"],
        },
    }
    if auth == "oauth":
        conn["login"] = "demo-client"
    return json.dumps(conn)


def leaks(text: bytes | str, secrets: list[str]) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [s for s in secrets if s.encode() in data]


@pytest.mark.parametrize(
    ("dag_id", "auth", "should_succeed"),
    [
        ("example_celonis_push_then_reload", "oauth", True),
        ("example_celonis_failing_load_expect_failure", "app_key", False),
        ("example_celonis_ingest_files", "api_key", True),
    ],
)
def test_no_secret_leaves_the_provider(airflow_env, emulator_server, dag_id, auth, should_succeed):
    emulator_server.state.load(secret_seed())
    env = {**airflow_env, "AIRFLOW_CONN_CELONIS_DEFAULT": connection(emulator_server.url, auth)}
    ok, output = dags_test(env, dag_id)
    assert ok is should_succeed, output[-4000:]
    minted = list(emulator_server.state.tokens)
    assert auth != "oauth" or minted, "the OAuth run must have minted a token"
    secrets = [*SECRETS.values(), *minted]
    assert leaks(output, secrets) == []
    home = Path(env["AIRFLOW_HOME"])
    seen_pool_id = False  # positive control: the scan does see what the tasks logged and stored
    for path in home.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert leaks(content, secrets) == [], f"secret found in {path}"
            seen_pool_id = seen_pool_id or bool(leaks(content, [POOL]))
    assert seen_pool_id or dag_id == "example_celonis_ingest_files"
    request_log = json.dumps(emulator_server.state.request_log)
    assert leaks(request_log, secrets) == []
    assert os.environ.get("AIRFLOW_CONN_CELONIS_DEFAULT", "").find("SECRET") == -1  # the test's own env is clean


def test_tls_verification_is_on_by_default_and_turning_it_off_warns(emulator, monkeypatch):
    import logging

    from airflow_provider_celonis.hooks import celonis

    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    celonis.log.addHandler(handler)
    try:
        assert celonis.CelonisHook().session.verify is True
        assert records == []
        monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(verify=False))
        assert celonis.CelonisHook().session.verify is False
    finally:
        celonis.log.removeHandler(handler)
    assert any("verification is OFF" in record.getMessage() for record in records)
