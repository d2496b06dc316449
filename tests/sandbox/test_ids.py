import pytest

from crmframes.sandbox.salesforce.ids import IdFactory, is_salesforce_id, normalize_id, to_18


def test_suffix_matches_salesforce():
    assert to_18("001D000000IqhSL") == "001D000000IqhSLIAZ"


def test_factory_ids_are_valid_and_deterministic():
    a, b = IdFactory("003"), IdFactory("003")
    ids = [a.next() for _ in range(5)]
    assert ids == [b.next() for _ in range(5)]
    assert all(is_salesforce_id(i) and i.startswith("003") and len(i) == 18 for i in ids)
    assert len(set(ids)) == 5


@pytest.mark.parametrize("value", ["003Rs0000000001", "003Rs0000000001IAA"])
def test_normalize_accepts_15_and_18(value):
    assert normalize_id(value) == "003Rs0000000001IAA"


@pytest.mark.parametrize(
    "value", ["", "abc", "003Rs0000000001XYZ", "003Rs000000000!", None, 42, "003Rs0000000001IA"]
)
def test_malformed_ids_are_refused(value):
    assert normalize_id(value) is None
