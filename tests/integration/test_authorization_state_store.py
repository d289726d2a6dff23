"""The stores behind single-use states and codes (issue 19), one contract for the in-memory fake and
the DynamoDB adapter over HTTP to the emulator: a state is used once, and a code's claim carries
where the code came from and stops counting at its lifetime."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from infra.local.emulator import Emulator
from tests.support.fakes import MemoryStores
from tests.support.fault_proxy import FaultProxy
from wxcomponent.adapters.dynamodb import Table, Tables
from wxcomponent.adapters.dynamodb.code_claims import CODE_CLAIM_LIFETIME
from wxcomponent.adapters.dynamodb.table import CLIENT_CONFIG
from wxcomponent.domain.binding import CodeOrigin
from wxcomponent.keys import state_key
from wxcomponent.ports import StateUse, Stores

A = "wx1111111111111111"
NOW = 1_767_225_600.0
STATE, PRE_AUTH = "s" * 64, "p" * 64  # hashes, as the service hands them in


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    if request.param == "memory":
        yield MemoryStores()
        return
    table = request.getfixturevalue("table")
    yield Tables.on(Table(table))


# -- states ----------------------------------------------------------------------------------------


def test_a_state_is_used_once_and_only_its_first_code_may_come_back(stores: Stores) -> None:
    states = stores.authorization_states
    states.save_state(STATE, PRE_AUTH, NOW + 600)
    assert states.consume_state("u" * 64, "code-1", NOW) is None  # never issued
    assert states.consume_state(STATE, "code-1", NOW + 1) == StateUse(PRE_AUTH, first=True)
    assert states.consume_state(STATE, "code-2", NOW + 2) is None  # another code: refused
    assert states.consume_state(STATE, "code-1", NOW + 3) == StateUse(PRE_AUTH, first=False)  # a return
    assert states.consume_state(STATE, "code-1", NOW + 600) is None  # expired, returns too


def test_an_expired_state_is_never_used(stores: Stores) -> None:
    stores.authorization_states.save_state(STATE, PRE_AUTH, NOW + 600)
    assert stores.authorization_states.consume_state(STATE, "code-1", NOW + 600) is None
    assert stores.authorization_states.consume_state(STATE, "code-1", NOW + 599) == StateUse(PRE_AUTH, first=True)


def test_the_table_keeps_hashes_and_a_ttl(table: str) -> None:
    Tables.on(Table(table)).authorization_states.save_state(STATE, PRE_AUTH, NOW + 600.5)
    item = boto3.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": state_key(STATE)}, "sk": {"S": "STATE"}})
    assert item["Item"]["pre_auth_hash"]["S"] == PRE_AUTH and item["Item"]["ttl"]["N"] == str(int(NOW) + 601)


def test_concurrent_callbacks_with_one_state_find_one_winner(table: str) -> None:
    states = Tables.on(Table(table)).authorization_states
    states.save_state(STATE, PRE_AUTH, NOW + 600)
    start = threading.Barrier(8)

    def consume(index: int) -> StateUse | None:
        start.wait(timeout=30)
        return states.consume_state(STATE, f"code-{index}", NOW)

    with ThreadPoolExecutor(8) as pool:
        uses = list(pool.map(consume, range(8)))
    assert [use for use in uses if use is not None] == [StateUse(PRE_AUTH, first=True)]


def test_the_first_use_whose_answer_was_lost_is_still_the_first(table: str, emulator: Emulator) -> None:
    with FaultProxy(emulator.url, 0.0, seed=1) as proxy:
        states = Tables.on(Table(table, boto3.client("dynamodb", endpoint_url=proxy.url, config=CLIENT_CONFIG)))
        states.authorization_states.save_state(STATE, PRE_AUTH, NOW + 600)
        proxy.forced = ["latency", "drop_after"]  # the read is slow; the write's answer is lost
        assert states.authorization_states.consume_state(STATE, "code-1", NOW) == StateUse(PRE_AUTH, first=True)
        assert proxy.injected["drop_after"] == 1 and not proxy.forced
        assert states.authorization_states.consume_state(STATE, "code-2", NOW + 1) is None


# -- codes -----------------------------------------------------------------------------------------


def test_a_claim_keeps_its_origin_and_when_it_was_made(stores: Stores) -> None:
    claims = stores.code_claims
    origin = CodeOrigin(PRE_AUTH, STATE)
    assert claims.claim_code("h1", "holder", NOW, 30, origin)
    assert claims.code_exchanged_for("h1", NOW) is None  # pending
    claims.finish_code("h1", "holder", A)
    exchange = claims.code_exchanged_for("h1", NOW + 5)
    assert exchange is not None
    assert (exchange.authorizer_appid, exchange.claimed_at, exchange.origin) == (A, NOW, origin)
    assert claims.claim_code("h2", "holder", NOW, 30)  # a push without PreAuthCode
    claims.finish_code("h2", "holder", A)
    without = claims.code_exchanged_for("h2", NOW)
    assert without is not None and without.origin == CodeOrigin()


def test_a_claim_past_its_lifetime_is_gone_though_the_table_still_holds_it(stores: Stores) -> None:
    """DynamoDB's TTL deletes late (up to days): the claim's own `ttl` is what counts."""
    claims = stores.code_claims
    assert claims.claim_code("h1", "holder", NOW, 30)
    claims.finish_code("h1", "holder", A)
    after = NOW + CODE_CLAIM_LIFETIME + 1
    assert claims.code_exchanged_for("h1", after - 2) is not None
    assert claims.code_exchanged_for("h1", after) is None
    assert not claims.claim_code("h1", "next", after - 2, 30)  # done is done within its lifetime
    assert claims.claim_code("h1", "next", after, 30)  # past it, a new claim (WeChat will refuse the code)
