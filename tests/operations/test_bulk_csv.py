"""Bulk API 2.0 result pages are read exactly as Salesforce writes them (issue 17, item 1).

Multi-line text areas, quotes, delimiters, leading and trailing spaces, long values and any
unicode come back from a Bulk read as the REST read returns them, whatever the page size
and wherever pyarrow's parsing blocks fall; a page that cannot be read exactly is a
``ConnectorError``, never a raw ``ArrowInvalid`` nor a silently different frame.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from itertools import count

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmframes import F, Sandbox, export_to_crm, import_from_crm
from crmframes.connectors.salesforce.bulk_csv import bulk_page_to_table, rest_datetime_text
from crmframes.errors import ConnectorError
from crmframes.sandbox.salesforce.bulk import DELIMITERS, LINE_ENDINGS, BulkApi

# Text a Salesforce text area can hold: line breaks of every kind, quotes, the delimiters,
# spaces at either end, and non-ASCII letters and emoji (no surrogates: not UTF-8).
NASTY = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', ",", "\n", "\r", " ", "\t", ";", "|", "^", "`", "p"]),
        st.characters(blacklist_categories=("Cs", "Cc")),
    ),
    min_size=1,
    max_size=60,
)


def _page(values: list[str | None], *, delimiter: str = "COMMA", line_ending: str = "LF") -> bytes:
    """A results page written by the sandbox's own Bulk CSV writer."""

    class Job:
        pass

    job = Job()
    job.delimiter, job.line_ending = delimiter, line_ending  # type: ignore[attr-defined]
    table = pa.table(
        {"Id": [f"003{n:015d}" for n in range(len(values))], "Description": values},
        schema=pa.schema([("Id", pa.string()), ("Description", pa.string())]),
    )
    return BulkApi._csv_page(job, table)  # type: ignore[arg-type]


# --- the page reader, on pages the sandbox writes -------------------------------------------------


def test_page_keeps_line_breaks_quotes_commas_and_spaces():
    values = ["a\np,003000000000001AAA,2024-01-01\nb", '"q", r', "  both  ", "é😀\r\nx", None]
    table = bulk_page_to_table(_page(values), ["Id", "Description"], expected_rows=5)
    assert table.column("Description").to_pylist() == values


@pytest.mark.parametrize("block_size", [64, 100, 1000])
def test_page_split_into_blocks_inside_values_reads_the_same(block_size):
    # Regression: pyarrow's default split blocks at any line break, quoted or not: a
    # multi-line value across a block boundary made phantom rows or an ArrowInvalid.
    values = [f"line one\np,003{n:015d},2024-01-0{n % 9 + 1}\n" * (n % 7 + 1) for n in range(60)]
    page = _page(values)
    table = bulk_page_to_table(page, ["Id", "Description"], block_size=block_size)
    assert table.column("Description").to_pylist() == values


def test_record_longer_than_a_block_is_read_whole():
    values = ["short", "x\n" * 5000, "end"]
    table = bulk_page_to_table(_page(values), ["Id", "Description"], block_size=256)
    assert table.column("Description").to_pylist() == values


@pytest.mark.parametrize("delimiter", sorted(DELIMITERS))
@pytest.mark.parametrize("line_ending", sorted(LINE_ENDINGS))
def test_every_delimiter_and_line_ending_reads_back(delimiter, line_ending):
    values = [f"a{DELIMITERS[delimiter]}b\r\nc", '"', None]
    page = _page(values, delimiter=delimiter, line_ending=line_ending)
    table = bulk_page_to_table(page, ["Id", "Description"], delimiter=delimiter)
    assert table.column("Description").to_pylist() == values


@given(values=st.lists(st.one_of(st.none(), NASTY), min_size=1, max_size=25))
@settings(max_examples=150, deadline=None)
def test_any_text_reads_back_at_any_block_size(values):
    page = _page(values)
    for block_size in (32, 97, 1 << 20):
        table = bulk_page_to_table(page, ["Id", "Description"], block_size=block_size)
        assert table.column("Description").to_pylist() == values


@pytest.mark.parametrize(
    ("body", "expected_rows", "problem"),
    [
        (b'"Id","Description"\n"1","cut sho', None, "cut short"),
        (b'"Id","Description"\n"1","a"\n"2","b","c"\n', None, "cannot be parsed"),
        (b'"Id","Other"\n"1","a"\n', None, "no column Description"),
        (b'"Id","Description"\n"1","a"\n', 2, "1 records were read from a page of 2"),
        (b"", 3, "empty"),
    ],
)
def test_a_page_that_cannot_be_read_exactly_is_a_connector_error(body, expected_rows, problem):
    with pytest.raises(ConnectorError, match=problem) as info:
        bulk_page_to_table(body, ["Id", "Description"], expected_rows=expected_rows)
    assert not isinstance(info.value.__cause__, KeyError)
    assert 'mode="rest"' in str(info.value)


