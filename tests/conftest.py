"""Test fixtures: an isolated Airflow home, a Celonis emulator on a free port, and connections to it.

Helpers and constants the tests share are in ``tests/helpers/``; this file holds fixtures and hooks only.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import tempfile

# Airflow reads its home and config at import: isolate them before anything imports airflow.
_HOME = tempfile.mkdtemp(prefix="celonis-test-airflow-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

import pytest  # noqa: E402

from airflow_provider_celonis.emulator.server import start_in_thread  # noqa: E402
from tests.helpers import AIRFLOW, ROOT  # noqa: E402
from tests.helpers.emulator import Emulator, test_seed  # noqa: E402


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for this test session (tests/helpers/servers.py), skipped when it is not installed."""
    from tests.helpers.servers import ServerUnavailable, postgres_server

    try:
        server = postgres_server()
        params = server.__enter__()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield params
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def pg_every_type(postgres) -> str:
    """The session's PostgreSQL (as an Airflow connection, JSON) with the ``every_type`` table filled."""
    from tests.helpers.postgres import fill_every_type

    connection = postgres.airflow_connection()
    fill_every_type(connection)
    return connection


@pytest.fixture
def pg(pg_every_type, monkeypatch) -> str:
    """Airflow connection ``pg_source``: the session's PostgreSQL with ``every_type`` filled."""
    monkeypatch.setenv("AIRFLOW_CONN_PG_SOURCE", pg_every_type)
    return "pg_source"


@pytest.fixture(scope="session")
def emulator_server():
    server = start_in_thread("127.0.0.1", 0, test_seed())
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def emulator(emulator_server, monkeypatch) -> Emulator:
    """A freshly seeded emulator, and ``celonis_default`` pointing at it with the demo API key."""
    emu = Emulator(emulator_server)
    emu.reseed(test_seed())
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emu.connection_json())
    return emu


@pytest.fixture(params=["api_key", "app_key", "oauth"])
def any_auth(request, emulator, monkeypatch) -> str:
    """Runs a test once per authentication method."""
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(request.param))
    return request.param


@pytest.fixture(scope="module")
def airflow_env(emulator_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "CELONIS_EXAMPLE_POLL_INTERVAL": "0.3",
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    from airflow_provider_celonis.emulator.__main__ import connection_value

    env["AIRFLOW_CONN_CELONIS_DEFAULT"] = connection_value(emulator_server.url)
    data = tmp_path_factory.mktemp("example-data")
    env["CELONIS_EXAMPLE_DATA_DIR"] = str(data)
    env["AIRFLOW_CONN_CELONIS_EXAMPLE_DB"] = json.dumps({"conn_type": "sqlite", "host": str(data / "orders.db")})
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    return env


@pytest.fixture
def seed_copy():
    return copy.deepcopy(test_seed())


def pytest_terminal_summary(terminalreporter) -> None:
    """One line with what the fault-injection suite did, when it ran."""
    from tests.helpers.push import TALLY

    if TALLY["scenarios"]:
        terminalreporter.write_line(
            f"fault-injection suite: {TALLY['scenarios']} scenarios, {TALLY['faults']} "
            f"faults injected, {TALLY['rows']} pushed rows checked exactly"
        )


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked ``once`` ran with the first Airflow version of scripts/test.sh already: skip them here."""
    if not os.environ.get("CELONIS_TESTS_ONCE_DONE"):
        return
    skip = pytest.mark.skip(reason="marked once: ran with the first Airflow version of scripts/test.sh")
    for item in items:
        if item.get_closest_marker("once"):
            item.add_marker(skip)
