"""Bulk API 2.0 through simple-salesforce's bulk2 client, unchanged, against the sandbox."""

import csv
import io

import pytest

from tests.clients import access_token, trusted_session


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_bulk_insert_reports_successes_and_failures(empty_sandbox, empty_sf):
    records = [{"LastName": f"Bulk{i}", "Email": f"b{i}@example.com"} for i in range(250)]
    records.append({"LastName": "", "Email": "nolastname@example.com"})
    records.append({"LastName": "BadMail", "Email": "nope"})
    [summary] = empty_sf.bulk2.Contact.insert(records=records, wait=0)
    assert summary["numberRecordsProcessed"] == 252
    assert summary["numberRecordsFailed"] == 2
    failed = rows(empty_sf.bulk2.Contact.get_failed_records(summary["job_id"]))
    assert [r["sf__Error"].split(":")[0] for r in failed] == [
        "REQUIRED_FIELD_MISSING",
        "INVALID_EMAIL_ADDRESS",
    ]
    assert (
        failed[0]["sf__Error"]
        == "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
    )
    ok = rows(empty_sf.bulk2.Contact.get_successful_records(summary["job_id"]))
    assert len(ok) == 250 and all(
        r["sf__Created"] == "true" and r["sf__Id"].startswith("003") for r in ok
    )
    assert empty_sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 250


def test_bulk_upsert_and_na_nulls(empty_sf):
    empty_sf.bulk2.Contact.insert(
        records=[{"LastName": "A", "External_Id__c": "U1", "Title": "CEO"}], wait=0
    )
    [summary] = empty_sf.bulk2.Contact.upsert(
        records=[
            {"External_Id__c": "U1", "Title": "#N/A", "FirstName": ""},
            {"External_Id__c": "U2", "LastName": "B", "FirstName": "New"},
        ],
        external_id_field="External_Id__c",
        wait=0,
    )
    assert summary["numberRecordsFailed"] == 0
    ok = rows(empty_sf.bulk2.Contact.get_successful_records(summary["job_id"]))
    assert sorted(r["sf__Created"] for r in ok) == ["false", "true"]
    first = empty_sf.Contact.get_by_custom_id("External_Id__c", "U1")
    assert first["Title"] is None and first["LastName"] == "A"  # #N/A nulls, empty leaves unchanged


def test_bulk_update_and_delete(empty_sf):
    [summary] = empty_sf.bulk2.Account.insert(records=[{"Name": f"A{i}"} for i in range(5)], wait=0)
    ids = [
        r["sf__Id"] for r in rows(empty_sf.bulk2.Account.get_successful_records(summary["job_id"]))
    ]
    [updated] = empty_sf.bulk2.Account.update(
        records=[{"Id": i, "Industry": "Banking"} for i in ids], wait=0
    )
    assert updated["numberRecordsFailed"] == 0
    assert (
        empty_sf.query("SELECT COUNT() FROM Account WHERE Industry = 'Banking'")["totalSize"] == 5
    )
    [deleted] = empty_sf.bulk2.Account.delete(
        records=[{"Id": i} for i in ids[:3]] + [{"Id": "001Rs0000099999"}], wait=0
    )
    assert (deleted["numberRecordsProcessed"], deleted["numberRecordsFailed"]) == (4, 1)
    assert empty_sf.query("SELECT COUNT() FROM Account")["totalSize"] == 2
    [hard] = empty_sf.bulk2.Account.hard_delete(records=[{"Id": i} for i in ids[3:]], wait=0)
    assert hard["numberRecordsFailed"] == 0
    assert empty_sf.query_all("SELECT Id FROM Account", include_deleted=True)["totalSize"] == 3


def test_bulk_query_pages_with_locators(demo_sf):
    pages = list(
        demo_sf.bulk2.Contact.query(
            "SELECT Id, LastName, CreatedDate, Account.Name FROM Contact", max_records=2000, wait=0
        )
    )
    assert len(pages) == 3
    parsed = [r for page in pages for r in rows(page)]
    assert len(parsed) == 5000 and len({r["Id"] for r in parsed}) == 5000
    assert list(parsed[0]) == ["Id", "LastName", "CreatedDate", "Account.Name"]
    assert parsed[0]["CreatedDate"].endswith("Z")
    assert pages[0].startswith('"Id","LastName","CreatedDate","Account.Name"\n')


