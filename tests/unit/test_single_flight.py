"""The single-flight lease with a fake clock: one refresh, waiters take the winner's value."""

from __future__ import annotations

import pytest

from tests.support.clock import FakeClock
from tests.support.fakes import MemoryLeases
from wxcomponent.services.single_flight import RefreshContended, SingleFlight


def test_a_present_value_costs_no_lease() -> None:
    leases = MemoryLeases()
    flight = SingleFlight(leases, clock=FakeClock(1000.0))
    assert flight.run("k", lambda: "value", lambda: pytest.fail("no refresh")) == "value"
    assert leases.leases == {}


def test_the_holder_refreshes_once_and_gives_the_lease_back() -> None:
    leases, clock = MemoryLeases(), FakeClock(1000.0)
    calls: list[str] = []
    flight = SingleFlight(leases, clock=clock, sleep=clock.sleep)

    def refresh() -> str:
        calls.append("refresh")
        return "new"

    assert flight.run("k", lambda: None, refresh) == "new"
    assert calls == ["refresh"] and leases.leases == {}


def test_the_holder_rereads_after_taking_the_lease() -> None:
    """Someone finished just before we took the lease: no second refresh."""
    reads = iter([None, "theirs"])
    flight = SingleFlight(MemoryLeases(), clock=FakeClock(1000.0))
    assert flight.run("k", lambda: next(reads), lambda: pytest.fail("no refresh")) == "theirs"


def test_a_waiter_takes_the_winners_value_without_refreshing() -> None:
    leases, clock = MemoryLeases(), FakeClock(1000.0)
    leases.acquire_lease("k", "winner", clock.now, 15)
    reads = iter([None, None, None, "winner's"])
    flight = SingleFlight(leases, clock=clock, sleep=clock.sleep)
    assert flight.run("k", lambda: next(reads), lambda: pytest.fail("no refresh")) == "winner's"
    assert leases.leases["k"][0] == "winner"


def test_a_crashed_holder_blocks_nobody_past_its_lease() -> None:
    leases, clock = MemoryLeases(), FakeClock(1000.0)
    leases.acquire_lease("k", "crashed", clock.now, 2)
    flight = SingleFlight(leases, clock=clock, sleep=clock.sleep, wait=8)
    assert flight.run("k", lambda: None, lambda: "mine") == "mine"
    assert clock.now > 1002


def test_a_waiter_gives_up_after_its_wait() -> None:
    leases, clock = MemoryLeases(), FakeClock(1000.0)
    leases.acquire_lease("k", "slow", clock.now, 60)
    flight = SingleFlight(leases, clock=clock, sleep=clock.sleep, wait=3)
    with pytest.raises(RefreshContended):
        flight.run("k", lambda: None, lambda: pytest.fail("no refresh"))
    assert 1003 <= clock.now < 1004


def test_a_failed_refresh_releases_the_lease() -> None:
    leases = MemoryLeases()
    flight = SingleFlight(leases, clock=FakeClock(1000.0))

    def boom() -> str:
        raise RuntimeError("WeChat down")

    with pytest.raises(RuntimeError):
        flight.run("k", lambda: None, boom)
    assert leases.leases == {}
