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
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from airflow_provider_celonis.exceptions import CelonisApiError, CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.push.chunks import Chunk

# Rounds of "read the chunk list, resend what was not stored" before the push fails: each resend goes alone,
# so its answer is clear; three rounds ride out a short fault without looping on a lasting one.
MAX_RESEND_ROUNDS = 3


class UnclearUpload(Exception):
    """The chunk list cannot tell which uncertain uploads were stored: only a new job is safe."""


class ChunkUploader:
    """Uploads the chunks of one push job, at most ``concurrency`` at a time, each exactly once.

    Chunks may come as a stream (``upload_stream``): each is sent as soon as it is handed over, and
    ``on_stored`` is called for it once Celonis holds it (so its file can go). Uncertain uploads are
    settled against the chunk list when no upload is in flight, so the count answers for them alone.
    """

    def __init__(
        self,
        hook: CelonisHook,
        pool_id: str,
        job_id: str,
        concurrency: int,
        log: logging.Logger | logging.LoggerAdapter,
        file_type: str = "PARQUET",
    ) -> None:
        self.hook = hook
        self.suffix = file_type.lower()
        self.pool_id = pool_id
        self.job_id = job_id
        self.concurrency = concurrency
        self.log = log
        self._lock = threading.Lock()
        self._acknowledged = 0
        self._uncertain: list[tuple[int, Chunk]] = []
        self._on_stored: Callable[[Chunk], None] = lambda chunk: None
        self.sent = 0
        self.unchanged = 0  # chunks that were source files (or byte-copied parts of them) sent as they are
        self.rows = 0
        self.bytes = 0

    def send(self, index: int, chunk: Chunk) -> None:
        """One upload request."""
        with chunk.open() as body:
            self.hook.add_push_chunk(self.pool_id, self.job_id, body, file_name=f"chunk-{index:05d}.{self.suffix}")

    def upload(self, chunks: Sequence[Chunk]) -> None:
        """Upload every chunk of a list; then check that Celonis holds exactly as many as were sent."""
        self.upload_stream(chunks)

    def upload_stream(self, chunks: Iterable[Chunk | None], on_stored: Callable[[Chunk], None] | None = None) -> int:
        """Upload chunks as they come; then check that Celonis holds exactly as many as were sent.

        A None from ``chunks`` means "nothing new yet": uncertain uploads are settled then if nothing is in
        flight, since their files hold spool slots the reader may be waiting for.
        """
        self._on_stored = on_stored or (lambda chunk: None)
        total = 0
        if self.concurrency == 1:
            for chunk in chunks:
                if chunk is None:
                    continue
                total += 1
                self._attempt(total - 1, chunk)
                if self._uncertain:
                    self._settle_uncertain()
        else:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="celonis-push") as pool:
                in_flight: set[Future[None]] = set()
                try:
                    for chunk in chunks:
                        if chunk is None:
                            in_flight = self._collect(in_flight, FIRST_COMPLETED, timeout=0)
                            if self._uncertain and not in_flight:
                                self._settle_uncertain()
                            continue
                        total += 1
                        while len(in_flight) >= self.concurrency:
                            in_flight = self._collect(in_flight, FIRST_COMPLETED)
                        if self._uncertain:  # settle with nothing in flight: the count then answers for them
                            in_flight = self._collect(in_flight, ALL_COMPLETED)
                            self._settle_uncertain()
                        in_flight.add(pool.submit(self._attempt, total - 1, chunk))
                    self._collect(in_flight, ALL_COMPLETED)
                except BaseException:
                    for future in in_flight:
                        future.cancel()
                    wait(in_flight)
                    raise
        self._settle_uncertain()
        stored = self._stored()
        if stored != total:
            raise CelonisError(
                f"Celonis holds {stored} chunk(s) of push job {self.job_id}, but {total} were "
                "uploaded; the job was not executed."
            )
        return total

    @staticmethod
    def _collect(futures: set[Future[None]], how: str, timeout: float | None = None) -> set[Future[None]]:
        """Wait for some (or all) uploads; raise the first failure; return those still running."""
        if not futures:
            return futures
        done, pending = wait(futures, timeout=timeout, return_when=how)
        for future in done:
            future.result()
        return set(pending)

    def _attempt(self, index: int, chunk: Chunk) -> None:
        try:
            self.send(index, chunk)
        except CelonisApiError as exc:
            if not exc.may_have_acted:
                raise
            self.log.warning("Chunk %d: %s; checking whether Celonis stored it.", index + 1, exc.reason or exc)
            with self._lock:
                self._uncertain.append((index, chunk))
            return
        with self._lock:
            self._acknowledged += 1
            self._stored_one(chunk)

    def _stored_one(self, chunk: Chunk) -> None:
        """Count a chunk Celonis holds, log the running totals, and let its file go (lock held)."""
        self.sent += 1
        self.unchanged += chunk.passthrough
        self.rows += chunk.rows
        self.bytes += chunk.size
        self.log.info(
            "Chunk %d uploaded (%s rows, %.1f MB; so far %d chunk(s), %s rows, %.1f MB).",
            self.sent,
            f"{chunk.rows:,}",
            chunk.size / 1e6,
            self.sent,
            f"{self.rows:,}",
            self.bytes / 1e6,
        )
        self._on_stored(chunk)

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
                for _, chunk in self._uncertain:
                    self._stored_one(chunk)
                self._uncertain = []
                return
            if stored != 0:
                raise UnclearUpload(f"{stored} of {len(self._uncertain)} uncertain chunk uploads were stored")
            self.log.warning(
                "Celonis did not store %d chunk(s): resending them one by one (round %d).",
                len(self._uncertain),
                round_number,
            )
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
                    self._stored_one(chunk)
                    self._uncertain = []
                elif stored == 0:
                    self._uncertain = list(pending[position:])
                    break
                else:
                    raise UnclearUpload(f"Celonis lists {stored} new chunks after one upload")
        if self._uncertain:
            raise CelonisError(
                f"{len(self._uncertain)} chunk(s) could not be uploaded after {MAX_RESEND_ROUNDS} "
                f"rounds; push job {self.job_id} was not executed."
            )
