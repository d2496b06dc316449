"""The sandbox's HTTPS server: TLS on 127.0.0.1, routing, call counting and fault injection.

Edge: stdlib ``ThreadingHTTPServer`` over ``ssl`` (see reference/feasibility.md §2-3: as fast
as uvicorn here, no dependency). The server knows nothing of any CRM: a protocol
:class:`App` turns a :class:`Request` into a :class:`Response`, says which API family a call
belongs to (for the call counts) and how each fault and each HTTP-level error looks in its
CRM's wire format. A hostile or slow client is bounded: body framing is checked before a
byte of the body is read (:mod:`~crmframes.sandbox.framing`), a request's headers and body
must arrive within ``request_timeout`` seconds, and at most ``max_connections`` connections
are served at once (idle keep-alive ones are closed first when the cap is reached).

Why not h11 (issue 19): swapped in for the stdlib parser, it served small keep-alive requests
about 20% slower (medians of runs on a loaded 2-core machine) and large query pages no faster,
and it still accepts a repeated identical ``Content-Length``, a list ``4, 4``, or one beside
``Transfer-Encoding``, so the checks of :mod:`~crmframes.sandbox.framing` would stay anyway.

Longer than 500 lines: one HTTPS server: request, response, routing and call counting are the
one contract every App relies on.
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
import re
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from crmframes.sandbox.clock import Clock
from crmframes.sandbox.faults import Fault, Faults
from crmframes.sandbox.framing import (
    MAX_BODY_BYTES,
    DeadlinePassed,
    DeadlineReader,
    FramingError,
    read_body,
)

__all__ = [
    "App",
    "CallCounter",
    "HttpError",
    "HttpsServer",
    "Request",
    "Response",
    "Router",
]

logger = logging.getLogger("crmframes.sandbox")

IDLE_TIMEOUT = 120.0  # seconds a keep-alive connection may stay silent between requests
REQUEST_TIMEOUT = 60.0  # seconds from a request's first byte to its last (headers and body)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_CONNECTIONS = 128  # connections served at once; more wait in the listen backlog


@dataclass
class Request:
    """One HTTP request as the protocol handlers see it."""

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """Return the first query-string value of ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return a request header (case-insensitive)."""
        value = self.headers.get(name)
        return default if value is None else str(value)

    def json(self) -> Any:
        """Parse the body as JSON; raise ValueError on a bad body."""
        return orjson.loads(self.body)

    def form(self) -> dict[str, str]:
        """Parse an ``application/x-www-form-urlencoded`` body (last value wins)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in parsed.items()}


@dataclass
class Response:
    """One HTTP response; ``body`` is already encoded."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[], None] | None = None  # work to do once the answer is sent

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        """A JSON response (orjson; non-str keys allowed)."""
        body = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
        return cls.raw(status, body, "application/json;charset=UTF-8", headers)

    @classmethod
    def raw(
        cls, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> Response:
        """A response with an explicit content type."""
        return cls(status, body, {"Content-Type": content_type, **(headers or {})})

    @classmethod
    def empty(cls, status: int = 204, headers: dict[str, str] | None = None) -> Response:
        """A response without a body (204 No Content by default)."""
        return cls(status, b"", dict(headers or {}))


class HttpError(Exception):
    """Raised by a handler to answer with a ready-made response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class App(Protocol):
    """What a CRM protocol module provides to the server."""

    def handle(self, request: Request) -> Response:
        """Answer one call (and count it, if the CRM counts it)."""

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """Answer a request-level fault in this CRM's wire format."""

    def error_response(self, exc: BaseException, request: Request) -> Response:
        """Answer an unexpected exception as this CRM's internal error."""

    def http_error(self, status: int, message: str) -> Response:
        """Answer an HTTP-level error (bad framing, headers too large, timeout) in this CRM's shape."""

    def close(self) -> None:
        """Release what the app holds (worker threads); called when the server stops."""


Handler = Callable[[Request], Response]


