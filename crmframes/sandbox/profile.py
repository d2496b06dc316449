"""Sandbox profiles: how long a real org takes to answer, and which service limits it enforces.

Edge: :class:`ProfiledApp` wraps a CRM's sandbox app (the server's ``App`` protocol). The
``local`` profile answers at once (no wrapper). ``production`` models a real org: half the
network round trip before the request reaches the server and half after; a concurrency slot
(at most ``capacity`` requests served at once, the rest queue); the server time of the work
the request did (``request_overhead`` plus a time per record by operation, the app reports the
work through its ``work(request, response)`` method); and the CRM's service limits
(reference/dataverse-api.md "Service protection", reference/salesforce-api.md §9). Every
modelled time, window and ``Retry-After`` is divided by ``speed``, so a run at ``speed=100`` keeps
the ratios of a real org in a hundredth of the time.

Nothing here names a CRM: each CRM's sandbox package declares its production figures and
how its org refuses a request over a limit (:class:`ServiceLimits`) in its
:class:`~crmframes.registry.SandboxSupport` (``production`` and ``limits``). The figures and
their sources are in the README, "Production profile figures".
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, Protocol, get_args

from crmframes import registry
from crmframes.errors import ConfigError
from crmframes.sandbox.faults import Fault
from crmframes.sandbox.server import App, HttpError, Request, Response

__all__ = [
    "Limit",
    "Operation",
    "Profile",
    "ProfileName",
    "ProfiledApp",
    "ServiceLimits",
    "production_profile",
    "resolve_profile",
]

ProfileName = Literal["local", "production"]
Operation = Literal["query", "create", "update", "upsert", "delete"]
# The limits a profile can model, each switched on by its figure: requests in flight
# (concurrent_limit), requests per window (request_limit), server seconds per window
# (execution_limit), long-running requests at once (long_running_limit).
Limit = Literal["concurrent", "requests", "execution", "long_running"]
Work = Mapping[str, int]  # operation -> records the request touched


@dataclass(frozen=True, kw_only=True)
class Profile:
    """The figures of one sandbox profile; every time is in seconds of a real org.

    Build one with :func:`production_profile` (``crm`` plus keyword overrides) or
    ``dataclasses.replace``. ``None`` switches a limit off.

    Args:
        name: ``"local"`` or ``"production"``.
        speed: divides every modelled time, window and ``Retry-After`` (1 = real time).
        round_trip: network round trip per call.
        request_overhead: server time of any request, before its records.
        query_row, create, update, upsert, delete: server time per record by operation.
        capacity: requests the org serves at once; more wait for a slot.
        dop_hint: the degree of parallelism the org advises on every answer (Dataverse's
            ``x-ms-dop-hint``).
        concurrent_limit: requests in flight per user before a new one is refused.
        request_limit: requests per user per ``window`` before a new one is refused.
        execution_limit: server seconds per ``window`` before a new request is refused.
        window: the sliding window of ``request_limit`` and ``execution_limit``.
        long_running_seconds: a request running longer is long-running.
        long_running_limit: long-running requests at once before new ones are refused.
            Which of these limits a CRM has, and how it refuses a request, its sandbox
            package says (:class:`ServiceLimits`).
        bulk_queue: Salesforce Bulk API 2.0: time a job waits before it runs.
        bulk_ingest_row, bulk_query_row: Bulk API 2.0 processing time per record.
        bulk_daily_records: Bulk API 2.0 ingest records per rolling 24 hours.
    """

    name: ProfileName = "production"
    speed: float = 1.0
    round_trip: float = 0.0
    request_overhead: float = 0.0
    query_row: float = 0.0
    create: float = 0.0
    update: float = 0.0
    upsert: float = 0.0
    delete: float = 0.0
    capacity: int = 1_000
    dop_hint: int | None = None
    concurrent_limit: int | None = None
    request_limit: int | None = None
    execution_limit: float | None = None
    window: float = 300.0
    long_running_seconds: float = 20.0
    long_running_limit: int | None = None
    bulk_queue: float = 0.0
    bulk_ingest_row: float = 0.0
    bulk_query_row: float = 0.0
    bulk_daily_records: int | None = None

    def __post_init__(self) -> None:
        if self.name not in get_args(ProfileName):
            raise ValueError(
                f"profile name must be one of {get_args(ProfileName)}, not {self.name!r}"
            )
        if not (isinstance(self.speed, int | float) and self.speed > 0):
            raise ValueError(f"speed must be a positive number, not {self.speed!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{f.name} must not be negative, not {value!r}")
        if self.capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {self.capacity!r}")

    def server_seconds(self, work: Work) -> float:
        """Modelled server time of a request that did ``work`` (seconds of a real org)."""
        per = {
            "query": self.query_row,
            "create": self.create,
            "update": self.update,
            "upsert": self.upsert,
            "delete": self.delete,
        }
        return self.request_overhead + sum(per[op] * n for op, n in work.items() if op in per)

    def call_seconds(self, work: Work) -> float:
        """Modelled time of one call as the client sees it: round trip plus server time."""
        return self.round_trip + self.server_seconds(work)

    def bulk_seconds(self, kind: Literal["ingest", "query"], rows: int) -> tuple[float, float]:
        """Real seconds a Bulk API 2.0 job waits queued, then processes (``speed`` applied)."""
        per = self.bulk_ingest_row if kind == "ingest" else self.bulk_query_row
        return self.bulk_queue / self.speed, per * rows / self.speed


class ServiceLimits(Protocol):
    """How one CRM's org refuses a request over a service limit, in its own error shape."""

    enforced: frozenset[Limit]  # the limits its org has (each still needs its figure set)

    def refusal(
        self, limit: Limit, profile: Profile, *, retry_after: int | None
    ) -> tuple[str, Response]:
        """The answer refusing a request over ``limit``, and the code it is counted under.

        ``retry_after`` is the wait to announce, in whole seconds of the compressed time
        (None: the limit names none).
        """

    def advice(self, profile: Profile) -> Mapping[str, str]:
        """Headers every answer carries under ``profile`` (a degree of parallelism advised)."""


