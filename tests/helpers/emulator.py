"""The demo seed's ids, a seed with short durations, and a client for the emulator's admin API."""

from __future__ import annotations

import json

import requests

from airflow_provider_celonis.emulator import seed as seeds

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
