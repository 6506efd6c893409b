"""The emulator as users start it: ``python -m airflow_provider_celonis.emulator``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import requests

from airflow_provider_celonis.emulator import seed as seeds
from tests.helpers import ROOT
from tests.helpers.emulator import POOL, test_seed
from tests.helpers.servers import free_port


def test_cli_serves_demo_seed_and_prints_ids():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_celonis.emulator", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}" in first
        printed = "".join(proc.stdout.readline() for _ in range(7))
        assert seeds.DEMO_POOL_ID in printed and seeds.DEMO_DATA_MODEL_ID in printed and "demo-api-key" in printed
        pools = requests.get(
            f"http://127.0.0.1:{port}/integration/api/pools",
            headers={"Authorization": "Bearer demo-api-key"},
            timeout=10,
        ).json()
        assert pools[0]["id"] == seeds.DEMO_POOL_ID
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_with_seed_file(tmp_path):
    seed = {"credentials": {"api_keys": ["k1"]}, "pools": [{"id": "P1", "name": "Mine"}]}
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_celonis.emulator",
            "--port",
            str(port),
            "--seed",
            str(tmp_path / "seed.json"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        proc.stdout.readline()
        pools = requests.get(
            f"http://127.0.0.1:{port}/integration/api/pools", headers={"Authorization": "Bearer k1"}, timeout=10
        ).json()
        assert pools == [{"id": "P1", "name": "Mine"}]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_bad_seed_file_exits_with_message(tmp_path):
    (tmp_path / "seed.json").write_text("{not json")
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_celonis.emulator", "--seed", str(tmp_path / "seed.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "not valid JSON" in result.stderr


def test_print_connection_json_and_uri_work_as_airflow_connections(emulator, monkeypatch):
    from airflow_provider_celonis.hooks.celonis import CelonisHook

    for form in ("json", "uri"):
        for auth in ("api_key", "app_key", "oauth"):
            value = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "airflow_provider_celonis.emulator",
                    "--print-connection",
                    "--url",
                    emulator.url,
                    "--format",
                    form,
                    "--auth",
                    auth,
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout.strip()
            monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", value)
            ok, message = CelonisHook().test_connection()
            assert ok, (form, auth, message)


def _written_env(output: str) -> dict[str, str]:
    """The ``export NAME=value`` lines ``--write-examples`` printed, read as a shell would."""
    import shlex

    env = {}
    for line in output.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            (env[name],) = shlex.split(value)
    return env


def test_write_examples_copies_the_dags_and_prints_every_env_they_need(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_celonis.emulator",
            "--write-examples",
            str(tmp_path / "dags"),
            "--port",
            "8123",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "dags").glob("*.py"))
    repo = sorted(p.name for p in (ROOT / "example_dags").glob("*.py") if p.name != "__init__.py")
    assert written == repo and "_demo_ids.py" in written
    assert f"wrote {len(written)} files" in result.stderr
    env = _written_env(result.stdout)
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "dags")
    assert json.loads(env["AIRFLOW_CONN_CELONIS_DEFAULT"])["host"] == "http://127.0.0.1:8123"
    assert env["CELONIS_TEAM_URL"] == "http://127.0.0.1:8123"  # the asset examples' celonis:// host
    data = tmp_path / "dags" / "example-data"
    assert data.is_dir() and env["CELONIS_EXAMPLE_DATA_DIR"] == str(data)
    # Every Airflow connection id an example names is defined by the printed lines.
    sources = "".join((tmp_path / "dags" / name).read_text() for name in written)
    for conn_id in set(re.findall(r'CONN_ID = "(\w+)"', sources)):
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, conn_id
    assert json.loads(env["AIRFLOW_CONN_CELONIS_EXAMPLE_DB"])["host"] == str(data / "orders.db")


def test_write_examples_into_an_unwritable_place_says_so(tmp_path):
    (tmp_path / "file").write_text("")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_celonis.emulator",
            "--write-examples",
            str(tmp_path / "file" / "dags"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "cannot write the examples" in result.stderr and "file/dags" in result.stderr


def test_examples_run_with_only_the_printed_env(emulator_server, tmp_path):
    """The SQL push example (which needs the SQLite connection) runs with what --write-examples printed."""
    emulator_server.state.load(test_seed(load_seconds=1.0, registration_seconds=0.3))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_celonis.emulator",
            "--write-examples",
            str(tmp_path / "dags"),
            "--url",
            emulator_server.url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CELONIS_"))}
    env.update(_written_env(result.stdout), AIRFLOW_HOME=str(tmp_path / "home"))
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    run = subprocess.run(
        [airflow, "dags", "test", "example_celonis_push_then_reload"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0 and "state=success" in output and "state=failed" not in output, output[-4000:]
    assert (POOL, "orders") in emulator_server.state.tables
