"""When to repeat a failed request and how long to wait first; shared by the sync and async hooks.

A request is repeated only where repeating it cannot double an effect:
- 429 and 503 mean Celonis refused the request before acting on it: always safe to repeat;
- a failure to connect means nothing was sent: always safe;
- other 5xx, read timeouts and dropped connections may come *after* Celonis acted, so they are
  repeated only for idempotent calls (reads, cancels, deletes).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from airflow_provider_celonis.exceptions import CelonisError, CelonisParameterError

REFUSED_BEFORE_ACTING = frozenset({429, 503})

# Celonis's error catalog shows a 429 body naming the reset as a UTC wall-clock time: "… Please try again at
# 06:10:41 UTC." (developer.celonis.com, common error catalog); read when no header names the wait.
_TRY_AGAIN_AT = re.compile(r"try again at (\d{1,2}):(\d{2}):(\d{2}) UTC", re.IGNORECASE)
# A named time this far before now is taken as tomorrow's (the window crosses midnight UTC); closer, as now.
_PAST_TOLERANCE = dt.timedelta(minutes=5)

# The retry defaults of every hook, operator, sensor and trigger (``retry_limit`` / ``api_retry_limit``, …):
# 6 attempts wait 1, 2, 4, 8 and 16 s between them (plus jitter), so about half a minute of Celonis trouble
# is ridden out before a call fails; no single wait is longer than a minute, even when Celonis asks for
# longer (the call is then tried again after that minute).
DEFAULT_RETRY_LIMIT = 6
DEFAULT_RETRY_DELAY = 1.0
MAX_RETRY_WAIT = 60.0
# Up to 25% is added to each backoff wait at random, so tasks that failed together do not retry together.
MAX_JITTER = 0.25


class ServerAskedToWait(CelonisError):
    """Celonis refused a request and named how long to wait (``Retry-After`` / ``x-ratelimit-reset``).

    Raised instead of waiting by a policy with ``defer_advised_waits``, so the caller, which knows its
    deadline, decides: wait until ``until`` when that fits, else fail naming it. Nothing was done.
    """

    def __init__(self, seconds: float, limit: str | None = None) -> None:
        self.seconds = seconds
        self.limit = limit
        self.until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
        super().__init__(
            f"Celonis refused the request and asked to wait {seconds:.0f} s, until "
            f"{self.until:%Y-%m-%d %H:%M:%S} UTC" + (f" (limit {limit})" if limit else "") + "."
        )


TRANSIENT_STATUSES = frozenset({500, 502, 503, 504, 429})


def may_have_acted(status_code: int | None) -> bool:
    """Whether Celonis may have acted on a request that failed with ``status_code`` (None: no answer).

    The one place that says it: a 429 or 503 is a refusal before acting, any other 5xx or a missing
    answer may come after Celonis acted, a 4xx is a clear refusal.
    """
    return status_code is None or (status_code >= 500 and status_code not in REFUSED_BEFORE_ACTING)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring ``Retry-After`` and ``x-ratelimit-reset``, capped."""

    max_attempts: int = DEFAULT_RETRY_LIMIT
    base_delay: float = DEFAULT_RETRY_DELAY
    max_delay: float = MAX_RETRY_WAIT
    # True: a wait the server asks for is not slept here but raised as ``ServerAskedToWait``.
    defer_advised_waits: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise CelonisParameterError(f"max_attempts must be at least 1, not {self.max_attempts}.")
        if self.base_delay < 0 or self.max_delay < 0:
            raise CelonisParameterError("Retry delays must not be negative.")

    def should_retry_status(self, status: int, idempotent: bool, attempt: int) -> bool:
        """Whether to repeat after an HTTP error ``status`` on attempt number ``attempt`` (1-based)."""
        if attempt >= self.max_attempts or status not in TRANSIENT_STATUSES:
            return False
        return idempotent or not may_have_acted(status)

    def should_retry_error(self, sent: bool, idempotent: bool, attempt: int) -> bool:
        """Whether to repeat after a transport error; ``sent`` is False when the connection never opened."""
        if attempt >= self.max_attempts:
            return False
        return idempotent or not sent

    def backoff(self, attempt: int) -> float:
        """Exponential wait before attempt ``attempt + 1``, with up to 25% jitter; never over ``max_delay``."""
        delay = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return min(self.max_delay, delay * (1 + random.uniform(0, MAX_JITTER))) if delay else 0.0

    def wait_for_response(self, headers: Mapping[str, str], attempt: int, content: bytes = b"") -> float:
        """How long to wait after a retryable response: the server's word if it gave one, else backoff."""
        advised = server_advised_wait(headers, content=content)
        if advised is not None:
            if self.defer_advised_waits:
                limit = {k.lower(): v for k, v in headers.items()}.get("x-ratelimit-limit")
                raise ServerAskedToWait(advised, limit)
            return min(self.max_delay, advised)
        return min(self.max_delay, self.backoff(attempt))


def server_advised_wait(
    headers: Mapping[str, str], now: dt.datetime | None = None, content: bytes = b""
) -> float | None:
    """Seconds to wait that Celonis named; None when it named none.

    From ``Retry-After`` (seconds or HTTP date), else ``x-ratelimit-reset`` (seconds), else the error body's
    "Please try again at HH:MM:SS UTC" (Celonis's error catalog).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = lowered.get("retry-after")
    if retry_after:
        text = retry_after.strip()
        try:
            return max(0.0, float(text))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                current = now or dt.datetime.now(dt.UTC)
                return max(0.0, (when - current).total_seconds())
    reset = lowered.get("x-ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset.strip()))
        except ValueError:
            pass
    return _wait_named_in_body(content, now)


def _wait_named_in_body(content: bytes, now: dt.datetime | None) -> float | None:
    """Seconds until the UTC time an error body names ("Please try again at 06:10:41 UTC."), or None."""
    if not content:
        return None
    text = content[:4096].decode("utf-8", "replace")
    try:
        body = json.loads(text)
        text = str(body.get("detail") or body.get("message") or text) if isinstance(body, dict) else text
    except ValueError:
        pass
    match = _TRY_AGAIN_AT.search(text)
    if not match:
        return None
    hour, minute, second = (int(part) for part in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        return None
    current = now or dt.datetime.now(dt.UTC)
    when = current.replace(hour=hour, minute=minute, second=second, microsecond=0)
    if when < current - _PAST_TOLERANCE:
        when += dt.timedelta(days=1)
    return max(0.0, (when - current).total_seconds())
