"""Every public call, given wrong-typed or malformed arguments, raises a CrmframesError and calls nothing.

Hypothesis replaces one argument of a valid call with a value of the wrong type or shape
(frames with duplicated, non-string or MultiIndex columns, mixed object columns, huge and
non-finite numbers, lone surrogates) and checks that only a ``CrmframesError`` comes out,
that the sandbox counted no API call, and that the campaign store is unchanged.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmframes import (
    AccessToken,
    AutoIndex,
    CampaignStore,
    ClientCredentials,
    CrmframesError,
    DedupeSpec,
    DeletedSpec,
    DeleteSpec,
    DeviceCode,
    DynamicsSettings,
    ExportSpec,
    F,
    ImportSpec,
    JwtBearer,
    MergeSpec,
    Password,
    ReconcileSpec,
    RetryPolicy,
    SalesforceSettings,
    Sandbox,
    deduplicate,
    delete_in_crm,
    evaluate,
    export_to_crm,
    find_duplicates,
    import_deleted_from_crm,
    import_from_crm,
    reconcile,
    run_job,
    validate,
)

SWEEP = settings(max_examples=40, deadline=None)

# --- values of the wrong type or shape -----------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=()), max_size=6)  # surrogates and NUL too
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    st.lists(st.integers(), max_size=3),
    st.tuples(st.integers()),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(object),
    st.just(b"bytes"),
    st.just(math.inf),
)
NOT_STR = JUNK.filter(lambda v: not isinstance(v, str))
BAD_NAMES = st.one_of(NOT_STR, st.sampled_from(["", "  ", "Con\x00tact", "Con\ud800tact"]))


def _not(*valid: Any) -> Callable[[Any], bool]:
    return lambda v: not any(v is x or (type(v) is type(x) and v == x) for x in valid)


def _bad_int(low: int, high: int | None = None) -> st.SearchStrategy[Any]:
    def valid(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and low <= v <= (high or v)

    return JUNK.filter(lambda v: not valid(v))


NOT_BOOL = JUNK.filter(lambda v: not isinstance(v, bool))


def _valid_zone(value: Any) -> bool:
    try:
        ZoneInfo(value)
    except Exception:
        return False
    return True


BAD_ZONE = JUNK.filter(lambda v: not _valid_zone(v))


def _not_a_fraction(value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return not (number and 0 < value <= 1)


OBJECT_VALUES = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def bad_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Frames whose columns cannot be used: duplicated, not strings, or a MultiIndex."""
    rows = draw(st.integers(min_value=0, max_value=3))
    values = [[draw(OBJECT_VALUES) for _ in range(2)] for _ in range(rows)]
    kind = draw(st.sampled_from(["duplicated", "not strings", "multiindex"]))
    if kind == "duplicated":
        name = draw(st.sampled_from(["Id", "LastName", "Email", "lastname", "contactid"]))
        columns: Any = [name, name]
    elif kind == "not strings":
        columns = [draw(st.one_of(st.integers(), st.floats(), st.none())), "Email"]
    else:
        columns = pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")])
    return pd.DataFrame(values, columns=columns, dtype=object)


BAD_FRAMES = st.one_of(bad_frames(), JUNK)


ODD_COLUMNS: list[Callable[[], pd.Series]] = [
    lambda: pd.Series([1 + 2j]),
    lambda: pd.Series(["a"], dtype="category"),
    lambda: pd.Series(pd.period_range("2024-01", periods=1, freq="M")),
    lambda: pd.Series(pd.interval_range(0, 1, periods=1)),
    lambda: pd.Series([pd.Timedelta("1D")]),
    lambda: pd.Series(pd.arrays.SparseArray([1])),
    lambda: pd.Series([2**64 - 1], dtype="uint64"),
    lambda: pd.Series([1.5], dtype="float16"),
    lambda: pd.Series([datetime(1, 1, 1)], dtype=object),
]


