"""The documentation site builds with warnings as errors, and every parameter of every class is on its page."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_celonis.operators._waiting import CelonisWaitingOperator
from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.operators.ingest import CelonisIngestDataOperator, CelonisIngestFilesOperator
from airflow_provider_celonis.operators.push import CelonisPushDataOperator
from airflow_provider_celonis.sensors.celonis import CelonisDataJobSensor, CelonisDataModelLoadSensor

ROOT = Path(__file__).resolve().parent.parent
MKDOCS = os.path.join(os.path.dirname(sys.executable), "mkdocs")

PAGES = {
    CelonisReloadDataModelOperator: "operator-reload-data-model.md",
    CelonisRunDataJobOperator: "operator-run-data-job.md",
    CelonisPushDataOperator: "operator-push-data.md",
    CelonisIngestFilesOperator: "operator-ingest-files.md",
    CelonisIngestDataOperator: "operator-ingest-data.md",
    CelonisDataModelLoadSensor: "sensor-data-model-load.md",
    CelonisDataJobSensor: "sensor-data-job.md",
}
# The shared waiting parameters are documented once, on the reload operator's page, which the others link.
SHARED_PAGE = "operator-reload-data-model.md"


def own_parameters(cls: type) -> set[str]:
    """Keyword parameters the provider's classes add (Airflow's BaseOperator ones are Airflow's to document)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("airflow_provider_celonis"):
            continue
        for name, param in inspect.signature(klass.__init__).parameters.items():
            if name != "self" and param.kind is param.KEYWORD_ONLY:
                names.add(name)
    return names


@pytest.mark.parametrize("cls", PAGES, ids=lambda c: c.__name__)
def test_every_parameter_is_documented(cls):
    text = (ROOT / "docs" / PAGES[cls]).read_text()
    if issubclass(cls, CelonisWaitingOperator):
        text += (ROOT / "docs" / SHARED_PAGE).read_text()
    missing = sorted(name for name in own_parameters(cls) if f"`{name}`" not in text)
    assert missing == [], f"{cls.__name__} parameters not in docs/{PAGES[cls]}: {missing}"


def test_docs_site_builds_with_warnings_as_errors(tmp_path):
    result = subprocess.run([MKDOCS, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (tmp_path / "site" / "operator-push-data" / "index.html").read_text()
    assert "push_orders" in page and "8&lt;--" not in page  # the snippet came from the example DAG