def production_profile(crm: str, **overrides: Any) -> Profile:
    """The production profile of ``crm`` with any figure overridden by keyword.

    The figures are the CRM's own, declared by its sandbox package
    (:attr:`~crmframes.registry.SandboxSupport.production`).

    Raises:
        ValueError: a CRM without production figures, or an unknown figure.

    Examples:
        >>> production_profile("dynamics", speed=10).call_seconds({"create": 1000}) > 2.8
        True
    """
    base = _figures(crm)
    if base is None:
        known = " or ".join(name for name in registry.crm_names() if _figures(name) is not None)
        raise ValueError(f"no production profile for {crm!r}; use {known}")
    unknown = sorted(set(overrides) - {f.name for f in fields(Profile)})
    if unknown:
        raise ValueError(f"unknown profile figure(s) {unknown}; see crmframes.sandbox.Profile")
    return replace(base, **overrides)


def resolve_profile(crm: str, profile: str | Profile, *, speed: float | None) -> Profile | None:
    """Turn ``Sandbox(profile=, speed=)`` into a :class:`Profile`, or None for ``local``."""
    if isinstance(profile, Profile):
        chosen = profile
    elif profile == "local":
        if speed is not None:
            raise ValueError("speed= applies to the production profile; local answers at once")
        return None
    elif profile == "production":
        chosen = production_profile(crm)
    else:
        raise ValueError(f"profile must be 'local', 'production' or a Profile, not {profile!r}")
    if speed is not None:
        chosen = replace(chosen, speed=speed)
    return None if chosen.name == "local" else chosen


class _Measured(Protocol):
    def work(self, request: Request, response: Response) -> Work: ...

    def limited(self, request: Request) -> bool: ...


class _NoLimits:
    """A CRM that declares no service limits: nothing refused, nothing advised."""

    enforced: frozenset[Limit] = frozenset()

    def refusal(
        self, limit: Limit, profile: Profile, *, retry_after: int | None
    ) -> tuple[str, Response]:
        raise AssertionError(f"no {limit} limit is enforced")  # never called: none enforced

    def advice(self, profile: Profile) -> Mapping[str, str]:
        return {}


