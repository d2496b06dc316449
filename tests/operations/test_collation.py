"""Text comes back in the CRM's own order, whether the CRM sorted it or crmframes did.

An unlimited read is sorted by crmframes (it reads in id order, so a dead cursor can be
resumed); a limited one is sorted by the CRM. Both must give the CRM's collation: Dataverse
ignores accents and case (``Latin1_General_CI_AI``), Salesforce in English locales compares the
UTF-8 values of the uppercase characters (ORDER BY docs).
"""

from __future__ import annotations

import pandas as pd
import pytest

from crmframes import F, Sandbox, export_to_crm, import_from_crm

NAMES = ["Zimmermann", "Şahin", "adams", "Çelik", "Ödegaard", "Baker"]
ORDERS = {
    "dynamics": ["adams", "Baker", "Çelik", "Ödegaard", "Şahin", "Zimmermann"],
    "salesforce": ["adams", "Baker", "Zimmermann", "Çelik", "Ödegaard", "Şahin"],
}
OBJECTS = {"dynamics": ("contact", "lastname"), "salesforce": ("Contact", "LastName")}


@pytest.mark.parametrize("crm", ["dynamics", "salesforce"])
def test_text_order_is_the_crms_collation_on_both_paths(crm: str):
    obj, last = OBJECTS[crm]
    with Sandbox(crm, data="empty") as sb:
        conn = sb.connector()
        export_to_crm(conn, obj, pd.DataFrame({last: NAMES}), journal=False, progress=False)
        ours = import_from_crm(conn, obj, fields=[last], order_by=last, progress=False)
        theirs = import_from_crm(
            conn, obj, fields=[last], order_by=last, limit=len(NAMES), progress=False
        )
        assert ours.frame[last].tolist() == ORDERS[crm]  # sorted by crmframes
        assert theirs.frame[last].tolist() == ORDERS[crm]  # sorted by the CRM
        descending = import_from_crm(
            conn,
            obj,
            fields=[last],
            order_by=[(last, "desc")],
            where=F(last).not_null(),
            progress=False,
        )
        assert descending.frame[last].tolist() == ORDERS[crm][::-1]
