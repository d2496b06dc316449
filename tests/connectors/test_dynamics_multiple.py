"""Dataverse writes as CreateMultiple / UpdateMultiple: ids by construction, throttles, splits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pandas as pd
import pytest

from crmframes import Sandbox, export_to_crm
from crmframes.connectors.base import WriteBatch
from crmframes.connectors.dynamics import DynamicsConnector
from crmframes.errors import UnavailableError


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox("dynamics", data="empty") as box:
        yield box


@pytest.fixture
def conn(sb: Sandbox) -> DynamicsConnector:
    connector: DynamicsConnector = sb.connector()
    connector.describe("contact")
    return connector


def _posts(sb: Sandbox, action: str) -> list[int | None]:
    return [s for m, t, s in sb.request_log() if m == "POST" and t.endswith(action)]


def test_inserts_and_updates_go_as_one_bulk_message_each(sb, conn):
    ids = conn.new_record_ids("contact", [f"seed{i}" for i in range(3)])
    records = tuple({"contactid": i, "lastname": f"M{n}"} for n, i in enumerate(ids))
    calls = sb.api_call_count()
    made = conn.write(WriteBatch("contact", "insert", records))
    assert [(o.ok, o.id, o.created) for o in made] == [(True, i, True) for i in ids]
    changed = conn.write(
        WriteBatch("contact", "update", tuple({"contactid": i, "jobtitle": "Ops"} for i in ids))
    )
    assert [(o.ok, o.id, o.created) for o in changed] == [(True, i, False) for i in ids]
    assert sb.api_call_count() - calls == 2
    assert _posts(sb, "CreateMultiple") == [200] and _posts(sb, "UpdateMultiple") == [204]
    assert set(sb.records("contact")["jobtitle"]) == {"Ops"}


def test_a_lost_create_multiple_with_client_ids_is_sent_again_and_reads_exists(sb, conn):
    ids = conn.new_record_ids("contact", [f"lost{i}" for i in range(4)])
    records = tuple({"contactid": i, "lastname": f"L{n}"} for n, i in enumerate(ids))
    sb.faults.add("drop_after", r"^POST .*CreateMultiple", times=1)
    # the connector does not send it again itself: only the caller knows whether an id
    # was its own choice (exists: done) or named by the row (exists: perhaps taken before)
    with pytest.raises(UnavailableError) as raised:
        conn.write(WriteBatch("contact", "insert", records))
    assert raised.value.outcome_unknown is True
    outcomes = conn.write(WriteBatch("contact", "insert", records))
    # applied, its answer lost, sent again: every id is taken now, which one query finds
    # (no bisection)
    assert [(o.ok, o.exists, o.id) for o in outcomes] == [(False, True, i) for i in ids]
    assert _posts(sb, "CreateMultiple") == [None, 412]
    assert sorted(sb.records("contact")["contactid"]) == sorted(ids)


def test_a_taken_id_among_new_ones_is_exists_and_the_rest_are_created(sb, conn):
    ids = conn.new_record_ids("contact", [f"mix{i}" for i in range(6)])
    records = tuple({"contactid": i, "lastname": f"X{n}"} for n, i in enumerate(ids))
    conn.write(WriteBatch("contact", "insert", records[2:3]))
    outcomes = conn.write(WriteBatch("contact", "insert", records))
    assert [o.exists for o in outcomes] == [False, False, True, False, False, False]
    assert all(o.ok for n, o in enumerate(outcomes) if n != 2)
    assert _posts(sb, "CreateMultiple")[-2:] == [412, 200]  # one query between, no bisection
    assert sorted(sb.records("contact")["contactid"]) == sorted(ids)


def test_a_throttled_create_multiple_is_sent_again_after_retry_after_and_counted(sb, conn):
    sb.faults.add("rate_limited", "CreateMultiple", times=1, retry_after=0.4)
    started = time.monotonic()
    outcomes = conn.write(WriteBatch("contact", "insert", ({"lastname": "Patient"},)))
    assert outcomes[0].ok and time.monotonic() - started >= 0.4
    assert conn.throttling.throttles == 1 and conn.throttling.waited >= 0.4
    assert _posts(sb, "CreateMultiple") == [429, 200]


def test_an_export_with_a_bad_row_writes_the_others_and_rejects_it(sb):
    df = pd.DataFrame({"lastname": [f"E{i}" for i in range(40)]})
    df.loc[17, "lastname"] = None  # required: only the CRM knows
    result = export_to_crm(sb.connector(), "contact", df, progress=False)
    assert len(result.frame) == 39 and result.rejects["inputIndex"].tolist() == [17]
    assert result.rejects["errorSymbol"].tolist() == ["InvalidArgument"]
    assert sorted(sb.records("contact")["lastname"]) == sorted(df["lastname"].drop(index=17))


def test_a_create_multiple_answer_without_ids_for_rows_without_ours_is_unknown():
    from crmframes.connectors.dynamics.multiple import write_multiple
    from crmframes.connectors.dynamics.wire import BatchRequest
    from crmframes.errors import ConnectorError
    from crmframes.schema import Field, ObjectSchema

    class Answer:
        status_code, content, headers = 200, b"{}", {}

    schema = ObjectSchema(
        name="contact", id_field="contactid", entity_set="contacts",
        fields={"contactid": Field("contactid", "id"), "lastname": Field("lastname", "string")},
    )  # fmt: skip
    part = BatchRequest(0, "POST", "contacts", body={"lastname": "a"})
    with pytest.raises(ConnectorError, match="without the ids") as caught:
        write_multiple(lambda *a, **k: Answer(), schema, "insert", [part], idempotent=False)
    assert caught.value.outcome_unknown  # created, but which ids: never sent again blindly
