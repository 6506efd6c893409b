"""Tell what one `airflow dags test` run of the demo did, task by task, from Airflow's metadata database.

Usage: python scripts/demo_report.py AIRFLOW_DB DAG_ID LOG_FILE
Reads the latest run of DAG_ID: each task's state and seconds, and what its XCom return value says Celonis
did (rows pushed, the status Celonis reported, load type); for a failed task the error from LOG_FILE.
Standard library only, so it runs with any Python.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from typing import Any


def load(value: Any) -> Any:
    """An XCom value as stored by Airflow 3 (JSON text) or Airflow 2 (JSON bytes)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value


def describe(value: Any) -> str:
    """One line on what a Celonis task's return value says happened."""
    if not isinstance(value, dict):
        return f"returned {str(value)[:80]!s}" if value is not None else ""
    status = value.get("status")
    said = f"Celonis: {status}" if status and status != "started" else "started, not waited for"
    if "push_job_id" in value or "push_logs" in value:
        if "rows" in value:
            return (
                f"pushed {value['rows']:,} rows ({value.get('push_type', '')} {value.get('file_type', '')}) "
                f"into {value.get('table_name')} in {value.get('chunks', '?')} chunk(s); {said}"
            )
        logs = value.get("push_logs") or []
        return f"{said}; Celonis's log: " + (logs[-1].split(" - ", 1)[-1] if logs else "none")
    if "load" in value or "data_model_id" in value:
        load_info = value.get("load") or {}
        kind = load_info.get("load_type") or ("PARTIAL" if value.get("table_ids") else "COMPLETE")
        cache = " from cache" if value.get("from_cache") else ""
        again = ", re-attached to a running load" if value.get("reattached") else ""
        return f"data model load {kind}{cache}{again}; {said}"
    if "execution" in value:  # a data job that waited in the triggerer returns the execution it watched
        execution = value["execution"] or {}
        return f"data job {execution.get('mode', '')} ({execution.get('name', '')}); {said}"
    if "data_job_id" in value:
        parts = " (chosen parts)" if value.get("selection") else ""
        return f"data job {value.get('mode', '')}{parts}; {said}"
    if "files" in value:
        return (
            f"ingested {value.get('rows', 0):,} rows in {len(value['files'])} file(s) into "
            f"{value.get('table_name')} (S3-compatible upload)"
        )
    return ", ".join(f"{k}={v}" for k, v in list(value.items())[:4])


def failure(log: str) -> str:
    """The provider's error message from a DAG test log, without its trailing UI link."""
    match = re.search(r"^airflow_provider_celonis\.exceptions\.\w+: (.*)$", log, re.M)
    if not match:
        match = re.search(r"^\w+(?:Error|Exception|Failure): (.*)$", log, re.M)
    if not match:
        return "see the log"
    return re.sub(r"(?<=') \(id [^)]*\)| See https?://\S+$", "", match.group(1))[:200]


def main(db_path: str, dag_id: str, log_path: str) -> int:
    """Print one line per task of the latest run of ``dag_id``."""
    db = sqlite3.connect(db_path)
    run = db.execute("select run_id from dag_run where dag_id = ? order by id desc limit 1", (dag_id,)).fetchone()
    if run is None:
        print("      (no run recorded)")
        return 0
    values = {
        task: load(value)
        for task, value in db.execute(
            "select task_id, value from xcom where dag_id = ? and run_id = ? and key = 'return_value'", (dag_id, run[0])
        )
    }
    log = open(log_path, encoding="utf-8", errors="replace").read()
    tasks = db.execute(
        "select task_id, state, duration from task_instance where dag_id = ? and run_id = ? "
        "order by start_date is null, start_date",
        (dag_id, run[0]),
    ).fetchall()
    for task_id, state, duration in tasks:
        seconds = f"{duration:5.1f} s" if duration is not None else "    - "
        what = failure(log) if state == "failed" else describe(values.get(task_id))
        print(f"      {task_id:<24} {state or 'not run':<16} {seconds}  {what}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
