"""The campaign side's own edits in the demo: phone numbers written one way, and two bad edits.

Orchestration helper of :mod:`crmframes.demo` (pandas and the store). Between the seed
workflow's dedupe and its reconcile, the demo plays the campaign's users: they write the
phone numbers of North American contacts as ``+1 NNN NNN NNNN`` (a format, not the matching
key :func:`crmframes.dedupe.normalize.normalize_phone` computes, which keeps only the last
digits) and make two edits the CRM cannot take, so the export shows both kinds of reject.
"""

from __future__ import annotations

import re

import pandas as pd

from crmframes.store import CampaignStore

__all__ = ["CORRECTIONS", "edit_store", "normalise_phone", "plan_corrections"]

CORRECTIONS = 20  # phone numbers the campaign side corrects per run
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


def edit_store(store: CampaignStore, corrections: pd.DataFrame) -> None:
    """Write the campaign side's edits into the store, column by column (nulls: no edit)."""
    for column in corrections.columns.drop("contactid"):
        edits = corrections[["contactid", column]].dropna()
        if len(edits):
            store.merge("contact", edits, key="contactid")
