"""The push benchmark runs end to end at a small size (the real sizes are run by hand, not in CI)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.once  # independent of the Airflow version (see conftest)


def test_push_benchmark_smoke(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "push.py"),
            "--sizes",
            "20000",
            "--repeat",
            "1",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    for case, ratio in (
        ("transfer_limit", "of transfer limit"),
        ("naive", "of transfer limit"),
        ("operator_parquet", "of transfer limit"),
        ("operator_sql", "of transfer limit"),
        ("operator_csv", "of transfer limit"),
        ("operator_ingest_parquet", "of raw put"),
    ):
        row = next(line for line in lines if line.startswith(case + " "))
        seconds, rows_per_second = row.split()[1:3]
        assert float(seconds) > 0 and float(rows_per_second.replace(",", "")) > 0
        assert ratio in row, row
