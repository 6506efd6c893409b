"""How the ``celonis`` connection looks in the Airflow UI form (labels, hidden fields, extra fields)."""

from __future__ import annotations

from typing import Any


def ui_field_behaviour() -> dict[str, Any]:
    """How the Airflow UI shows the ``celonis`` connection form (shared with provider info)."""
    return {
        "hidden_fields": ["schema", "port"],
        "relabeling": {
            "host": "Team URL",
            "login": "OAuth client id (OAuth only)",
            "password": "API key, application key or OAuth client secret",
        },
        "placeholders": {
            "host": "https://myteam.eu-1.celonis.cloud",
            "login": "leave empty for an API key or application key",
            "password": "the key, or the OAuth client secret",
            "extra": '{"auth_type": "api_key", "timeout": 60, "verify": true}',
        },
    }


def provider_ui_field_behaviour() -> dict[str, Any]:
    """The same in the provider-info format (kebab-case ``hidden-fields``), which Airflow 3 reads."""
    behaviour = ui_field_behaviour()
    return {
        "hidden-fields": behaviour["hidden_fields"],
        "relabeling": behaviour["relabeling"],
        "placeholders": behaviour["placeholders"],
    }


def conn_fields() -> dict[str, Any]:
    """Custom connection form fields (Airflow 3.2+ ``conn-fields``), stored in the connection extra."""
    return {
        "auth_type": {
            "label": "Authentication",
            "schema": {"type": "string", "enum": ["api_key", "app_key", "oauth"], "default": "api_key"},
            "description": "api_key = user API key (Bearer), app_key = application key (AppKey), "
            "oauth = OAuth client credentials (client id in login, secret in password).",
        },
        "scopes": {
            "label": "OAuth scopes",
            "schema": {"type": ["string", "null"], "default": "integration.data-pools"},
            "description": "Space-separated OAuth scopes (OAuth only).",
        },
        "timeout": {
            "label": "Request timeout (seconds)",
            "schema": {"type": ["number", "null"], "default": 60},
        },
        "verify": {
            "label": "Verify TLS certificates",
            "schema": {"type": "boolean", "default": True},
        },
    }
