"""The conformance command against the emulator over real HTTP: verdicts per seed switch, --write, report, exits."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from airflow_provider_celonis.conformance.__main__ import build_parser, run
from airflow_provider_celonis.conformance.assumptions import ASSUMPTIONS
from airflow_provider_celonis.emulator import seed as seeds
from tests.helpers import ROOT
from tests.helpers.emulator import CONNECTION, DATA_MODEL, FAILING_DATA_JOB, POOL, test_seed

pytestmark = pytest.mark.once  # independent of the Airflow version (see conftest)

AGREES, DIFFERS, NOT_CHECKED = "agrees", "differs", "not checked"
READ_ARGS = [
    "--pool",
    POOL,
    "--data-model",
    DATA_MODEL,
    "--data-job",
    FAILING_DATA_JOB,
    "--ingestion-connection",
    CONNECTION,
]
WRITE_ARGS = [
    "--pool",
    POOL,
    "--data-model",
    DATA_MODEL,
    "--write",
    "--scratch-table",
    "conformance_scratch",
    "--probe-double-start",
    "--submit-spacing",
    "1.1",
    "--poll-interval",
    "0.1",
    "--wait-timeout",
    "30",
]
SECRETS = (
    seeds.DEMO_API_KEY,
    seeds.DEMO_APP_KEY,
    seeds.DEMO_CLIENT_SECRET,
    seeds.DEMO_S3_ACCESS_KEY,
    seeds.DEMO_S3_SECRET_KEY,
)


def verdicts(output: str) -> dict[str, str]:
    """``{assumption id: verdict}`` from the printed lines."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^(agrees|differs|not checked)\s+([\w.-]+):", line)
        if match:
            found[match.group(2)] = match.group(1)
    return found


def conformance(args: list[str], capsys) -> tuple[int, dict[str, str], str, str]:
    """Run the command in-process: exit code, verdicts, stdout, stderr."""
    code = run(args)
    out, err = capsys.readouterr()
    return code, verdicts(out), out, err


def run_job(emulator, job: str = FAILING_DATA_JOB) -> None:
    """Execute a data job through the API and wait until it has ended."""
    headers = {"Authorization": f"Bearer {seeds.DEMO_API_KEY}"}
    requests.post(
        f"{emulator.url}/integration/api/v2/data-pools/{POOL}/data-jobs/{job}/execute",
        params={"mode": "FULL"},
        headers=headers,
        timeout=10,
    ).raise_for_status()
    for _ in range(100):
        status = requests.get(
            f"{emulator.url}/integration/api/pools/{POOL}/logs/status", headers=headers, timeout=10
        ).json()
        if any(s["id"] == job and s["status"] in ("SUCCESS", "FAIL") for s in status):
            return
        time.sleep(0.1)
    raise AssertionError("the data job did not end")


def load_model(emulator) -> None:
    """Load the demo data model once through the API and wait until it has ended."""
    headers = {"Authorization": f"Bearer {seeds.DEMO_API_KEY}"}
    path = f"/integration/api/v1/data-pools/{POOL}/data-models/{DATA_MODEL}"
    requests.post(emulator.url + path + "/load", headers=headers, timeout=10).raise_for_status()
    for _ in range(100):
        last = requests.get(emulator.url + path + "/last-load", headers=headers, timeout=10)
        if last.status_code == 200 and last.json()["loadStatus"] != "RUNNING":
            return
        time.sleep(0.1)
    raise AssertionError("the load did not end")


def submits(emulator) -> list[dict]:
    return [r for r in emulator.requests("/data-push/", method="POST") if re.search(r"/jobs/[^/]+$", r["path"])]


READ_AGREES = {
    "pools.list-shape",
    "data-models.list-shape",
    "data-jobs.list-shape",
    "pool-tables.list-shape",
    "pool-tables.columns-listed",
    "last-load.never-loaded-404",
    "load-history.shape",
    "dates.epoch-milliseconds",
    "job.status-fields",
    "job.timeStamp-not-execution-time",
    "job.no-latestExecutionItemId",
    "logs-status.shape",
    "logs-status.start-is-newest-execution",
    "executions.shape",
    "executions.no-message",
    "execution-log.chain",
    "ingestion.head-missing-key-404",
    "ingestion.multipart-accepted",
    "ingestion.unsigned-payload-accepted",
}
WRITE_AGREES = {
    "push.create-answers-json",
    "push.every-column-type-done",
    "push.int96-timestamps-accepted",
    "push.int64-timestamps-rejected",
    "push.rapid-submit-409",
    "load.partial-start-2xx",
    "load.partial-reload-completes",
    "load.second-start-runs-again",
}


