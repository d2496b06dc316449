import json
import math
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from crmframes.errors import ColumnNotFoundError, DataError, FilterError
from crmframes.filters import (
    RULES,
    And,
    Compare,
    F,
    IsIn,
    Not,
    Or,
    StrMatch,
    evaluate,
    from_dict,
    literal_family,
    to_literal,
    validate,
)

A, B, C = F("a") > 1, F("b") == "x", F("c") < 3


class NoOffset(tzinfo):
    def utcoffset(self, dt: datetime | None) -> None:
        return None


def rule_of(excinfo: pytest.ExceptionInfo[FilterError]) -> str:
    assert excinfo.value.rule in RULES
    return excinfo.value.rule


# --- building ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (F("a") > 1, "F('a') > 1"),
        (F("a") == "x", "F('a') == 'x'"),
        (F("a") == None, "F('a').is_null()"),  # noqa: E711
        (F("a") != None, "F('a').not_null()"),  # noqa: E711
        (F("a").is_null(), "F('a').is_null()"),
        (F("a").isin(["x", "y"]), "F('a').isin(['x', 'y'])"),
        (F("a").notin([1]), "F('a').notin([1])"),
        (F("a").contains("o'b"), "F('a').contains(\"o'b\")"),
        (F("a").startswith("Mc"), "F('a').startswith('Mc')"),
        (A & B, "(F('a') > 1) & (F('b') == 'x')"),
        ((A & B) | ~C, "((F('a') > 1) & (F('b') == 'x')) | (~(F('c') < 3))"),
        (~(A | B), "~((F('a') > 1) | (F('b') == 'x'))"),
    ],
)
def test_repr_reads_like_the_python_that_builds_it(expr, text):
    assert repr(expr) == text


def test_reflected_comparisons_keep_the_field_on_the_left():
    assert (1 < F("a")) == (F("a") > 1)  # noqa: SIM300
    assert ("x" == F("a")) == (F("a") == "x")  # noqa: SIM300


def test_combining_flattens_one_operator_per_level():
    assert And((A, B, C)) == A & B & C
    assert And((A, B, C)) == A & (B & C)
    assert Or((A, B, C)) == A | B | C
    assert Or((And((A, B)), C)) == (A & B) | C


def test_structural_equality_and_hash_keep_the_literal_type():
    assert (F("a") == 1) == (F("a") == 1)
    assert hash(F("a") == 1) == hash(F("a") == 1)
    assert len({F("a") == 1, F("a") == 1.0, F("a") == True, F("a") == Decimal(1)}) == 4  # noqa: E712
    assert (F("a") == 1) != (F("b") == 1)
    assert F("a").isin([1]) != F("a").notin([1])
    assert F("a").is_null() != F("a").not_null()
    assert A & B != A | B


def test_numpy_and_pandas_literals_are_normalised():
    assert (F("a") == np.int64(3)) == (F("a") == 3)
    assert (F("a") == np.float32(1.5)) == (F("a") == 1.5)
    assert (F("a") == np.bool_(True)) == (F("a") == True)  # noqa: E712
    assert (F("a") == np.str_("x")) == (F("a") == "x")
    moment = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (F("a") == pd.Timestamp("2024-01-02 03:04:05")) == (F("a") == moment)
    assert (F("a") == np.datetime64("2024-01-02T03:04:05")) == (F("a") == moment)
    assert F("a").isin(np.array([1, 2])) == F("a").isin([1, 2])
    assert F("a").isin(pd.Series(["x"])) == F("a").isin(["x"])


def test_naive_datetimes_are_read_in_utc_and_aware_ones_converted():
    naive = F("a") > datetime(2024, 1, 1, 10)
    paris = F("a") > datetime(2024, 1, 1, 11, tzinfo=timezone(timedelta(hours=1)))
    assert naive == paris
    assert naive.value == datetime(2024, 1, 1, 10, tzinfo=UTC)  # type: ignore[attr-defined]
    assert to_literal(pd.Timestamp("2024-01-01T12:00+02:00")) == datetime(
        2024, 1, 1, 10, tzinfo=UTC
    )


