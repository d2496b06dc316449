"""``crmframes demo``: the seed workflow both ways on the Dynamics 365 sandbox, with a report.

Orchestration. Starts the Dataverse sandbox, lets its users change a few contacts, imports
contacts with the automatic index into a campaign store on disk and merges them; exports
the campaign side's corrections back (updates by ``contactid``, with a journal beside the
store, and two rows the CRM cannot take); deletes contacts in the CRM, imports the deletions
since the last run and marks them in the store. Run it twice in the same folder: the
second run imports only what changed, exports only the corrections the store still needs,
and reads deletions from where the first run stopped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from crmframes.operations import (
    AutoIndex,
    DeletedResult,
    ExportResult,
    ImportResult,
    delete_in_crm,
    export_to_crm,
    import_deleted_from_crm,
    import_from_crm,
)
from crmframes.operations.autoindex import format_option, parse_option
from crmframes.sandbox import Clock, Sandbox
from crmframes.store import CampaignStore, MergeResult

__all__ = ["DemoReport", "normalise_phone", "plan_corrections", "run_demo"]

CONTACT_FIELDS = [
    "firstname",
    "lastname",
    "emailaddress1",
    "telephone1",
    "jobtitle",
    "birthdate",
    "address1_city",
    "address1_country",
    "_parentcustomerid_value",
    "donotemail",
    "crmf_externalid",
]
CORRECTIONS = 20  # phone numbers the campaign side corrects per run
DELETED_OPTION = "LASTDELETED_sandbox_contacts"  # where the deletions import stopped
NANP = ("United States", "Canada")  # countries dialled with +1
_PASTED_CITY = (
    "{city} (the whole address and the delivery notes, pasted from the web form's free-text box)"
)
_NON_DIGITS = re.compile(r"\D+")


def normalise_phone(text: object) -> str | None:
    """Write a North American number as ``+1 NNN NNN NNNN``; None when it is not one.

    Examples:
        >>> normalise_phone("(317) 765-2844"), normalise_phone("+1 (210) 640-0099")
        ('+1 317 765 2844', '+1 210 640 0099')
        >>> normalise_phone("08 316 85 25") is None
        True
    """
    if not isinstance(text, str):
        return None
    digits = _NON_DIGITS.sub("", text)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return None
    return f"+1 {digits[:3]} {digits[3:6]} {digits[6:]}"


def plan_corrections(contacts: pd.DataFrame, *, count: int = CORRECTIONS) -> pd.DataFrame:
    """The campaign side's corrections to export: ``count`` phone numbers and two bad rows.

    ``contacts`` is the store's contact table. The phone numbers of North American contacts
    not yet written as ``+1 NNN NNN NNNN`` are normalised, the first ``count`` by external id;
    then one contact gets a city the CRM column cannot hold (an address pasted whole: refused
    before sending) and one the external id of another contact (the CRM refuses it: the
    alternate key must stay unique). Null cells mean "leave unchanged" (export them with
    ``skip_nulls=True``). Contacts marked deleted are left alone.

    Examples:
        >>> contacts = pd.DataFrame({
        ...     "contactid": ["a", "b", "c", "d"],
        ...     "crmf_externalid": ["CT-1", "CT-2", "CT-3", "CT-4"],
        ...     "telephone1": ["(317) 765-2844", "+1 312 784 4219", "08 316 85 25", None],
        ...     "address1_city": ["Indianapolis", "Chicago", "Stockholm", "Paris"],
        ...     "address1_country": ["United States", "United States", "Sweden", "France"],
        ... })
        >>> df = plan_corrections(contacts, count=1)
        >>> df["contactid"].tolist(), df.loc[0, "telephone1"], df.loc[2, "crmf_externalid"]
        (['a', 'b', 'c'], '+1 317 765 2844', 'CT-1')
    """
    live = contacts
    if "crmDeletedDate" in live.columns:
        live = live[live["crmDeletedDate"].isna()]
    live = live.sort_values(["crmf_externalid", "contactid"], na_position="last")
    fixed = live["telephone1"].map(normalise_phone)
    wanted = live["address1_country"].isin(NANP) & fixed.notna() & (fixed != live["telephone1"])
    phones = live[wanted].head(count)
    others = live[~wanted & live["address1_city"].notna()].head(2)
    keys = live["crmf_externalid"].dropna()
    rows = [
        {"contactid": r.contactid, "telephone1": fixed[i]}
        for i, r in zip(phones.index, phones.itertuples(), strict=True)
    ]
    if len(others) == 2 and len(keys) > 2:
        long_city, taken_key = others.iloc[0], others.iloc[1]
        pasted = _PASTED_CITY.format(city=long_city["address1_city"])
        rows.append({"contactid": long_city["contactid"], "address1_city": pasted})
        target = keys[keys != taken_key["crmf_externalid"]].iloc[0]  # another's key
        rows.append({"contactid": taken_key["contactid"], "crmf_externalid": target})
    columns = ["contactid", "telephone1", "address1_city", "crmf_externalid"]
    return pd.DataFrame(rows, columns=columns).astype("str")


@dataclass
class DemoReport:
    """What the demo did, step by step, ready to print.

    Attributes:
        url: the sandbox's address.
        store: the campaign store's file.
        result: the import.
        merged: the import's merge into the store.
        activity: what the CRM's users did before the import (``updated``, ``created``).
        total: contacts in the store after the merge.
        corrections: the frame exported (see :func:`plan_corrections`).
        export: the export of the corrections.
        again: the same export run a second time with the same journal.
        written_back: the accepted corrections merged into the store.
        erased: the campaign side's ``delete_in_crm`` of one contact.
        crm_deletes: what the CRM's users deleted (``deleted``).
        deleted: the deletions imported from the CRM.
        applied: store rows marked deleted.
        api_calls: API calls of the whole run.
        seconds: wall time of the whole run.
    """

    url: str
    store: Path
    result: ImportResult
    merged: MergeResult
    activity: dict[str, int]
    total: int
    corrections: pd.DataFrame
    export: ExportResult
    again: ExportResult
    written_back: MergeResult
    erased: ExportResult
    crm_deletes: dict[str, int]
    deleted: DeletedResult
    applied: int
    api_calls: int
    seconds: float

    def __str__(self) -> str:
        return "\n".join(
            [
                f"crmframes demo: contacts between the Dynamics 365 sandbox at {self.url} and "
                f"{self.store}",
                "(the sandbox starts afresh from its demo org on every run; the store keeps "
                "what earlier runs did)",
                *self._import_lines(),
                *self._export_lines(),
                *self._deletion_lines(),
                f"in all               {self.api_calls} API calls, {self.seconds:.2f} s",
                *self._next_run_lines(),
            ]
        )

    def _import_lines(self) -> list[str]:
        variables, stats, merged = self.result.variables, self.result.stats, self.merged
        start = variables.get("crmStartImport")
        window = f"from {start} (included)" if start else "from the beginning (first run)"
        return [
            f"1. import, automatic index {variables.get('crmOptionName', '')}",
            f"  CRM activity       {self.activity['updated']} contacts edited, "
            f"{self.activity['created']} created since the sandbox started",
            f"  window             {window} to {variables.get('crmEndDate', '')} (excluded)",
            f"  imported           {stats.rows:,} rows in {stats.pages} page(s), "
            f"{stats.rejected:,} rejected",
            f"  rejects            {_by_symbol(self.result.rejects)}",
            f"  API calls          {stats.api_calls} in {stats.seconds:.2f} s",
            f"  merged             {merged.inserted:,} inserted, {merged.updated:,} updated, "
            f"{merged.unchanged:,} unchanged into table 'contact' of {self.store}",
            f"  store now holds    {self.total:,} contacts",
        ]

    def _export_lines(self) -> list[str]:
        export, again, stats = self.export, self.again, self.export.stats
        df = self.corrections
        rejects = export.rejects
        before = rejects[rejects["errorCode"].isna()]  # refused by crmframes, never sent
        by_crm = rejects[rejects["errorCode"].notna()]
        return [
            "2. export the campaign's corrections: update by contactid, skip_nulls=True",
            f"  corrections        {df['telephone1'].notna().sum()} phone numbers written "
            f"+1 NNN NNN NNNN, {df['address1_city'].notna().sum()} city, "
            f"{df['crmf_externalid'].notna().sum()} external id",
            f"  exported           {stats.created:,} created, {stats.updated:,} updated, "
            f"{stats.rejected:,} rejected; {stats.batches} $batch call(s)",
            f"  rejects            before sending: {_by_symbol(before)}; "
            f"by the CRM: {_by_symbol(by_crm)}",
            f"  API calls          {stats.api_calls} in {stats.seconds:.2f} s",
            f"  journal            {export.journal}",
            f"  store              {self.written_back.updated:,} corrected phone numbers "
            f"written back; the {stats.rejected} rejects wait to be fixed",
            f"  sent again         {again.stats.batches} calls: the journal holds the outcome of "
            f"the {again.stats.resumed} rows sent, none goes twice",
        ]

    def _deletion_lines(self) -> list[str]:
        deleted = self.deleted
        window = f"{deleted.start:%Y/%m/%d %H:%M:%S} to {deleted.end:%Y/%m/%d %H:%M:%S}"
        return [
            "3. deletions",
            f"  deleted in the CRM {self.erased.stats.deleted} by crmframes (delete_in_crm), "
            f"{self.crm_deletes['deleted']} by the CRM's users",
            f"  imported           {len(deleted.frame)} deleted contacts, {window} (both included)",
            f"  applied            {self.applied} contacts marked deleted (crmDeletedDate) in "
            "table 'contact'",
            f"  API calls          {self.erased.stats.api_calls + deleted.api_calls} in "
            f"{self.erased.stats.seconds + deleted.seconds:.2f} s",
        ]

    def _next_run_lines(self) -> list[str]:
        end = self.result.variables.get("crmEndDate", "")
        return [
            "Run it again in this folder: the import reads what changed since "
            f"{end}, the export the next",
            "phone numbers the store still needs (with a journal of its own; a row already "
            "written is",
            "known by its content and never sent twice), and deletions are read from "
            f"{self.deleted.end:%Y/%m/%d %H:%M:%S} on.",
        ]


def _by_symbol(rejects: pd.DataFrame) -> str:
    counts = rejects["errorSymbol"].value_counts().to_dict() if len(rejects) else {}
    return ", ".join(f"{symbol}: {n}" for symbol, n in counts.items()) or "none"


@contextmanager
def _demo_sandbox(sandbox: Sandbox | None, scale: float) -> Iterator[Sandbox]:
    if sandbox is not None:
        yield sandbox
        return
    with Sandbox("dynamics", data="demo", scale=scale, clock=Clock()) as started:
        yield started


def run_demo(
    store_path: str | Path = "campaign.duckdb",
    *,
    scale: float = 1.0,
    progress: bool = True,
    sandbox: Sandbox | None = None,
) -> DemoReport:
    """Run the demo against ``store_path`` and return its report.

    Args:
        store_path: the campaign store (created on the first run).
        scale: the demo org's size (1.0: 5,000 contacts).
        progress: show progress bars.
        sandbox: a running Dynamics sandbox with the demo org to use instead of a new one
            (its clock is set back two seconds, as for a new one); the caller inspects it.
    """
    started = time.perf_counter()
    path = Path(store_path)
    with _demo_sandbox(sandbox, scale) as sb, CampaignStore(path) as store:
        # The sandbox's users make their changes two seconds before the import starts: an
        # import's window ends at the (whole) second it began, so changes made in that very
        # second belong to the next run.
        sb.clock.set(datetime.now(UTC) - timedelta(seconds=2))
        began = sb.clock.now()
        calls = sb.api_call_count()
        activity = sb.simulate_activity("contact", updates=25, creates=5)
        sb.clock.set(datetime.now(UTC))
        conn = sb.connector()
        try:
            index = AutoIndex(store, activity="import_contacts", instance="sandbox")
            result = import_from_crm(
                conn, "contact", fields=CONTACT_FIELDS, auto_index=index, progress=progress
            )
            merged = store.merge("contact", result)
            contacts = store.read("contact")

            corrections = plan_corrections(contacts)
            # this run's journal, beside the store; a re-run of this export with it resumes
            stamp = re.sub(r"\D", "", result.variables.get("crmEndDate", "")) or "first"
            journal = Path(store.path + ".journals") / f"contact-corrections-{stamp}.jsonl"

            def export() -> ExportResult:
                return export_to_crm(
                    conn,
                    "contact",
                    corrections,
                    key="contactid",
                    skip_nulls=True,  # an empty cell leaves the CRM's value as it is
                    journal=journal,
                    progress=progress,
                )

            first = export()
            again = export()  # a re-executed cell, a restarted job: the journal answers
            accepted = first.frame[first.frame["telephone1"].notna()]
            written_back = store.merge(
                "contact", accepted[["contactid", "telephone1"]], key="contactid"
            )

            erased = delete_in_crm(
                conn, "contact", _to_erase(contacts, corrections), journal=store, progress=progress
            )
            crm_deletes = sb.simulate_activity("contact", updates=0, creates=0, deletes=2)
            # Deletions since the last run; on the first, since this import began (what was
            # deleted before it never reached the store). The sandbox is new on every run
            # and knows no deletions from before it started; a real CRM keeps them for its
            # horizon, and a start older than that is an error there, never clamped.
            last = store.options.get(DELETED_OPTION) or result.variables["crmEndDate"]
            start = max(parse_option(last), began.replace(microsecond=0))
            deleted = import_deleted_from_crm(conn, "contact", start=start)
            applied = store.apply_deletions("contact", deleted, mode="soft")
            store.options[DELETED_OPTION] = format_option(deleted.end)  # after the rows
            total = len(contacts)
        finally:
            conn.close()
        return DemoReport(
            url=sb.url,
            store=path,
            result=result,
            merged=merged,
            activity=activity,
            total=total,
            corrections=corrections,
            export=first,
            again=again,
            written_back=written_back,
            erased=erased,
            crm_deletes=crm_deletes,
            deleted=deleted,
            applied=applied,
            api_calls=sb.api_call_count() - calls,
            seconds=time.perf_counter() - started,
        )


def _to_erase(contacts: pd.DataFrame, corrections: pd.DataFrame) -> pd.DataFrame:
    """The contact the campaign side deletes in the CRM: the last by external id left."""
    live = contacts[contacts["crmf_externalid"].notna()]
    if "crmDeletedDate" in live.columns:
        live = live[live["crmDeletedDate"].isna()]
    live = live[~live["contactid"].isin(corrections["contactid"])]
    return live.sort_values("crmf_externalid").tail(1)[["contactid"]].reset_index(drop=True)
