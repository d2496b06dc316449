"""What a job step does when things go wrong: where its rejects go, and how it is retried.

Pure. These are the seed workflow's error processing: its "Reject" transition (the rows
the CRM refused, kept in a store table for a later look or a later step) and its "wait box
and schedule retries" (run the step again after a pause when the CRM or the network failed
for now). ::

    - export:
        object: contact
        source: contact_changes
        key: contactid
        rejects: {table: contact_rejects}
        retry: {times: 3, wait: 5m}

Examples:
    >>> RetrySpec.from_dict({"times": 3, "wait": "5m"}).wait.total_seconds()
    300.0
    >>> RejectsSpec.from_dict("contact_rejects").table
    'contact_rejects'
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, Strict, model_validator

from crmframes.specs.fields import Duration, Spec, TableName

__all__ = ["MAX_RETRIES", "RejectsSpec", "RetrySpec"]

MAX_RETRIES = 100  # a schedule, not a loop: past this, fix the cause or schedule the job


class RejectsSpec(Spec):
    """A store table the step's rejected rows are appended to (the seed's "Reject").

    Each run appends its rejects (the input row, ``errorSymbol``, ``errorMessage``,
    ``errorCode``, ``errorFields``, ``inputIndex``) with ``crmRunId`` and ``crmRunAt``
    (the run's id and start time), ``crmStep`` (the step's position, from 1) and
    ``crmRejectNo`` (from 1 within the step); those four are the table's key. New columns
    are added as they come; the table exists after the step even when nothing was rejected.
    ``rejects: contact_rejects`` is short for ``rejects: {table: contact_rejects}``.

    Attributes:
        table: the store table (created by the first run).
    """

    table: TableName

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return {"table": data} if isinstance(data, str) else data


class RetrySpec(Spec):
    """Run a step again, after a wait, when it failed for a reason that may pass.

    A step is retried when the CRM was unreachable or down (a lost connection, a timeout,
    HTTP 5xx: ``UnavailableError``) or an API limit was hit (``RateLimitedError``; a
    longer ``Retry-After`` than ``wait`` is honoured), after the connector's own quick
    retries gave up. Bad data, a bad setting, refused credentials or a store error are never
    retried: they fail the same way again. An export or delete without a journal whose call
    was lost after it was sent is not retried either (it might send its rows twice).
    An export or delete that ran but got rows rejected for now (the CRM down or limited
    while it sent them) sends just those rows again after each wait.

    Attributes:
        times: retries after the first attempt (``3``: up to four attempts).
        wait: the pause before each retry: ``30s``, ``5m``, ``1h``.
    """

    times: Annotated[int, Strict(), Field(gt=0, le=MAX_RETRIES)]
    wait: Duration = timedelta(minutes=5)
