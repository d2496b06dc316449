"""Raw HTTPS exchanges with the sandbox for the hostile-input suites (never verify=False)."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Any

import orjson

from crmframes import Sandbox

# (request bytes after the request line's method and path, expected status): malformed
# framing, sizes, and encodings any HTTP/1.1 server must refuse before reading a body.
FRAMING_CASES: list[tuple[str, bytes, int]] = [
    ("negative Content-Length", b"Content-Length: -1\r\n\r\nxxxx", 400),
    ("signed Content-Length", b"Content-Length: +4\r\n\r\nxxxx", 400),
    ("hex Content-Length", b"Content-Length: 0x4\r\n\r\nxxxx", 400),
    ("non-ASCII digit Content-Length", "Content-Length: ٤\r\n\r\nxxxx".encode(), 400),
    ("two Content-Length headers", b"Content-Length: 4\r\nContent-Length: 4\r\n\r\nxxxx", 400),
    ("two lengths in one header", b"Content-Length: 4, 4\r\n\r\nxxxx", 400),
    (
        "Content-Length with chunked",
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nxxxx\r\n0\r\n\r\n",
        400,
    ),
    ("gzip transfer coding", b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("negative chunk size", b"Transfer-Encoding: chunked\r\n\r\n-1\r\nxxxx", 400),
    ("chunk size not hex", b"Transfer-Encoding: chunked\r\n\r\nzz\r\nxxxx", 400),
    (
        "chunk longer than its size",
        b"Transfer-Encoding: chunked\r\n\r\n2\r\nxxxx\r\n0\r\n\r\n",
        400,
    ),
    ("huge chunk size", b"Transfer-Encoding: chunked\r\n\r\nffffffffffff\r\nxxxx", 413),
    ("body over the cap", b"Content-Length: 300000000\r\n\r\nxxxx", 413),
    ("Content-Length of 5,000 digits", b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n", 413),
    ("header line too long", b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    ("too many headers", b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n", 431),
]
BAD_REQUEST_LINES: list[tuple[str, bytes, int]] = [
    ("unknown method", b"BREW /services/data/ HTTP/1.1\r\nHost: x\r\n\r\n", 501),
    ("URL too long", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("not HTTP", b"THIS IS NOT HTTP\r\n\r\n", 400),
    ("HTTP/2.0 request line", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("NUL in the request line", b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
]


@dataclass
class Answer:
    """One parsed HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def connect(sandbox: Sandbox, *, timeout: float = 10.0) -> ssl.SSLSocket:
    """A TLS connection to the sandbox that trusts its CA only."""
    context = ssl.create_default_context(cafile=sandbox.ca_file)
    port = int(sandbox.url.rsplit(":", 1)[1])
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def read_answer(tls: ssl.SSLSocket) -> Answer:
    """Read one answer (headers and a Content-Length body) from the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(65536)
        if not chunk:
            raise ConnectionError(f"the connection closed before an answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    length = int(headers.get("Content-Length", "0"))
    while len(body) < length:
        chunk = tls.recv(65536)
        if not chunk:
            break
        body += chunk
    return Answer(int(lines[0].split(" ")[1]), headers, body[:length])


def exchange(sandbox: Sandbox, data: bytes) -> Answer:
    """Send raw bytes on a new connection; return the answer."""
    with connect(sandbox) as tls:
        tls.sendall(data)
        return read_answer(tls)
