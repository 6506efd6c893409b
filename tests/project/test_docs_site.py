"""The documentation site builds with warnings as errors, and every parameter of every class is on its page."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_celonis.operators._waiting import CelonisWaitingOperator
from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.operators.ingest import CelonisIngestDataOperator, CelonisIngestFilesOperator
from airflow_provider_celonis.operators.push import CelonisPushDataOperator
from airflow_provider_celonis.sensors.celonis import CelonisDataJobSensor, CelonisDataModelLoadSensor
from tests.helpers import ROOT

pytestmark = pytest.mark.once  # independent of the Airflow version (see conftest)

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


# The API reference: one page per module group, generated from the docstrings, and a class each must show.
REFERENCE = {
    "hooks": "CelonisHook",
    "operators": "CelonisReloadDataModelOperator",
    "sensors": "CelonisDataModelLoadSensor",
    "triggers": "CelonisDataModelLoadTrigger",
    "waiting": "CelonisWaitingOperator",
    "assets": "celonis_data_model_asset",
    "models": "DataModelLoad",
    "exceptions": "CelonisApiError",
}
EXAMPLE_BLOCK = re.compile(r"<!-- example: ([^:]+):(\w+) -->\n```python\n(.*?)```", re.S)
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_docs_site_builds_with_warnings_as_errors(tmp_path):
    result = subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (tmp_path / "site" / "operator-push-data" / "index.html").read_text()
    assert "push_orders" in page and "8&lt;--" not in page  # the example DAG's code, not an include line
    for name, cls in REFERENCE.items():
        assert (ROOT / "docs" / "reference" / f"{name}.md").exists()
        html = (tmp_path / "site" / "reference" / name / "index.html").read_text()
        assert 'id="airflow_provider_celonis.' in html and cls in html, f"reference/{name} does not show {cls}"
    reference = (tmp_path / "site" / "reference" / "operators" / "index.html").read_text()
    assert "from_cache" in reference and "reload from Celonis" in reference  # a parameter, from its docstring


def example_section(path: str, section: str) -> str:
    """The lines between ``[start:section]`` and ``[end:section]`` of an example DAG, as written there."""
    lines = (ROOT / path).read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if f"[start:{section}]" in line)
    end = next(i for i, line in enumerate(lines) if f"[end:{section}]" in line)
    return "".join(lines[start + 1 : end])


def example_blocks() -> list[tuple[str, str, str, str]]:
    return [
        (page.name, *m.groups())
        for page in sorted((ROOT / "docs").glob("*.md"))
        for m in EXAMPLE_BLOCK.finditer(page.read_text())
    ]


def test_pages_show_code_on_the_code_host_too():
    """An include line shows nothing where markdown is rendered without the snippets extension."""
    includes = [page.name for page in (ROOT / "docs").glob("*.md") if "--8<--" in page.read_text()]
    assert includes == [], f"pages with --8<-- include lines: {includes}"
    assert len(example_blocks()) >= 10


@pytest.mark.parametrize("page,path,section,code", example_blocks(), ids=lambda v: v if "\n" not in v else "")
def test_inline_example_is_the_example_dags_code_and_runs_as_shown(page, path, section, code):
    """Each operator page's example holds the example DAG's section verbatim, with imports and names defined."""
    lines = example_section(path, section)
    assert lines in code or textwrap.dedent(lines) in code, f"docs/{page}: {section} differs from {path}"
    if "from airflow.sdk import" in code:
        pytest.importorskip("airflow.sdk.bases.operator", reason="the example is for Airflow 3 (airflow.sdk)")
    dag = run_block(code)
    assert dag.task_ids, f"docs/{page}: the example defines no task"


@pytest.mark.parametrize("page", ["index.md", "getting-started.md"])
def test_front_page_dags_run_as_shown(page):
    (code,) = PYTHON_BLOCK.findall((ROOT / "docs" / page).read_text())
    assert run_block(code).task_ids


def run_block(code: str):
    """Parse a page's code block as a DAG file, as Airflow's DAG processor would; return the one DAG it defines."""
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 2

    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="docs-dag-"))
    path = folder / "docs_example.py"
    path.write_text(textwrap.dedent(code))
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    assert bag.dags, "the block defines no DAG"
    return next(iter(bag.dags.values()))
