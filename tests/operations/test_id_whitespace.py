"""Ids with whitespace around them are read alike on both CRMs (issue 17, item 6).

``" <id>\\n"`` from a file was ``MALFORMED_ID`` on Salesforce and accepted on Dataverse: both
now drop the whitespace (a GUID's braces and case were already dropped on Dataverse), in a
population, an update by id and a delete by id. Whitespace inside an id is still malformed.
"""

from __future__ import annotations

import pandas as pd
import pytest

from crmframes import delete_in_crm, export_to_crm, import_from_crm
from tests.operations.conftest import Crm


def _padded(record_id: str) -> str:
    return f" {record_id}\n"


def test_population_ids_with_whitespace_are_fetched(crm: Crm):
    ids = [str(i) for i in crm.records()[crm.id][:3]]
    conn = crm.sandbox.connector()
    population = pd.DataFrame({"crmId": [_padded(ids[0]), f"\t{ids[1]}  ", ids[2]]})
    result = import_from_crm(
        conn, crm.contact, fields=[crm.last], population=population, id_column="crmId"
    )
    assert result.rejects.empty
    assert sorted(result.frame[crm.id]) == sorted(ids)


def test_update_and_delete_by_an_id_with_whitespace(crm: Crm):
    ids = [str(i) for i in crm.records()[crm.id][:2]]
    conn = crm.sandbox.connector()
    df = pd.DataFrame({crm.id: [_padded(ids[0])], crm.last: ["Padded"]})
    updated = export_to_crm(conn, crm.contact, df, key=crm.id, journal=False, progress=False)
    assert updated.rejects.empty and updated.stats.updated == 1
    records = crm.records().set_index(crm.id)
    assert records.loc[ids[0], crm.last] == "Padded"
    gone = delete_in_crm(
        conn, crm.contact, pd.DataFrame({crm.id: [_padded(ids[1])]}), journal=False
    )
    assert gone.rejects.empty and gone.stats.deleted == 1
    assert ids[1] not in set(crm.records()[crm.id])


@pytest.mark.parametrize("bad", ["003 Rs0000000001IAA", "", "   "])
def test_whitespace_inside_or_only_is_still_rejected(crm: Crm, bad: str):
    conn = crm.sandbox.connector()
    population = pd.DataFrame({"crmId": [bad]})
    result = import_from_crm(
        conn, crm.contact, fields=[crm.last], population=population, id_column="crmId"
    )
    assert result.frame.empty
    assert list(result.rejects["errorSymbol"]) == ["MALFORMED_ID"]