def test_bulk_query_all_includes_deleted_rows(sandbox, sf):
    lead = sf.query("SELECT Id FROM Lead LIMIT 1")["records"][0]["Id"]
    sf.Lead.delete(lead)
    live = [r for page in sf.bulk2.Lead.query("SELECT Id FROM Lead", wait=0) for r in rows(page)]
    every = [
        r
        for page in sf.bulk2.Lead.query_all("SELECT Id, IsDeleted FROM Lead", wait=0)
        for r in rows(page)
    ]
    assert len(every) == len(live) + 1
    assert {"Id": lead, "IsDeleted": "true"} in every


def test_bulk_query_refuses_what_bulk_cannot_do(demo_sandbox):
    session = trusted_session(demo_sandbox)
    session.headers["Authorization"] = f"Bearer {access_token(demo_sandbox, session)}"
    url = f"{demo_sandbox.url}/services/data/v59.0/jobs/query"
    for soql, code in [
        ("SELECT COUNT() FROM Contact", "INVALIDJOB"),
        ("SELECT Nope FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Contact OFFSET 5", "INVALIDJOB"),
    ]:
        reply = session.post(url, json={"operation": "query", "query": soql}, timeout=30)
        assert reply.status_code == 400, soql
        assert reply.json()[0]["errorCode"] == code


def test_ingest_job_state_machine_over_raw_http(empty_sandbox):
    session = trusted_session(empty_sandbox)
    session.headers["Authorization"] = f"Bearer {access_token(empty_sandbox, session)}"
    base = f"{empty_sandbox.url}/services/data/v59.0/jobs/ingest"
    job = session.post(
        base, json={"object": "Account", "operation": "insert", "lineEnding": "CRLF"}, timeout=30
    ).json()
    assert job["state"] == "Open"
    assert job["contentUrl"] == f"services/data/v59.0/jobs/ingest/{job['id']}/batches"
    upload = session.put(
        f"{base}/{job['id']}/batches",
        data='Name,NumberOfEmployees\r\n"Quote ""Co""",12\r\nX,abc\r\n',
        headers={"Content-Type": "text/csv"},
        timeout=30,
    )
    assert upload.status_code == 201 and upload.content == b""
    closed = session.patch(
        f"{base}/{job['id']}", json={"state": "UploadComplete"}, timeout=30
    ).json()
    assert closed["state"] == "UploadComplete"
    for _ in range(500):
        info = session.get(f"{base}/{job['id']}", timeout=30).json()
        if info["state"] == "JobComplete":
            break
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 1)
    failed = session.get(f"{base}/{job['id']}/failedResults/", timeout=30).text
    assert "INVALID_TYPE_ON_FIELD_IN_RECORD" in failed
    names = [
        r["Name"]
        for r in rows(session.get(f"{base}/{job['id']}/successfulResults/", timeout=30).text)
    ]
    assert names == ['Quote "Co"']
    assert session.delete(f"{base}/{job['id']}", timeout=30).status_code == 204


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"object": "Nope__c", "operation": "insert"}, 404),
        ({"object": "Contact", "operation": "merge"}, 400),
        ({"object": "Contact", "operation": "upsert"}, 400),
        ({"object": "Contact", "operation": "insert", "columnDelimiter": "SPACE"}, 400),
    ],
)
def test_bad_ingest_jobs_are_refused(demo_sandbox, body, status):
    session = trusted_session(demo_sandbox)
    session.headers["Authorization"] = f"Bearer {access_token(demo_sandbox, session)}"
    reply = session.post(
        f"{demo_sandbox.url}/services/data/v59.0/jobs/ingest", json=body, timeout=30
    )
    assert reply.status_code == status
    assert "errorCode" in reply.json()[0]


def test_an_unknown_column_fails_the_job(empty_sf):
    from simple_salesforce.exceptions import SalesforceOperationError

    with pytest.raises(SalesforceOperationError, match="Field name not found : Bogus"):
        empty_sf.bulk2.Account.insert(records=[{"Name": "x", "Bogus": "y"}], wait=0)