@st.composite
def mixed_frames(draw: st.DrawFn, column: str) -> pd.DataFrame:
    """One column of mixed Python values (huge and non-finite numbers, surrogates, lists), or of
    an odd dtype (complex, categorical, period, interval, timedelta, sparse, uint64)."""
    if draw(st.booleans()):
        return pd.DataFrame({column: draw(st.sampled_from(ODD_COLUMNS))()})
    values = draw(st.lists(OBJECT_VALUES, min_size=1, max_size=4))
    return pd.DataFrame({column: pd.Series(values, dtype=object)})


# --- sandboxes and store (one of each per module) --------------------------------------------


@pytest.fixture(scope="module")
def sf() -> Iterator[Any]:
    with Sandbox("salesforce", data="demo") as sb:
        conn = sb.connector()
        conn.describe("Contact")
        yield sb, conn


@pytest.fixture(scope="module")
def dv() -> Iterator[Any]:
    with Sandbox("dynamics", data="demo") as sb:
        conn = sb.connector()
        conn.describe("contact")
        yield sb, conn


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CampaignStore]:
    with CampaignStore(str(tmp_path_factory.mktemp("store") / "campaign.duckdb")) as campaign:
        campaign.merge(
            "Contact",
            pd.DataFrame({"Id": ["1", "2"], "Email": ["a@x.org", "A@x.org "]}),
            key="Id",
        )
        yield campaign


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("journals")


def _refused(sandbox: Sandbox, call: Callable[[], Any]) -> None:
    before = sandbox.api_call_count()
    with pytest.raises(CrmframesError):
        call()
    assert sandbox.api_call_count() == before


def _snapshot(store: CampaignStore) -> Any:
    tables = store.tables()
    return tables, {t: store.read(t).to_dict("list") for t in tables}, dict(store.options)


# --- writes ----------------------------------------------------------------------------------


def _export_arguments(df: pd.DataFrame, folder: Path) -> st.SearchStrategy[tuple[str, Any]]:
    bad = {
        "object": BAD_NAMES,
        "df": BAD_FRAMES,
        "mapping": st.one_of(
            JUNK.filter(lambda v: v is not None and not isinstance(v, dict)),
            st.dictionaries(st.just(df.columns[0]), NOT_STR, min_size=1),
        ),
        "key": NOT_STR.filter(lambda v: v is not None),
        "journal": st.one_of(
            JUNK.filter(lambda v: v is not None and v is not False and not isinstance(v, str)),
            st.just(folder),
        ),
        "batch_size": _bad_int(1, 1000).filter(lambda v: v is not None),
        "mode": JUNK.filter(_not("auto", "batch", "bulk")),
        "dry_run": NOT_BOOL,
        "only_changed": NOT_BOOL,
        "skip_nulls": NOT_BOOL,
        "timezone": BAD_ZONE,
        "on_error": JUNK.filter(_not("reject", "raise")),
        "max_retries": _bad_int(0, 100),
        "progress": NOT_BOOL,
    }
    return st.sampled_from(sorted(bad)).flatmap(lambda name: st.tuples(st.just(name), bad[name]))


@pytest.mark.parametrize(
    ("crm", "obj", "column"), [("sf", "Contact", "LastName"), ("dv", "contact", "lastname")]
)
def test_export_with_one_bad_argument_is_refused_before_any_call(request, folder, crm, obj, column):
    sandbox, conn = request.getfixturevalue(crm)
    df = pd.DataFrame({column: ["Lee"]})

    @SWEEP
    @given(_export_arguments(df, folder))
    def sweep(bad: tuple[str, Any]) -> None:
        options = {"object": obj, "df": df, "journal": False, "progress": False}
        options[bad[0]] = bad[1]
        _refused(sandbox, lambda: export_to_crm(conn, **options))

    sweep()


@pytest.mark.parametrize(
    ("crm", "obj", "column"), [("sf", "Contact", "LastName"), ("dv", "contact", "lastname")]
)
def test_export_dry_run_of_mixed_values_raises_nothing_else_and_calls_nothing(
    request, crm, obj, column
):
    sandbox, conn = request.getfixturevalue(crm)

    @SWEEP
    @given(mixed_frames(column))
    def sweep(df: pd.DataFrame) -> None:
        before = sandbox.api_call_count()
        try:
            result = export_to_crm(conn, obj, df, journal=False, dry_run=True, progress=False)
        except CrmframesError:
            pass
        else:
            assert len(result.frame) + len(result.rejects) == len(df)
        assert sandbox.api_call_count() == before

    sweep()


