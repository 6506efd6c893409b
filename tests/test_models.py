"""Status enums and the one place that decides what a status means."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_celonis.models import (
    DataJob,
    DataJobMode,
    DataModelLoad,
    ExecutionStatus,
    LoadStatus,
    PushJobStatus,
    PushType,
    parse_timestamp,
)


@pytest.mark.parametrize(
    "status,terminal,success",
    [
        ("RUNNING", False, False),
        ("CANCELLING", False, False),
        ("LOST_CONNECTION", False, False),
        ("SUCCESS", True, True),
        ("WARNING", True, True),
        ("ERROR", True, False),
        ("CANCELED", True, False),
        ("SOMETHING_NEW", False, False),
    ],
)
def test_load_status(status, terminal, success):
    parsed = LoadStatus.parse(status)
    assert (parsed.is_terminal, parsed.is_success) == (terminal, success)


def test_limbo_states_are_flagged():
    assert LoadStatus.parse("LOST_CONNECTION").is_limbo and LoadStatus.parse("weird").is_limbo
    assert not LoadStatus.RUNNING.is_limbo


@pytest.mark.parametrize(
    "status,terminal,success",
    [
        ("QUEUED", False, False),
        ("RUNNING", False, False),
        ("SUCCESS", True, True),
        ("FAIL", True, False),
        ("CANCEL", True, False),
        ("SKIPPED", True, False),
        (None, False, False),
        ("FAILED", False, False),
    ],
)
def test_execution_status(status, terminal, success):
    parsed = ExecutionStatus.parse(status)
    assert (parsed.is_terminal, parsed.is_success) == (terminal, success)


@pytest.mark.parametrize(
    "status,terminal,success,cancellable",
    [
        ("NEW", False, False, True),
        ("QUEUED", False, False, True),
        ("RUNNING", False, False, True),
        ("DONE", True, True, False),
        ("ERROR", True, False, False),
        ("CANCELED", True, False, False),
    ],
)
def test_push_job_status(status, terminal, success, cancellable):
    parsed = PushJobStatus.parse(status)
    assert (parsed.is_terminal, parsed.is_success, parsed.is_cancellable) == (terminal, success, cancellable)


def test_modes_and_push_types_name_the_choices():
    assert DataJobMode.parse("delta") is DataJobMode.DELTA
    with pytest.raises(ValueError, match="'FULL' or 'DELTA'"):
        DataJobMode.parse("PARTIAL")
    with pytest.raises(ValueError, match="'REPLACE' or 'DELTA'"):
        PushType.parse("UPSERT")


def test_timestamps_epoch_ms_and_iso():
    expected = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert parse_timestamp(int(expected.timestamp() * 1000)) == expected
    assert parse_timestamp(str(int(expected.timestamp() * 1000))) == expected
    assert parse_timestamp("2026-01-02T03:04:05Z") == expected
    assert parse_timestamp("2026-01-02T03:04:05") == expected
    assert parse_timestamp(None) is None


def test_last_load_shapes():
    flat = DataModelLoad.from_api({"dataLoadId": "L1", "loadStatus": "SUCCESS", "startDate": 0, "loadType": "PARTIAL"})
    wrapped = DataModelLoad.from_api(
        {
            "loadInfo": {
                "currentComputeLoad": {
                    "dataLoadId": "L1",
                    "loadStatus": "SUCCESS",
                    "startDate": 0,
                    "loadType": "PARTIAL",
                }
            }
        }
    )
    assert flat == wrapped and flat.load_id == "L1"
    assert DataModelLoad.from_api({"id": "L2", "status": "ERROR"}).load_id == "L2"


def test_data_job_time_stamp_is_a_change_date_and_latest_item_optional():
    job = DataJob.from_api({"id": "j", "status": "CANCEL", "timeStamp": 1642237998799, "currentExecutionId": None})
    assert job.latest_execution_item_id is None and job.changed_at.year == 2022
