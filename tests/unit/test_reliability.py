"""Issue 11 on fakes: one grant's storage failure costs that grant only; a lease that cannot be
released is left to expire; nothing raises out of a sweep."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tests.support.fakes import MemoryLeases
from tests.unit.test_token_services import MERCHANT, World
from wxcomponent.ports import DueRefreshes
from wxcomponent.services.single_flight import SingleFlight

OTHER = "wx0000000000000001"
THIRD = "wx0000000000000002"


def throttled(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)


def test_a_lease_that_cannot_be_released_is_left_to_expire_and_the_value_still_returned() -> None:
    leases = MemoryLeases()

    def release(name: str, holder: str) -> None:
        raise throttled("DeleteItem")

    leases.release_lease = release  # type: ignore[method-assign]
    flight = SingleFlight(leases, clock=lambda: 1000.0)
    assert flight.run("k", lambda: None, lambda: "refreshed") == "refreshed"
    assert "k" in leases.leases  # it expires by itself (lease_ttl): nobody is blocked for longer


def test_one_grants_storage_failure_costs_that_grant_only_and_the_sweep_completes() -> None:
    world = World()
    for appid in (MERCHANT, OTHER, THIRD):
        world.authorize(appid)
    world.now += 7200  # every authorizer is due
    for appid in (MERCHANT, OTHER, THIRD):
        world.stores.authorizers.due[appid] = int(world.now) - 1
    store = world.stores.authorizers.store_refresh

    def flaky_store(appid: str, *args: Any) -> bool:
        if appid == OTHER:
            raise throttled("TransactWriteItems")
        return store(appid, *args)

    world.stores.authorizers.store_refresh = flaky_store  # type: ignore[method-assign,assignment]
    report = world.wx.refresher.sweep(lambda: 60_000)
    assert report.refreshed == 2 and dict(report.failed) == {"storage": 1}
    for appid in (MERCHANT, THIRD):
        stored = world.stores.authorizers.get_authorizer_token(appid)
        assert stored is not None and stored.issued_at == int(world.now)


def test_a_storage_failure_on_the_component_token_is_a_counted_failure_not_a_crash() -> None:
    world = World()

    def broken(token: Any) -> bool:
        raise throttled("PutItem")

    world.stores.tokens.save_component_token = broken  # type: ignore[method-assign]
    report = world.wx.refresher.sweep(lambda: 60_000)
    assert report.component_token_ok is False and dict(report.failed) == {"storage": 1}


def test_a_shard_that_cannot_be_read_costs_that_shard_only() -> None:
    world = World()
    world.authorize()
    world.now += 7200
    world.stores.authorizers.due[MERCHANT] = int(world.now) - 1
    due = world.stores.authorizers.due_refreshes
    shards = world.stores.authorizers.refresh_shards()
    broken = next(shard for shard in shards if MERCHANT not in due(shard, 10**12).authorizers)
    tried: list[str] = []

    def one_shard_broken(shard: str, now: int) -> DueRefreshes:
        tried.append(shard)
        if shard == broken:
            raise throttled("Query")
        return due(shard, now)

    world.stores.authorizers.due_refreshes = one_shard_broken  # type: ignore[method-assign]
    report = world.wx.refresher.sweep(lambda: 60_000)
    assert dict(report.failed) == {"storage": 1} and report.refreshed == 1  # the other shards were swept
    assert sorted(tried) == sorted(world.stores.authorizers.refresh_shards())
