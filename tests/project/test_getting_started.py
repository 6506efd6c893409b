"""docs/getting-started.md as written: its tested command blocks run against the built wheel in a fresh venv.

The commands are copied from the page (the bash blocks after a ``<!-- tested -->`` comment), never restated.
Two things differ from a user's machine, both set up here and not in the page's text: ``pip`` is uv's pip
(the same resolution, served from the uv cache so the test takes seconds, not minutes) with the package name
mapped to the wheel just built (the package is not taken from PyPI), and the emulator port 8089 becomes a
free port (other test runs share this machine). ``~`` is a temporary home.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from tests.helpers import ROOT
from tests.helpers.packaging import build_dists, requires_pypi, uv_command
from tests.helpers.servers import free_port

pytestmark = pytest.mark.once  # independent of the Airflow version (see conftest)

PAGE = ROOT / "docs" / "getting-started.md"
DOC_PORT = "8089"
TESTED_BLOCK = re.compile(r"<!-- tested -->\n```bash\n(.*?)```", re.S)

# `pip install ...` as uv's pip into the active venv, with airflow-provider-celonis[...] taken from the wheel.
PIP_SHIM = r"""
pip() {
  [ "$1" = install ] || { echo "the test's pip only installs, got: pip $*" >&2; return 2; }
  shift
  local args=() arg
  for arg in "$@"; do
    case "$arg" in
      airflow-provider-celonis*) arg="${arg} @ file://$CELONIS_TEST_WHEEL" ;;
    esac
    args+=("$arg")
  done
  "${CELONIS_TEST_UV[@]}" pip install --quiet "${args[@]}"
}
"""


def page_blocks() -> list[str]:
    return TESTED_BLOCK.findall(PAGE.read_text())


def test_the_page_marks_its_commands():
    blocks = page_blocks()
    script = "\n".join(blocks)
    assert len(blocks) >= 3, "getting-started.md lost its <!-- tested --> blocks"
    for step in ("pip install", "--write-examples", "airflow dags test example_celonis_full_reload"):
        assert step in script, f"the tested blocks no longer contain {step!r}"
    assert script.count(DOC_PORT) >= 2, "the page's emulator port changed: update DOC_PORT"


@requires_pypi
@pytest.mark.timeout(1200)
def test_getting_started_as_written_reaches_a_green_dag(tmp_path):
    wheel, _ = build_dists()
    uv = uv_command()
    cache = subprocess.run([*uv, "cache", "dir"], capture_output=True, text=True, check=True).stdout.strip()
    home = tmp_path / "home"
    home.mkdir()
    port = str(free_port())
    script = "\n".join(block.replace(DOC_PORT, port) for block in page_blocks())
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV", "CELONIS_", "UV_PYTHON"))
    }
    env.update(
        {"HOME": str(home), "UV_CACHE_DIR": cache, "UV_PYTHON_DOWNLOADS": "never", "CELONIS_TEST_WHEEL": str(wheel)}
    )
    # The venv's tools come first once the page activates it; nothing of the test's own venv is on PATH.
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venvs" not in p)
    uv_array = " ".join(f"'{part}'" for part in uv)
    full = f"set -euo pipefail\nCELONIS_TEST_UV=({uv_array})\n{PIP_SHIM}\n{script}"
    (tmp_path / "getting-started.sh").write_text(full)
    started = time.monotonic()
    proc = subprocess.Popen(
        ["bash", str(tmp_path / "getting-started.sh")],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=1100)
    finally:
        # The page starts the emulator in the background: end it and anything else the script left running.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    seconds = time.monotonic() - started
    print(f"getting started as written: {seconds:.0f} s (fresh venv, Airflow 3.3, the wheel, one DAG run)")
    assert proc.returncode == 0, output[-5000:]
    assert "state=failed" not in output.lower() and "dagrunstate.failed" not in output.lower(), output[-5000:]
    # `airflow dags list-runs example_celonis_full_reload` (the page's last block) lists the run as success.
    runs = [line.split("|") for line in output.splitlines() if re.match(r"example_celonis_full_reload\s*\|", line)]
    assert [run[2].strip() for run in runs] == ["success"], output[-3000:]
    venv = home / "celonis-airflow"
    site = next(venv.glob("lib/python3*/site-packages"))
    assert (site / "airflow_provider_celonis" / "example_dags" / "_demo_ids.py").exists()
    assert not (site / "airflow_provider_celonis.egg-link").exists()  # the wheel, not the checkout
    assert (venv / "home" / "dags" / "example_celonis_reload.py").exists()


def test_tested_blocks_are_bash_that_parses():
    for block in page_blocks():
        result = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, (block, result.stderr)


def test_page_names_only_existing_example_dags():
    dag_ids = set(re.findall(r"example_celonis_\w+", PAGE.read_text()))
    sources = "".join(p.read_text() for p in (ROOT / "example_dags").glob("example_*.py"))
    missing = sorted(d for d in dag_ids if f'"{d}"' not in sources)
    assert missing == [], f"getting-started.md names DAGs that do not exist: {missing}"
