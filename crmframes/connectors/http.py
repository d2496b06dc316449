"""HTTP for connectors: sessions that trust the right CA, timeouts, retries that honour Retry-After.

Edge: requests + tenacity. Every connector call goes through :meth:`HttpClient.send`, which
puts a timeout on it, counts it, remembers the CRM's ``Date`` header, re-authenticates once
on a 401, retries transient failures (connection errors, 429, 5xx — what the connector's
``translate`` marks retryable) with exponential backoff or exactly the ``Retry-After`` the
CRM asked for, and turns every requests error into the crmframes error tree.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast

import requests
import tenacity
import urllib3
from isal import igzip, isal_zlib

from crmframes.arguments import check_int, check_number
from crmframes.connectors.throttling import Throttling
from crmframes.errors import (
    ConnectorError,
    RateLimitedError,
    RequestRejectedError,
    UnavailableError,
)

__all__ = ["HttpClient", "RetryPolicy", "make_session", "pages_ahead", "retry_after_seconds"]

logger = logging.getLogger("crmframes.http")
# isal's stubs type neither igzip.decompress nor its error class (IsalError at run time)
_inflate: Callable[[bytes], bytes] = igzip.decompress
_BAD_DEFLATE = cast(type[Exception], isal_zlib.error)
# Statuses after which a write may or may not have been applied (503 is a refusal: retried)
_MIDWAY = (500, 502, 504)
# Connections kept per host: one per call in flight, up to Dataverse's 52 concurrent requests
# per user (requests keeps 10 by default and drops the others after each call: a new TLS
# handshake per call at a higher degree of parallelism).
POOL_SIZE = 52

Translate = Callable[[requests.Response, str], ConnectorError | None]


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How transient failures are retried.

    Attributes:
        attempts: tries in all, the first included.
        base: the first backoff, in seconds; doubled each time, with jitter.
        cap: the longest single wait, in seconds (a longer ``Retry-After`` is capped too).
        max_seconds: give up once this much time has been spent waiting.
    """

    attempts: int = 6
    base: float = 0.5
    cap: float = 60.0
    max_seconds: float = 300.0

    def __post_init__(self) -> None:
        check_int("attempts", self.attempts, min=1)
        for name in ("base", "cap", "max_seconds"):
            check_number(name, getattr(self, name), min=0.0)


def make_session(ca_file: str | None) -> requests.Session:
    """A session that trusts ``ca_file`` when given.

    With a CA file, ``trust_env`` is off: requests would otherwise let ``REQUESTS_CA_BUNDLE``
    override ``verify`` (reference/feasibility.md §2) and never trust the sandbox's CA.
    Certificate verification is never turned off.
    """
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=POOL_SIZE))
    if ca_file:
        session.verify = ca_file
        session.trust_env = False
    return session


