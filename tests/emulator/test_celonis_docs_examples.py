"""The Celonis documentation's own examples, unchanged except for the URL, work against the emulator."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from tests.helpers.emulator import CONNECTION, DATA_JOB, DATA_MODEL, POOL


def test_process_data_model_api_python_example(emulator):
    # docs.celonis.com "Process Data Model API", Python example, with the emulator as the team URL
    api_key = "demo-api-key"  # the API key
    pool_id = POOL  # the Data Pool ID (see above)
    data_model_id = DATA_MODEL  # the Data Model ID (see above)
    url = "{}/integration/api/v1/data-pools/{}/data-models/{}/load".format(emulator.url, pool_id, data_model_id)
    response = requests.post(url, headers={"authorization": "Bearer {}".format(api_key)})
    assert response.status_code == 200
    last = requests.get(url.replace("/load", "/last-load"), headers={"authorization": "Bearer {}".format(api_key)})
    assert last.json()["loadStatus"] == "RUNNING"


def test_data_job_execution_api_python_example(emulator):
    # docs.celonis.com "Executing data jobs using a RESTful API", Python example
    api_key = "demo-api-key"
    pool_id = POOL
    data_job_id = DATA_JOB
    data_job_mode = "DELTA"
    url = "{}/integration/api/v2/data-pools/{}/data-jobs/{}/execute?mode={}".format(
        emulator.url, pool_id, data_job_id, data_job_mode
    )
    assert requests.post(url, headers={"authorization": "Bearer {}".format(api_key)}).status_code == 200
    status = requests.get(
        "{}/integration/api/pools/{}/jobs/{}".format(emulator.url, pool_id, data_job_id),
        headers={"authorization": "Bearer {}".format(api_key)},
    )
    assert status.json()["status"] in ("QUEUED", "RUNNING")


def test_data_push_getting_started_flow_with_app_key(emulator, tmp_path):
    # developer.celonis.com Data Push API "Getting Started": create, upsert chunk, execute, get, with AppKey
    base = emulator.url + "/data-ingestion/api"
    headers = {"Authorization": "AppKey demo-app-key"}
    job = requests.post(
        f"{base}/v1/data-push/{POOL}/jobs/",
        headers=headers,
        json={"type": "REPLACE", "fileType": "PARQUET", "targetName": "docs", "dataPoolId": POOL},
    )
    assert job.status_code == 200 and job.json()["status"] == "NEW"
    job_id = job.json()["id"]
    path = tmp_path / "chunk.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    with open(path, "rb") as handle:
        chunk = requests.post(
            f"{base}/v1/data-push/{POOL}/jobs/{job_id}/chunks/upserted", headers=headers, files={"file": handle}
        )
    assert chunk.status_code == 200
    assert requests.post(f"{base}/v1/data-push/{POOL}/jobs/{job_id}", headers=headers).status_code == 200
    for _ in range(100):
        got = requests.get(f"{base}/v1/data-push/{POOL}/jobs/{job_id}", headers=headers).json()
        if got["status"] == "DONE":
            break
        time.sleep(0.05)
    assert got["status"] == "DONE"
    assert emulator.table("docs")["rows"] == [{"a": 1}, {"a": 2}]


def _aws_cli() -> list[str] | None:
    found = shutil.which("aws", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return [found] if found else None


def test_aws_s3_cp_as_in_the_docs(emulator, tmp_path):
    """`aws s3 cp shipment.parquet --endpoint-url <team>/api/data-ingestion s3://continuous/... --profile p`."""
    aws = _aws_cli()
    if aws is None:
        pytest.fail(
            "The aws CLI is not installed: it comes with the dev dependency group (uv pip install --group dev)."
        )
    (tmp_path / "credentials").write_text(
        "[profileName]\naws_access_key_id = DEMOACCESSKEY\naws_secret_access_key = demo-s3-secret\n"
    )
    (tmp_path / "config").write_text("[profile profileName]\nregion = eu-central-1\noutput = json\n")
    env = {
        **os.environ,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
    }
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        env.pop(name, None)
    pq.write_table(pa.table({"order_id": [7], "created_at": [1]}), tmp_path / "shipment.parquet", compression="none")
    result = subprocess.run(
        [
            *aws,
            "s3",
            "cp",
            "shipment.parquet",
            "--endpoint-url",
            f"{emulator.url}/api/data-ingestion",
            f"s3://continuous/connection/{CONNECTION}/shipment/",
            "--profile",
            "profileName",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (
        f"upload: ./shipment.parquet to s3://continuous/connection/{CONNECTION}/shipment/shipment.parquet"
        in result.stdout
    )
    assert emulator.table("shipment")["rows"] == [{"order_id": 7, "created_at": 1}]
