"""Delete in the CRM: the records named by a frame's ids, batched, journaled, with rejects.

Orchestration: written once over the Connector protocol. The deletes are planned first
(:func:`crmframes.writes.plan_deletes`: empty, malformed and duplicated ids are caught
before any call), then sent exactly as an export's writes are
(:func:`crmframes.operations.exporting.write_planned`: batches, retries, the journal).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd

from crmframes.arguments import check_int, check_write_arguments
from crmframes.connectors.base import Connector
from crmframes.operations.delivery import OnError
from crmframes.operations.export_result import ExportResult
from crmframes.operations.exporting import JournalArg, WriteMode, write_planned
from crmframes.operations.parallel import MAX_PARALLEL
from crmframes.writes import plan_deletes

__all__ = ["delete_in_crm"]


def delete_in_crm(
    conn: Connector,
    object: str,
    df: pd.DataFrame,
    *,
    key: str | None = None,
    journal: JournalArg = None,
    batch_size: int | None = None,
    mode: WriteMode = "batch",
    on_error: OnError = "reject",
    max_retries: int = 4,
    max_parallel: int | None = None,
    progress: bool = True,
    sleep: Callable[[float], None] | None = None,
) -> ExportResult:
    """Delete the CRM records whose ids are in column ``key`` of ``df``.

    Args:
        conn: a connector.
        object: the object's API name.
        df: the rows naming the records to delete.
        key: the column holding the CRM ids (default: the object's id field, e.g. ``Id``,
            ``contactid``). Empty and malformed ids are rejected before any call; duplicated
            ids are an error.
        journal: as for :func:`export_to_crm`.
        batch_size: as for :func:`export_to_crm`.
        mode: as for :func:`export_to_crm` (``"bulk"`` runs a Bulk API 2.0 delete job).
        on_error: as for :func:`export_to_crm`.
        max_retries: as for :func:`export_to_crm`.
        max_parallel: as for :func:`export_to_crm`.
        progress: as for :func:`export_to_crm`.
        sleep: as for :func:`export_to_crm`.

    Returns:
        The deleted rows (``crmAction`` ``deleted``) and the rejects — a record that does not
        exist or is already deleted is a reject (``ENTITY_IS_DELETED``, ``ObjectDoesNotExist``…),
        except when this delete itself removed it in a call whose answer was lost.
    """
    check_write_arguments(**locals())  # every argument, before any call
    if max_parallel is not None:
        check_int("max_parallel", max_parallel, min=1, max=MAX_PARALLEL)
    started = time.perf_counter()
    calls_before = conn.api_calls
    schema = conn.describe(object)
    plan = plan_deletes(df, schema, key=key, normalize_id=conn.normalize_id)
    return write_planned(
        conn,
        df,
        plan,
        journal=journal,
        batch_size=batch_size,
        mode=mode,
        on_error=on_error,
        max_retries=max_retries,
        max_parallel=max_parallel,
        progress=progress,
        sleep=sleep,
        calls_before=calls_before,
        started=started,
    )
