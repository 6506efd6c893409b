"""Build the wheel and sdist with uv, and tell whether PyPI (or a warm uv cache in offline mode) is at hand."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers import ROOT

OFFLINE_REASON = "offline: building the package and installing Airflow need PyPI (or UV_OFFLINE=1 with a warm uv cache)"


def uv_command() -> list[str]:
    """The uv executable: on PATH, or the module scripts/setup-venv.sh installs into the machine's Python."""
    found = shutil.which("uv")
    if found:
        return [found]
    for python in ("python3.11", "python3", sys.executable):
        exe = shutil.which(python) or python
        if subprocess.run([exe, "-m", "uv", "--version"], capture_output=True).returncode == 0:
            return [exe, "-m", "uv"]
    pytest.fail("uv is not installed: scripts/setup-venv.sh installs it (pip install uv)")


def pypi_reachable() -> bool:
    """True when uv can fetch packages: PyPI answers on 443, or uv is told to use only its cache."""
    if os.environ.get("UV_OFFLINE") in ("1", "true"):
        return True
    try:
        with socket.create_connection(("pypi.org", 443), timeout=5):
            return True
    except OSError:
        return False


requires_pypi = pytest.mark.skipif(not pypi_reachable(), reason=OFFLINE_REASON)


@functools.cache
def build_dists() -> tuple[Path, Path]:
    """``uv build`` the sdist, then the wheel from that sdist; return (wheel, sdist). Built once per session."""
    out_dir = Path(tempfile.mkdtemp(prefix="celonis-dist-"))
    result = subprocess.run(
        [*uv_command(), "build", "--quiet", "--out-dir", str(out_dir), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out_dir.glob("*.whl")
    (sdist,) = out_dir.glob("*.tar.gz")
    return wheel, sdist
