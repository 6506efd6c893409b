"""Upload a push job's chunks exactly once, even when an upload fails without a clear answer.

An upload that fails without a clear refusal (no answer, a read timeout, a 5xx) may or may not have been
stored. The job's chunk list decides: every uncertain chunk stored → nothing is resent; none stored →
they are resent one at a time (so each answer is unambiguous); some but not all of several concurrent
ones → ``UnclearUpload``, and the caller starts over with a new job. Only the chunk count is used, not
the checksum, so nothing depends on how Celonis computes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from airflow_provider_celonis.exceptions import CelonisApiError, CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.push.chunks import Chunk

MAX_RESEND_ROUNDS = 3


class UnclearUpload(Exception):
    """The chunk list cannot tell which uncertain uploads were stored: only a new job is safe."""


def may_have_been_applied(exc: CelonisApiError) -> bool:
    """A call that failed without a clear refusal (no answer, or a server error): it may have taken effect."""
    return exc.status_code is None or exc.status_code >= 500


class ChunkUploader:
    """Uploads the chunks of one push job, at most ``concurrency`` at a time, each exactly once."""

    def __init__(self, hook: CelonisHook, pool_id: str, job_id: str, concurrency: int,
                 log: logging.Logger | logging.LoggerAdapter, file_type: str = "PARQUET") -> None:
        self.hook = hook
        self.suffix = file_type.lower()
        self.pool_id = pool_id
        self.job_id = job_id
        self.concurrency = concurrency
        self.log = log
        self._lock = threading.Lock()
        self._acknowledged = 0
        self._uncertain: list[tuple[int, Chunk]] = []
        self._total = 0

    def send(self, index: int, chunk: Chunk) -> None:
        """One upload request."""
        self.hook.add_push_chunk(self.pool_id, self.job_id, chunk.path,
                                 file_name=f"chunk-{index:05d}.{self.suffix}")

    def upload(self, chunks: Sequence[Chunk]) -> None:
        """Upload every chunk; then check that Celonis holds exactly as many as were sent."""
        self._total = len(chunks)
        numbered = list(enumerate(chunks))
        if self.concurrency == 1 or len(numbered) == 1:
            for index, chunk in numbered:
                self._attempt(index, chunk)
        else:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="celonis-push") as pool:
                futures = [pool.submit(self._attempt, index, chunk) for index, chunk in numbered]
                wait(futures, return_when=FIRST_EXCEPTION)
                for future in futures:
                    future.cancel()
                for future in futures:
                    if future.done() and not future.cancelled():
                        future.result()
        self._settle_uncertain()
        stored = self._stored()
        if stored != len(chunks):
            raise CelonisError(f"Celonis holds {stored} chunk(s) of push job {self.job_id}, but {len(chunks)} were "
                               "uploaded; the job was not executed.")

    def _attempt(self, index: int, chunk: Chunk) -> None:
        try:
            self.send(index, chunk)
        except CelonisApiError as exc:
            if not may_have_been_applied(exc):
                raise
            self.log.warning("Chunk %d: %s; checking whether Celonis stored it.", index + 1, exc.reason or exc)
            with self._lock:
                self._uncertain.append((index, chunk))
            return
        with self._lock:
            self._acknowledged += 1
            self.log.info("Chunk %d/%d uploaded (%d rows, %.1f MB).", self._acknowledged, self._total, chunk.rows,
                          chunk.size / 1e6)

    def _stored(self) -> int:
        return len(self.hook.list_push_chunks(self.pool_id, self.job_id))

    def _settle_uncertain(self) -> None:
        """Resolve the uncertain uploads against the chunk list, resending what was not stored."""
        for round_number in range(1, MAX_RESEND_ROUNDS + 1):
            if not self._uncertain:
                return
            stored = self._stored() - self._acknowledged
            if stored == len(self._uncertain):
                self.log.info("Celonis stored the %d uncertain chunk(s); nothing to resend.", stored)
                self._acknowledged += stored
                self._uncertain = []
                return
            if stored != 0:
                raise UnclearUpload(f"{stored} of {len(self._uncertain)} uncertain chunk uploads were stored")
            self.log.warning("Celonis did not store %d chunk(s): resending them one by one (round %d).",
                             len(self._uncertain), round_number)
            time.sleep(self.hook.retry_policy.backoff(round_number))
            pending, self._uncertain = self._uncertain, []
            for position, (index, chunk) in enumerate(pending):
                self._attempt(index, chunk)
                if not self._uncertain:
                    continue
                # One upload at a time: the chunk count answers for this chunk alone.
                stored = self._stored() - self._acknowledged
                if stored == 1:
                    self._acknowledged += 1
                    self._uncertain = []
                elif stored == 0:
                    self._uncertain = list(pending[position:])
                    break
                else:
                    raise UnclearUpload(f"Celonis lists {stored} new chunks after one upload")
        if self._uncertain:
            raise CelonisError(f"{len(self._uncertain)} chunk(s) could not be uploaded after {MAX_RESEND_ROUNDS} "
                               f"rounds; push job {self.job_id} was not executed.")
