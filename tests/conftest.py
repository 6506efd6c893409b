"""Test fixtures: an isolated Airflow home, a Celonis emulator on a free port, and connections to it."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Airflow reads its home and config at import: isolate them before anything imports airflow.
_HOME = tempfile.mkdtemp(prefix="celonis-test-airflow-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

import pytest  # noqa: E402
import requests  # noqa: E402

from airflow_provider_celonis.emulator import seed as seeds  # noqa: E402
from airflow_provider_celonis.emulator.server import start_in_thread  # noqa: E402

POOL = seeds.DEMO_POOL_ID
DATA_MODEL = seeds.DEMO_DATA_MODEL_ID
FAILING_DATA_MODEL = seeds.DEMO_FAILING_DATA_MODEL_ID
DATA_JOB = seeds.DEMO_DATA_JOB_ID
FAILING_DATA_JOB = seeds.DEMO_FAILING_DATA_JOB_ID
CONNECTION = seeds.DEMO_CONNECTION_ID


def test_seed(
    load_seconds: float = 0.6, push_seconds: float = 0.2, registration_seconds: float = 0.0, **settings
) -> dict:
    """The demo seed with short durations, so tests wait fractions of a second.

    ``settings`` are seed switches (docs/emulator.md). ``registration_seconds`` > 0 makes a new
    load/execution invisible to status reads for that long
    after its trigger, as at Celonis: a wait that does not track its own load then reads the old one.
    """
    seed = seeds.demo_seed()
    seed["settings"]["registration_seconds"] = registration_seconds
    seed["settings"].update(settings)  # seed switches, e.g. start_conflict="409"
    for pool in seed["pools"]:
        for model in pool["data_models"]:
            model["load_seconds"] = load_seconds
        for job in pool["data_jobs"]:
            job["run_seconds"] = load_seconds
    seed["settings"]["push_seconds"] = push_seconds
    return seed


test_seed.__test__ = False  # not a test


class Emulator:
    """A running emulator and its admin API."""

    def __init__(self, server) -> None:
        self.server = server
        self.url = server.url
        self.state = server.state

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, self.url + path, timeout=30, **kwargs)
        response.raise_for_status()
        return response

    def reseed(self, seed: dict) -> None:
        self.admin("POST", "/_emulator/seed", json=seed)

    def fault(self, **spec) -> None:
        self.admin("POST", "/_emulator/faults", json=spec)

    def requests(self, path_contains: str = "", method: str | None = None) -> list[dict]:
        log = self.admin("GET", "/_emulator/requests").json()
        return [r for r in log if path_contains in r["path"] and (method is None or r["method"] == method)]

    def table(self, table: str, pool: str = POOL) -> dict:
        return self.admin("GET", f"/_emulator/pools/{pool}/tables/{table}").json()

    def arrow_table(self, table: str, pool: str = POOL):
        """What landed in a pool table, as a pyarrow Table (types kept, unlike the JSON form)."""
        import io

        import pyarrow.parquet as pq

        return pq.read_table(
            io.BytesIO(
                self.admin("GET", f"/_emulator/pools/{pool}/tables/{table}", params={"format": "parquet"}).content
            )
        )

    def connection_json(self, auth: str = "api_key", **extra) -> str:
        from airflow_provider_celonis.emulator.__main__ import connection_value

        conn = json.loads(connection_value(self.url, "json", auth))
        conn["extra"].update(extra)
        return json.dumps(conn)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for this test session (tests.servers), skipped when it is not installed."""
    from tests.servers import ServerUnavailable, postgres_server

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


ROOT = Path(__file__).resolve().parent.parent
AIRFLOW = os.path.join(os.path.dirname(sys.executable), "airflow")


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


def dags_test(env: dict, dag_id: str) -> tuple[bool, str]:
    result = subprocess.run([AIRFLOW, "dags", "test", dag_id], env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    failed = result.returncode != 0 or "state=failed" in output.lower() or "dagrunstate.failed" in output.lower()
    return not failed, output


@pytest.fixture
def seed_copy():
    return copy.deepcopy(test_seed())


def pytest_terminal_summary(terminalreporter) -> None:
    """One line with what the fault-injection suite did, when it ran."""
    from tests.faults.conftest import TALLY

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
