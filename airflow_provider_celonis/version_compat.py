"""Airflow version gates (copied per provider, as the ASF providers do, never imported across them)."""

from __future__ import annotations


def _airflow_version() -> tuple[int, int, int]:
    from airflow import __version__
    from packaging.version import Version

    release = Version(__version__).release
    return (release + (0, 0, 0))[:3]  # type: ignore[return-value]


AIRFLOW_VERSION = _airflow_version()
AIRFLOW_V_3_0_PLUS = AIRFLOW_VERSION >= (3, 0, 0)
AIRFLOW_V_3_3_PLUS = AIRFLOW_VERSION >= (3, 3, 0)
