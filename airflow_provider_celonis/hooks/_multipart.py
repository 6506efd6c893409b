"""A multipart/form-data body that streams its file instead of building the whole body in memory.

``requests`` builds ``files=`` bodies in memory, which doubles the memory of a large chunk upload.
This body is a file-like object with a known length, so ``requests`` streams it as it is read.
"""

from __future__ import annotations

import io
import os
import uuid
from typing import BinaryIO


class MultipartFileBody:
    """One file part named ``field`` in a multipart body, read from ``source`` as the body is sent."""

    def __init__(
        self,
        source: BinaryIO,
        size: int,
        *,
        field: str = "file",
        file_name: str = "chunk",
        content_type: str = "application/octet-stream",
    ) -> None:
        self.boundary = uuid.uuid4().hex
        safe_name = file_name.replace('"', "").replace("\r", "").replace("\n", "")
        self._head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{safe_name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._source = source
        self._start = source.tell()
        self._size = size
        self._pos = 0

    @classmethod
    def from_bytes(cls, data: bytes, **kwargs: str) -> MultipartFileBody:
        """A body around bytes already in memory."""
        return cls(io.BytesIO(data), len(data), **kwargs)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], **kwargs: str) -> MultipartFileBody:
        """A body around a local file (the caller closes it with ``close()``)."""
        handle = open(path, "rb")  # noqa: SIM115 - closed by close()
        return cls(handle, os.fstat(handle.fileno()).st_size, **kwargs)

    @property
    def content_type(self) -> str:
        """The request's Content-Type header value."""
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._size + len(self._tail)

    def rewind(self) -> None:
        """Start over, for a retry of the same request."""
        self._source.seek(self._start)
        self._pos = 0

    def tell(self) -> int:
        """Bytes of the body read so far (``requests`` uses it to compute the remaining length)."""
        return self._pos

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the body."""
        total = len(self)
        if size is None or size < 0:
            size = total - self._pos
        out = bytearray()
        while size > 0 and self._pos < total:
            head_end = len(self._head)
            body_end = head_end + self._size
            if self._pos < head_end:
                piece = self._head[self._pos : self._pos + size]
            elif self._pos < body_end:
                piece = self._source.read(min(size, body_end - self._pos))
                if not piece:
                    raise OSError("The chunk file ended before its announced size.")
            else:
                offset = self._pos - body_end
                piece = self._tail[offset : offset + size]
            out += piece
            self._pos += len(piece)
            size -= len(piece)
        return bytes(out)

    def close(self) -> None:
        """Close the underlying file."""
        self._source.close()
