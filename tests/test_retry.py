"""retry.py as tables: which failures are repeated, whether Celonis may have acted, and how long to wait first.

The hooks' retries against the emulator's faults are tested end to end in tests/hooks/test_reliability.py and
tests/faults/; these tables pin the decisions themselves, case by case.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_provider_celonis.exceptions import CelonisApiError, CelonisParameterError
from airflow_provider_celonis.retry import RetryPolicy, ServerAskedToWait, may_have_acted, server_advised_wait

# status (None: no answer), whether Celonis may have acted on the request
ACTED = [
    (None, True),  # no answer: the request may have been carried out
    (400, False),
    (401, False),
    (404, False),
    (409, False),
    (429, False),  # refused before acting
    (500, True),
    (502, True),
    (503, False),  # refused before acting
    (504, True),
]


@pytest.mark.parametrize(("status", "acted"), ACTED)
def test_may_have_acted(status, acted):
    assert may_have_acted(status) is acted


@pytest.mark.parametrize(("status", "acted"), ACTED)
def test_the_api_error_asks_the_same_place(status, acted):
    """CelonisApiError.may_have_acted is retry.may_have_acted, not a second opinion."""
    assert CelonisApiError(method="POST", path="/x", status_code=status).may_have_acted is acted


@pytest.mark.parametrize(
    ("status", "idempotent", "attempt", "retry"),
    [
        # refused before acting: repeated for any call
        (429, False, 1, True),
        (503, False, 1, True),
        (429, True, 5, True),
        # may have acted: repeated only where repeating cannot double an effect
        (500, False, 1, False),
        (500, True, 1, True),
        (502, False, 1, False),
        (502, True, 1, True),
        (504, False, 1, False),
        (504, True, 1, True),
        # a clear answer is never repeated
        (400, True, 1, False),
        (401, True, 1, False),
        (404, True, 1, False),
        (409, False, 1, False),
        (501, True, 1, False),  # not a transient status
        # the last attempt is the last
        (429, False, 6, False),
        (503, True, 6, False),
        (500, True, 7, False),
    ],
)
def test_should_retry_status(status, idempotent, attempt, retry):
    assert RetryPolicy(max_attempts=6).should_retry_status(status, idempotent, attempt) is retry


@pytest.mark.parametrize(
    ("sent", "idempotent", "attempt", "retry"),
    [
        (False, False, 1, True),  # the connection never opened: nothing was sent
        (False, True, 1, True),
        (True, False, 1, False),  # read timeout / dropped connection: it may have acted
        (True, True, 1, True),
        (False, False, 3, False),  # the last attempt is the last
        (True, True, 3, False),
    ],
)
def test_should_retry_error(sent, idempotent, attempt, retry):
    assert RetryPolicy(max_attempts=3).should_retry_error(sent, idempotent, attempt) is retry


@pytest.mark.parametrize(
    ("base_delay", "max_delay", "attempt", "low", "high"),
    [
        (1.0, 60.0, 1, 1.0, 1.25),
        (1.0, 60.0, 2, 2.0, 2.5),
        (1.0, 60.0, 3, 4.0, 5.0),
        (1.0, 60.0, 6, 32.0, 40.0),
        (1.0, 60.0, 7, 60.0, 60.0),  # capped at max_delay, jitter included: never longer than asked
        (0.5, 3.0, 4, 3.0, 3.0),
        (0.5, 3.0, 3, 2.0, 2.5),  # below the cap: the full quarter
        (0.0, 60.0, 3, 0.0, 0.0),  # no delay asked for: no jitter either
    ],
)
def test_backoff_doubles_with_up_to_a_quarter_of_jitter(monkeypatch, base_delay, max_delay, attempt, low, high):
    policy = RetryPolicy(base_delay=base_delay, max_delay=max_delay)
    for jitter, expected in ((0.0, low), (0.25, high)):
        monkeypatch.setattr("airflow_provider_celonis.retry.random.uniform", lambda a, b, j=jitter: j)
        assert policy.backoff(attempt) == pytest.approx(expected)


NOW = dt.datetime(2026, 10, 21, 7, 27, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, None),
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": " 2.5 "}, 2.5),
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, 30.0),  # an HTTP date
        ({"Retry-After": "Wed, 21 Oct 2026 07:00:00 GMT"}, 0.0),  # a date in the past
        ({"x-ratelimit-reset": "3"}, 3.0),
        ({"X-RateLimit-Reset": "12"}, 12.0),
        ({"Retry-After": "4", "x-ratelimit-reset": "9"}, 4.0),  # Retry-After wins
        ({"Retry-After": "soon", "x-ratelimit-reset": "5"}, 5.0),  # an unreadable Retry-After is ignored
        ({"x-ratelimit-reset": "later"}, None),
    ],
)
def test_server_advised_wait(headers, seconds):
    assert server_advised_wait(headers, now=NOW) == seconds


def _catalog_body(detail: str) -> bytes:
    """A 429 body in the shape of Celonis's common error catalog."""
    return json.dumps(
        {"title": "Rate limit exceeded", "status": 429, "detail": detail, "errorCode": "LIMIT_RATE_EXCEEDED"}
    ).encode()