@pytest.mark.parametrize(("crm", "obj"), [("sf", "Contact"), ("dv", "contact")])
def test_delete_with_one_bad_argument_is_refused_before_any_call(request, folder, crm, obj):
    sandbox, conn = request.getfixturevalue(crm)
    df = pd.DataFrame({"Id": ["003000000000001AAA"]})
    bad = {
        "object": BAD_NAMES,
        "df": BAD_FRAMES,
        "key": NOT_STR.filter(lambda v: v is not None),
        "journal": st.just(folder),
        "batch_size": _bad_int(1, 1000).filter(lambda v: v is not None),
        "mode": JUNK.filter(_not("auto", "batch", "bulk")),
        "on_error": JUNK.filter(_not("reject", "raise")),
        "max_retries": _bad_int(0, 100),
        "progress": NOT_BOOL,
    }

    @SWEEP
    @given(st.sampled_from(sorted(bad)).flatmap(lambda n: st.tuples(st.just(n), bad[n])))
    def sweep(bad_argument: tuple[str, Any]) -> None:
        options = {"object": obj, "df": df, "key": "Id", "journal": False, "progress": False}
        options[bad_argument[0]] = bad_argument[1]
        _refused(sandbox, lambda: delete_in_crm(conn, **options))

    sweep()


# --- reads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("crm", "obj", "column"), [("sf", "Contact", "LastName"), ("dv", "contact", "lastname")]
)
def test_import_with_one_bad_argument_is_refused_before_any_call(request, crm, obj, column):
    sandbox, conn = request.getfixturevalue(crm)
    not_empty = JUNK.filter(
        lambda v: v is not None and v != [] and v != {} and not isinstance(v, str)
    )
    bad = {
        "object": BAD_NAMES,
        "fields": not_empty,
        "where": JUNK.filter(lambda v: v is not None),
        "order_by": not_empty,
        "auto_index": JUNK.filter(lambda v: v is not None),
        "population": BAD_FRAMES.filter(lambda v: v is not None),
        "id_column": NOT_STR.filter(lambda v: v is not None),
        "timezone": BAD_ZONE,
        "mode": JUNK.filter(_not("auto", "rest", "bulk")),
        "limit": _bad_int(0).filter(lambda v: v is not None),
        "strict": NOT_BOOL,
        "progress": NOT_BOOL,
    }

    @SWEEP
    @given(st.sampled_from(sorted(bad)).flatmap(lambda n: st.tuples(st.just(n), bad[n])))
    def sweep(bad_argument: tuple[str, Any]) -> None:
        options: dict[str, Any] = {"object": obj, "fields": [column], "limit": 1, "progress": False}
        if bad_argument[0] == "population":
            options.update(id_column="Id", limit=None)
        options[bad_argument[0]] = bad_argument[1]
        _refused(sandbox, lambda: import_from_crm(conn, **options))

    sweep()


@pytest.mark.parametrize(("crm", "obj"), [("sf", "Contact"), ("dv", "contact")])
def test_import_deleted_with_one_bad_argument_is_refused_before_any_call(request, crm, obj):
    sandbox, conn = request.getfixturevalue(crm)
    bad = {
        "object": BAD_NAMES,
        "start": NOT_STR,
        "end": NOT_STR.filter(lambda v: v is not None),
        "timezone": BAD_ZONE,
    }

    @SWEEP
    @given(st.sampled_from(sorted(bad)).flatmap(lambda n: st.tuples(st.just(n), bad[n])))
    def sweep(bad_argument: tuple[str, Any]) -> None:
        options = {"object": obj, "start": datetime(2026, 11, 1, tzinfo=UTC)}
        options[bad_argument[0]] = bad_argument[1]
        _refused(sandbox, lambda: import_deleted_from_crm(conn, **options))

    sweep()


