"""Submit a push job exactly once, whatever the submit call answers: the decision in one place.

- A 409 can mean "not NEW" (it was submitted) or a concurrent submission in the team (Celonis support:
  no parallel submits, ~30 s apart); a 5xx or no answer may or may not have been applied. Either way the
  job's status decides: still NEW → back off (growing waits) and submit again; otherwise it was
  submitted → wait for it. A good job is never deleted for a 409.
- A refusal naming a wait (429: 10 per second, 250 per hour per team; the hourly window can ask for up
  to 3,600 s) is waited out when the wait ends before the task's deadline, else the task fails at once
  naming the reset time (UTC) and the fix.
"""

from __future__ import annotations

import logging
import time
from enum import Enum

from airflow_provider_celonis.exceptions import CelonisApiError, CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.models import PushJobStatus
from airflow_provider_celonis.retry import ServerAskedToWait

# Statuses after which a failed submit means "look at the job": 409 (not NEW, or concurrency [client:
# SAP community blog 2022-07-08]) and 429 without a wait we could read.
READ_JOB_STATUSES = frozenset({409, 429})


class SubmitFailure(Enum):
    """What a failed submit call means."""

    READ_JOB = "read the job: still NEW → submit again after a backoff; otherwise it was submitted"
    FATAL = "a clear refusal: fail"


def classify(exc: CelonisApiError) -> SubmitFailure:
    """What a failed submit call means (see the module docstring)."""
    if exc.status_code in READ_JOB_STATUSES or exc.may_have_acted:
        return SubmitFailure.READ_JOB
    return SubmitFailure.FATAL


def rate_limit_error(job_id: str, wait: ServerAskedToWait, deadline: float) -> CelonisError:
    """The task cannot wait for the rate limit window: name the reset time and the fix."""
    left = max(0.0, deadline - time.time())
    return CelonisError(
        f"Celonis refused to submit push job {job_id}: the team's push submission limit"
        f"{f' ({wait.limit})' if wait.limit else ''} is used up until {wait.until:%Y-%m-%d %H:%M:%S} UTC "
        f"(in {wait.seconds:.0f} s), later than this task's timeout allows ({left:.0f} s left). Celonis allows "
        "10 submissions per second and 250 per hour per team (windows start on the full UTC hour): submit "
        "fewer push jobs per hour (batch sources into fewer, larger pushes), run push tasks through an "
        "Airflow pool, or raise timeout to wait for the reset. The job was not submitted."
    )


def submit_push_job(
    hook: CelonisHook, pool_id: str, job_id: str, deadline: float, log: logging.Logger | logging.LoggerAdapter
) -> None:
    """Submit ``job_id`` so that it runs exactly once, giving up at ``deadline`` (epoch seconds)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            hook.execute_push_job(pool_id, job_id)
            return
        except ServerAskedToWait as wait:
            if time.time() + wait.seconds > deadline:
                raise rate_limit_error(job_id, wait, deadline) from None
            log.warning(
                "Celonis asked to wait %.0f s before submitting push job %s (until %s UTC); waiting.",
                wait.seconds,
                job_id,
                f"{wait.until:%H:%M:%S}",
            )
            time.sleep(wait.seconds)
            continue
        except CelonisApiError as exc:
            if classify(exc) is SubmitFailure.FATAL:
                raise
            status = hook.get_push_job(pool_id, job_id).status
            if status is not PushJobStatus.NEW:
                log.warning(
                    "Submitting push job %s failed (%s), but it is %s: it was submitted.",
                    job_id,
                    exc.reason or exc,
                    status.value,
                )
                return
            pause = hook.retry_policy.backoff(attempt)
            if time.time() + pause > deadline:
                raise CelonisError(
                    f"Push job {job_id} is still NEW after {attempt} submission attempt(s) and the "
                    f"task's timeout is reached; the last answer: {exc}"
                ) from None
            log.warning(
                "Submitting push job %s failed (%s) and it is still NEW: submitting again in %.1f s (attempt %d).",
                job_id,
                exc.reason or exc,
                pause,
                attempt + 1,
            )
            time.sleep(pause)
