"""The package registers with Airflow as a provider, with its connection type and hooks."""

from __future__ import annotations

import os
import subprocess
import sys

from airflow_provider_celonis import __version__
from airflow_provider_celonis.get_provider_info import get_provider_info


def test_provider_info_shape():
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-celonis" and info["versions"] == [__version__]
    conn_type = info["connection-types"][0]
    assert conn_type["connection-type"] == "celonis"
    assert conn_type["hook-class-name"] == "airflow_provider_celonis.hooks.celonis.CelonisHook"
    assert set(conn_type["ui-field-behaviour"]["hidden-fields"]) == {"schema", "port"}
    assert set(conn_type["conn-fields"]) >= {"auth_type", "scopes", "timeout", "verify"}


def test_entry_point_is_installed():
    from importlib.metadata import entry_points

    names = [ep.value for ep in entry_points(group="apache_airflow_provider")]
    assert "airflow_provider_celonis.get_provider_info:get_provider_info" in names


def _airflow(*args: str) -> str:
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    result = subprocess.run([airflow, *args], capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_airflow_cli_lists_provider_and_hook():
    assert "airflow-provider-celonis" in _airflow("providers", "list")
    hooks = _airflow("providers", "hooks")
    assert "celonis" in hooks and "CelonisHook" in hooks


def test_airflow_hides_the_unused_fields_and_relabels_the_others():
    """What the connection form gets from Airflow (a provider-info key in the wrong case once hid nothing)."""
    from airflow.providers_manager import ProvidersManager

    behaviour = ProvidersManager().field_behaviours["celonis"]
    assert set(behaviour["hidden_fields"]) >= {"schema", "port"}
    assert behaviour["relabeling"]["host"] == "Team URL"
