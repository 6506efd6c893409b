"""Parameter checks shared by the operators and sensors: each error names the value and the fix."""

from __future__ import annotations

import warnings
from typing import Any

from airflow_provider_celonis.exceptions import CelonisParameterError

# Uploads at once (Data Push chunks, ingestion objects). Several chunks of one push job at once is a [guess]
# (Celonis's own client uploads one by one; docs/api-assumptions.md), so the default overlaps only two; at
# most 16, so a typo cannot open hundreds of connections to Celonis.
DEFAULT_CONCURRENT_UPLOADS = 2
MAX_CONCURRENT_UPLOADS = 16


def require_text(name: str, value: Any, hint: str) -> None:
    """A non-blank id or name, else ``ValueError("<name> is empty: <hint>")``."""
    if not str(value or "").strip():
        raise CelonisParameterError(f"{name} is empty: {hint}")


def require_positive_seconds(name: str, value: Any) -> None:
    """A positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise CelonisParameterError(f"{name} must be a positive number of seconds, not {value!r}.")


def require_concurrent_uploads(value: Any) -> None:
    """``max_concurrent_uploads``: a whole number from 1 to ``MAX_CONCURRENT_UPLOADS``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENT_UPLOADS:
        raise CelonisParameterError(
            f"max_concurrent_uploads must be an integer from 1 to {MAX_CONCURRENT_UPLOADS}, not {value!r}."
        )


def renamed_parameter(old_name: str, old_value: Any, new_name: str, new_value: Any) -> Any:
    """The value of a renamed parameter: the old name still works for a release, with a deprecation warning."""
    if old_value is None:
        return new_value
    from airflow.exceptions import AirflowProviderDeprecationWarning

    warnings.warn(
        f"{old_name} is deprecated: use {new_name} (same meaning).", AirflowProviderDeprecationWarning, stacklevel=3
    )
    return old_value
