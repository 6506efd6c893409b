"""The emulator as the evidence describes Celonis: Java date patterns, seed switches (no HTTP needed for the
parser; the switches are exercised over HTTP in tests/operators/test_push.py, tests/push/test_submit.py and
tests/operators/test_ingest.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_celonis.emulator.seed import demo_seed, validate_seed
from airflow_provider_celonis.emulator.tables import PushRejected, java_date_parser


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        # S is a number of milliseconds, whatever the count of letters or digits (SimpleDateFormat, lenient)
        ("yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "2024-03-30T23:30:00.123456", dt.datetime(2024, 3, 30, 23, 32, 3, 456000)),
        ("yyyy-MM-dd'T'HH:mm:ss.SSS", "2024-03-30T23:30:00.123", dt.datetime(2024, 3, 30, 23, 30, 0, 123000)),
        ("yyyy-MM-dd'T'HH:mm:ss.SSS", "2024-03-30T23:30:00.5", dt.datetime(2024, 3, 30, 23, 30, 0, 5000)),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-03-30T23:30:00.123+01:00", dt.datetime(2024, 3, 30, 22, 30, 0, 123000)),
        ("yyyy-MM-dd'T'HH:mm:ssXXX", "2024-03-30T23:30:00Z", dt.datetime(2024, 3, 30, 23, 30)),
        ("yyyyMMddHHmmssZ", "20240330233000-0200", dt.datetime(2024, 3, 31, 1, 30)),  # abutting fields: fixed widths
        ("dd.MM.yyyy HH:mm", "31.12.2024 01:02", dt.datetime(2024, 12, 31, 1, 2)),
        ("yyyy-MM-dd 'at' HH''mm", "2024-01-02 at 03'04", dt.datetime(2024, 1, 2, 3, 4)),
    ],
)
def test_java_simple_date_format(pattern, text, expected):
    assert java_date_parser(pattern)(text) == expected


def test_java_pattern_errors():
    with pytest.raises(ValueError, match="does not match"):
        java_date_parser("yyyy-MM-dd")("2024/01/02")
    with pytest.raises(PushRejected, match="letter 'E'"):
        java_date_parser("EEE yyyy")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("create_push_job_response", "xml"),
        ("push_parquet_int64_timestamps", "maybe"),
        ("push_submit_spacing_seconds", -1),
        ("rate_limit_window_seconds", 0),
    ],
)
def test_bad_seed_switch_is_named(name, value):
    seed = demo_seed()
    seed["settings"][name] = value
    with pytest.raises(ValueError, match=name):
        validate_seed(seed)