def _as_csv_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.endswith("+0000"):
        return value[:-5] + "Z"
    return str(value)


def _bulk_and_rest(sf, soql):
    bulk = [
        r for page in sf.bulk2.Contact.query(soql, max_records=1500, wait=0) for r in rows(page)
    ]
    rest = [
        {k: _as_csv_text(v) for k, v in record.items() if k != "attributes"}
        for record in sf.query_all(soql)["records"]
    ]
    return bulk, rest


@pytest.mark.parametrize("warm", [False, True])
def test_bulk_results_equal_rest_and_follow_writes(sandbox, sf, warm):
    if warm:  # what a large org gets at load time (sandbox/salesforce/columns.py)
        sandbox._app.bulk.columns.warm(list(sandbox.org.schema.objects.values()), min_rows=1)
    fields = "Id, LastName, Email, HasOptedOutOfEmail, Birthdate, CreatedDate, AccountId"
    for soql in [
        f"SELECT {fields} FROM Contact",
        f"SELECT {fields} FROM Contact ORDER BY LastName DESC, Id",
        f"SELECT {fields} FROM Contact WHERE HasOptedOutOfEmail = true ORDER BY Id",
    ]:
        bulk, rest = _bulk_and_rest(sf, soql)
        assert bulk == rest and len(bulk) > 10, soql
    first, second = (r["Id"] for r in sf.query("SELECT Id FROM Contact LIMIT 2")["records"])
    sf.Contact.update(first, {"LastName": 'Quote "and" comma, ünïcode', "HasOptedOutOfEmail": True})
    sf.Contact.delete(second)
    bulk, rest = _bulk_and_rest(sf, f"SELECT {fields} FROM Contact ORDER BY Id")
    assert bulk == rest
    changed = next(r for r in bulk if r["Id"] == first)
    assert changed["LastName"] == 'Quote "and" comma, ünïcode'
    assert changed["HasOptedOutOfEmail"] == "true"
    assert second not in {r["Id"] for r in bulk}


def _query_job(session, base, soql):
    job = session.post(base, json={"operation": "query", "query": soql}, timeout=30).json()
    for _ in range(500):
        if session.get(f"{base}/{job['id']}", timeout=30).json()["state"] == "JobComplete":
            return job["id"]
    raise AssertionError(f"job {job['id']} did not complete")


def _pages(session, base, job_id):
    """Every results page as ``(url, text)``, following the locators."""
    pages, locator = [], ""
    while locator != "null":
        url = f"{base}/{job_id}/results?maxRecords=2000" + (
            f"&locator={locator}" if locator else ""
        )
        reply = session.get(url, timeout=30)
        pages.append((url, reply.text))
        locator = reply.headers["Sforce-Locator"]
    return pages


def test_rendered_results_are_bounded_and_render_again_from_the_jobs_snapshot(sandbox):
    """Jobs nobody reads to the end do not each hold a rendered result (memory stays bounded)."""
    from crmframes.sandbox.salesforce.bulk import RENDERED_JOBS

    session = trusted_session(sandbox)
    session.headers["Authorization"] = f"Bearer {access_token(sandbox, session)}"
    base = f"{sandbox.url}/services/data/v59.0/jobs/query"
    soql = "SELECT Id, LastName FROM Contact ORDER BY Id"
    jobs = [_query_job(session, base, soql) for _ in range(RENDERED_JOBS + 1)]
    oldest, held = jobs[0], sandbox._app.bulk._jobs
    assert [held[j].results is None for j in jobs] == [True] + [False] * RENDERED_JOBS
    renamed = rows(_pages(session, base, jobs[1])[0][1])[0]["Id"]
    session.patch(
        f"{sandbox.url}/services/data/v59.0/sobjects/Contact/{renamed}",
        json={"LastName": "Renamed"},
        timeout=30,
    ).raise_for_status()
    before, after = _pages(session, base, oldest), _pages(session, base, jobs[-1])
    assert [text for _, text in before] == [text for _, text in after]  # the snapshot
    assert "Renamed" not in before[0][1]
    assert held[oldest].results is None and held[jobs[-1]].results is None  # read to the end
    last_url, last_text = after[-1]
    assert session.get(last_url, timeout=30).text == last_text  # asked again: rendered again