def test_sandbox_writer_follows_rfc_4180_as_documented():
    # Salesforce: a quoted header, every value quoted, '"' doubled, the job's delimiter and
    # line ending, null an empty cell ("Valid CSV Record Rows", Bulk API 2.0 guide).
    values = ['say "hi"', "a,b\nc", None]
    for delimiter, sep in DELIMITERS.items():
        for line_ending, eol in LINE_ENDINGS.items():
            text = _page(values, delimiter=delimiter, line_ending=line_ending).decode()
            assert text.startswith(f'"Id"{sep}"Description"{eol}')
            assert text.endswith(f"{sep}{eol}") and '"say ""hi"""' in text
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True))
            assert [row[1] or None for row in rows[1:]] == values


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["2024-05-01T12:00:00.322Z", None], ["2024-05-01T12:00:00.322+0000", None]),
        (
            ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000+0000"],
            ["2024-05-01T12:00:00+0000", "2024-05-01T12:00:00.000+0000"],
        ),
        ([None, None], [None, None]),
    ],
)
def test_rest_datetime_text_writes_the_offset_form(texts, expected):
    assert rest_datetime_text(pa.array(texts, pa.string())).to_pylist() == expected
    chunked = pa.chunked_array([pa.array(texts[:1], pa.string()), pa.array(texts[1:], pa.string())])
    assert rest_datetime_text(chunked).to_pylist() == expected


# --- through the sandbox: the Bulk frame equals the REST frame ------------------------------------


@pytest.fixture(scope="module")
def empty_org() -> Iterator[Sandbox]:
    with Sandbox("salesforce", data="empty") as sb:
        yield sb


_TAGS = count()


def _rest_and_bulk(
    sb: Sandbox, descriptions: list[str | None], *, page: int, conversion: str = "default"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    tag = f"tag{next(_TAGS)}"
    conn = sb.connector(bulk_page_size=page)
    conn.bulk_read_parallel = 1  # the locator chain, pages of `page` rows
    df = pd.DataFrame({"LastName": [tag] * len(descriptions), "Description": descriptions})
    written = export_to_crm(conn, "Contact", df, progress=False)
    assert written.rejects.empty
    fields = {"LastName": "default", "Description": "default", "CreatedDate": conversion}
    frames = [
        import_from_crm(
            conn,
            "Contact",
            fields=fields,
            where=F("LastName") == tag,
            order_by="Id",
            mode=mode,
            progress=False,
        ).frame
        for mode in ("rest", "bulk")
    ]
    return frames[0], frames[1]


@given(
    descriptions=st.lists(st.one_of(st.none(), NASTY), min_size=1, max_size=12),
    page=st.integers(1, 4),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_bulk_frame_equals_rest_frame_cell_by_cell(empty_org, descriptions, page):
    rest, bulk = _rest_and_bulk(empty_org, descriptions, page=page)
    assert len(rest) == len(descriptions)
    pd.testing.assert_frame_equal(rest, bulk)


def test_raw_datetimes_have_one_text_form_on_both_paths(empty_org):
    # Regression: REST wrote "...322+0000", Bulk "...322Z": the text depended on the count.
    rest, bulk = _rest_and_bulk(empty_org, ["x", None], page=1, conversion="raw")
    assert list(rest["CreatedDate"]) == list(bulk["CreatedDate"])
    assert all(text.endswith("+0000") for text in bulk["CreatedDate"])


def test_multi_line_descriptions_over_a_megabyte_import_exactly():
    # Regression (the case): lines shaped like records inside a Description. Past
    # pyarrow's 1 MB block the old reader made phantom rows or raised ArrowInvalid.
    with Sandbox("salesforce", data="empty") as sb:
        lines = "".join(f"p,003{n:015d},2024-01-{n % 28 + 1:02d}\n" for n in range(40))
        descriptions = [f'Note {n}, "quoted"\n{lines}end {n}' for n in range(1200)]
        rest, bulk = _rest_and_bulk(sb, descriptions, page=100_000)
    assert len(bulk) == len(rest) == 1200
    assert sum(len(d) for d in descriptions) > 1 << 20
    pd.testing.assert_frame_equal(rest, bulk)


def test_longest_text_areas_read_back_whole(empty_org):
    # Salesforce's longest Description (32,000 characters): line breaks, quotes, emoji.
    unit = 'é "q", 😀\r\n'
    longest = (unit * (32_000 // len(unit) + 1))[:32_000]
    rest, bulk = _rest_and_bulk(empty_org, [longest, longest[::-1], None], page=1)
    assert rest["Description"].tolist()[0] == longest
    pd.testing.assert_frame_equal(rest, bulk)