def test_literal_families():
    assert [literal_family(v) for v in (True, 1, 1.5, Decimal(1), "x")] == [
        "boolean",
        "number",
        "number",
        "number",
        "string",
    ]
    assert literal_family(date(2024, 1, 1)) == "date"
    assert literal_family(datetime(2024, 1, 1, tzinfo=UTC)) == "datetime"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: bool(A), "no truth value"),
        (lambda: A and B, "no truth value"),
        (lambda: 1 < F("a") < 5, "no truth value"),
        (lambda: bool(F("a")), "is a field"),
        (lambda: F("a") & A, "is a field"),
        (lambda: ~F("a"), "is a field"),
        (lambda: A & True, "cannot combine"),
        (lambda: F(3), "field name"),  # type: ignore[arg-type]
        (lambda: F("a").isin("abc"), "list of values"),
        (lambda: validate(F("a")), "built with F"),  # type: ignore[arg-type]
        (lambda: validate(True), "built with F"),  # type: ignore[arg-type]
    ],
)
def test_misuse_raises_type_error_with_a_hint(build, message):
    with pytest.raises(TypeError, match=message):
        build()


# --- the rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "rule"),
    [
        (lambda: F(""), "malformed"),
        (lambda: F("Account.Name"), "no-joins"),
        (lambda: A & ~C, "no-and-not"),
        (lambda: ~C & A, "no-and-not"),
        (lambda: F("a") == F("b"), "literal-values"),
        (lambda: F("a") > (F("b") > 1), "literal-values"),
        (lambda: F("a").isin([F("b")]), "literal-values"),
        (lambda: F("a") > object(), "literal-type"),
        (lambda: F("a") > float("nan"), "literal-type"),
        (lambda: F("a") > math.inf, "literal-type"),
        (lambda: F("a") > Decimal("NaN"), "literal-type"),
        (lambda: F("a") > Decimal("-Infinity"), "literal-type"),
        (lambda: F("a") > pd.NaT, "literal-type"),
        (lambda: F("a") > np.datetime64("NaT"), "literal-type"),
        (lambda: F("a") == pd.NA, "literal-type"),
        (lambda: F("a") < None, "literal-type"),
        (lambda: F("a") == b"x", "literal-type"),
        (lambda: F("a") == "\ud800", "literal-type"),
        (lambda: F("a") > pd.Timestamp("2024-01-01 00:00:00.000000001"), "literal-type"),
        (lambda: F("a") > datetime(2024, 1, 1, tzinfo=NoOffset()), "literal-type"),
        (lambda: F("a").isin([1, "x"]), "literal-type"),
        (lambda: F("a").isin([date(2024, 1, 1), datetime(2024, 1, 1)]), "literal-type"),
        (lambda: F("a").isin(["x", None]), "literal-type"),
        (lambda: F("a").contains(5), "literal-type"),
        (lambda: F("a") > True, "operator-type"),
        (lambda: F("a").isin([]), "empty-in"),
        (lambda: F("a").notin(()), "empty-in"),
    ],
)
def test_the_builder_names_the_broken_rule(build, rule):
    with pytest.raises(FilterError) as excinfo:
        build()
    assert rule_of(excinfo) == rule
    assert f"(rule: {rule})" in str(excinfo.value)


@pytest.mark.parametrize(
    ("expr", "rule"),
    [
        (And((A, Not(C))), "no-and-not"),
        (Or((A, And((B, Not(C))))), "no-and-not"),
        (And((A, Or((Not(C),)))), "no-and-not"),
        (And((A, And((Or((Not(C),)),)))), "no-and-not"),
        (Compare("Account.Name", "==", "x"), "no-joins"),
        (Compare("a", "==", object()), "literal-type"),
        (Compare("a", "~", 1), "malformed"),
        (StrMatch("a", "like", "x"), "malformed"),  # type: ignore[arg-type]
        (IsIn("a", ()), "empty-in"),
        (And(()), "malformed"),
        (Not(3), "malformed"),  # type: ignore[arg-type]
    ],
)
def test_validate_names_the_rule_of_any_tree(expr, rule):
    with pytest.raises(FilterError) as excinfo:
        validate(expr)
    assert rule_of(excinfo) == rule


