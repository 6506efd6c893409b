"""The conformance command: probe a real Celonis team and say where it differs from what the provider assumes.

Run ``python -m airflow_provider_celonis.conformance --help``; docs/conformance.md explains the output.
"""