@pytest.mark.parametrize(
    ("headers", "content", "seconds"),
    [
        ({}, _catalog_body("Too many requests. Please try again at 07:28:00 UTC."), 30.0),
        ({}, _catalog_body("Please try again at 07:27:00 UTC."), 0.0),  # just passed: now
        ({}, _catalog_body("Please try again at 00:00:10 UTC."), 59560.0),  # after midnight UTC
        ({}, b"Please try again at 07:27:40 UTC.", 10.0),  # a plain-text body
        ({}, _catalog_body("Please try again at 25:00:00 UTC."), None),  # not a time of day
        ({}, _catalog_body("Please try again later."), None),
        ({}, b"", None),
        ({"x-ratelimit-reset": "3"}, _catalog_body("Please try again at 07:28:00 UTC."), 3.0),  # the header wins
    ],
)
def test_server_advised_wait_from_the_error_body(headers, content, seconds):
    """Without a header, the reset named in the body's detail ("Please try again at HH:MM:SS UTC")."""
    assert server_advised_wait(headers, now=NOW, content=content) == seconds


@pytest.mark.parametrize(
    ("headers", "attempt", "seconds"),
    [
        ({"Retry-After": "7"}, 1, 7.0),  # the server's word, not the backoff
        ({"Retry-After": "120"}, 1, 60.0),  # capped at max_delay
        ({"x-ratelimit-reset": "3"}, 4, 3.0),
        ({}, 2, 2.0),  # no word from the server: the backoff (jitter 0 here)
        ({}, 9, 60.0),  # backoff capped at max_delay, jitter included
    ],
)
def test_wait_for_response(monkeypatch, headers, attempt, seconds):
    monkeypatch.setattr("airflow_provider_celonis.retry.random.uniform", lambda a, b: 0.0 if attempt < 9 else b)
    assert RetryPolicy(base_delay=1.0, max_delay=60.0).wait_for_response(headers, attempt) == pytest.approx(seconds)


def test_a_deferring_policy_raises_the_servers_wait_instead_of_sleeping_it():
    policy = RetryPolicy(defer_advised_waits=True)
    with pytest.raises(ServerAskedToWait) as asked:
        policy.wait_for_response({"Retry-After": "90", "X-RateLimit-Limit": "3;w=3600"}, 1)
    assert asked.value.seconds == 90.0 and asked.value.limit == "3;w=3600"
    assert "asked to wait 90 s" in str(asked.value) and "(limit 3;w=3600)" in str(asked.value)
    assert policy.wait_for_response({}, 1) >= 1.0  # without a word from the server: the backoff, no raise


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1, not 0"),
        ({"base_delay": -1.0}, "must not be negative"),
        ({"max_delay": -0.5}, "must not be negative"),
    ],
)
def test_bad_policy_parameters(kwargs, message):
    with pytest.raises(CelonisParameterError, match=message):
        RetryPolicy(**kwargs)