class Router:
    """Routes ``METHOD /path`` to handlers by regular expression on the raw path.

    Named groups become ``request.params``, percent-decoded after matching, so an encoded
    ``/`` inside an external id value cannot change the route.
    """

    def __init__(self) -> None:
        self._routes: list[tuple[frozenset[str], re.Pattern[str], Handler]] = []

    def add(self, methods: str | Iterable[str], pattern: str, handler: Handler) -> None:
        """Register ``handler`` for the methods and the full-match path ``pattern``."""
        names = frozenset([methods] if isinstance(methods, str) else methods)
        self._routes.append((names, re.compile(pattern), handler))

    def resolve(self, request: Request) -> Handler | bool | None:
        """Return the handler (params filled in), False if the path exists for other methods, else None."""
        path_matched = False
        for methods, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if request.method not in methods:
                path_matched = True
                continue
            request.params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            return handler
        return False if path_matched else None

    def allowed(self, path: str) -> list[str]:
        """The methods served on ``path``, in HTTP's usual order (for a 405's ``Allow``)."""
        served = {
            m for methods, pattern, _ in self._routes if pattern.fullmatch(path) for m in methods
        }
        order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        return sorted(served, key=lambda m: (order.index(m) if m in order else len(order), m))


class CallCounter:
    """Counts API calls by family, the way the CRM counts them (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()

    def count(self, family: str) -> None:
        """Add one call to ``family``."""
        with self._lock:
            self._counts[family] += 1

    def total(self) -> int:
        """Return the number of calls counted so far."""
        with self._lock:
            return sum(self._counts.values())

    def by_family(self) -> dict[str, int]:
        """Return the counts by family, sorted by name."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], owner: HttpsServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        # Without TCP_NODELAY the tail of a large answer waits for the client's delayed ACK
        # (Nagle): 40 ms lost on every page of a query.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The TLS handshake runs in the connection's own thread (first read), so one
        # slow client cannot stall accept() for everybody else.
        wrapped = self.owner.ssl_context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        )
        return wrapped, addr

    def process_request(self, request: Any, client_address: Any) -> None:
        # One thread per connection, at most max_connections of them: wait for a slot
        # (new connections queue in the listen backlog meanwhile).
        if not self.owner._acquire_slot():
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.owner._release_slot()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.owner._release_slot()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "crmframes-sandbox"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    server: _Server

    def setup(self) -> None:
        super().setup()
        owner = self.server.owner
        self._reader = DeadlineReader(self.connection, idle=IDLE_TIMEOUT)
        self.rfile.close()  # the stdlib's reader: replaced by one that keeps the deadline
        self._buffer = io.BufferedReader(self._reader, 65536)
        self.rfile = self._buffer
        owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def date_time_string(self, timestamp: float | None = None) -> str:
        return formatdate(self.server.owner.clock.timestamp(), usegmt=True)

    def handle(self) -> None:
        # The TLS handshake has the same deadline as a request (CPython bounds the whole
        # handshake by the socket timeout), so a client stalling it cannot hold a slot.
        try:
            self.connection.settimeout(self.server.owner.request_timeout)
            self.connection.do_handshake()
        except (OSError, ValueError):
            return
        super().handle()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed HTTP (bad request line, oversized headers, bad framing, a deadline
        # passed): the CRM's own error shape, never the stdlib's HTML page.
        response = self.server.owner.app.http_error(code, message or HTTPStatus(code).phrase)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._write(response)

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if _CONTROL.search(self.path):  # RFC 9112 §3.2: no control characters in a target
            self.send_error(400, "the request target holds a control character")
            return False
        return True

    def handle_one_request(self) -> None:
        owner = self.server.owner
        self._reader.deadline = None
        owner._idle(self.connection, idle=True)
        try:
            if not self._buffer.peek(1):  # the client closed the connection
                self.close_connection = True
                return
            owner._idle(self.connection, idle=False)
            self._reader.deadline = time.monotonic() + owner.request_timeout
            super().handle_one_request()
        except DeadlinePassed:
            self.send_error(408, f"the request did not arrive within {owner.request_timeout:g} s")
        except (ssl.SSLError, ConnectionError, TimeoutError, ValueError):
            self.close_connection = True
        finally:
            owner._idle(self.connection, idle=False)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _serve(self) -> None:
        owner = self.server.owner
        try:
            body = read_body(self.headers, self._buffer, max_bytes=owner.max_body_bytes)
        except FramingError as exc:
            self.send_error(exc.status, exc.message)
            return
        self._reader.deadline = None
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            target=self.path,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        response = owner.dispatch(request)
        if response is None:  # a dropped connection
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.headers.get("Connection", "").lower() == "close":
            self.close_connection = True
        self._write(response, head_only=self.command == "HEAD")
        if response.after is not None:
            try:
                response.after()
            except Exception:
                logger.exception("sandbox: post-response work failed")

    def _write(self, response: Response, *, head_only: bool = False) -> None:
        phrase = (
            HTTPStatus(response.status).phrase
            if response.status in HTTPStatus._value2member_map_
            else ""
        )
        lines = [f"HTTP/1.1 {response.status} {phrase}"]
        headers = {
            "Date": self.date_time_string(),
            "Server": self.server_version,
            **response.headers,
            "Content-Length": str(len(response.body)),
        }
        if self.close_connection:
            headers["Connection"] = "close"
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.connection.settimeout(IDLE_TIMEOUT)  # writing: not the request's deadline
        self.wfile.write(head if head_only else head + response.body)


class HttpsServer:
    """Serves one :class:`App` over HTTPS on 127.0.0.1 in a background thread.

    Args:
        app: the protocol.
        certfile: PEM with the server certificate chain.
        keyfile: PEM with the server private key.
        clock: the sandbox clock (``Date`` headers).
        faults: the faults to inject.
        port: 0 for an ephemeral port.
        max_connections: connections served at once; when all are taken, idle keep-alive
            connections are closed and new ones wait in the listen backlog.
        request_timeout: seconds a request's headers and body may take to arrive, from its
            first byte (and a TLS handshake from the connection); past it the answer is 408.
        max_body_bytes: the largest request body accepted (413 above it).
    """

    def __init__(
        self,
        app: App,
        *,
        certfile: str,
        keyfile: str,
        clock: Clock,
        faults: Faults,
        port: int = 0,
        max_connections: int = MAX_CONNECTIONS,
        request_timeout: float = REQUEST_TIMEOUT,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections!r}")
        if not request_timeout > 0:
            raise ValueError(f"request_timeout must be positive, not {request_timeout!r}")
        self.app = app
        self.max_connections = max_connections
        self.request_timeout = float(request_timeout)
        self.max_body_bytes = max_body_bytes
        self._slots = threading.BoundedSemaphore(max_connections)
        self._idle_connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self.clock = clock
        self.faults = faults
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ssl_context.load_cert_chain(certfile, keyfile)
        self.log: collections.deque[tuple[str, str, int | None]] = collections.deque(maxlen=2000)
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, ``https://127.0.0.1:PORT`` (no trailing slash)."""
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name=f"crmframes-sandbox-{self.port}",
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.app.close()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
                self._idle_connections.discard(conn)

    def _idle(self, conn: socket.socket, *, idle: bool) -> None:
        with self._conn_lock:
            if idle:
                self._idle_connections.add(conn)
            else:
                self._idle_connections.discard(conn)

    def _acquire_slot(self) -> bool:
        """Take a connection slot, closing idle keep-alive connections if none is free."""
        while not self._slots.acquire(blocking=False):
            # As nginx does when it runs out of connections: idle keep-alive connections go
            # first (clients reopen them), so a waiting client is not starved by silent ones.
            with self._conn_lock:
                idle = list(self._idle_connections)
            for conn in idle:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            if self._slots.acquire(timeout=0.05):
                return True
            if self._stopping.is_set():
                return False
        return True

    def _release_slot(self) -> None:
        self._slots.release()

    def dispatch(self, request: Request) -> Response | None:
        """Apply faults, count the call, run the app; None means: drop the connection."""
        fault = self.faults.take_request(request.method, request.target)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
            fault = None
        if fault is not None and fault.kind == "drop":
            self.log.append((request.method, request.target, None))
            return None
        if fault is not None and fault.kind != "drop_after":
            response = self.app.fault_response(fault, request)
            self.log.append((request.method, request.target, response.status))
            return response
        try:
            response = self.app.handle(request)
        except HttpError as exc:
            response = exc.response
        except Exception as exc:
            logger.error(
                "sandbox: unexpected error on %s %s\n%s",
                request.method,
                request.path,
                traceback.format_exc(),
            )
            response = self.app.error_response(exc, request)
        if fault is not None:  # drop_after: the work is done, the answer is lost
            self.log.append((request.method, request.target, None))
            return None
        self.log.append((request.method, request.target, response.status))
        return response
