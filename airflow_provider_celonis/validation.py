"""Parameter checks shared by the operators and sensors: each error names the value and the fix."""

from __future__ import annotations

from typing import Any


def require_text(name: str, value: Any, hint: str) -> None:
    """A non-blank id or name, else ``ValueError("<name> is empty: <hint>")``."""
    if not str(value or "").strip():
        raise ValueError(f"{name} is empty: {hint}")


def require_positive_seconds(name: str, value: Any) -> None:
    """A positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}.")
