"""A local Celonis Platform for offline DAG tests: REST endpoints, S3-compatible ingestion, fault injection.

Provider code never imports this package; it is built only from the API contract.
Run it with ``python -m airflow_provider_celonis.emulator`` (see docs/emulator.md).
"""

from airflow_provider_celonis.emulator.server import EmulatorServer, start_in_thread
from airflow_provider_celonis.emulator.state import EmulatorState

__all__ = ["EmulatorServer", "EmulatorState", "start_in_thread"]
