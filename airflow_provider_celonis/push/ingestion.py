"""Upload objects to the Standard Data Ingestion endpoint: several at once, multipart above a threshold.

Whether Celonis's S3 gateway takes multipart uploads is not documented [guess: ``MULTIPART_GUESS``]. When
it refuses to start one (an S3 error answering CreateMultipartUpload), the object goes up as one
PutObject instead, and every later object of the task too. Files are read from disk as they are sent
(parts are slices of the file, never whole in memory). An S3 object write is idempotent (same key, same
bytes), so boto3 repeats failed requests and a retried task overwrites its own objects.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, BinaryIO

from airflow_provider_celonis import endpoints
from airflow_provider_celonis.push.chunks import Chunk

DEFAULT_MULTIPART_BYTES = 64 * 1024 * 1024
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part (all but the last)
MAX_PUT_BYTES = 5 * 1024**3  # S3's largest single PutObject
# [guess] multipart upload on the ingestion endpoint: tried first, refused → single PutObject (api-assumptions.md).
MULTIPART_GUESS = "try multipart, fall back to PutObject when CreateMultipartUpload is refused"
# HTTP statuses of a CreateMultipartUpload refusal that mean "not here" rather than a passing fault.
_REFUSALS = (400, 403, 404, 405, 501)


class FileSlice:
    """``length`` bytes of an open file from ``start``, as a seekable stream (one multipart part)."""

    def __init__(self, handle: BinaryIO, start: int, length: int) -> None:
        self._handle, self._start, self._length, self._pos = handle, start, length, 0

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the slice."""
        remaining = self._length - self._pos
        size = remaining if size is None or size < 0 else min(size, remaining)
        if size <= 0:
            return b""
        self._handle.seek(self._start + self._pos)
        data = self._handle.read(size)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move within the slice (botocore rewinds a body to sign it and to retry)."""
        base = {0: 0, 1: self._pos, 2: self._length}[whence]
        self._pos = max(0, min(self._length, base + offset))
        return self._pos

    def tell(self) -> int:
        """Position within the slice."""
        return self._pos


class ObjectUploader:
    """Puts chunk files as objects under ``connection/<id>/<table>/``, ``concurrency`` at a time."""

    def __init__(
        self,
        client: Any,
        connection_id: str,
        table: str,
        concurrency: int,
        multipart_threshold: int,
        log: logging.Logger | logging.LoggerAdapter,
    ) -> None:
        self.client = client
        self.connection_id = connection_id
        self.table = table
        self.concurrency = concurrency
        self.threshold = multipart_threshold
        self.log = log
        self.multipart: bool | None = None  # None: not tried yet; False: refused, PutObject from now on
        self._lock = threading.Lock()
        # Requests carrying object bytes in flight at once (PutObjects and parts of all objects together).
        self._sending = threading.BoundedSemaphore(concurrency)
        self.uploaded: list[dict[str, Any]] = []

    def key(self, name: str) -> str:
        """The object key of a file name."""
        return endpoints.ingestion_key(self.connection_id, self.table, name)

    def upload_stream(
        self,
        chunks: Iterable[Chunk | None],
        name: Callable[[int, Chunk], str],
        on_stored: Callable[[Chunk], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Upload every chunk as it comes (named by ``name(index, chunk)``); return what went where."""
        on_stored = on_stored or (lambda chunk: None)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="celonis-ingest") as pool:
            in_flight: set[Future[None]] = set()
            try:
                index = 0
                for chunk in chunks:
                    if chunk is None:  # nothing new yet
                        continue
                    while len(in_flight) >= self.concurrency:
                        in_flight = _collect(in_flight, FIRST_COMPLETED)
                    in_flight.add(pool.submit(self._one, self.key(name(index, chunk)), chunk, on_stored))
                    index += 1
                _collect(in_flight, ALL_COMPLETED)
            except BaseException:
                for future in in_flight:
                    future.cancel()
                wait(in_flight)
                raise
        return self.uploaded

    def _one(self, key: str, chunk: Chunk, on_stored: Callable[[Chunk], None]) -> None:
        self.put(chunk, key, chunk.size)
        with self._lock:
            self.uploaded.append({"source": chunk.source, "key": key, "rows": chunk.rows, "bytes": chunk.size})
            rows = sum(u["rows"] for u in self.uploaded)
            size = sum(u["bytes"] for u in self.uploaded)
            self.log.info(
                "Uploaded s3://%s/%s (%s rows, %.1f MB; so far %d object(s), %s rows, %.1f MB).",
                endpoints.INGESTION_BUCKET,
                key,
                f"{chunk.rows:,}",
                chunk.size / 1e6,
                len(self.uploaded),
                f"{rows:,}",
                size / 1e6,
            )
        on_stored(chunk)

    def put(self, source: str | Chunk, key: str, size: int | None = None) -> None:
        """One object from a file path or a chunk: multipart above the threshold (unless refused), else PutObject."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        from airflow_provider_celonis.hooks.celonis import _ingestion_error

        if isinstance(source, Chunk):
            opener: Callable[[], BinaryIO] = source.open
            size = source.size if size is None else size
        else:
            opener = lambda: open(source, "rb")  # noqa: E731, SIM115 - closed by the with below
            size = os.path.getsize(source) if size is None else size
        try:
            if size > self.threshold and self.multipart is not False and self._multipart(opener, key, size):
                return
            with self._sending, opener() as handle:
                self.client.put_object(Bucket=endpoints.INGESTION_BUCKET, Key=key, Body=handle, ContentLength=size)
        except (Boto3Error, BotoCoreError, ClientError) as exc:
            raise _ingestion_error(exc, key) from None

    def _multipart(self, opener: Callable[[], BinaryIO], key: str, size: int) -> bool:
        """A multipart upload in parts of ``threshold`` bytes; False when the server refuses to start one."""
        from botocore.exceptions import ClientError

        bucket = endpoints.INGESTION_BUCKET
        try:
            upload_id = self.client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status not in _REFUSALS or size > MAX_PUT_BYTES:
                raise
            with self._lock:
                if self.multipart is not False:
                    self.log.warning(
                        "The ingestion endpoint refused a multipart upload (%s %s): sending every "
                        "object as one PutObject instead.",
                        status,
                        exc.response.get("Error", {}).get("Code"),
                    )
                self.multipart = False
            return False
        self.multipart = True
        # As many parts as parts of ``threshold`` bytes would make, of even size, sent ``concurrency`` at once:
        # not one large part and a small last one in a row.
        count = -(-size // max(MIN_PART_BYTES, self.threshold))
        part_size = max(MIN_PART_BYTES, -(-size // count))

        def send(number: int, start: int) -> dict[str, Any]:
            length = min(part_size, size - start)
            with self._sending, opener() as handle:
                answer = self.client.upload_part(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=FileSlice(handle, start, length),
                    ContentLength=length,
                )
            return {"PartNumber": number, "ETag": answer["ETag"]}

        try:
            starts = range(0, size, part_size)
            with ThreadPoolExecutor(min(self.concurrency, len(starts)), thread_name_prefix="celonis-part") as pool:
                parts = list(pool.map(send, range(1, len(starts) + 1), starts))
            self.client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            except Exception:  # noqa: BLE001 - the original failure is what matters
                self.log.warning("Could not abort the multipart upload of %s.", key, exc_info=True)
            raise
        return True


def _collect(futures: set[Future[None]], how: str) -> set[Future[None]]:
    """Wait for some (or all) uploads; raise the first failure; return those still running."""
    if not futures:
        return futures
    done, pending = wait(futures, return_when=how)
    for future in done:
        future.result()
    return set(pending)