@pytest.mark.parametrize(
    "expr",
    [
        A | ~C,
        ~(A & B),
        ~~A,
        (A & B) | (~C),
        F("a").is_null() | ~F("b").isin(["x"]),
    ],
)
def test_negations_outside_an_and_are_allowed(expr):
    assert validate(expr) is expr


@pytest.mark.parametrize(
    "expr",
    [
        F("a") > 1,
        F("a") <= 2.5,
        F("a") != Decimal("1.10"),
        F("a").is_null(),
        (F("a") > 1) & F("b").not_null() | ~(F("c") == 0),
    ],
)
def test_strict_mode_accepts_numbers_and_null_checks(expr):
    assert validate(expr, strict=True) is expr


@pytest.mark.parametrize(
    "expr",
    [
        F("a") == "x",
        F("a") == True,  # noqa: E712
        F("a") > date(2024, 1, 1),
        F("a").isin([1, 2]),
        F("a").contains("x"),
        (F("a") > 1) | (F("b") == "x"),
    ],
)
def test_strict_mode_refuses_everything_else(expr):
    validate(expr)
    with pytest.raises(FilterError) as excinfo:
        validate(expr, strict=True)
    assert rule_of(excinfo) == "numbers-and-null-only"


# --- the dict form ---------------------------------------------------------------------------

EVERY_LITERAL = (
    (F("s") == "O'Neil \\ \n é")
    & (F("i") > 3)
    & (F("f") <= 2.5)
    & (F("d") != Decimal("1.10"))
    & (F("b") == False)  # noqa: E712
    & (F("day") >= date(2024, 2, 29))
    & (F("at") < datetime(2024, 1, 1, 10, 30, 15, 250000, tzinfo=UTC))
    & F("n").is_null()
    & F("m").not_null()
    & F("s").notin(["a", "b"])
    & F("i").isin([1, 2])
    & (F("s").contains("%") | ~F("s").startswith("_") | F("s").endswith("["))
)


def test_to_dict_is_plain_json_data():
    data = EVERY_LITERAL.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["and"][0] == {"field": "s", "op": "==", "value": "O'Neil \\ \n é"}
    assert data["and"][3] == {"field": "d", "op": "!=", "value": {"decimal": "1.10"}}
    assert data["and"][5] == {"field": "day", "op": ">=", "value": {"date": "2024-02-29"}}
    assert data["and"][6] == {
        "field": "at",
        "op": "<",
        "value": {"datetime": "2024-01-01T10:30:15.250000+00:00"},
    }
    assert data["and"][-1]["or"][1] == {"not": {"field": "s", "op": "startswith", "value": "_"}}


