from datetime import UTC, datetime, timedelta

import pytest

from crmframes.sandbox import Clock

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_clock_follows_real_time_by_default():
    before = datetime.now(UTC)
    assert (
        before - timedelta(seconds=1) <= Clock().now() <= datetime.now(UTC) + timedelta(seconds=1)
    )


def test_frozen_clock_moves_only_when_told():
    clock = Clock(START, frozen=True)
    assert clock.now() == START
    assert clock.advance(minutes=5) == START + timedelta(minutes=5)
    assert clock.advance(timedelta(hours=1), seconds=1) == START + timedelta(
        hours=1, minutes=5, seconds=1
    )


def test_set_keeps_a_running_clock_running():
    clock = Clock()
    clock.set(START)
    assert abs((clock.now() - START).total_seconds()) < 1
    assert not clock.frozen


def test_resume_continues_from_the_frozen_reading():
    clock = Clock(START, frozen=True)
    clock.resume()
    assert abs((clock.now() - START).total_seconds()) < 1


def test_clock_refuses_naive_and_backward_moves():
    clock = Clock()
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
