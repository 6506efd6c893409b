"""End to end in a real browser: a real Airflow 3 (api-server, scheduler, dag-processor, triggerer; SQLite),
the emulator, and headless Debian Chromium driven by Playwright. Screenshots go to ``e2e-screenshots/``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

from airflow_provider_celonis.emulator import seed as seeds
from tests.helpers import ROOT
from tests.helpers.emulator import test_seed
from tests.helpers.servers import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("CELONIS_E2E_SCREENSHOTS", ROOT / "e2e-screenshots"))
DAG = "example_celonis_partial_reload_deferrable"
TASK = "partial_reload"
# Chromium on a closed network: no background connections, no sandbox as root (as Debian's probe runs it).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]

airflow = pytest.importorskip("airflow")
if not airflow.__version__.startswith("3."):
    pytest.skip("the React UI flow is Airflow 3's", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def airflow_ui(emulator_server, tmp_path_factory):
    """A running Airflow 3 with every component, its UI URL, and its environment."""
    home = tmp_path_factory.mktemp("e2e-airflow")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "CELONIS_EXAMPLE_POLL_INTERVAL": "1",
        "CELONIS_EXAMPLE_DATA_DIR": str(home / "data"),
    }
    for name in ("AIRFLOW__CORE__UNIT_TEST_MODE", "AIRFLOW_CONN_CELONIS_DEFAULT"):
        env.pop(name, None)  # the connection is made in the browser
    bin_dir = os.path.dirname(sys.executable)
    subprocess.run(
        [os.path.join(bin_dir, "airflow"), "db", "migrate"], env=env, check=True, capture_output=True, timeout=600
    )
    logs = home / "component-logs"
    logs.mkdir()
    processes = []
    for component in (["api-server", "--port", str(port)], ["scheduler"], ["dag-processor"], ["triggerer"]):
        log = open(logs / f"{component[0]}.log", "w")  # noqa: SIM115 - closed with the process
        processes.append(
            (
                subprocess.Popen(
                    [os.path.join(bin_dir, "airflow"), *component], env=env, stdout=log, stderr=subprocess.STDOUT
                ),
                log,
            )
        )
    try:
        deadline = time.time() + 180
        while True:
            try:
                health = requests.get(f"{base}/api/v2/monitor/health", timeout=5).json()
                if all(
                    health.get(c, {}).get("status") == "healthy"
                    for c in ("metadatabase", "scheduler", "triggerer", "dag_processor")
                ):
                    break
            except (requests.RequestException, ValueError):
                pass
            if time.time() > deadline:
                raise RuntimeError(
                    "Airflow did not become healthy: "
                    + "".join((logs / f).read_text()[-1500:] for f in os.listdir(logs))
                )
            time.sleep(1)
        yield base, env
    finally:
        for process, _log in processes:
            process.terminate()
        for process, log in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


@pytest.fixture
def browser_page():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_connection_form_deferrable_run_and_extra_link(airflow_ui, browser_page, emulator_server):
    base, _env = airflow_ui
    page = browser_page
    emulator_server.state.load(test_seed(load_seconds=2.0))

    # 1. The connection, made in the form: labelled fields, placeholders, unused fields hidden.
    page.goto(f"{base}/connections", wait_until="networkidle")
    page.get_by_role("button", name="Add Connection").click()
    page.locator("input[name=connection_id]").fill("celonis_default")
    connection_type = page.get_by_role("combobox").first
    connection_type.click()
    connection_type.fill("Celonis")
    page.get_by_role("option", name="Celonis").click()
    host = page.locator("input[name=host]")
    host.wait_for()
    assert host.get_attribute("placeholder") == "https://myteam.eu-1.celonis.cloud"
    assert page.get_by_text("Team URL", exact=True).count() == 1
    assert page.get_by_text("Authentication", exact=False).count() >= 1
    assert page.locator("input[name=port]").count() == 0 and page.locator("input[name=schema]").count() == 0
    host.fill(emulator_server.url)
    page.locator("input[name=password]").fill(seeds.DEMO_API_KEY)
    shot(page, "01-connection-form")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("celonis_default").first.wait_for()
    shot(page, "02-connection-list")
    saved = page.request.get(f"{base}/api/v2/connections/celonis_default").json()
    assert saved["conn_type"] == "celonis" and saved["host"] == emulator_server.url
    assert json.loads(saved["extra"])["auth_type"] == "api_key"
    assert seeds.DEMO_API_KEY not in json.dumps(saved)  # the API masks the key
    # The connection test Airflow runs for the "Test" action ([core] test_connection = Enabled), with the
    # credentials in the body: it reaches CelonisHook.test_connection. (Airflow 3.3.2's list button itself
    # sends port 0 for the hidden port field, which Airflow's API refuses as "a different destination".)
    tested = page.request.post(
        f"{base}/api/v2/connections/test",
        data={
            "connection_id": "celonis_test",
            "conn_type": "celonis",
            "host": emulator_server.url,
            "password": seeds.DEMO_API_KEY,
            "extra": json.dumps({"auth_type": "api_key"}),
        },
    ).json()
    assert tested["status"] is True and "pool" in tested["message"].lower(), tested
    refused = page.request.post(
        f"{base}/api/v2/connections/test",
        data={
            "connection_id": "celonis_test",
            "conn_type": "celonis",
            "host": emulator_server.url,
            "password": "wrong-key",
            "extra": json.dumps({"auth_type": "api_key"}),
        },
    ).json()
    assert refused["status"] is False and "wrong-key" not in refused["message"], refused

    # 2. Trigger the example DAG with a deferrable task from the UI and wait for its success.
    page.goto(f"{base}/dags/{DAG}", wait_until="networkidle")
    page.get_by_role("button", name="Trigger").first.click()
    page.locator("[role=dialog]").get_by_role("button", name="Trigger").click()
    deadline = time.time() + 240
    run = None
    while time.time() < deadline:
        runs = page.request.get(f"{base}/api/v2/dags/{DAG}/dagRuns?order_by=-run_after&limit=1").json()
        run = (runs.get("dag_runs") or [None])[0]
        if run and run["state"] in ("success", "failed"):
            break
        time.sleep(2)
    run_id = urllib.parse.quote(run["dag_run_id"]) if run else ""
    page.goto(f"{base}/dags/{DAG}/runs/{run_id}", wait_until="networkidle")
    shot(page, "03-dag-run")
    assert run and run["state"] == "success", run
    tries = page.request.get(f"{base}/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances/{TASK}").json()
    assert tries["operator"] == "CelonisReloadDataModelOperator" and tries["state"] == "success"

    # 3. The extra link on the task instance opens the data model's page in Celonis.
    page.goto(f"{base}/dags/{DAG}/runs/{run_id}/tasks/{TASK}/details", wait_until="networkidle")
    link = page.get_by_role("link", name="Celonis data model")
    link.wait_for()
    expected = (
        f"{emulator_server.url}/integration/ui/pools/{seeds.DEMO_POOL_ID}/data-configuration/"
        f"process-data-models/{seeds.DEMO_DATA_MODEL_ID}?tab=data-model"
    )
    assert link.get_attribute("href") == expected
    shot(page, "04-task-instance-extra-link")
    # The deferrable task waited in the triggerer: the emulator saw the trigger's status reads.
    assert any("last-load" in r["path"] for r in emulator_server.state.request_log)