def test_from_dict_round_trips():
    assert from_dict(EVERY_LITERAL.to_dict()) == EVERY_LITERAL
    assert from_dict(json.loads(json.dumps(EVERY_LITERAL.to_dict()))) == EVERY_LITERAL


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"field": "a", "op": "==", "value": None}, F("a").is_null()),
        ({"field": "a", "op": "!=", "value": None}, F("a").not_null()),
        ([{"field": "a", "op": ">", "value": 1}], F("a") > 1),
        (
            [{"field": "a", "op": ">", "value": 1}, "AND", {"field": "b", "op": "is_null"}],
            (F("a") > 1) & F("b").is_null(),
        ),
        (
            [{"field": "a", "op": ">", "value": 1}, "or", {"field": "b", "op": "is_null"}],
            (F("a") > 1) | F("b").is_null(),
        ),
        (
            {"or": [{"field": "a", "op": "<", "value": {"date": "2024-01-01"}}]},
            F("a") < date(2024, 1, 1),
        ),
    ],
)
def test_from_dict_accepts_campaign_rows_and_null_values(data, expected):
    assert from_dict(data) == expected


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (
            [
                {"field": "a", "op": "is_null"},
                "and",
                {"field": "b", "op": "is_null"},
                "or",
                {"field": "c", "op": "is_null"},
            ],
            "one-operator-per-level",
        ),
        (
            {"and": [{"field": "a", "op": "is_null"}], "or": [{"field": "b", "op": "is_null"}]},
            "one-operator-per-level",
        ),
        ([{"field": "a", "op": "is_null"}, "and"], "malformed"),
        ([{"field": "a", "op": "is_null"}, "xor", {"field": "b", "op": "is_null"}], "malformed"),
        ("a > 1", "malformed"),
        ({"field": "a", "op": "between", "value": 1}, "malformed"),
        ({"field": "a", "op": ">"}, "malformed"),
        ({"field": "a", "op": ">", "value": 1, "extra": 2}, "malformed"),
        ({"field": "a", "op": "isin", "values": "x"}, "malformed"),
        ({"and": []}, "malformed"),
        ({"and": [], "x": 1}, "malformed"),
        ({"field": "a", "op": ">", "value": [1]}, "malformed"),
        ({"field": "a", "op": ">", "value": {"when": 1}}, "malformed"),
        ({"field": "a", "op": ">", "value": {"date": "2024-13-01"}}, "literal-type"),
        ({"field": "a", "op": ">", "value": {"decimal": "one"}}, "literal-type"),
    ],
)
def test_from_dict_refuses_malformed_data(data, rule):
    with pytest.raises(FilterError) as excinfo:
        from_dict(data)
    assert rule_of(excinfo) == rule


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        ({"field": "Account.Name", "op": "is_null"}, "no-joins"),
        ({"field": "", "op": "is_null"}, "malformed"),
        ({"field": "a", "op": "==", "value": {"field": "b"}}, "literal-values"),
        ({"field": "a", "op": "isin", "values": [{"field": "b"}]}, "literal-values"),
        (
            {"and": [{"field": "a", "op": "is_null"}, {"not": {"field": "b", "op": "is_null"}}]},
            "no-and-not",
        ),
        (
            {
                "and": [
                    {"field": "a", "op": "is_null"},
                    {"or": [{"not": {"field": "b", "op": "is_null"}}]},
                ]
            },
            "no-and-not",
        ),
        ({"field": "a", "op": "isin", "values": []}, "empty-in"),
        ({"field": "a", "op": "contains", "value": 3}, "literal-type"),
        ({"field": "a", "op": "<", "value": True}, "operator-type"),
    ],
)
def test_trees_from_data_are_refused_by_validate(data, rule):
    expr = from_dict(data)
    with pytest.raises(FilterError) as excinfo:
        validate(expr)
    assert rule_of(excinfo) == rule


# --- evaluate: the contract on tiny frames ---------------------------------------------------

TEXT = pd.DataFrame({"s": ["Abc", "abd", None, "_x", "Zed", "O'Neil", ""]})


@pytest.mark.parametrize(
    ("expr", "mask"),
    [
        (F("s") == "abc", [1, 0, 0, 0, 0, 0, 0]),
        (F("s") != "ABC", [0, 1, 1, 1, 1, 1, 1]),
        (~(F("s") == "abc"), [0, 1, 1, 1, 1, 1, 1]),
        (F("s") < "b", [1, 1, 0, 1, 0, 0, 1]),  # '_' (U+005F) sorts before 'a' once lowered
        (F("s") > "z", [0, 0, 0, 0, 1, 0, 0]),
        (F("s") >= "", [1, 1, 0, 1, 1, 1, 1]),
        (F("s") == "", [0, 0, 0, 0, 0, 0, 1]),
        (F("s").isin(["ABC", "zed"]), [1, 0, 0, 0, 1, 0, 0]),
        (F("s").notin(["ABC", "zed"]), [0, 1, 1, 1, 0, 1, 1]),
        (F("s").contains("B"), [1, 1, 0, 0, 0, 0, 0]),
        (~F("s").contains("B"), [0, 0, 1, 1, 1, 1, 1]),
        (F("s").startswith("o'"), [0, 0, 0, 0, 0, 1, 0]),
        (F("s").endswith("D"), [0, 1, 0, 0, 1, 0, 0]),
        (F("s").contains(""), [1, 1, 0, 1, 1, 1, 1]),
        (F("s").contains("%"), [0, 0, 0, 0, 0, 0, 0]),
        (F("s").contains("_"), [0, 0, 0, 1, 0, 0, 0]),
        (F("s").is_null(), [0, 0, 1, 0, 0, 0, 0]),
        (F("s").not_null(), [1, 1, 0, 1, 1, 1, 1]),
    ],
)
def test_evaluate_text_is_case_insensitive_and_two_valued(expr, mask):
    assert evaluate(expr, TEXT).tolist() == [bool(m) for m in mask]