def test_default_seed_read_only(emulator, capsys):
    run_job(emulator)
    code, found, out, _ = conformance(READ_ARGS, capsys)
    assert set(found) == {a.id for a in ASSUMPTIONS}, "one line per assumption"
    assert {k for k, v in found.items() if v == AGREES} == READ_AGREES, out
    assert not [k for k, v in found.items() if v == DIFFERS]
    assert found["auth.oauth-token-shape"] == NOT_CHECKED  # an API key connection
    assert found["last-load.shape"] == NOT_CHECKED  # never loaded yet
    assert code == 0
    # read-only: nothing was started or pushed
    assert not emulator.requests("/data-push/", method="POST")
    assert not [r for r in emulator.requests(method="POST") if "/load" in r["path"] or "/execute" in r["path"]][1:]


def test_default_seed_after_loads_and_executions(emulator, capsys, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json("oauth"))
    load_model(emulator)
    load_model(emulator)
    run_job(emulator)
    run_job(emulator)
    code, found, out, _ = conformance(READ_ARGS, capsys)
    for aid in (
        "auth.oauth-token-shape",
        "last-load.shape",
        "last-load.status-values",
        "load-history.newest-first",
        "executions.newest-first",
        "execution-log.chain",
        "job.timeStamp-not-execution-time",
    ):
        assert found[aid] == AGREES, (aid, out)
    assert found["last-load.never-loaded-404"] == NOT_CHECKED
    assert code == 0


def test_timestamp_that_is_an_execution_time_differs(emulator, capsys):
    seed = test_seed()
    seed["pools"][0]["data_jobs"][1]["time_stamp"] = int(time.time() * 1000)
    emulator.reseed(seed)
    run_job(emulator)
    code, found, out, _ = conformance(READ_ARGS, capsys)
    assert found["job.timeStamp-not-execution-time"] == DIFFERS, out
    assert code == 1


def _before_rate_window(window: float) -> None:
    """Start where a 429's reset is more than 1 s away and not near a full UTC hour (so the verdict is stable)."""
    while True:
        now = time.time()
        if (3600 - now % 3600) > 60 and (window >= 3600 or now % window < 2.0):
            return
        time.sleep(0.2)


# One submit an hour: the probe's second submit gets a 429 (the hourly window, a wait far from 1 s).
HOURLY = {"rate_limits": {"push_execute_per_hour": 1}, "rate_limit_window_seconds": 3600}
# (setting, value, extra seed settings, args, assumption, expected verdict); each switch with every value.
SWITCH_CASES = [
    ("start_conflict", "second_run", {}, WRITE_ARGS, "load.second-start-runs-again", AGREES),
    ("start_conflict", "409", {}, WRITE_ARGS, "load.second-start-runs-again", DIFFERS),
    ("last_load_never_loaded", "404", {}, READ_ARGS, "last-load.never-loaded-404", AGREES),
    ("last_load_never_loaded", "204", {}, READ_ARGS, "last-load.never-loaded-404", DIFFERS),
    ("job_status_has_latest_execution_item", "false", {}, READ_ARGS, "job.no-latestExecutionItemId", AGREES),
    ("job_status_has_latest_execution_item", "true", {}, READ_ARGS, "job.no-latestExecutionItemId", DIFFERS),
    ("create_push_job_response", "json", {}, WRITE_ARGS, "push.create-answers-json", AGREES),
    ("create_push_job_response", "empty_204", {}, WRITE_ARGS, "push.create-answers-json", DIFFERS),
    ("push_parquet_int64_timestamps", "reject", {}, WRITE_ARGS, "push.int64-timestamps-rejected", AGREES),
    ("push_parquet_int64_timestamps", "accept", {}, WRITE_ARGS, "push.int64-timestamps-rejected", DIFFERS),
    ("ingestion_multipart", "accept", {}, READ_ARGS, "ingestion.multipart-accepted", AGREES),
    ("ingestion_multipart", "refuse", {}, READ_ARGS, "ingestion.multipart-accepted", DIFFERS),
    ("push_submit_spacing_seconds", 1.0, {}, WRITE_ARGS, "push.rapid-submit-409", AGREES),
    ("push_submit_spacing_seconds", 0, {}, WRITE_ARGS, "push.rapid-submit-409", DIFFERS),
    ("rate_limit_headers", "reset", HOURLY, WRITE_ARGS, "push.429-names-reset", AGREES),
    ("rate_limit_headers", "none", HOURLY, WRITE_ARGS, "push.429-names-reset", DIFFERS),
    (
        "rate_limit_window_seconds",
        3600,
        {"rate_limits": {"push_execute_per_hour": 1}},
        WRITE_ARGS,
        "push.hourly-window-on-the-hour",
        AGREES,
    ),
    (
        "rate_limit_window_seconds",
        10,
        {"rate_limits": {"push_execute_per_hour": 1}},
        WRITE_ARGS,
        "push.hourly-window-on-the-hour",
        DIFFERS,
    ),
]


