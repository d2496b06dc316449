"""``POST /composite`` and ``/composite/batch``: up to 25 REST subrequests in one API call.

As Salesforce's REST API Developer Guide describes it ("Send Multiple Requests Using Composite",
"Composite Request Body", "Composite Subrequest Result"): each subrequest names ``method``, ``url``
(``/services/data/vXX.X/...``), ``referenceId`` and an optional ``body``; ``@{ref.field}`` or
``@{ref.records[0].Id}`` in a later url or body is replaced by that value of an earlier answer.
The answer is always 200 ``{"compositeResponse": [{"body", "httpHeaders", "httpStatusCode",
"referenceId"}]}``. With ``allOrNone`` true the first failure rolls every subrequest back and the
others answer 400 ``PROCESSING_HALTED``; with it false a subrequest whose reference cannot be
resolved is not run (400 ``PROCESSING_HALTED``) and the others are. The whole call counts as one
API call. Subrequests run through the same routes as direct calls.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from crmframes.sandbox.database import Database
from crmframes.sandbox.server import HttpError, Request, Response, Router

__all__ = ["MAX_SUBREQUESTS", "ROLLED_BACK", "Composite"]

MAX_SUBREQUESTS = 25
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_STEP = re.compile(r"\.([A-Za-z0-9_]+)|\[(\d+)\]")
_REFERENCE_ID = re.compile(r"[A-Za-z0-9_]+")
_COLLECTIONS = re.compile(r"/composite/sobjects(?:/|$)")
_INHERITED = ("Accept", "Authorization", "Content-Type")  # a subrequest may not set these
ROLLED_BACK = (
    "The transaction was rolled back since another operation in the same transaction failed."
)


class _Unresolved(Exception):
    def __init__(self, reference: str, ref_id: str) -> None:
        super().__init__(reference)
        self.reference, self.ref_id = reference, ref_id


def _bad_request(message: str) -> Response:
    return Response.json(400, [{"errorCode": "INVALID_INPUT", "message": message}])


def _batch_halted() -> dict[str, Any]:
    return {
        "errorCode": "BATCH_PROCESSING_HALTED",
        "message": "Batch processing halted per request",
    }


def _halted(message: str) -> dict[str, Any]:
    return {"errorCode": "PROCESSING_HALTED", "message": message}


class Composite:
    """Runs composite requests against the app's own routes."""

    def __init__(self, router: Router, db: Database) -> None:
        self.router = router
        self.db = db

    def handle(self, request: Request) -> Response:
        """``POST /composite``."""
        try:
            body = request.json()
        except ValueError:
            return Response.json(
                400, [{"errorCode": "JSON_PARSER_ERROR", "message": "The body is not valid JSON."}]
            )
        subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(subrequests, list) or not subrequests:
            return _bad_request("compositeRequest: a list of subrequests is required.")
        if len(subrequests) > MAX_SUBREQUESTS:
            return _bad_request(
                f"A composite request can have at most {MAX_SUBREQUESTS} subrequests."
            )
        for sub in subrequests:
            refusal = self._check(sub)
            if refusal is not None:
                return refusal
        all_or_none = bool(body.get("allOrNone", False))
        results: dict[str, Any] = {}
        answers: list[dict[str, Any]] = []
        failed: int | None = None
        with self.db.transaction() as tx:
            for i, sub in enumerate(subrequests):
                answers.append(self._run(sub, request, results, all_or_none))
                if all_or_none and _failed(answers[-1]):
                    tx.rollback()
                    failed = i
                    break
        if failed is not None:
            answers = [
                answers[i] if i == failed else self._rolled_back(sub)
                for i, sub in enumerate(subrequests)
            ]
        return Response.json(200, {"compositeResponse": answers})

    def handle_batch(self, request: Request) -> Response:
        """``POST /composite/batch``: up to 25 independent subrequests, each its own transaction.

        Subrequest urls are relative to ``/services/data/`` (``v59.0/sobjects/...``), bodies go in
        ``richInput``; with ``haltOnError`` the subrequests after a failure answer 412
        ``BATCH_PROCESSING_HALTED`` (REST API Developer Guide, "Batch Request Body").
        """
        try:
            body = request.json()
        except ValueError:
            return Response.json(
                400, [{"errorCode": "JSON_PARSER_ERROR", "message": "The body is not valid JSON."}]
            )
        subrequests = body.get("batchRequests") if isinstance(body, dict) else None
        if not isinstance(subrequests, list) or not subrequests:
            return _bad_request("batchRequests: a list of subrequests is required.")
        if len(subrequests) > MAX_SUBREQUESTS:
            return _bad_request(f"A batch request can have at most {MAX_SUBREQUESTS} subrequests.")
        urls: list[str] = []
        for sub in subrequests:
            url = sub.get("url") if isinstance(sub, dict) else None
            if not isinstance(url, str) or not re.match(r"/?v\d+\.\d/", url):
                return _bad_request(
                    f"Each subrequest needs a url such as v59.0/sobjects/...: {url!r}"
                )
            if sub.get("method") not in ("GET", "POST", "PATCH", "PUT", "DELETE"):
                return _bad_request(f"Unsupported subrequest method {sub.get('method')!r}.")
            urls.append("/services/data/" + url.lstrip("/"))
        halt = bool(body.get("haltOnError", False))
        results: list[dict[str, Any]] = []
        halted = False
        for sub, url in zip(subrequests, urls, strict=True):
            if halted:
                results.append({"statusCode": 412, "result": [_batch_halted()]})
                continue
            response = self._dispatch(sub["method"], url, sub.get("richInput"), {}, request)
            results.append(
                {
                    "statusCode": response.status,
                    "result": orjson.loads(response.body) if response.body else None,
                }
            )
            halted = halt and response.status >= 400
        has_errors = any(r["statusCode"] >= 400 for r in results)
        return Response.json(200, {"hasErrors": has_errors, "results": results})

    def _check(self, sub: Any) -> Response | None:
        if not isinstance(sub, dict):
            return _bad_request("Each subrequest must be a JSON object.")
        for key in ("method", "url", "referenceId"):
            if not isinstance(sub.get(key), str) or not sub[key]:
                return _bad_request(f"Each subrequest needs a '{key}'.")
        if not _REFERENCE_ID.fullmatch(sub["referenceId"]):
            return _bad_request(
                "The referenceId must contain only letters, numbers and underscores: "
                f"'{sub['referenceId']}'."
            )
        headers = sub.get("httpHeaders") or {}
        if not isinstance(headers, dict) or any(
            h.lower() in (i.lower() for i in _INHERITED) for h in headers
        ):
            return _bad_request(
                "httpHeaders must be an object and may not set Accept, Authorization or "
                "Content-Type: subrequests inherit them."
            )
        if sub["method"] not in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            return _bad_request(f"Unsupported subrequest method '{sub['method']}'.")
        if not sub["url"].startswith("/services/data/v"):
            return _bad_request(
                f"The subrequest url must start with /services/data/: '{sub['url']}'."
            )
        return None

    def _rolled_back(self, sub: dict[str, Any]) -> dict[str, Any]:
        return {
            "body": [_halted(ROLLED_BACK)],
            "httpHeaders": {},
            "httpStatusCode": 400,
            "referenceId": sub["referenceId"],
        }

    def _run(
        self, sub: dict[str, Any], outer: Request, results: dict[str, Any], all_or_none: bool
    ) -> dict[str, Any]:
        ref_id = sub["referenceId"]
        try:
            url = _substitute(sub["url"], results)
            body = _substitute_all(sub.get("body"), results)
            if all_or_none and sub["method"] != "GET" and _COLLECTIONS.search(urlsplit(url).path):
                # The composite's allOrNone overrides a Collections subrequest's own (REST API
                # Developer Guide, "allOrNone Parameters in Composite and Collections Requests").
                if isinstance(body, dict):
                    body = {**body, "allOrNone": True}
                url = _with_all_or_none(url)
        except _Unresolved as exc:
            return {
                "body": [
                    _halted(
                        f"Invalid reference specified. No value for {exc.reference} found in "
                        f"{exc.ref_id}. Provided referenceId ('{exc.ref_id}') must be in the "
                        "request and must be processed before this request."
                    )
                ],
                "httpHeaders": {},
                "httpStatusCode": 400,
                "referenceId": ref_id,
            }
        response = self._dispatch(sub["method"], url, body, sub.get("httpHeaders") or {}, outer)
        parsed = orjson.loads(response.body) if response.body else None
        if response.status < 400:
            results[ref_id] = parsed
        headers = {k: v for k, v in response.headers.items() if k in ("Location", "ETag")}
        if response.status == 201 and isinstance(parsed, dict) and "id" in parsed:
            # As the guide's Composite Subrequest Result example shows for a create.
            headers.setdefault("Location", f"{urlsplit(url).path.rstrip('/')}/{parsed['id']}")
        return {
            "body": parsed,
            "httpHeaders": headers,
            "httpStatusCode": response.status,
            "referenceId": ref_id,
        }

    def _dispatch(
        self, method: str, url: str, body: Any, extra: dict[str, str], outer: Request
    ) -> Response:
        split = urlsplit(url)
        headers = Message()
        for name in _INHERITED:
            value = outer.header(name)
            if value is not None:
                headers[name] = value
        if "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        for name, value in extra.items():
            headers[name] = str(value)
        request = Request(
            method=method,
            target=url,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=b"" if body is None else orjson.dumps(body),
        )
        handler = self.router.resolve(request)
        if handler is None or handler is False:
            message = "The requested resource does not exist"
            return Response.json(404, [{"errorCode": "NOT_FOUND", "message": message}])
        assert callable(handler)
        try:
            return handler(request)
        except HttpError as exc:
            return exc.response


