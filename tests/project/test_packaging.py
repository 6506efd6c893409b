"""The wheel and sdist as an Apache provider ships them: license files, SPDX metadata, runtime-only extras."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.helpers.packaging import build_dists, requires_pypi

pytestmark = [requires_pypi, pytest.mark.once]  # the build backend (setuptools >= 77) comes from PyPI or the uv cache

# Test, docs and release tooling: never a requirement of any extra (they are the `dev` dependency group).
DEV_TOOLING = {
    "pytest",
    "pytest-asyncio",
    "pytest-timeout",
    "awscli",
    "ruff",
    "pandas",
    "mkdocs",
    "mkdocs-material",
    "pymdown-extensions",
    "mkdocstrings",
    "mkdocstrings-python",
    "playwright",
    "twine",
}
RUNTIME_EXTRAS = {"emulator", "sql", "postgres", "sqlite", "openlineage"}


def source_version() -> str:
    """``__version__`` of airflow_provider_celonis/__init__.py, read without importing (the one version source)."""
    tree = ast.parse((ROOT / "airflow_provider_celonis" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return node.value.value
    raise AssertionError("no __version__ in airflow_provider_celonis/__init__.py")


@pytest.fixture(scope="module")
def wheel() -> zipfile.ZipFile:
    return zipfile.ZipFile(build_dists()[0])


@pytest.fixture(scope="module")
def metadata(wheel):
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    return Parser().parsestr(wheel.read(name).decode())


def test_wheel_ships_license_and_notice(wheel):
    names = wheel.namelist()
    for file in ("LICENSE", "NOTICE"):
        (found,) = [n for n in names if n.endswith(f".dist-info/licenses/{file}")]
        assert wheel.read(found) == (ROOT / file).read_bytes()
    assert b"Apache License" in (ROOT / "LICENSE").read_bytes()
    assert b"END OF TERMS AND CONDITIONS" in (ROOT / "LICENSE").read_bytes()


def test_metadata_is_spdx_with_urls_and_classifiers(metadata):
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Metadata-Version"] >= "2.4"
    assert not [c for c in metadata.get_all("Classifier") if c.startswith("License ::")]  # SPDX replaces them
    classifiers = set(metadata.get_all("Classifier"))
    assert {
        "Development Status :: 4 - Beta",
        "Framework :: Apache Airflow :: Provider",
        "Intended Audience :: Developers",
        "Intended Audience :: System Administrators",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
    } <= classifiers
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert {"Documentation", "Source", "Issues", "Changelog"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    assert urls["Source"] == "https://github.com/airflow-provider-celonis/airflow-provider-celonis"
    assert metadata["Author"] or metadata["Author-email"]


def test_version_is_the_source_version(metadata):
    assert metadata["Version"] == source_version()
    assert build_dists()[0].name.startswith(f"airflow_provider_celonis-{source_version()}-")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"], "the version is written twice"


def test_extras_are_runtime_options_only(metadata):
    assert set(metadata.get_all("Provides-Extra")) == RUNTIME_EXTRAS
    for requirement in metadata.get_all("Requires-Dist"):
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
        assert name not in DEV_TOOLING, f"dev tooling published as a requirement: {requirement}"


def test_wheel_holds_every_subpackage_and_the_example_dags(wheel):
    names = set(wheel.namelist())
    for init in (ROOT / "airflow_provider_celonis").rglob("__init__.py"):
        if "__pycache__" not in init.parts:
            assert init.relative_to(ROOT).as_posix() in names, f"{init.parent.name} is missing in pyproject packages"
    for example in (ROOT / "example_dags").glob("*.py"):
        assert f"airflow_provider_celonis/example_dags/{example.name}" in names
    assert "airflow_provider_celonis/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "example_dags/", "scripts/"))]


def test_sdist_is_test_free_and_builds_the_wheel():
    """The sdist holds what builds the wheel (uv built the wheel from it) and the license files; no tests."""
    _, sdist = build_dists()
    with tarfile.open(sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    for file in ("LICENSE", "NOTICE", "README.md", "pyproject.toml", "example_dags/_demo_ids.py"):
        assert file in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "scripts/", "docs/"))], names


def test_twine_check_is_clean():
    twine = os.path.join(os.path.dirname(sys.executable), "twine")
    result = subprocess.run(
        [twine, "check", "--strict", *map(str, build_dists())], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_links_are_absolute():
    """README.md is the package index page, where relative links break."""
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", readme)
    assert links, "README.md has no links at all"
    relative = [link for link in links if not link.startswith(("https://", "http://", "#"))]
    assert relative == [], f"relative links in README.md: {relative}"


def test_dev_group_has_the_tooling_and_setup_venv_installs_it():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    group = {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in project["dependency-groups"]["dev"]}
    assert DEV_TOOLING <= group, DEV_TOOLING - group
    setup = (ROOT / "scripts" / "setup-venv.sh").read_text()
    assert "--group" in setup and "pyproject.toml:dev" in setup
    assert Path(ROOT / "MANIFEST.in").exists()
