"""The emulator's seed: credentials, data pools, data models, data jobs and ingestion connections.

``DEMO_SEED`` is used when no seed file is given; its ids and keys are documented in docs/emulator.md.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

DEMO_API_KEY = "demo-api-key"
DEMO_APP_KEY = "demo-app-key"
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-client-secret"
DEMO_POOL_ID = "8f2c4d1e-0000-4000-8000-000000000001"
DEMO_DATA_MODEL_ID = "8f2c4d1e-0000-4000-8000-0000000000d1"
DEMO_FAILING_DATA_MODEL_ID = "8f2c4d1e-0000-4000-8000-0000000000d2"
DEMO_DATA_JOB_ID = "8f2c4d1e-0000-4000-8000-0000000000a1"
DEMO_FAILING_DATA_JOB_ID = "8f2c4d1e-0000-4000-8000-0000000000a2"
DEMO_CONNECTION_ID = "8f2c4d1e-0000-4000-8000-0000000000c1"
# Tasks of the demo data job (ids are task instance ids, what the execute body names) and its data model load.
DEMO_EXTRACTION_ID = "8f2c4d1e-0000-4000-8000-0000000000b1"
DEMO_TRANSFORMATION_ID = "8f2c4d1e-0000-4000-8000-0000000000b2"
DEMO_SECOND_TRANSFORMATION_ID = "8f2c4d1e-0000-4000-8000-0000000000b3"
DEMO_DATA_MODEL_LOAD_ID = "8f2c4d1e-0000-4000-8000-0000000000f1"
DEMO_S3_ACCESS_KEY = "DEMOACCESSKEY"
DEMO_S3_SECRET_KEY = "demo-s3-secret"

DEMO_SEED: dict[str, Any] = {
    "credentials": {
        "api_keys": [DEMO_API_KEY],
        "app_keys": [DEMO_APP_KEY],
        "oauth_clients": [
            {
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
                "scopes": ["integration.data-pools", "integration.data-pools:data_push"],
            }
        ],
    },
    "pools": [
        {
            "id": DEMO_POOL_ID,
            "name": "Sales (demo)",
            "data_models": [
                {
                    "id": DEMO_DATA_MODEL_ID,
                    "name": "O2C",
                    "load_seconds": 3,
                    "load_outcome": "SUCCESS",
                    "tables": [
                        {
                            "id": "8f2c4d1e-0000-4000-8000-0000000000e1",
                            "name": "VBAK",
                            "alias": "orders",
                            "dataSourceId": None,
                            "row_count": 1200,
                        },
                        {
                            "id": "8f2c4d1e-0000-4000-8000-0000000000e2",
                            "name": "VBAP",
                            "alias": "order_items",
                            "dataSourceId": None,
                            "row_count": 4800,
                        },
                        {
                            "id": "8f2c4d1e-0000-4000-8000-0000000000e3",
                            "name": "LIKP",
                            "alias": None,
                            "dataSourceId": None,
                            "row_count": 900,
                        },
                    ],
                },
                {
                    "id": DEMO_FAILING_DATA_MODEL_ID,
                    "name": "P2P (always fails)",
                    "load_seconds": 2,
                    "load_outcome": "ERROR",
                    "load_message": "Table EKKO: column NETWR does not exist",
                    "tables": [
                        {
                            "id": "8f2c4d1e-0000-4000-8000-0000000000e9",
                            "name": "EKKO",
                            "alias": None,
                            "dataSourceId": None,
                        }
                    ],
                },
            ],
            "data_jobs": [
                {
                    "id": DEMO_DATA_JOB_ID,
                    "name": "Extract orders",
                    "run_seconds": 3,
                    "outcome": "SUCCESS",
                    "extractions": [
                        {"id": DEMO_EXTRACTION_ID, "name": "Extract SAP orders", "tables": ["VBAK", "VBAP", "LIKP"]}
                    ],
                    "transformations": [
                        {"id": DEMO_TRANSFORMATION_ID, "name": "Create activity table"},
                        {"id": DEMO_SECOND_TRANSFORMATION_ID, "name": "Enrich orders"},
                    ],
                    "data_model_loads": [{"id": DEMO_DATA_MODEL_LOAD_ID, "data_model_id": DEMO_DATA_MODEL_ID}],
                },
                {
                    "id": DEMO_FAILING_DATA_JOB_ID,
                    "name": "Transform (always fails)",
                    "run_seconds": 2,
                    "outcome": "FAIL",
                    "message": "Transformation 'Create activity table' failed: division by zero",
                },
            ],
            "connections": [
                {
                    "id": DEMO_CONNECTION_ID,
                    "name": "Push data into Celonis (demo)",
                    "access_key": DEMO_S3_ACCESS_KEY,
                    "secret_key": DEMO_S3_SECRET_KEY,
                    "tables": [{"name": "shipment", "primary_key": ["order_id"], "age_column": "created_at"}],
                }
            ],
        }
    ],
    "settings": {"push_seconds": 1.0, "token_lifetime_seconds": 899, "registration_seconds": 1.0},
}


# Seed switches where the evidence allows more than one answer; the first value is the default, the one
# the evidence points to (docs/emulator.md, "Seed switches").
SWITCHES: dict[str, tuple[str, ...]] = {
    "start_conflict": ("second_run", "409"),
    "last_load_never_loaded": ("404", "204"),
    "job_status_has_latest_execution_item": ("false", "true"),
    "create_push_job_response": ("json", "empty_204"),
    "push_parquet_int64_timestamps": ("reject", "accept"),
    # Whether the ingestion endpoint takes S3 multipart uploads: undocumented [guess]; "refuse" answers
    # CreateMultipartUpload with 501 NotImplemented, as S3-compatible gateways without it do.
    "ingestion_multipart": ("accept", "refuse"),
    # What a 429 on submit carries: Celonis documents x-ratelimit-reset (seconds) with -limit/-remaining for its
    # APIs, and its error catalog shows the 429 body "... Please try again at HH:MM:SS UTC."; whether Data Push
    # sends the headers is not shown. "none" answers with the body alone. No source shows Retry-After.
    "rate_limit_headers": ("reset", "none"),
}


def demo_seed() -> dict[str, Any]:
    """A fresh copy of the built-in demo seed."""
    return copy.deepcopy(DEMO_SEED)


def load_seed(path: str | Path) -> dict[str, Any]:
    """Read a seed file (JSON) and check its shape, naming the first problem found."""
    try:
        seed = json.loads(Path(path).read_text())
    except ValueError as exc:
        raise ValueError(f"Seed file {path} is not valid JSON: {exc}") from None
    validate_seed(seed)
    return seed


def validate_seed(seed: Any) -> None:
    """Raise ``ValueError`` naming what is wrong with a seed document."""
    if not isinstance(seed, dict):
        raise ValueError("A seed must be a JSON object with 'credentials' and 'pools'.")
    creds = seed.get("credentials", {})
    if not isinstance(creds, dict):
        raise ValueError("'credentials' must be an object with api_keys, app_keys and oauth_clients.")
    for client in creds.get("oauth_clients", []):
        if not {"client_id", "client_secret"} <= set(client):
            raise ValueError("Each oauth_clients entry needs client_id and client_secret.")
    settings = seed.get("settings", {})
    if not isinstance(settings, dict):
        raise ValueError("'settings' must be an object.")
    for name, choices in SWITCHES.items():
        if name in settings and str(settings[name]).lower() not in choices:
            raise ValueError(f"settings.{name} must be one of {', '.join(map(repr, choices))}, not {settings[name]!r}.")
    for name in ("push_submit_spacing_seconds", "rate_limit_window_seconds"):
        value = settings.get(name, 1)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value < 0
            or (name == "rate_limit_window_seconds" and value <= 0)
        ):
            raise ValueError(f"settings.{name} must be a number of seconds, not {value!r}.")
    pools = seed.get("pools", [])
    if not isinstance(pools, list):
        raise ValueError("'pools' must be a list.")
    for pool in pools:
        if "id" not in pool:
            raise ValueError(f"A pool has no 'id': {pool!r}")
        for kind in ("data_models", "data_jobs", "connections"):
            for item in pool.get(kind, []):
                if "id" not in item:
                    raise ValueError(f"An entry of {kind} in pool {pool['id']} has no 'id'.")
