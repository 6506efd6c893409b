"""Exceptions raised by the Celonis provider.

``CelonisApiError`` is the one type for a failed HTTP call: it carries the method, the path, the
status and Celonis's own message, and never a header, a credential or a token.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

# What a user can do about a given status; appended to the message.
_HINTS: dict[int, str] = {
    400: "Celonis rejected the request as invalid; check the ids and parameters named above.",
    401: "The credential was not accepted: check the key or OAuth client in the Airflow connection "
    "and its auth type (API key = Bearer, application key = AppKey).",
    403: "The credential is valid but lacks permission: grant it access to the data pool "
    "(Edit / Data Push permission) and, for OAuth, the scope 'integration.data-pools'.",
    404: "Nothing exists at this path: check the data pool, data model, data job or push job id "
    "(copy them from the Celonis UI URL).",
    409: "Celonis reports a conflict, usually because the load, job or push job is already running or no longer NEW.",
    429: "Celonis rate limit hit; the provider waits and retries, lower the concurrency with an Airflow pool.",
}


class CelonisError(AirflowException):
    """Base class of every error raised by this provider."""


class CelonisApiError(CelonisError):
    """A Celonis API call failed (HTTP error status, or no answer after all retries)."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status_code: int | None,
        title: str | None = None,
        detail: str | None = None,
        error_code: str | None = None,
        support_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status_code = status_code
        self.title = title
        self.detail = detail
        self.error_code = error_code
        self.support_id = support_id
        self.reason = reason
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = f"Celonis API {self.method} {self.path}"
        if self.status_code is None:
            text = f"{where} failed: {self.reason or 'no response'}"
        else:
            text = f"{where} returned HTTP {self.status_code}"
            said = ": ".join(part for part in (self.title, self.detail) if part)
            if said:
                text += f": {said}"
            elif self.reason:
                text += f": {self.reason}"
        if self.error_code:
            text += f" (errorCode {self.error_code})"
        if self.support_id:
            text += f" [Celonis Support ID: {self.support_id}]"
        hint = _HINTS.get(self.status_code or 0)
        if hint:
            text += f". {hint}"
        return text

    @property
    def may_have_acted(self) -> bool:
        """Whether Celonis may have acted on the failed call (no answer, or a 5xx other than 503)."""
        from airflow_provider_celonis.retry import may_have_acted

        return may_have_acted(self.status_code)

    @property
    def is_conflict(self) -> bool:
        """Whether Celonis answered 409 (already running, or not NEW)."""
        return self.status_code == 409


class CelonisAuthError(CelonisApiError):
    """The credential was refused (401/403), or an OAuth token could not be obtained."""


class CelonisParameterError(CelonisError, ValueError):
    """A task or hook parameter has a value the provider cannot use; the message names it and the fix.

    Raised before any request. It is a ``ValueError`` too, so ``except ValueError`` keeps working.
    """


class CelonisConnectionConfigError(CelonisError):
    """The Airflow connection is missing a field or has a value the provider cannot use."""


class CelonisNameNotFoundError(CelonisError):
    """A name (of a data model table) did not match anything; the message lists what exists."""


class CelonisRemoteFailure(CelonisError):
    """Celonis reports that the work itself failed (a load ERROR, a job FAIL, a push ERROR).

    Operators raise it as an ordinary task failure, so Airflow ``retries`` start the work again.
    """


class CelonisSensorFailure(AirflowFailException, CelonisRemoteFailure):
    """A sensor saw the remote work fail.

    Subclasses ``AirflowFailException`` so that ``soft_fail`` turns it into a skip the same way in
    poke, reschedule and deferrable mode, and a retry does not wait for an outcome that is final.
    """
