"""The emulator as users start it: ``python -m airflow_provider_celonis.emulator``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import requests

from airflow_provider_celonis.emulator import seed as seeds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serves_demo_seed_and_prints_ids():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "airflow_provider_celonis.emulator", "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}" in first
        printed = "".join(proc.stdout.readline() for _ in range(7))
        assert seeds.DEMO_POOL_ID in printed and seeds.DEMO_DATA_MODEL_ID in printed and "demo-api-key" in printed
        pools = requests.get(f"http://127.0.0.1:{port}/integration/api/pools",
                             headers={"Authorization": "Bearer demo-api-key"}, timeout=10).json()
        assert pools[0]["id"] == seeds.DEMO_POOL_ID
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_with_seed_file(tmp_path):
    seed = {"credentials": {"api_keys": ["k1"]}, "pools": [{"id": "P1", "name": "Mine"}]}
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "airflow_provider_celonis.emulator", "--port", str(port),
                             "--seed", str(tmp_path / "seed.json")], stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()
        pools = requests.get(f"http://127.0.0.1:{port}/integration/api/pools",
                             headers={"Authorization": "Bearer k1"}, timeout=10).json()
        assert pools == [{"id": "P1", "name": "Mine"}]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_bad_seed_file_exits_with_message(tmp_path):
    (tmp_path / "seed.json").write_text("{not json")
    result = subprocess.run([sys.executable, "-m", "airflow_provider_celonis.emulator", "--seed",
                             str(tmp_path / "seed.json")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not valid JSON" in result.stderr


def test_print_connection_json_and_uri_work_as_airflow_connections(emulator, monkeypatch):
    from airflow_provider_celonis.hooks.celonis import CelonisHook

    for form in ("json", "uri"):
        for auth in ("api_key", "app_key", "oauth"):
            value = subprocess.run(
                [sys.executable, "-m", "airflow_provider_celonis.emulator", "--print-connection", "--url",
                 emulator.url, "--format", form, "--auth", auth],
                capture_output=True, text=True, timeout=60, check=True).stdout.strip()
            monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", value)
            ok, message = CelonisHook().test_connection()
            assert ok, (form, auth, message)