def retry_after_seconds(value: str | None) -> float | None:
    """Read a ``Retry-After`` header: seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


class _Reauthenticated(Exception):
    """Internal: the session was renewed after a 401; send again."""


class HttpClient:
    """Sends a connector's requests (one per connector; threads may send through it at once).

    Calls in flight at once share the session's connection pool; the call count and the
    :class:`~crmframes.connectors.throttling.Throttling` (throttles met, a ``Retry-After``
    pausing every call, a degree the CRM advises) are kept under locks.

    Args:
        system: ``"salesforce"`` or ``"dynamics"``, for error messages.
        session: the requests session (see :func:`make_session`).
        timeout: seconds for the connection and for each read.
        retry: the retry policy.
        translate: turns a response into the error it means, or None when it is fine.
        reauthenticate: renews the session after a 401 (once per call); None if impossible.
        max_url: the longest URL the CRM takes, in characters; a longer one is refused
            before it is sent (the CRM would answer 414, or drop the connection mid-request).
        dop_header: the answer header in which the CRM advises a degree of parallelism
            (Dataverse: ``x-ms-dop-hint``); None when it advises none.
    """

    def __init__(
        self,
        *,
        system: str,
        session: requests.Session,
        timeout: float,
        retry: RetryPolicy,
        translate: Translate,
        reauthenticate: Callable[[], None] | None = None,
        max_url: int | None = None,
        dop_header: str | None = None,
    ) -> None:
        self.system = system
        self.dop_header = dop_header
        self.session = session
        self.timeout = timeout
        self.retry = retry
        self.translate = translate
        self.reauthenticate = reauthenticate
        self.max_url = max_url
        self.calls = 0
        self.retries = 0
        self.last_date: datetime | None = None
        self.throttling = Throttling()
        self._counting = threading.Lock()
        self._renewing = threading.Lock()
        self._session_generation = 0  # logins since the first: a 401 renews the one it met

    def send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        counted: bool = True,
        idempotent: bool = True,
        renewable: bool = True,
        large: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; return the response when it succeeded.

        Args:
            method: the HTTP method.
            url: the absolute URL.
            operation: what is being done, for error messages (``"query Contact"``).
            counted: whether the CRM counts this call against its API allocation.
            idempotent: whether it is safe to send again after a dropped connection (a
                write is not: its outcome is unknown and the caller must decide).
            renewable: whether a 401 may renew the session (not for token requests).
            large: the answer is large (a Bulk results page): read it in one piece, not in
                requests' 10 KB chunks joined at the end (half the memory, less time).
            **kwargs: passed to ``requests.Session.request``.

        Raises:
            RequestRejectedError: the URL is longer than ``max_url`` (nothing was sent).
            ConnectorError: the call failed for good (the subclass says how).
        """
        self._check_length(method, url, operation, kwargs.get("params"))
        renew = renewable  # a 401 renews the session once per call
        while True:
            retrying = tenacity.Retrying(
                stop=tenacity.stop_after_attempt(self.retry.attempts)
                | tenacity.stop_after_delay(self.retry.max_seconds),
                wait=self._wait,
                retry=tenacity.retry_if_exception(
                    lambda exc: isinstance(exc, ConnectorError) and exc.retryable
                ),
                before_sleep=self._before_sleep,
                reraise=True,
            )
            try:
                for attempt in retrying:
                    with attempt:
                        return self._once(
                            method,
                            url,
                            operation,
                            counted,
                            idempotent,
                            renew=renew,
                            large=large,
                            **kwargs,
                        )
            except _Reauthenticated:
                renew = False

    def _once(
        self,
        method: str,
        url: str,
        operation: str,
        counted: bool,
        idempotent: bool,
        *,
        renew: bool,
        large: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        self.throttling.hold()  # a Retry-After the CRM gave another call applies to this one
        session = self._session_generation  # which login this request goes out with
        try:
            response = self.session.request(
                method, url, timeout=self.timeout, stream=large, **kwargs
            )
        except requests.exceptions.ConnectTimeout as exc:  # nothing left this machine
            raise self._unsent(f"no connection within {self.timeout:g} s", operation) from exc
        except requests.Timeout as exc:
            raise self._lost(f"no answer within {self.timeout:g} s", operation, idempotent) from exc
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(
                f"TLS failed: {exc}; check the CA file", system=self.system, operation=operation
            ) from exc
        except requests.ConnectionError as exc:
            reason = getattr(exc.args[0] if exc.args else None, "reason", None)
            if isinstance(reason, urllib3.exceptions.NewConnectionError):  # refused, no route
                raise self._unsent(f"no connection: {reason}", operation) from exc
            raise self._lost(f"connection failed: {exc}", operation, idempotent) from exc
        if counted:
            with self._counting:
                self.calls += 1
        if large and response.status_code >= 300:
            # an error's body is small: read it now, which also hands the connection back
            # to the pool (a streamed answer left unread holds its socket until collected)
            self._read(response, operation, idempotent)
        date = response.headers.get("Date")
        if date:
            with contextlib.suppress(TypeError, ValueError):
                self.last_date = parsedate_to_datetime(date).astimezone(UTC)
        if response.status_code == 401 and renew and self.reauthenticate is not None:
            logger.info(
                "%s: session expired during %s; authenticating again", self.system, operation
            )
            with self._renewing:  # calls in flight all meet the 401: one of them logs in
                if self._session_generation == session:
                    self.reauthenticate()
                    self._session_generation += 1
            raise _Reauthenticated
        if self.dop_header is not None:
            self.throttling.hint(response.headers.get(self.dop_header))
        error = self.translate(response, operation)
        if isinstance(error, RateLimitedError) and error.retryable:
            self.throttling.met(error.retry_after)
        if error is not None:
            if not idempotent and isinstance(error, UnavailableError) and error.status in _MIDWAY:
                # the CRM, or a proxy, failed while handling a write: it may have been applied
                error.retryable, error.outcome_unknown = False, True
            raise error
        if large and response.status_code < 300:
            self._read(response, operation, idempotent)
        return response

    def _check_length(self, method: str, url: str, operation: str, params: Any) -> None:
        """Refuse a request whose URL, query string included, is over the CRM's limit."""
        if self.max_url is None:
            return
        full = requests.Request(method, url, params=params).prepare().url or url
        if len(full) > self.max_url:
            raise RequestRejectedError(
                f"the query is too long: its URL would have {len(full):,} characters and "
                f"{self.system} takes at most {self.max_url:,}; shorten the filter (fewer "
                "isin() values, shorter texts), or fetch known records with population=, "
                "which is sent in chunks",
                system=self.system,
                operation=operation,
                code="QUERY_TOO_LONG",
            )

    def _read(self, response: requests.Response, operation: str, idempotent: bool) -> None:
        """Read a streamed answer in one piece into requests' own cache of the body.

        A gzip answer is read as sent and inflated in one piece by ISA-L (isal), about 2x
        urllib3's zlib: a Bulk result page is megabytes.
        """
        packed = response.headers.get("Content-Encoding", "").strip().lower() == "gzip"
        try:
            if packed:
                response._content = _inflate(response.raw.read(decode_content=False))
            else:
                response._content = response.raw.read(decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError, EOFError, _BAD_DEFLATE) as exc:
            response.close()  # a connection cut short is dropped, not pooled
            message = f"the connection failed while reading the answer: {exc}"
            raise self._lost(message, operation, idempotent) from exc
        response.raw.release_conn()  # read whole: back to the pool, kept alive

    def _unsent(self, message: str, operation: str) -> UnavailableError:
        """A call that never reached the CRM (no connection): safe to send again, any call."""
        return UnavailableError(message, system=self.system, operation=operation, retryable=True)

    def _lost(self, message: str, operation: str, idempotent: bool) -> UnavailableError:
        """A call whose answer did not arrive: sent again only if it is idempotent."""
        return UnavailableError(
            message,
            system=self.system,
            operation=operation,
            retryable=idempotent,
            outcome_unknown=not idempotent,
        )

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, ConnectorError) and exc.retry_after is not None:
            return min(float(exc.retry_after), self.retry.cap)
        backoff: float = self.retry.base * (2.0 ** (state.attempt_number - 1))
        return min(backoff * (0.5 + random.random()), self.retry.cap)

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        with self._counting:
            self.retries += 1
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RateLimitedError) and state.next_action is not None:
            self.throttling.waiting(state.next_action.sleep)
        logger.info("%s: retrying after %s (attempt %d)", self.system, exc, state.attempt_number)


P = TypeVar("P")


def pages_ahead(
    first: P, next_url: Callable[[P], str | None], fetch: Callable[[str], P]
) -> Iterator[P]:
    """Yield pages, fetching the next page in a worker while the caller parses this one.

    Paging is a chain (each page names the next), so the CRM's work and the network are
    overlapped with the caller's parsing instead of adding up. One request is in flight at
    most; an error of the prefetch surfaces when that page is asked for.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmframes-pages") as pool:
        body = first
        while True:
            url = next_url(body)
            ahead = pool.submit(fetch, url) if url else None
            yield body
            del body  # not held while the next page arrives
            if ahead is None:
                return
            body = ahead.result()