def _failed(answer: dict[str, Any]) -> bool:
    """A failed subrequest; a Collections answer fails when any of its records does."""
    body = answer["body"]
    if answer["httpStatusCode"] >= 400:
        return True
    return isinstance(body, list) and any(
        isinstance(item, dict) and item.get("success") is False for item in body
    )


def _with_all_or_none(url: str) -> str:
    split = urlsplit(url)
    if not split.query:
        return url  # a body carries it
    if "allOrNone=" in split.query:
        query = re.sub(r"allOrNone=[^&]*", "allOrNone=true", split.query)
    else:
        query = f"{split.query}&allOrNone=true"
    return split._replace(query=query).geturl()


def _lookup(ref_id: str, path: str, results: dict[str, Any]) -> Any:
    reference = f"{ref_id}{path}"
    if ref_id not in results:
        raise _Unresolved(reference, ref_id)
    value = results[ref_id]
    for field, index in _STEP.findall(path):
        if field and isinstance(value, dict) and field in value:
            value = value[field]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            raise _Unresolved(reference, ref_id)
    return value


def _substitute(text: str, results: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        found = _lookup(match[1], match[2], results)
        return found if isinstance(found, str) else orjson.dumps(found).decode()

    return _REFERENCE.sub(value, text)


def _substitute_all(body: Any, results: dict[str, Any]) -> Any:
    if isinstance(body, str):
        return _substitute(body, results)
    if isinstance(body, list):
        return [_substitute_all(item, results) for item in body]
    if isinstance(body, dict):
        return {key: _substitute_all(value, results) for key, value in body.items()}
    return body
