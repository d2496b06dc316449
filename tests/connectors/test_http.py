"""The HTTP client's large-body reads: one piece, and a body cut short is retried like a lost call."""

import gzip
import io
import threading

import pytest
import requests
import urllib3

from crmframes.connectors.http import HttpClient, RetryPolicy, pages_ahead
from crmframes.errors import UnavailableError


class CutBody(io.BytesIO):
    """A response body whose first reads fail as a dropped connection would."""

    def __init__(self, data: bytes, failures: int) -> None:
        super().__init__(data)
        self.failures = failures

    def read(self, *args, decode_content=True, **kwargs):
        if self.failures:
            self.failures -= 1
            raise urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")
        return super().read()

    def release_conn(self):
        pass


class Session(requests.Session):
    """Answers every request with the next body, and counts the requests."""

    def __init__(self, bodies):
        super().__init__()
        self.bodies = list(bodies)
        self.sent = []

    def request(self, method, url, **kwargs):
        self.sent.append(kwargs)
        response = requests.Response()
        body = self.bodies.pop(0)
        response.status_code = getattr(body, "status", 200)
        response.headers.update(getattr(body, "headers", {}))
        response.raw = body
        return response


class Pooled(io.BytesIO):
    """A body on a pooled connection: records whether it went back to the pool or was closed."""

    def __init__(self, data: bytes, status: int = 200) -> None:
        super().__init__(data)
        self.status = status
        self.released = False

    def read(self, *args, decode_content=True, **kwargs):
        return super().read()

    def release_conn(self):
        self.released = True


def client(session):
    return HttpClient(
        system="Test",
        session=session,
        timeout=5,
        retry=RetryPolicy(attempts=3, base=0.001, cap=0.01),
        translate=lambda response, operation: None,
    )


def test_a_large_body_is_read_in_one_piece_and_a_cut_one_is_fetched_again():
    body = b"x" * 1_000_000
    session = Session([CutBody(body, failures=1), CutBody(body, failures=0)])
    http = client(session)
    reply = http.send("GET", "https://crm.test/results", operation="results", large=True)
    assert reply.content == body
    assert [kwargs["stream"] for kwargs in session.sent] == [True, True]
    assert http.retries == 1


class Gzipped(Pooled):
    """A gzip-encoded body: what was sent when asked not to decode it (as urllib3 does)."""

    def __init__(self, packed: bytes) -> None:
        super().__init__(packed)
        self.headers = {"Content-Encoding": "gzip"}
        self.decoded: list[bool] = []

    def read(self, *args, decode_content=True, **kwargs):
        self.decoded.append(decode_content)
        return super().read()


def test_a_large_gzip_body_is_inflated_in_one_piece_and_a_corrupt_one_is_fetched_again():
    text = b'"Id","Name"\n' + b'"003000000000001AAA","Doe"\n' * 50_000
    packed = gzip.compress(text)
    corrupt = packed[:20] + bytes(b ^ 0xFF for b in packed[20:60]) + packed[60:]
    first, second = Gzipped(corrupt), Gzipped(packed)
    http = client(Session([first, second]))
    reply = http.send("GET", "https://crm.test/results", operation="results", large=True)
    assert reply.content == text
    assert first.decoded == second.decoded == [False]  # read as sent, inflated by isal
    assert http.retries == 1  # the corrupt answer was read again, like a cut one


def test_a_cut_body_of_a_write_is_an_outcome_unknown_not_a_retry():
    session = Session([CutBody(b"{}", failures=1)])
    with pytest.raises(UnavailableError) as caught:
        client(session).send(
            "POST", "https://crm.test/write", operation="insert", idempotent=False, large=True
        )
    assert caught.value.outcome_unknown and not caught.value.retryable
    assert "while reading the answer" in str(caught.value)
    assert len(session.sent) == 1


def test_pages_ahead_yields_every_page_in_order():
    pages = {"": ("a", "1"), "1": ("b", "2"), "2": ("c", None)}
    seen = list(pages_ahead(pages[""], lambda page: page[1], lambda locator: pages[locator]))
    assert [page[0] for page in seen] == ["a", "b", "c"]


def test_a_streamed_answer_goes_back_to_the_pool_whatever_its_status():
    """An unread streamed answer (a 401 before renewal, an error) would hold its socket."""
    expired, error, page = Pooled(b"{}", status=401), Pooled(b"{}", status=500), Pooled(b"rows")
    session = Session([expired, error, page])
    http = client(session)
    renewals = []
    http.reauthenticate = lambda: renewals.append(1)
    http.translate = lambda response, operation: (
        UnavailableError("busy", system="Test", operation=operation, retryable=True)
        if response.status_code >= 500
        else None
    )
    assert (
        http.send("GET", "https://crm.test/page", operation="page", large=True).content == b"rows"
    )
    assert renewals == [1]
    assert [body.released for body in (expired, error, page)] == [True, True, True]
    assert not any(body.closed for body in (expired, error, page))  # kept alive, not dropped


def test_pages_ahead_fetches_the_next_page_while_this_one_is_used_and_errors_wait_their_turn():
    fetching = threading.Event()

    def fetch(locator):
        fetching.set()
        if locator == "2":
            raise UnavailableError("page 2 lost", system="Test", operation="page")
        return ("b", "2")

    pages = pages_ahead(("a", "1"), lambda page: page[1], fetch)
    assert next(pages) == ("a", "1")
    assert fetching.wait(5)  # page "1" is being fetched while the caller holds page "a"
    assert next(pages) == ("b", "2")
    with pytest.raises(UnavailableError, match="page 2 lost"):
        next(pages)


def test_a_refused_connection_is_sent_again_even_for_a_write():
    """Nothing reached the CRM, so even an insert is safe to send again (not outcome-unknown)."""
    http = client(requests.Session())
    with pytest.raises(UnavailableError) as caught:
        http.send(
            "POST", "https://127.0.0.1:1/write", operation="insert", idempotent=False, data=b"{}"
        )
    assert caught.value.retryable and not caught.value.outcome_unknown
    assert "no connection" in str(caught.value) and http.retries == 2


class ExpiredTogether(requests.Session):
    """Holds the first two requests until both arrived, answers both 401, then 200."""

    def __init__(self) -> None:
        super().__init__()
        self.both = threading.Barrier(2)
        self.lock = threading.Lock()
        self.first = 0

    def request(self, method, url, **kwargs):
        with self.lock:
            self.first += 1
            expired = self.first <= 2
        if expired:
            self.both.wait(timeout=10)  # two calls in flight on the same, now expired, token
        response = requests.Response()
        response.status_code = 401 if expired else 200
        response.raw = Pooled(b"{}" if expired else b"ok", status=response.status_code)
        return response


def test_calls_in_flight_that_meet_one_expired_token_log_in_again_once():
    http = client(ExpiredTogether())
    renewals = []
    http.reauthenticate = lambda: renewals.append(threading.get_ident())
    answers = []

    def call() -> None:
        answers.append(http.send("GET", "https://crm.test/page", operation="page").content)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert answers == [b"ok", b"ok"]
    assert len(renewals) == 1  # the second 401 was met by a session renewed already
