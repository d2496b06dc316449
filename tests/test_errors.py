import pytest

from crmframes import errors
from crmframes.errors import (
    ColumnNotFoundError,
    ConnectorError,
    CrmframesError,
    FilterError,
    RateLimitedError,
    UnavailableError,
)


def test_every_error_derives_from_the_root():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), CrmframesError)


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.ConfigError, ValueError),
        (errors.FilterError, ValueError),
        (errors.DataError, ValueError),
        (errors.ColumnNotFoundError, KeyError),
        (errors.ColumnNotFoundError, ValueError),
    ],
)
def test_errors_are_also_the_builtin_a_user_catches(cls, builtin):
    assert issubclass(cls, builtin)


def test_column_not_found_lists_the_columns_without_keyerror_quoting():
    exc = ColumnNotFoundError("Emial", ["Id", "Email"])
    assert str(exc) == "column 'Emial' is not in the frame; columns are: 'Id', 'Email'"
    assert exc.column == "Emial"


def test_filter_error_names_the_rule():
    exc = FilterError("AND and OR on one level", rule="one-operator-per-level")
    assert exc.rule == "one-operator-per-level"
    assert "one-operator-per-level" in str(exc)


def test_connector_error_carries_context_and_truncates_payload():
    exc = ConnectorError(
        "bad query",
        system="salesforce",
        operation="query Contact",
        status=400,
        code="MALFORMED_QUERY",
        payload="x" * 2000,
    )
    assert str(exc) == "salesforce query Contact (HTTP 400, MALFORMED_QUERY): bad query"
    assert len(exc.payload) == 503
    assert exc.retryable is False


def test_transient_errors_are_retryable_by_default():
    assert UnavailableError("down", system="dynamics", operation="x").retryable
    limited = RateLimitedError("slow down", retry_after=3.0, system="dynamics", operation="x")
    assert limited.retryable
    assert limited.retry_after == 3.0


def test_every_connector_error_can_be_reworded_keeping_what_it_knows() -> None:
    """``reworded`` builds ``type(self)(...)``: every subclass must take the base's arguments."""

    def every(cls: type[ConnectorError]) -> list[type[ConnectorError]]:
        return [cls] + [sub for child in cls.__subclasses__() for sub in every(child)]

    for cls in every(ConnectorError):
        error = cls(
            "said", system="s", operation="op", status=409, code="C", retryable=True,
            retry_after=2.0, payload="body", outcome_unknown=True,
        )  # fmt: skip
        again = error.reworded("said more")
        assert type(again) is cls and again.args[0] == "said more"
        assert (again.status, again.code, again.retryable, again.retry_after) == (
            409,
            "C",
            True,
            2.0,
        )
        assert (again.payload, again.outcome_unknown, again.system) == ("body", True, "s")