def test_filters_built_from_junk_raise_only_crmframes_errors():
    @SWEEP
    @given(JUNK, JUNK, st.one_of(BAD_FRAMES, mixed_frames("a")))
    def sweep(name: Any, value: Any, df: Any) -> None:
        try:
            expr = validate(F(name) == value, strict=False)
            evaluate(expr, df)
        except CrmframesError:
            pass
        with contextlib.suppress(CrmframesError):
            validate(value, strict=name)

    sweep()


# --- the campaign store ----------------------------------------------------------------------


def test_store_calls_with_one_bad_argument_change_nothing(store, folder):
    frame = pd.DataFrame({"Id": ["3"], "Email": ["c@x.org"]})
    calls: dict[
        str, tuple[Callable[..., Any], dict[str, Any], dict[str, st.SearchStrategy[Any]]]
    ] = {
        "merge": (
            store.merge,
            {"table": "Contact", "data": frame, "key": "Id"},
            {
                "table": BAD_NAMES,
                "data": BAD_FRAMES,
                "key": NOT_STR.filter(lambda v: v is not None),
                "modified": NOT_STR.filter(lambda v: v is not None),
                "dry_run": NOT_BOOL,
            },
        ),
        "read": (
            store.read,
            {"table": "Contact"},
            {
                "table": BAD_NAMES,
                "columns": NOT_STR.filter(lambda v: v is not None),
                "order_by": NOT_STR.filter(lambda v: v is not None and v != [] and v != ()),
            },
        ),
        "apply_deletions": (
            store.apply_deletions,
            {"table": "Contact", "deleted": pd.DataFrame({"Id": ["1"]}), "key": "Id"},
            {
                "table": BAD_NAMES,
                "deleted": BAD_FRAMES,
                "key": NOT_STR.filter(lambda v: v is not None),
                "mode": JUNK.filter(_not("soft", "hard")),
                "column": BAD_NAMES,
            },
        ),
        "dedupe": (
            store.dedupe,
            {"table": "Contact", "on": "Email", "keep": "first", "key": "Id"},
            {
                "table": BAD_NAMES,
                "on": NOT_STR.filter(lambda v: v is not None),
                "threshold": JUNK.filter(_not_a_fraction),
                "max_pairs": _bad_int(1),
                "dry_run": NOT_BOOL,
            },
        ),
        "to_parquet": (
            store.to_parquet,
            {"table": "Contact", "path": folder / "c.parquet"},
            {"table": BAD_NAMES, "path": st.one_of(NOT_STR, st.just(folder))},
        ),
        "sql": (
            store.sql,
            {"query": "SELECT 1"},
            {
                "query": NOT_STR,
                "params": JUNK.filter(
                    lambda v: v is not None and not isinstance(v, list | tuple | dict)
                ),
            },
        ),
    }
    arguments = st.sampled_from(sorted(calls)).flatmap(
        lambda method: st.sampled_from(sorted(calls[method][2])).flatmap(
            lambda name: st.tuples(st.just(method), st.just(name), calls[method][2][name])
        )
    )

    @SWEEP
    @given(arguments)
    def sweep(bad: tuple[str, str, Any]) -> None:
        method, base, _ = calls[bad[0]]
        options = {**base, bad[1]: bad[2]}
        before = _snapshot(store)
        with pytest.raises(CrmframesError):
            method(**options)
        assert _snapshot(store) == before

    sweep()


def test_store_merge_dry_run_of_mixed_values_raises_nothing_else(store):
    @SWEEP
    @given(mixed_frames("Email"))
    def sweep(df: pd.DataFrame) -> None:
        df = df.assign(Id=[str(i) for i in range(len(df))])
        before = _snapshot(store)
        with contextlib.suppress(CrmframesError):
            store.merge("Contact", df, key="Id", dry_run=True)
        assert _snapshot(store) == before

    sweep()


# --- the pure functions and the specs --------------------------------------------------------


PEOPLE = pd.DataFrame(
    {
        "Id": ["1", "2", "3"],
        "Email": ["a@x.org", "A@x.org", "b@y.org"],
        "LastName": ["Lee", "Lee", "Kim"],
    }
)


