from datetime import UTC, datetime

import pytest

from crmframes import AutoIndex, CampaignStore, ConfigError, DataError
from crmframes.operations.autoindex import format_option, parse_option
from crmframes.schema import Field, ObjectSchema


class Options:
    def __init__(self, **values):
        self.options = dict(values)


def test_option_name_and_format_are_the_seeds():
    index = AutoIndex(Options(), activity="crmImport", instance="sfdc")
    assert index.option_name == "LASTIMPORT_sfdc_crmImport"
    assert format_option(datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)) == "2026/01/02 03:04:05"
    assert parse_option("2026/01/02 03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_first_run_has_no_start_and_later_runs_read_the_store():
    store = CampaignStore()
    index = AutoIndex(store, activity="a")
    assert index.start() is None
    store.options["LASTIMPORT_default_a"] = "2026/01/02 03:04:05"
    assert index.start() == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_the_field_is_the_first_the_object_has():
    schema = ObjectSchema(
        "Contact",
        {"SystemModstamp": Field("SystemModstamp", "datetime")},
        "Id",
        modified_fields=("SystemModstamp",),
    )
    assert AutoIndex(Options(), activity="a").pick_field(schema) == "SystemModstamp"
    assert (
        AutoIndex(Options(), activity="a", fields=["systemmodstamp"]).pick_field(schema)
        == "SystemModstamp"
    )
    with pytest.raises(ConfigError, match="no last-modified field"):
        AutoIndex(Options(), activity="a", fields="LastModifiedDate").pick_field(schema)


@pytest.mark.parametrize("bad", ["", "with space", "semi;colon"])
def test_bad_names_are_refused(bad):
    with pytest.raises(ConfigError):
        AutoIndex(Options(), activity=bad)


def test_a_corrupt_stored_value_is_a_clear_error():
    with pytest.raises(DataError, match="yyyy/MM/dd"):
        AutoIndex(Options(LASTIMPORT_default_a="yesterday"), activity="a").start()


def test_a_store_is_needed():
    with pytest.raises(TypeError, match="store with options"):
        AutoIndex(object(), activity="a")