def test_switch_cases_cover_every_switch():
    covered = {(name, str(value).lower()) for name, value, *_ in SWITCH_CASES}
    for name, choices in seeds.SWITCHES.items():
        assert {(name, c) for c in choices} <= covered, name
    assert {"push_submit_spacing_seconds", "rate_limit_window_seconds"} <= {name for name, *_ in SWITCH_CASES}


@pytest.mark.parametrize(
    ("setting", "value", "extra", "args", "assumption", "expected"),
    SWITCH_CASES,
    ids=[f"{c[0]}={c[1]}" for c in SWITCH_CASES],
)
def test_seed_switch_shows(emulator, capsys, setting, value, extra, args, assumption, expected):
    emulator.reseed(test_seed(**{setting: value}, **extra))
    if args is READ_ARGS:
        run_job(emulator)
    window = value if setting == "rate_limit_window_seconds" else extra.get("rate_limit_window_seconds")
    if window:
        _before_rate_window(window)
    code, found, out, _ = conformance(args, capsys)
    assert found[assumption] == expected, out
    if window:
        # the hourly window is judged from the headers or, without them, from the body's "try again at"
        assert found["push.hourly-window-on-the-hour"] == (AGREES if window == 3600 else DIFFERS), out
    if setting == "rate_limit_window_seconds":
        assert found["push.429-names-reset"] == AGREES, out
    assert code == (1 if expected == DIFFERS else 0), out
    others = {k for k, v in found.items() if v == DIFFERS} - {assumption}
    assert not others, out
    assert len(submits(emulator)) <= 3


def test_write_path(emulator, capsys):
    code, found, out, _ = conformance(WRITE_ARGS, capsys)
    assert {k for k, v in found.items() if v == AGREES} >= WRITE_AGREES, out
    assert found["push.429-names-reset"] == NOT_CHECKED  # the hourly budget is not spent to see a 429
    assert code == 0
    landed = emulator.table("conformance_scratch")
    assert landed["columns"] == ["id", "amount", "price", "flag", "day", "at_time", "created_at", "label"]
    assert len(landed["rows"]) == 3
    assert len(submits(emulator)) == 3  # two jobs; the one refused with 409 submitted once more
    loads = emulator.admin("GET", f"/_emulator/pools/{POOL}/data-models/{DATA_MODEL}/loads").json()
    assert [load["loadType"] for load in loads] == ["PARTIAL", "PARTIAL"]  # --probe-double-start ran it twice


def test_write_without_double_start_loads_once(emulator, capsys):
    args = [a for a in WRITE_ARGS if a != "--probe-double-start"]
    code, found, out, _ = conformance(args, capsys)
    assert found["load.second-start-runs-again"] == NOT_CHECKED
    assert found["load.partial-reload-completes"] == AGREES, out
    assert len(emulator.admin("GET", f"/_emulator/pools/{POOL}/data-models/{DATA_MODEL}/loads").json()) == 1
    assert code == 0


