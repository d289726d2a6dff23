"""The store contract (tests/integration/test_store_contract.py) for what issue 19's refresh room
added: the forced-refresh budget per lease name (compare-and-set on the write that stored it, read
with an authorizer's grant and token, and with a ticket), and when getticket last answered a ticket
(`fetched_at`). Run against the in-memory fake and against the DynamoDB adapter over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from tests.support.fakes import MemoryStores
from wxcomponent.adapters.dynamodb import Table, Tables
from wxcomponent.domain.grants import AUTHORIZED, Grant
from wxcomponent.domain.js_tickets import JsTicket
from wxcomponent.domain.tokens import FORCED_REFRESH_WINDOW, ForcedRefreshes, spend_forced_refresh
from wxcomponent.keys import FORCED_REFRESH, js_ticket_lease
from wxcomponent.ports import Stores

COMPONENT = "wx0123456789abcdef"
A = "wx1111111111111111"
NOW = 1_767_225_600
JS = "jsapi_ticket"


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    if request.param == "memory":
        yield MemoryStores()
        return
    yield Tables.on(Table(request.getfixturevalue("table")))


def test_a_forced_refresh_is_recorded_only_on_what_was_read(stores: Stores) -> None:
    failures, name = stores.failures, f"COMPONENT#{COMPONENT}"
    assert failures.forced_refreshes(name) is None
    first = ForcedRefreshes((NOW,))
    assert failures.record_forced_refresh(name, None, first)
    assert not failures.record_forced_refresh(name, None, first)  # something was recorded since
    seen = failures.forced_refreshes(name)
    assert seen is not None and seen.at == (NOW,) and seen.version
    second = spend_forced_refresh(seen, NOW + 10)
    assert second is not None and second.at == (NOW, NOW + 10)
    assert failures.record_forced_refresh(name, seen, second)
    # Another container read the same and spends too: refused, so the budget holds across containers.
    assert not failures.record_forced_refresh(name, seen, ForcedRefreshes((NOW, NOW + 11)))
    again = failures.forced_refreshes(name)
    assert again is not None and again.at == (NOW, NOW + 10) and again.version != seen.version
    assert spend_forced_refresh(again, NOW + 20) is None  # two in the window: spent
    assert spend_forced_refresh(again, NOW + FORCED_REFRESH_WINDOW) == ForcedRefreshes((NOW + 10, NOW + 7200))
    assert failures.forced_refreshes(f"AUTHORIZER#{A}") is None  # per lease name


def test_an_authorizers_budget_is_read_with_its_grant_and_token(stores: Stores) -> None:
    stores.authorizers.save_grant(Grant(A, COMPONENT, "refresh@@@1", (1,), AUTHORIZED, NOW, NOW), NOW)
    assert stores.authorizers.read_for_refresh(A).forced is None
    assert stores.authorizers.record_forced_refresh(A, None, ForcedRefreshes((NOW,)))  # in its item
    forced = stores.authorizers.read_for_refresh(A).forced
    assert forced is not None and forced.at == (NOW,)
    assert stores.js_tickets.read_for_ticket(A, JS).forced is None  # a ticket's budget is its own
    assert stores.failures.record_forced_refresh(js_ticket_lease(A, JS), None, ForcedRefreshes((NOW + 1,)))
    ticket_forced = stores.js_tickets.read_for_ticket(A, JS).forced
    assert ticket_forced is not None and ticket_forced.at == (NOW + 1,)
    assert stores.js_tickets.read_for_ticket(A, "card_ticket").forced is None


def test_a_ticket_keeps_when_getticket_last_answered_it(stores: Stores) -> None:
    stores.authorizers.save_grant(Grant(A, COMPONENT, "refresh@@@1", (1,), AUTHORIZED, NOW, NOW), NOW)
    records = stores.js_tickets
    first = JsTicket(A, JS, "ticket-1", NOW, NOW + 7140, NOW)
    assert records.acquire_ticket_lease(A, JS, None, "h", NOW, 100)
    assert records.store_ticket(first, "h", NOW + 5940, vended=True)
    assert records.read_for_ticket(A, JS).ticket == first  # a new ticket: fetched when issued
    again = JsTicket(A, JS, "ticket-1", NOW, NOW + 7140, NOW, fetched_at=NOW + 7000)
    assert records.acquire_ticket_lease(A, JS, first, "h", NOW + 7000, 100)
    assert records.store_ticket(again, "h", NOW + 7140, vended=False)
    assert records.read_for_ticket(A, JS).ticket == again
    renewed = JsTicket(A, JS, "ticket-2", NOW + 7200, NOW + 14340, NOW)
    assert records.acquire_ticket_lease(A, JS, again, "h", NOW + 7200, 100)
    assert records.store_ticket(renewed, "h", NOW + 13140, vended=False)
    assert records.read_for_ticket(A, JS).ticket == renewed  # fetched_at gone with the new ticket


def test_the_budget_item_leaves_with_its_last_forced_refresh(table: str) -> None:
    """Its TTL is the last forced refresh plus the window (and a minute): DynamoDB tidies it."""
    failures = Tables.on(Table(table)).failures
    assert failures.record_forced_refresh("COMPONENT#wx1", None, ForcedRefreshes((NOW, NOW + 10)))
    item = boto3.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": "COMPONENT#wx1"}, "sk": {"S": FORCED_REFRESH}}
    )
    assert int(item["Item"]["ttl"]["N"]) == NOW + 10 + FORCED_REFRESH_WINDOW + 60