class ProfiledApp:
    """The server's ``App``: the inner CRM app answered as a production org would.

    Args:
        inner: the CRM's sandbox app (it also offers ``work`` and ``limited``).
        profile: the figures.
        limits: how the CRM's org refuses a request over a limit (its sandbox support's
            ``limits``); None: the CRM declares none, only time is modelled.
    """

    def __init__(self, inner: Any, profile: Profile, *, limits: ServiceLimits | None) -> None:
        self.inner: App = inner
        self._measured: _Measured = inner
        self.profile = profile
        self.limits: ServiceLimits = limits or _NoLimits()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(profile.capacity)
        self._in_flight: dict[int, float] = {}  # request number -> modelled start
        self._next = 0
        self._requests: collections.deque[float] = collections.deque()  # modelled arrivals
        self._execution: collections.deque[tuple[float, float]] = collections.deque()
        self.throttled: collections.Counter[str] = collections.Counter()

    def now(self) -> float:
        """Modelled seconds: real monotonic seconds times ``speed``."""
        return time.monotonic() * self.profile.speed

    def _sleep(self, modelled: float) -> None:
        if modelled > 0:
            time.sleep(modelled / self.profile.speed)

    # --- App protocol ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer after the round trip, a slot, the inner app and the modelled server time."""
        p = self.profile
        self._sleep(p.round_trip / 2)
        limited = self._measured.limited(request)
        number: int | None = None
        try:
            if limited:
                refusal, number = self._admit()
                if refusal is not None:
                    return self._finish(refusal)
            with self._slots:
                began = time.monotonic()
                try:
                    response = self.inner.handle(request)
                except HttpError as exc:  # a refusal still costs the org its time
                    response = exc.response
                work = self._measured.work(request, response) if limited else {}
                server = p.server_seconds(work)
                self._sleep(server - (time.monotonic() - began) * p.speed)
            if limited and p.execution_limit is not None:
                with self._lock:
                    self._execution.append((self.now(), server))
            return self._finish(response)
        finally:
            if number is not None:
                with self._lock:
                    self._in_flight.pop(number, None)
            self._sleep(p.round_trip / 2)

    def _finish(self, response: Response) -> Response:
        response.headers.update(self.limits.advice(self.profile))
        return response

    def _admit(self) -> tuple[Response | None, int | None]:
        """Check the limits and register the request in flight (None, number) or refuse it."""
        p = self.profile
        with self._lock:
            now = self.now()
            over = self._over(now)
            if over is not None:
                limit, wait = over
                # whole seconds, at least 1, in the compressed time of speed=
                retry = None if wait is None else max(1, math.ceil(wait / p.speed))
                code, refusal = self.limits.refusal(limit, p, retry_after=retry)
                self.throttled[code] += 1
                return refusal, None
            self._next += 1
            self._in_flight[self._next] = now
            if p.request_limit is not None:
                self._requests.append(now)
            return None, self._next

    def _over(self, now: float) -> tuple[Limit, float | None] | None:
        """The first limit a new request is over, and the modelled wait until it is not."""
        p = self.profile
        enforced = self.limits.enforced
        if (
            "concurrent" in enforced
            and p.concurrent_limit is not None
            and len(self._in_flight) >= p.concurrent_limit
        ):
            # Concurrency trips at once; a slot frees when any request ends, so the sandbox asks
            # for the shortest wait it can name, 1 s [assumed: the value is not documented].
            return "concurrent", 0.0
        horizon = now - p.window
        while self._requests and self._requests[0] <= horizon:
            self._requests.popleft()
        while self._execution and self._execution[0][0] <= horizon:
            self._execution.popleft()
        if (
            "requests" in enforced
            and p.request_limit is not None
            and len(self._requests) >= p.request_limit
        ):
            return "requests", self._requests[0] - horizon
        if "execution" in enforced and p.execution_limit is not None:
            used = sum(seconds for _, seconds in self._execution)
            if used >= p.execution_limit:
                wait, freed = 0.0, 0.0
                for moment, seconds in self._execution:  # until enough work leaves the window
                    freed += seconds
                    wait = moment - horizon
                    if used - freed < p.execution_limit:
                        break
                return "execution", wait
        if "long_running" in enforced and p.long_running_limit is not None:
            running = sum(
                1 for start in self._in_flight.values() if now - start > p.long_running_seconds
            )
            if running >= p.long_running_limit:
                return "long_running", None  # the CRM names no wait
        return None

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """The inner app's fault answer."""
        return self.inner.fault_response(fault, request)

    def error_response(self, exc: BaseException, request: Request) -> Response:
        """The inner app's internal-error answer."""
        return self.inner.error_response(exc, request)

    def http_error(self, status: int, message: str) -> Response:
        """The inner app's HTTP-level error answer."""
        return self.inner.http_error(status, message)

    def close(self) -> None:
        """Close the inner app."""
        self.inner.close()


def _figures(crm: str) -> Profile | None:
    """The production figures the sandbox package of ``crm`` declares, or None."""
    try:
        support = registry.sandbox_support(crm)
    except ConfigError:  # an unknown CRM, or one without a sandbox
        return None
    figures: Profile | None = support.production
    return figures