def test_report_and_output_hold_no_secret(emulator, tmp_path):
    emulator.reseed(test_seed(last_load_never_loaded="204"))
    run_job(emulator)
    report = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json("oauth")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_celonis.conformance",
            *READ_ARGS,
            "--write",
            "--scratch-table",
            "secret_check",
            "--submit-spacing",
            "1.1",
            "--poll-interval",
            "0.1",
            "--report",
            str(report),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 1, result.stdout + result.stderr  # the 204 switch differs
    tokens = list(emulator.state.tokens)
    assert tokens, "the OAuth connection minted tokens"
    document = report.read_text()
    for text in (result.stdout, result.stderr, document):
        for secret in (*SECRETS, *tokens):
            assert secret not in text
    data = json.loads(document)
    token_answer = next(e for e in data["exchanges"] if e["probe"] == "token")
    assert token_answer["body"]["access_token"] == "[REDACTED]"
    assert token_answer["body"]["token_type"] == "Bearer"
    assert {a["id"] for a in data["assumptions"]} == {a.id for a in ASSUMPTIONS}
    assert any(e["probe"] == "push-submit-1" and e["status"] == 200 for e in data["exchanges"])
    assert "differs" in result.stdout and "Report written to" in result.stdout


def test_unknown_pool_is_a_usage_error(emulator, capsys):
    code, _, out, err = conformance(["--pool", "no-such-pool"], capsys)
    assert code == 2
    assert "--pool 'no-such-pool'" in err and POOL in err and "Sales (demo)" in err
    assert not out


def test_unknown_data_model_names_the_models(emulator, capsys):
    code, _, _, err = conformance(["--pool", POOL, "--data-model", "nope"], capsys)
    assert code == 2 and "--data-model 'nope'" in err and "O2C" in err


def test_write_needs_scratch_table(emulator, capsys):
    with pytest.raises(SystemExit) as exc:
        run(["--pool", POOL, "--write"])
    assert exc.value.code == 2
    assert "--write needs --scratch-table NAME" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scratch-table", "x"], "--scratch-table only applies with --write"),
        (["--write", "--scratch-table", "x", "--probe-double-start"], "--probe-double-start needs --data-model"),
        (["--write", "--scratch-table", "a/b"], "must be a plain table name"),
        (["--wait-timeout", "-1"], "--wait-timeout must be 0 or more"),
    ],
)
def test_bad_option_combinations(emulator, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        run(["--pool", POOL, *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_existing_scratch_table_needs_overwrite(emulator, capsys):
    code, _, _, err = conformance(["--pool", POOL, "--write", "--scratch-table", "VBAK"], capsys)
    assert code == 2 and "--overwrite" in err and "'VBAK'" in err
    assert not emulator.requests("/data-push/", method="POST"), "nothing pushed before the check"


def test_refused_credential_is_a_usage_error(emulator, capsys, monkeypatch):
    conn = json.loads(emulator.connection_json())
    conn["password"] = "wrong-key"
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", json.dumps(conn))
    code, _, _, err = conformance(["--pool", POOL], capsys)
    assert code == 2 and "HTTP 401" in err and "wrong-key" not in err


def test_missing_connection_is_a_usage_error(emulator, capsys):
    code, _, _, err = conformance(["--conn-id", "no_such_conn", "--pool", POOL], capsys)
    assert code == 2 and "no_such_conn" in err


def test_failed_probe_is_not_checked(emulator, capsys):
    """The second matching request (the executions list after logs/status) gets a 503."""
    run_job(emulator)
    emulator.fault(path="/logs/", method="GET", skip=1, count=1, status=503)
    code, found, out, _ = conformance(READ_ARGS, capsys)
    assert found["logs-status.shape"] == AGREES
    assert found["executions.shape"] == NOT_CHECKED and "HTTP 503" in out
    assert code == 0


def test_fault_skip_hits_the_nth_match(emulator):
    emulator.fault(path="^/integration/api/pools$", method="GET", skip=2, count=1, status=503)
    headers = {"Authorization": f"Bearer {seeds.DEMO_API_KEY}"}
    statuses = [
        requests.get(emulator.url + "/integration/api/pools", headers=headers, timeout=10).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 503, 200]
    bad = requests.post(emulator.url + "/_emulator/faults", json={"path": "x", "skip": -1}, timeout=10)
    assert bad.status_code == 400 and "skip" in bad.text


def test_every_option_has_help():
    for action in build_parser()._actions:
        assert action.help, action.option_strings


def test_docs_name_every_assumption():
    docs = (ROOT / "docs" / "conformance.md").read_text()
    listed = set(re.findall(r"^\| `([\w.-]+)` \|", docs, re.MULTILINE))
    assert listed == {a.id for a in ASSUMPTIONS}
    assert "conformance" in Path(ROOT / "docs" / "api-assumptions.md").read_text().split("\n\n")[1]