def test_dedupe_and_reconcile_raise_only_crmframes_errors():
    bad_arguments = st.fixed_dictionaries(
        {},
        optional={
            "df": st.one_of(BAD_FRAMES, mixed_frames("Email")),
            "on": JUNK,
            "fuzzy": JUNK,
            "threshold": JUNK,
            "max_pairs": JUNK,
            "normalizers": JUNK,
            "keep": JUNK,
            "key": JUNK,
            "merge": JUNK,
            "columns": JUNK,
            "rtol": JUNK,
            "timezone": JUNK,
            "empty_is_null": JUNK,
        },
    )

    @SWEEP
    @given(bad_arguments)
    def sweep(bad: dict[str, Any]) -> None:
        df = bad.pop("df", PEOPLE)
        matching = {
            k: v
            for k, v in bad.items()
            if k in ("on", "fuzzy", "threshold", "max_pairs", "normalizers")
        }
        calls = [
            lambda: find_duplicates(df, **{"on": "Email", **matching}),
            lambda: deduplicate(
                df,
                **{
                    "on": "Email",
                    "keep": "first",
                    **matching,
                    **{k: v for k, v in bad.items() if k in ("keep", "key", "merge")},
                },
            ),
            lambda: reconcile(
                df,
                PEOPLE,
                **{
                    "key": "Id",
                    **{
                        k: v
                        for k, v in bad.items()
                        if k in ("key", "columns", "rtol", "timezone", "empty_is_null")
                    },
                },
            ),
        ]
        for call in calls:
            with contextlib.suppress(CrmframesError):
                call()

    sweep()


SPECS: dict[type, dict[str, Any]] = {
    ImportSpec: {"object": "contact", "table": "contact"},
    ExportSpec: {"object": "contact", "source": "contact"},
    DeleteSpec: {"object": "contact", "source": "contact"},
    DeletedSpec: {"object": "contact", "start": "2026-11-01", "table": "contact"},
    DedupeSpec: {"table": "contact", "on": "emailaddress1"},
    MergeSpec: {"table": "contact", "source": "contact_import", "key": "contactid"},
    ReconcileSpec: {"object": "contact", "table": "contact", "key": "contactid"},
}


def test_specs_and_jobs_raise_only_crmframes_errors():
    @SWEEP
    @given(st.sampled_from(list(SPECS)), st.text(max_size=12), JUNK, JUNK)
    def sweep(spec: type, name: str, value: Any, job: Any) -> None:
        base = SPECS[spec]
        key = name if name and name[0].isalpha() else sorted(base)[len(name) % len(base)]
        with contextlib.suppress(CrmframesError):
            spec(**{**base, key: value})
        with pytest.raises(CrmframesError):
            run_job(job, progress=False)

    sweep()


def test_auto_index_refuses_what_is_no_store():
    @SWEEP
    @given(JUNK, JUNK)
    def sweep(store: Any, activity: Any) -> None:
        with pytest.raises(CrmframesError):
            AutoIndex(store, activity=activity)

    sweep()


_CREDENTIALS = {"client_id": "app", "client_secret": "s3cret"}
SETTINGS: dict[Callable[..., Any], dict[str, Any]] = {
    ClientCredentials: _CREDENTIALS,
    Password: {"username": "ada", "password": "pw", "client_id": "app"},
    DeviceCode: {"client_id": "app"},
    AccessToken: {"token": "t0ken"},
    JwtBearer: {"client_id": "app", "username": "ada", "private_key": "PEM"},
    RetryPolicy: {"attempts": 3, "base": 0.5, "cap": 10.0, "max_seconds": 60.0},
    SalesforceSettings: {"url": "https://x.example", "auth": ClientCredentials(**_CREDENTIALS)},
    DynamicsSettings: {
        "url": "https://x.example",
        "tenant_id": "tenant",
        "auth": ClientCredentials(**_CREDENTIALS),
    },
}


def test_settings_and_auth_objects_raise_only_crmframes_errors():
    @SWEEP
    @given(st.sampled_from(list(SETTINGS)), st.integers(min_value=0), JUNK)
    def sweep(make: Callable[..., Any], which: int, value: Any) -> None:
        base = SETTINGS[make]
        key = sorted(base)[which % len(base)]
        with contextlib.suppress(CrmframesError):
            make(**{**base, key: value})

    sweep()