NUMBERS = pd.DataFrame(
    {
        "n": pd.array([1, None, 3], dtype="Int64"),
        "f": [0.1, float("nan"), 2.5],
        "b": pd.array([True, None, False], dtype="boolean"),
    }
)


@pytest.mark.parametrize(
    ("expr", "mask"),
    [
        (F("n") > 1, [0, 0, 1]),
        (F("n") != 1, [0, 1, 1]),
        (~(F("n") > 1), [1, 1, 0]),
        (F("n").isin([1, 3.0]), [1, 0, 1]),
        (F("n").notin([1]), [0, 1, 1]),
        (F("f") == Decimal("0.1"), [1, 0, 0]),  # the decimal 0.1, as the CRMs read it
        (F("f").isin([Decimal("2.5")]), [0, 0, 1]),
        (F("f") >= 0.1, [1, 0, 1]),
        (F("n") < Decimal("1.5"), [1, 0, 0]),
        (F("b") == True, [1, 0, 0]),  # noqa: E712
        (F("b") != True, [0, 1, 1]),  # noqa: E712
        ((F("n") > 1) | F("b").is_null(), [0, 1, 1]),
        ((F("n") > 0) & (F("f") < 1), [1, 0, 0]),
    ],
)
def test_evaluate_numbers_and_booleans(expr, mask):
    assert evaluate(expr, NUMBERS).tolist() == [bool(m) for m in mask]


def test_evaluate_dates_and_datetimes():
    df = pd.DataFrame(
        {
            "day": pd.Series([date(2024, 1, 1), None, date(2024, 3, 1)], dtype=object),
            "at": pd.to_datetime(
                ["2024-01-01T10:00:00Z", None, "2024-01-01T10:00:00.500Z"],
                utc=True,
                format="ISO8601",
            ),
            "naive": pd.to_datetime(["2024-01-01T10:00:00", None, "2024-01-01T11:00:00"]),
        }
    )
    assert evaluate(F("day") > date(2024, 2, 1), df).tolist() == [False, False, True]
    assert evaluate(F("day").notin([date(2024, 1, 1)]), df).tolist() == [False, True, True]
    ten = datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert evaluate(F("at") > ten, df).tolist() == [False, False, True]
    assert evaluate(F("at") == ten, df).tolist() == [True, False, False]
    paris = datetime(2024, 1, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert evaluate(F("naive") >= paris, df).tolist() == [True, False, True]
    assert evaluate(F("at").isin([ten]), df).tolist() == [True, False, False]


def test_evaluate_keeps_the_frame_index():
    df = pd.DataFrame({"a": [1, 2]}, index=["x", "y"])
    assert evaluate(F("a") > 1, df).to_dict() == {"x": False, "y": True}


def test_evaluate_names_a_missing_column():
    with pytest.raises(ColumnNotFoundError, match="'zz'"):
        evaluate(F("zz") > 1, NUMBERS)


def test_evaluate_refuses_a_column_of_another_type():
    with pytest.raises(DataError, match="not a number"):
        evaluate(F("s") > 1, TEXT)
    with pytest.raises(DataError, match="not a string"):
        evaluate(F("n") == "1", NUMBERS)


def test_evaluate_validates_first():
    with pytest.raises(FilterError) as excinfo:
        evaluate(And((A, Not(C))), NUMBERS)
    assert rule_of(excinfo) == "no-and-not"


def test_every_name_of_the_old_filters_module_is_still_importable():
    # filters.py became a package split by job (issue 12); other code imports these names
    import crmframes.filters as package

    names = {
        "RULES", "And", "Compare", "CompareOp", "Expr", "F", "Family", "IsIn", "IsNull", "Not",
        "NotIn", "NotNull", "Or", "StrMatch", "TextFunction", "evaluate", "from_dict",
        "literal_family", "to_literal", "validate",
    }  # fmt: skip
    assert names <= set(package.__all__)
    assert all(hasattr(package, name) for name in names)
    homes = {name: getattr(package, name).__module__ for name in ("F", "validate", "from_dict")}
    assert homes == {
        "F": "crmframes.filters.tree",
        "validate": "crmframes.filters.validation",
        "from_dict": "crmframes.filters.dicts",
    }
