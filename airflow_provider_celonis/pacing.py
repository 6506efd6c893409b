"""Pace Data Push submissions in this process to Celonis's per-team limit (10 per second [doc]).

Celonis counts submissions per team across all clients; this pacer only spaces the ones this process
makes (several push tasks in one worker process, or threads). Across workers, cap concurrency with an
Airflow pool; a 429 that still happens is waited out by ``push.submit`` (until the reset, when it fits the
task's timeout).
"""

from __future__ import annotations

import threading
import time
from collections import deque

SUBMISSIONS_PER_SECOND = 10

_lock = threading.Lock()
_recent: dict[str, deque[float]] = {}


def wait_for_submission_slot(team: str, per_second: int = SUBMISSIONS_PER_SECOND) -> float:
    """Block until one more submission to ``team`` stays within ``per_second``; returns seconds waited."""
    waited = 0.0
    while True:
        with _lock:
            now = time.monotonic()
            window = _recent.setdefault(team, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) < per_second:
                window.append(now)
                return waited
            pause = window[0] + 1.0 - now
        time.sleep(pause)
        waited += pause
