"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

_ASSET_URIS = {
    "schemes": ["celonis"],
    "handler": "airflow_provider_celonis.assets.sanitize_uri",
    "factory": "airflow_provider_celonis.assets.create_asset",
    "to_openlineage_converter": "airflow_provider_celonis.assets.convert_asset_to_openlineage",
}


def get_provider_info() -> dict[str, Any]:
    """Describe the package, its connection type, hooks, operators, sensors, triggers, links and asset scheme."""
    from airflow_provider_celonis import __version__
    from airflow_provider_celonis.connection_form import conn_fields, provider_ui_field_behaviour

    return {
        "package-name": "airflow-provider-celonis",
        "name": "Celonis",
        "description": "Reload Celonis process data models, run data jobs and push data into data pools.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Celonis",
                "external-doc-url": "https://developer.celonis.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Celonis",
                "python-modules": [
                    "airflow_provider_celonis.hooks.celonis",
                    "airflow_provider_celonis.hooks.celonis_async",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "Celonis",
                "python-modules": [
                    "airflow_provider_celonis.operators.data_model",
                    "airflow_provider_celonis.operators.data_job",
                    "airflow_provider_celonis.operators.push",
                    "airflow_provider_celonis.operators.ingest",
                ],
            }
        ],
        "sensors": [{"integration-name": "Celonis", "python-modules": ["airflow_provider_celonis.sensors.celonis"]}],
        "triggers": [
            {
                "integration-name": "Celonis",
                "python-modules": [
                    "airflow_provider_celonis.triggers.celonis",
                    "airflow_provider_celonis.triggers.events",
                ],
            }
        ],
        # celonis:// assets (Airflow 3) and datasets (Airflow 2): normaliser, factory, OpenLineage converter.
        "asset-uris": [_ASSET_URIS],
        "dataset-uris": [_ASSET_URIS],
        "extra-links": [
            "airflow_provider_celonis.links.CelonisDataPoolLink",
            "airflow_provider_celonis.links.CelonisDataModelLink",
            "airflow_provider_celonis.links.CelonisDataJobLink",
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_celonis.hooks.celonis.CelonisHook",
                "hook-name": "Celonis",
                "connection-type": "celonis",
                "ui-field-behaviour": provider_ui_field_behaviour(),
                "conn-fields": conn_fields(),
            }
        ],
    }
