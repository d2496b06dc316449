"""Identity URL, token revocation, the version directory and the composite retrieve body form.

Driven with simple-salesforce where it has the call, raw HTTPS through a trusted session
otherwise (tests/clients.py).
"""

import gzip

from tests.clients import access_token, salesforce_client, token_reply, trusted_session


def token_and_id(sandbox, session):
    reply = token_reply(sandbox, session)
    return reply["access_token"], reply["id"]


def test_identity_url_of_the_token_answers_who_i_am(demo_sandbox):
    session = trusted_session(demo_sandbox)
    token, identity = token_and_id(demo_sandbox, session)
    reply = session.get(
        identity, params={"version": "latest"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert reply.status_code == 200
    info = reply.json()
    assert info["id"] == identity
    assert identity.endswith(f"/id/{info['organization_id']}/{info['user_id']}")
    assert info["username"] == demo_sandbox.credentials["username"]
    assert info["asserted_user"] is True and info["active"] is True
    rest = info["urls"]["rest"]
    assert "{version}" not in rest
    assert session.get(rest, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_identity_url_keeps_the_version_placeholder_and_refuses_bad_tokens(demo_sandbox):
    session = trusted_session(demo_sandbox)
    token, identity = token_and_id(demo_sandbox, session)
    info = session.get(identity, params={"oauth_token": token}).json()
    assert info["urls"]["query"].endswith("/services/data/v{version}/query/")
    refused = session.get(identity, headers={"Authorization": "Bearer nope"})
    assert (refused.status_code, refused.text) == (403, "Bad_OAuth_Token")


def test_version_directory_links_identity_and_lists_only_resources_that_answer(demo_sandbox):
    sf = salesforce_client(demo_sandbox)
    directory = sf.restful("")
    assert directory["identity"].startswith(f"{demo_sandbox.url}/id/00D")
    assert "search" not in directory and "tooling" not in directory
    session = sf.session
    headers = {"Authorization": f"Bearer {sf.session_id}"}
    for name, url in directory.items():
        absolute = url if url.startswith("https://") else demo_sandbox.url + url
        reply = session.get(absolute, headers=headers, timeout=30)
        # /query without q= is the documented 400 "A query string has to be specified"
        assert reply.status_code in (200, 400), (name, reply.status_code, reply.text)
        assert reply.status_code == 200 or name in ("query", "queryAll"), name


def test_revoke_ends_the_token(sandbox):
    session = trusted_session(sandbox)
    token = access_token(sandbox, session)
    query = f"{sandbox.url}/services/data/v59.0/limits"
    headers = {"Authorization": f"Bearer {token}"}
    assert session.get(query, headers=headers).status_code == 200
    reply = session.post(f"{sandbox.url}/services/oauth2/revoke", data={"token": token})
    assert (reply.status_code, reply.content) == (200, b"")
    after = session.get(query, headers=headers)
    assert after.status_code == 401
    assert after.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    again = session.post(f"{sandbox.url}/services/oauth2/revoke", data={"token": token})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_token")


def test_revoke_by_get_and_by_refresh_token(sandbox):
    session = trusted_session(sandbox)
    first, second = access_token(sandbox, session), access_token(sandbox, session)
    revoke = f"{sandbox.url}/services/oauth2/revoke"
    assert session.get(revoke, params={"token": first}).status_code == 200
    limits = f"{sandbox.url}/services/data/v59.0/limits"
    assert session.get(limits, headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert session.get(limits, headers={"Authorization": f"Bearer {second}"}).status_code == 200
    refresh = sandbox.credentials["refresh_token"]
    assert session.post(revoke, data={"token": refresh}).status_code == 200
    assert session.get(limits, headers={"Authorization": f"Bearer {second}"}).status_code == 401
    creds = sandbox.credentials
    refreshed = session.post(
        f"{sandbox.url}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
    )
    assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")


def test_composite_retrieve_takes_ids_and_fields_in_the_body(demo_sf):
    ids = [r["Id"] for r in demo_sf.query("SELECT Id FROM Contact ORDER BY Id LIMIT 3")["records"]]
    missing = "003" + "0" * 15
    got = demo_sf.restful(
        "composite/sobjects/Contact",
        method="POST",
        json={"ids": [*ids, missing], "fields": ["Id", "LastName"]},
    )
    assert [r and r["Id"] for r in got] == [*ids, None]
    assert all("LastName" in r for r in got[:3])


def test_answers_are_gzipped_when_the_client_asks(demo_sandbox):
    session = trusted_session(demo_sandbox)
    token = access_token(demo_sandbox, session)
    url = f"{demo_sandbox.url}/services/data/v59.0/query"
    params = {"q": "SELECT Id, LastName FROM Contact"}
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    reply = session.get(url, params=params, headers=headers, stream=True)
    assert reply.headers["Content-Encoding"] == "gzip"
    raw = reply.raw.read(decode_content=False)
    assert raw[:2] == b"\x1f\x8b" and gzip.decompress(raw).startswith(b'{"totalSize"')
    plain = session.get(url, params=params, headers={**headers, "Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.content.startswith(b'{"totalSize"')


def test_query_pages_are_gzipped_ahead_and_a_client_may_switch_encoding(demo_sandbox):
    session = trusted_session(demo_sandbox)
    auth = {"Authorization": f"Bearer {access_token(demo_sandbox, session)}"}
    first = session.get(
        f"{demo_sandbox.url}/services/data/v59.0/query",
        params={"q": "SELECT Id FROM Contact ORDER BY Id"},
        headers={**auth, "Accept-Encoding": "gzip"},
    )
    assert first.headers["Content-Encoding"] == "gzip"
    second = session.get(
        demo_sandbox.url + first.json()["nextRecordsUrl"],
        headers={**auth, "Accept-Encoding": "gzip"},
    )
    assert second.headers["Content-Encoding"] == "gzip"
    third = session.get(
        demo_sandbox.url + second.json()["nextRecordsUrl"],
        headers={**auth, "Accept-Encoding": "identity"},
    )
    assert "Content-Encoding" not in third.headers
    ids = [r["Id"] for page in (first, second, third) for r in page.json()["records"]]
    assert len(ids) == len(set(ids)) == first.json()["totalSize"] and ids == sorted(ids)
