import pytest

from crmframes.sandbox import Faults


def test_times_fires_on_the_next_n_matching_calls_only():
    faults = Faults()
    fault = faults.add("unavailable", "/query", times=2)
    hits = [faults.take_request("GET", "/services/data/v59.0/query/?q=x") for _ in range(3)]
    assert hits == [fault, fault, None]
    assert faults.take_request("GET", "/services/data/v59.0/sobjects/") is None
    assert fault.fired == 2


def test_every_fires_on_each_kth_matching_call():
    faults = Faults()
    fault = faults.add("rate_limited", "composite", every=3)
    fired = [faults.take_request("POST", "/composite/sobjects") is fault for _ in range(9)]
    assert fired == [False, False, True] * 3


def test_method_is_part_of_the_pattern():
    faults = Faults()
    faults.add("drop", "^PATCH ")
    assert faults.take_request("GET", "/x") is None
    assert faults.take_request("PATCH", "/x") is not None


def test_lock_row_faults_count_records_not_calls():
    faults = Faults()
    fault = faults.add("lock_row", "Contact", times=2)
    assert faults.take_request("PATCH", "/composite/sobjects") is None
    taken = [
        faults.take_record("PATCH", "/composite/sobjects", name)
        for name in ("Account", "Contact", "Contact", "Contact")
    ]
    assert taken == [None, fault, fault, None]


def test_clear_and_active():
    faults = Faults()
    faults.add("slow", "", times=1)
    assert len(faults.active) == 1
    faults.clear()
    assert faults.active == []


@pytest.mark.parametrize(("kwargs", "message"), [({"every": 0}, "every"), ({"times": -1}, "times")])
def test_bad_fault_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Faults().add("unavailable", **kwargs)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown fault kind"):
        Faults().add("explode")  # type: ignore[arg-type]
