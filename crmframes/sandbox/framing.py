"""HTTP/1.1 request body framing for the sandbox server, strict as RFC 9112 asks.

Edge helper of :mod:`~crmframes.sandbox.server`: reads a request body by its
``Content-Length`` or ``chunked`` framing, refusing before the body is read what real CRM
front ends refuse (a negative, non-numeric or repeated ``Content-Length``, both framings at
once, a transfer coding other than chunked, a body over the cap), and bounds every read of a
request by a deadline so a client trickling bytes cannot hold a connection forever.
"""

from __future__ import annotations

import io
import re
import socket
import time
from email.message import Message
from typing import Protocol

__all__ = [
    "MAX_BODY_BYTES",
    "DeadlinePassed",
    "DeadlineReader",
    "FramingError",
    "Reader",
    "read_body",
]

MAX_BODY_BYTES = 200 * 1024 * 1024  # above Bulk API 2.0's 150 MB per upload
_MAX_LINE = 65536  # a chunk-size or trailer line, as the stdlib bounds header lines
_MAX_TRAILERS = 100  # trailer lines, as the stdlib bounds header lines
_DIGITS = re.compile(r"[0-9]{1,18}")  # RFC 9110 §8.6: 1*DIGIT; 18 digits stay far above the cap
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")


class Reader(Protocol):
    """The buffered reads the body parser needs (``io.BufferedReader`` has them)."""

    def read(self, size: int, /) -> bytes:
        """Read up to ``size`` bytes (fewer only at the end of the stream)."""

    def readline(self, size: int, /) -> bytes:
        """Read one line of at most ``size`` bytes."""


class FramingError(Exception):
    """A request whose body framing is refused; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DeadlinePassed(Exception):
    """The request's headers or body did not arrive before its deadline."""


class DeadlineReader(io.RawIOBase):
    """A socket's byte stream whose reads end at a deadline (while one is set).

    Each ``recv`` gets the time left until ``deadline`` as its timeout, so the total time a
    request may take is bounded however slowly its bytes arrive. Without a deadline (waiting
    for the next request on a keep-alive connection) a read waits at most ``idle`` seconds
    and times out with :class:`TimeoutError`, which the server treats as a silent close.
    """

    def __init__(self, sock: socket.socket, *, idle: float) -> None:
        super().__init__()
        self._sock = sock
        self.idle = idle
        self.deadline: float | None = None

    def readable(self) -> bool:
        """Always: this stream is for reading."""
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Receive into ``buffer``; raise :class:`DeadlinePassed` past the deadline."""
        if self.deadline is None:
            self._sock.settimeout(self.idle)
            return self._sock.recv_into(buffer)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed
        self._sock.settimeout(left)
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            raise DeadlinePassed from None


def read_body(headers: Message, rfile: Reader, *, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """Read a request body as its headers frame it.

    Args:
        headers: the parsed request headers.
        rfile: the connection's buffered reader, positioned at the body.
        max_bytes: the largest body accepted.

    Returns:
        The body (``b""`` when the request has none).

    Raises:
        FramingError: 400 for a malformed, repeated or contradictory ``Content-Length`` or
            malformed chunks, 413 for a body over ``max_bytes``, 501 for a transfer coding
            other than ``chunked``.
    """
    codings = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    if codings:
        if lengths:  # RFC 9112 §6.3: a request smuggling pattern; refuse it
            raise FramingError(400, "Transfer-Encoding and Content-Length in one request")
        names = [c.strip().lower() for value in codings for c in str(value).split(",")]
        if names != ["chunked"]:
            raise FramingError(501, f"transfer coding {', '.join(names)!r} is not supported")
        return _read_chunked(rfile, max_bytes)
    if len(lengths) > 1:
        raise FramingError(400, "more than one Content-Length header")
    if not lengths:
        return b""
    text = str(lengths[0]).strip()
    if _DIGITS.fullmatch(text) is None:
        if text.isascii() and text.isdigit():
            raise FramingError(413, f"request body too large (at most {max_bytes} bytes)")
        raise FramingError(400, f"bad Content-Length {text[:40]!r}: expected a whole number")
    length = int(text)
    if length > max_bytes:
        raise FramingError(413, f"request body too large (at most {max_bytes} bytes)")
    body = rfile.read(length) if length else b""
    if len(body) != length:
        raise FramingError(400, "the body ended before Content-Length bytes arrived")
    return body


def _read_chunked(rfile: Reader, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        match = _CHUNK_SIZE.fullmatch(line)
        if match is None:
            raise FramingError(400, "malformed chunk size line")
        length = int(match[1], 16)
        if length == 0:
            break
        size += length
        if size > max_bytes:
            raise FramingError(413, f"request body too large (at most {max_bytes} bytes)")
        chunk = rfile.read(length)
        if len(chunk) != length or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise FramingError(400, "a chunk does not match its size")
        chunks.append(chunk)
    for _ in range(_MAX_TRAILERS):
        line = rfile.readline(_MAX_LINE + 1)
        if line in (b"\r\n", b"\n"):
            return b"".join(chunks)
        if not line.endswith(b"\n"):
            raise FramingError(400, "malformed chunked trailer")
    raise FramingError(431, "too many trailer fields")
