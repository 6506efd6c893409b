"""Apache Airflow provider for the Celonis Platform."""

from __future__ import annotations

__version__ = "0.1.0"

MIN_AIRFLOW_VERSION = "2.11.0"


def _check_airflow_version() -> None:
    """Fail at import on an Airflow this provider was never tested with.

    Only checked when Airflow is already imported: the emulator must start without loading Airflow.
    """
    import sys

    airflow = sys.modules.get("airflow")
    if airflow is None or not hasattr(airflow, "__version__"):
        return
    from packaging.version import Version

    if Version(Version(airflow.__version__).base_version) < Version(MIN_AIRFLOW_VERSION):
        raise RuntimeError(
            f"airflow-provider-celonis {__version__} needs Apache Airflow >= {MIN_AIRFLOW_VERSION}, "
            f"found {airflow.__version__}."
        )


_check_airflow_version()
