"""Sweeps and vends over a DynamoDB that throttles, fails, stalls and drops connections before and
after applying writes, with WeChat rotating every refresh token (issue 11). Whatever a faulty sweep
did, a clean one afterwards leaves every grant holding WeChat's current refresh token, and no vend
ever hands out a token WeChat does not hold. WXCOMPONENT_FAULT_ROUNDS: 3 in `make test`, 20 in
`make soak`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from infra.local.emulator import Emulator
from tests.conftest import World
from tests.support.clean_sweep import assert_clean_sweep_holds_wechats_refresh_tokens
from tests.support.fault_proxy import FAULTS, FaultProxy
from tests.support.graph import graph
from wxcomponent.bootstrap import Container
from wxcomponent.domain.errors import StorageUnavailable
from wxcomponent.services.single_flight import SingleFlight
from wxcomponent.settings import Settings

ROUNDS = int(os.environ.get("WXCOMPONENT_FAULT_ROUNDS", "3"))
SHARE = 0.3  # of all DynamoDB requests; the client's own 3 attempts absorb most, not all


def shifted_clock(offset: float) -> Callable[[], float]:
    return lambda: time.time() + offset


def test_faulty_storage_loses_no_refresh_token_and_vends_no_wrong_token(
    world: World, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.push_ticket()
    # Every sandbox account WeChat gives tokens (one authorizes without API permission: no token to lose).
    accounts = [a["appid"] for a in world.control("GET", "state")["accounts"] if a["api_permission"]]
    for appid in accounts:
        world.control("POST", "authorize", {"appid": appid})
        world.control("POST", f"accounts/{appid}/rotation", {"enabled": True})
    setup = graph()  # bound to the emulator directly: setting up is never faulted
    surfaced: list[str] = []
    vended = 0
    with FaultProxy(emulator.url, SHARE, seed=20261122) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        for round_ in range(ROUNDS):
            offset = round_ * (SingleFlight.lease_ttl + 1)  # past any lease a faulty round left behind
            for appid in accounts:
                setup.authorizers.delete_authorizer_token(appid)
                setup.authorizers.set_refresh_due(appid, int(time.time() + offset) - 1)
            faulty = Container(Settings.from_environment(), clock=shifted_clock(offset))
            proxy.enabled = True
            try:
                report = faulty.refresher.sweep(lambda: 60_000)
                surfaced.extend(report.failed)
            except (ClientError, BotoCoreError, StorageUnavailable) as exc:  # EventBridge runs the next sweep
                surfaced.append(type(exc).__name__)
            if round_ == 0:  # one fault certain to outlast botocore's attempts, whatever the RNG does
                proxy.forced = ["error"] * 5
            for appid in accounts:
                answer = faulty.vendor.answer({"kind": "authorizer", "appid": appid})
                if answer.status != 200:
                    # the table's failure, past botocore's attempts: the contract's internal, retryable
                    assert answer.status == 500, answer
                    assert answer.body["error"]["code"] == "internal" and answer.body["error"]["retryable"], answer
                    surfaced.append("vend: storage unavailable")
                    continue
                # never a token WeChat does not hold (a stale one read back after a lost write, say)
                token = answer.body["access_token"]
                assert world.sandbox.world.merchants.check_access_token(token) == appid, round_
                vended += 1
            proxy.enabled = False
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.url)
    print(f"faults injected: {dict(proxy.injected)}, forwarded: {proxy.forwarded}; surfaced: {sorted(surfaced)}")
    assert set(proxy.injected) == set(FAULTS), proxy.injected  # every kind of fault happened
    assert surfaced, "the faults never got past the client's retries: the test proved nothing"
    assert vended > 0
    assert "vend: storage unavailable" in surfaced  # the forced one, at least

    later = ROUNDS * (SingleFlight.lease_ttl + 1)
    assert_clean_sweep_holds_wechats_refresh_tokens(world, accounts, later)


def test_a_lease_whose_answer_was_lost_is_still_ours(
    world: World, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table applied our claim, the connection dropped, botocore sent it again: the retry must
    not take our own lease for someone else's, or every such refresh waits and fails as contended."""
    with FaultProxy(emulator.url, 0.0, seed=1) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        leases = Container(Settings.from_environment()).leases
        proxy.forced = ["drop_after"]
        assert leases.acquire_lease("AUTHORIZER#wxlost", "holder-a", time.time(), 100)
        assert proxy.injected["drop_after"] == 1
        assert not leases.acquire_lease("AUTHORIZER#wxlost", "holder-b", time.time(), 100)  # still exclusive
        leases.release_lease("AUTHORIZER#wxlost", "holder-a")
        assert leases.acquire_lease("AUTHORIZER#wxlost", "holder-b", time.time(), 100)
