"""``crmframes demo``: the whole seed workflow on the Dynamics 365 sandbox, with a report.

Orchestration. Starts the Dataverse sandbox and lets its users change a few contacts; then,
as the seed workflow does: imports contacts with the automatic index into a campaign store
on disk and merges them; applies the campaign side's own edits (phone numbers written one
way, and two edits the CRM cannot take); deletes duplicate contacts — in the store, keeping
one per cluster and filling its empty field groups from the others, and in the CRM;
reconciles the store with the CRM; exports the differences back (updates by ``contactid``,
journaled); imports the deletions made in the CRM and marks them in the store. Run it twice
in the same folder: the second run imports only what changed, exports only what differs,
and reads deletions from where the first run stopped. ``examples/seed_workflow.yaml`` is the
same workflow as a job file for ``crmframes run``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from crmframes.dedupe import DedupeResult, KeepRule
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
from crmframes.reconcile import ReconcileResult, reconcile
from crmframes.sandbox import Clock, Sandbox
from crmframes.store import CampaignStore, MergeResult
from crmframes.store.pg_session import is_postgres_url

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
    "mobilephone",
    "address1_line1",
    "address1_postalcode",
]
# who is the same person: any rule links two contacts (names compared fuzzily, nicknames known)
DUPLICATE_RULES: list[str | list[str]] = [
    "emailaddress1",
    ["firstname", "lastname", "telephone1"],
    ["firstname", "lastname", "mobilephone"],
    ["firstname", "lastname", "address1_line1", "address1_postalcode"],
    ["firstname", "lastname", "birthdate", "address1_postalcode"],
]
FUZZY = ["firstname", "lastname"]
KEEP: list[str | tuple[Any, ...] | KeepRule] = [
    "complete",
    "recent",
]  # the most complete contact; the most recent breaks ties
MERGE = [  # field groups a survivor takes whole from a duplicate when its own is incomplete
    ["telephone1"],
    ["mobilephone"],
    ["jobtitle"],
    ["emailaddress1"],
    ["address1_line1", "address1_postalcode", "address1_city", "address1_country"],
]
RECONCILED = [  # the fields the store and the CRM are compared on, and corrected
    "telephone1",
    "mobilephone",
    "jobtitle",
    "emailaddress1",
    "address1_line1",
    "address1_postalcode",
    "address1_city",
    "address1_country",
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
    """The campaign side's own edits: ``count`` phone numbers and two the CRM cannot take.

    ``contacts`` is the store's contact table. The phone numbers of North American contacts
    not yet written as ``+1 NNN NNN NNNN`` are normalised, the first ``count`` by external id;
    then one contact gets a city the CRM column cannot hold (an address pasted whole: refused
    before sending) and one the external id of another contact (the CRM refuses it: the
    alternate key must stay unique). Null cells mean "leave unchanged". Contacts marked
    deleted are left alone.

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
        corrections: the campaign side's edits (see :func:`plan_corrections`).
        dedupe: the duplicates removed from the store.
        duplicates_deleted: the removed duplicates deleted in the CRM.
        reconciled: the store against the CRM, before the export.
        sent: the differences exported (one row per contact, the store's values).
        export: the export of the differences.
        again: the same export run a second time with the same journal.
        after: the store against the CRM after the export.
        crm_deletes: what the CRM's users deleted (``deleted``).
        deleted: the deletions imported from the CRM.
        applied: store rows marked deleted.
        api_calls: API calls of the whole run.
        seconds: wall time of the whole run.
    """

    url: str
    store: Path | str
    result: ImportResult
    merged: MergeResult
    activity: dict[str, int]
    total: int
    corrections: pd.DataFrame
    dedupe: DedupeResult
    duplicates_deleted: ExportResult
    reconciled: ReconcileResult
    sent: pd.DataFrame
    export: ExportResult
    again: ExportResult
    after: ReconcileResult
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
                *self._dedupe_lines(),
                *self._reconcile_lines(),
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
            f"{stats.rejected:,} rejected ({_by_symbol(self.result.rejects)})",
            f"  API calls          {stats.api_calls} in {stats.seconds:.2f} s",
            f"  merged             {merged.inserted:,} inserted, {merged.updated:,} updated, "
            f"{merged.unchanged:,} unchanged into table 'contact' of {self.store}",
            f"  store now holds    {self.total:,} contacts",
        ]

    def _dedupe_lines(self) -> list[str]:
        counts, deleted = self.dedupe.counts, self.duplicates_deleted.stats
        filled = self.dedupe.filled
        return [
            "2. delete duplicate contacts (email, or fuzzy names + phone / address / birthdate)",
            f"  clusters           {counts.get('clusters', 0):,} groups of the same person, "
            f"{counts.get('removed', 0):,} duplicates removed from the store, one kept each",
            f"  survivors filled   {len(filled):,} field(s) taken from their duplicates "
            f"({', '.join(sorted(set(filled['field']))) if len(filled) else 'none'})",
            f"  deleted in the CRM {deleted.deleted:,} ({deleted.rejected:,} rejected: "
            f"{_by_symbol(self.duplicates_deleted.rejects)}); {deleted.api_calls} API calls",
        ]

    def _reconcile_lines(self) -> list[str]:
        before, after = self.reconciled.counts, self.after.counts
        fields = self.reconciled.summary
        differing = ", ".join(
            f"{r.field}: {r.different}" for r in fields.itertuples() if r.different
        )
        df = self.corrections
        return [
            "3. reconcile the store with the CRM",
            f"  campaign edits     {df['telephone1'].notna().sum()} phone numbers written "
            f"+1 NNN NNN NNNN, {df['address1_city'].notna().sum()} city, "
            f"{df['crmf_externalid'].notna().sum()} external id (in the store)",
            f"  compared           {before['matched']:,} contacts on {len(fields)} fields: "
            f"{before['identical']:,} identical, {before['different']:,} different",
            f"  differences        {differing or 'none'}",
            f"  one side only      {before['only_left']:,} only in the store, "
            f"{before['only_right']:,} only in the CRM",
            f"  after the export   {after['different']:,} different (the rejects below)",
        ]

    def _export_lines(self) -> list[str]:
        export, again, stats = self.export, self.again, self.export.stats
        rejects = export.rejects
        before = rejects[rejects["errorCode"].isna()]  # refused by crmframes, never sent
        by_crm = rejects[rejects["errorCode"].notna()]
        return [
            "4. export the differences back: update by contactid, skip_nulls=True",
            f"  exported           {stats.created:,} created, {stats.updated:,} updated, "
            f"{stats.rejected:,} rejected; {stats.batches} $batch call(s)",
            f"  rejects            before sending: {_by_symbol(before)}; "
            f"by the CRM: {_by_symbol(by_crm)}",
            f"  API calls          {stats.api_calls} in {stats.seconds:.2f} s",
            f"  journal            {export.journal}",
            f"  sent again         {again.stats.batches} calls: the journal holds the outcome of "
            f"the {again.stats.resumed} rows sent, none goes twice",
        ]

    def _deletion_lines(self) -> list[str]:
        deleted = self.deleted
        window = f"{deleted.start:%Y/%m/%d %H:%M:%S} to {deleted.end:%Y/%m/%d %H:%M:%S}"
        return [
            "5. import deletions",
            f"  deleted in the CRM {self.crm_deletes['deleted']} by the CRM's users, "
            f"{self.duplicates_deleted.stats.deleted} duplicates by crmframes",
            f"  imported           {len(deleted.frame)} deleted contacts, {window} (end excluded)",
            f"  applied            {self.applied} contacts marked deleted (crmDeletedDate) in "
            "table 'contact'",
            f"  API calls          {deleted.api_calls} in {deleted.seconds:.2f} s",
        ]

    def _next_run_lines(self) -> list[str]:
        end = self.result.variables.get("crmEndDate", "")
        return [
            "Run it again in this folder: the import reads what changed since "
            f"{end}, the export what differs",
            "then (with a journal of its own; a row already written is known by its content "
            "and never sent twice),",
            f"and deletions are read from {self.deleted.end:%Y/%m/%d %H:%M:%S} on.",
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


def _live(contacts: pd.DataFrame) -> pd.DataFrame:
    if "crmDeletedDate" in contacts.columns:
        return contacts[contacts["crmDeletedDate"].isna()]
    return contacts


def _edit_store(store: CampaignStore, corrections: pd.DataFrame) -> None:
    """Write the campaign side's edits into the store, column by column (nulls: no edit)."""
    for column in corrections.columns.drop("contactid"):
        edits = corrections[["contactid", column]].dropna()
        if len(edits):
            store.merge("contact", edits, key="contactid")


def _differences_to_send(reconciled: ReconcileResult) -> pd.DataFrame:
    """One row per contact that differs, with the store's values of its differing fields."""
    diff = reconciled.differences
    if diff.empty:
        return pd.DataFrame({"contactid": pd.Series(dtype="str")})
    wide = diff.pivot(index="contactid", columns="field", values="left").reset_index()
    wide.columns.name = None
    return wide.astype("str")


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
    path = store_path if is_postgres_url(store_path) else Path(store_path)
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
            # 1. import the contacts that changed, merge them
            index = AutoIndex(store, activity="import_contacts", instance="sandbox")
            result = import_from_crm(
                conn, "contact", fields=CONTACT_FIELDS, auto_index=index, progress=progress
            )
            merged = store.merge("contact", result)
            total = len(store.read("contact", columns=["contactid"]))

            # 2. delete duplicates: in the store (survivors filled), then in the CRM
            dedupe = store.dedupe(
                "contact",
                on=DUPLICATE_RULES,
                fuzzy=FUZZY,
                keep=KEEP,
                key="contactid",
                merge=MERGE,
            )
            stamp = re.sub(r"\D", "", result.variables.get("crmEndDate", "")) or "first"
            journals = store.journals
            duplicates_deleted = delete_in_crm(
                conn,
                "contact",
                dedupe.removed[["contactid"]],
                journal=journals / f"contact-duplicates-{stamp}.jsonl",
                progress=progress,
            )

            # the campaign side edits some contacts in the store
            corrections = plan_corrections(store.read("contact"))
            _edit_store(store, corrections)

            # 3. reconcile the store with the CRM
            def compare() -> ReconcileResult:
                crm = import_from_crm(
                    conn, "contact", fields=["contactid", *RECONCILED], progress=progress
                )
                ours = _live(store.read("contact", columns=["contactid", *RECONCILED]))
                return reconcile(ours, crm.frame, key="contactid", columns=RECONCILED)

            reconciled = compare()

            # 4. export the differences; a re-run of the same export with its journal sends nothing
            sent = _differences_to_send(reconciled)
            journal = journals / f"contact-corrections-{stamp}.jsonl"

            def export() -> ExportResult:
                return export_to_crm(
                    conn,
                    "contact",
                    sent,
                    key="contactid",
                    skip_nulls=True,  # an empty cell leaves the CRM's value as it is
                    journal=journal,
                    progress=progress,
                )

            first = export()
            again = export()  # a re-executed cell, a restarted job: the journal answers
            after = compare()

            # 5. import what the CRM's users deleted since the last run, mark it in the store
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
        finally:
            conn.close()
        return DemoReport(
            url=sb.url,
            store=store.path,  # a URL's password masked
            result=result,
            merged=merged,
            activity=activity,
            total=total,
            corrections=corrections,
            dedupe=dedupe,
            duplicates_deleted=duplicates_deleted,
            reconciled=reconciled,
            sent=sent,
            export=first,
            again=again,
            after=after,
            crm_deletes=crm_deletes,
            deleted=deleted,
            applied=applied,
            api_calls=sb.api_call_count() - calls,
            seconds=time.perf_counter() - started,
        )
