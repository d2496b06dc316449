"""Bulk API 2.0 parallel result pages (API 58.0+) and gzip-compressed Bulk answers."""

import csv
import io
import time

import pytest

from tests.clients import access_token, trusted_session


def start_query(sandbox, session, headers, soql, version="59.0"):
    base = f"{sandbox.url}/services/data/v{version}/jobs/query"
    job = session.post(base, json={"operation": "query", "query": soql}, headers=headers).json()
    for _ in range(600):
        info = session.get(f"{base}/{job['id']}", headers=headers).json()
        if info["state"] == "JobComplete":
            return job["id"]
        time.sleep(0.05)
    raise AssertionError(f"job {job['id']} did not complete: {info}")


@pytest.fixture
def client(demo_sandbox):
    session = trusted_session(demo_sandbox)
    headers = {"Authorization": f"Bearer {access_token(demo_sandbox, session)}"}
    return demo_sandbox, session, headers


def test_result_pages_cover_the_result_once_in_order(client):
    sandbox, session, headers = client
    job = start_query(sandbox, session, headers, "SELECT Id FROM Contact ORDER BY Id LIMIT 40")
    url = f"{sandbox.url}/services/data/v59.0/jobs/query/{job}/resultPages"
    links, answers = [], []
    sandbox._app.bulk.page_records = 7  # small pages so 40 rows need more than 5 links
    try:
        while url:
            answer = session.get(url, headers=headers).json()
            answers.append(answer)
            links += [page["resultLink"] for page in answer["resultPages"]]
            url = answer["nextRecordsUrl"] and sandbox.url + answer["nextRecordsUrl"]
    finally:
        sandbox._app.bulk.page_records = 100_000
    assert [len(a["resultPages"]) for a in answers] == [5, 1]
    assert [a["done"] for a in answers] == [False, True]
    ids = []
    for link in links:
        text = session.get(sandbox.url + link, headers=headers).text
        ids += [row["Id"] for row in csv.DictReader(io.StringIO(text))]
    expected = session.get(
        f"{sandbox.url}/services/data/v59.0/query",
        params={"q": "SELECT Id FROM Contact ORDER BY Id LIMIT 40"},
        headers=headers,
    ).json()["records"]
    assert ids == [r["Id"] for r in expected]


def test_result_pages_need_api_58_and_the_job_version(client):
    sandbox, session, headers = client
    job = start_query(sandbox, session, headers, "SELECT Id FROM Account", version="57.0")
    old = session.get(
        f"{sandbox.url}/services/data/v57.0/jobs/query/{job}/resultPages", headers=headers
    )
    assert old.status_code == 404
    other = session.get(
        f"{sandbox.url}/services/data/v59.0/jobs/query/{job}/resultPages", headers=headers
    )
    assert other.status_code == 409


def test_bulk_csv_is_gzipped_when_asked(client):
    sandbox, session, headers = client
    job = start_query(sandbox, session, headers, "SELECT Id, Name FROM Account")
    url = f"{sandbox.url}/services/data/v59.0/jobs/query/{job}/results"
    reply = session.get(url, headers={**headers, "Accept-Encoding": "gzip"})
    assert reply.headers["Content-Encoding"] == "gzip"
    assert reply.text.startswith('"Id","Name"')


def test_result_pages_of_an_empty_result_and_a_bad_locator(client):
    sandbox, session, headers = client
    job = start_query(sandbox, session, headers, "SELECT Id FROM Contact WHERE LastName = 'none'")
    url = f"{sandbox.url}/services/data/v59.0/jobs/query/{job}/resultPages"
    answer = session.get(url, headers=headers).json()
    assert (len(answer["resultPages"]), answer["done"], answer["nextRecordsUrl"]) == (1, True, None)
    page = session.get(sandbox.url + answer["resultPages"][0]["resultLink"], headers=headers)
    assert page.text.strip() == '"Id"'
    bad = session.get(url, params={"locator": "bm9wZQ=="}, headers=headers)
    assert (bad.status_code, bad.json()[0]["errorCode"]) == (400, "INVALID_QUERY_LOCATOR")
