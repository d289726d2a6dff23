"""JS-SDK tickets on in-memory fakes, through the composition root: fetched once per expiry with the
authorizer's stored token, marked vended at most once an hour, compare-and-refresh with the tokens'
abuse protection, one token refresh and one retry on 40001, vended through the contract."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fake_wechat import FakeWeChat
from tests.support.fakes import MemoryPublisher, MemoryStores
from wxcomponent.bootstrap import Container
from wxcomponent.domain.errors import NotAuthorized
from wxcomponent.domain.js_tickets import CARD_TICKET, JSAPI_TICKET, JsTicket
from wxcomponent.domain.tokens import EXPIRY_SAFETY, MIN_REFRESH_AGE
from wxcomponent.domain.verify_tickets import VerifyTicket
from wxcomponent.domain.wechat import QuotaExceeded, TokenRejected
from wxcomponent.services.vending import VendRequest
from wxcomponent.settings import ComponentSettings, Settings

COMPONENT = "wx0123456789abcdef"
MERCHANT = "wxfedcba9876543210"
NOW = 1_767_225_600.0


class World:
    """A container on fakes, with a clock the test moves, and an authorized merchant."""

    def __init__(self) -> None:
        self.now = NOW
        self.stores = MemoryStores()
        self.wechat = FakeWeChat()
        component = ComponentSettings(COMPONENT, "secret", "token", "A" * 43)
        settings = Settings(table_name="unused", event_bus_name="unused", refresh_margin=1200)
        self.wx = Container(
            settings,
            stores=self.stores,
            wechat=self.wechat,
            publisher=MemoryPublisher(),
            component=lambda: component,
            clock=lambda: self.now,
        )
        self.stores.verify_tickets.save_ticket(VerifyTicket.received(COMPONENT, "ticket@@@1", int(NOW), int(NOW)))
        assert self.wx.authorizations.complete(self.wechat.new_code(MERCHANT)).new
        self.marks: list[int] = []
        mark = self.stores.js_tickets.mark_vended

        def counted(authorizer_appid: str, kind: str, now: int, due: int) -> bool:
            self.marks.append(now)
            return mark(authorizer_appid, kind, now, due)

        self.stores.js_tickets.mark_vended = counted  # type: ignore[method-assign]

    def ticket(self, kind: str = JSAPI_TICKET, min_validity: float = 300) -> JsTicket:
        return self.wx.js_tickets.ticket(MERCHANT, kind, min_validity)

    def stored(self, kind: str = JSAPI_TICKET) -> JsTicket:
        ticket = self.stores.tokens.js_tickets.get((MERCHANT, kind))
        assert ticket is not None
        return ticket


def test_a_ticket_is_fetched_once_with_the_stored_token_and_served_while_valid() -> None:
    world = World()
    first = world.ticket()
    assert world.wechat.calls["getticket"] == 1 and world.wechat.calls["api_authorizer_token"] == 0
    assert world.wechat.js_tickets == [(MERCHANT, "jsapi", first.ticket)]
    assert first.expires_at == int(NOW) + 7200 - EXPIRY_SAFETY and first.vended_at == int(NOW)
    assert world.stored() == first
    world.now = first.expires_at - 301
    assert world.ticket() == first
    world.now += 2  # 299 s left: short of the default 300
    second = world.ticket()
    assert second != first and world.wechat.calls["getticket"] == 2
    assert world.ticket(min_validity=3600) == second
    world.now = second.expires_at - 3600
    assert world.ticket(min_validity=3600) != second  # asks for more than it has left: refetched
    assert world.wechat.calls["getticket"] == 3


def test_the_two_kinds_are_two_tickets_fetched_with_their_own_type() -> None:
    world = World()
    jsapi, card = world.ticket(JSAPI_TICKET), world.ticket(CARD_TICKET)
    assert jsapi.ticket != card.ticket
    assert [kind for _, kind, _ in world.wechat.js_tickets] == ["jsapi", "wx_card"]
    assert world.ticket(CARD_TICKET) == card and world.wechat.calls["getticket"] == 2


def test_a_vend_is_marked_at_most_once_an_hour() -> None:
    world = World()
    world.ticket()  # the fetch writes the mark with the ticket
    assert world.marks == []
    world.now += 1800
    world.ticket()
    assert world.marks == []  # marked half an hour ago: no write
    world.now += 1801
    world.ticket()
    assert world.marks == [int(world.now)]
    assert world.stored().vended_at == int(world.now)
    world.ticket()
    assert len(world.marks) == 1


def test_a_reported_ticket_is_refetched_once_and_never_while_too_young() -> None:
    world = World()
    first = world.ticket()
    assert world.wx.js_tickets.replace_rejected(MERCHANT, JSAPI_TICKET, first.ticket) == first  # too young
    assert world.wechat.calls["getticket"] == 1
    world.now += MIN_REFRESH_AGE + 1
    fresh = world.wx.js_tickets.replace_rejected(MERCHANT, JSAPI_TICKET, first.ticket)
    assert fresh != first
    for _ in range(5):  # every other page that held the rejected ticket reports it too
        assert world.wx.js_tickets.replace_rejected(MERCHANT, JSAPI_TICKET, first.ticket) == fresh
    assert world.wechat.calls["getticket"] == 2


def test_a_superseded_authorizer_token_costs_one_refresh_and_one_retry() -> None:
    world = World()
    world.now += MIN_REFRESH_AGE + 1  # old enough to have been superseded
    world.wechat.authorizer_tokens[MERCHANT] = "refreshed-elsewhere"  # WeChat no longer takes ours
    ticket = world.ticket()
    assert world.wechat.calls["getticket"] == 2 and world.wechat.calls["api_authorizer_token"] == 1
    token = world.stores.authorizers.get_authorizer_token(MERCHANT)
    assert token is not None and token.access_token == world.wechat.authorizer_tokens[MERCHANT]
    assert world.stored() == ticket


def test_getticket_refusing_a_token_too_young_to_refresh_is_remembered_until_it_can_be() -> None:
    """S1 (issue 19): with only the newest token good (the fake's harsher reading of WeChat), a
    token minted elsewhere made every vend ask getticket twice for 5 minutes. The token is not
    refreshed (too young: a loop must not spend the quota) and getticket is not asked again with
    it: the refusal is remembered until the token is old enough to be replaced."""
    world = World()
    issued = world.stores.authorizers.get_authorizer_token(MERCHANT)
    assert issued is not None
    world.wechat.authorizer_tokens[MERCHANT] = "refreshed-elsewhere"
    for _ in range(50):
        with pytest.raises(TokenRejected):
            world.ticket()
        world.now += 5
    assert world.wechat.calls["api_authorizer_token"] == 0 and world.wechat.calls["getticket"] == 1
    failure = world.stores.failures.recent_failure(f"AUTHORIZER#{MERCHANT}#JSAPI_TICKET", world.now)
    assert failure is not None and failure.errcode == 40001 and failure.until == issued.issued_at + MIN_REFRESH_AGE
    world.now = issued.issued_at + MIN_REFRESH_AGE  # old enough: replaced, and getticket asked with the new one
    assert world.ticket().ticket.startswith("jsapi-ticket-")
    assert world.wechat.calls["api_authorizer_token"] == 1 and world.wechat.calls["getticket"] == 3


def test_an_expired_authorizer_token_is_refreshed_before_the_fetch() -> None:
    world = World()
    world.now += 7200
    world.ticket()
    assert world.wechat.calls["api_authorizer_token"] == 1 and world.wechat.calls["getticket"] == 1


def test_a_refusal_is_remembered_for_every_caller_until_its_retry_after() -> None:
    world = World()
    world.wechat.fail("getticket", QuotaExceeded("getticket: errcode 45009: quota", errcode=45009))
    for _ in range(3):
        with pytest.raises(QuotaExceeded):
            world.ticket()
    assert world.wechat.calls["getticket"] == 1
    world.now += 3600
    assert world.ticket().ticket.startswith("jsapi-ticket-")


def test_a_revoked_authorizers_tickets_go_with_its_token() -> None:
    world = World()
    world.ticket(JSAPI_TICKET)
    world.ticket(CARD_TICKET)
    world.wechat.revoke(MERCHANT)  # the merchant revoked: WeChat no longer lists the account
    assert world.wx.authorizations.revoke(MERCHANT, int(world.now) + 1)
    assert world.stores.tokens.js_tickets == {} and world.stores.tokens.js_ticket_due == {}
    with pytest.raises(NotAuthorized):
        world.ticket()
    assert world.wechat.calls["getticket"] == 2


def vend(world: World, payload: Any) -> tuple[int, dict[str, Any]]:
    answer = world.wx.vendor.answer(payload)
    return answer.status, answer.body


def test_tickets_are_vended_through_the_contract() -> None:
    world = World()
    status, body = vend(world, {"kind": "jsapi_ticket", "appid": MERCHANT})
    assert status == 200 and set(body) == {"kind", "appid", "ticket", "expires_at"}
    assert body["kind"] == "jsapi_ticket" and body["appid"] == MERCHANT and body["ticket"] == world.stored().ticket
    status, card = vend(world, {"kind": "card_ticket", "appid": MERCHANT, "min_validity": 600})
    assert status == 200 and card["ticket"] == world.stored(CARD_TICKET).ticket
    world.now += MIN_REFRESH_AGE + 1
    status, again = vend(world, {"kind": "jsapi_ticket", "appid": MERCHANT, "invalid_token": body["ticket"]})
    assert status == 200 and again["ticket"] != body["ticket"]
    status, unknown = vend(world, {"kind": "jsapi_ticket", "appid": COMPONENT})
    assert status == 404 and unknown["error"]["code"] == "not_authorized"


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "jsapi_ticket"},
        {"kind": "card_ticket", "appid": "gh_0123456789ab"},
        {"kind": "jsapi", "appid": MERCHANT},
        {"kind": "card_ticket", "appid": MERCHANT, "min_validity": 3601},
        {"kind": "jsapi_ticket", "appid": MERCHANT, "invalid_token": ""},
    ],
)
def test_a_ticket_request_without_an_authorizer_or_with_bad_fields_is_a_bad_request(payload: Any) -> None:
    world = World()
    status, body = vend(world, payload)
    assert status == 400 and body["error"]["code"] == "bad_request"
    assert world.wechat.calls["getticket"] == 0


def test_the_request_names_every_kind_when_one_is_wrong() -> None:
    with pytest.raises(Exception, match='"jsapi_ticket", "card_ticket"'):
        VendRequest.parse({"kind": "ticket", "appid": MERCHANT})


def test_a_ticket_never_shows_in_a_repr() -> None:
    world = World()
    ticket = world.ticket()
    assert ticket.ticket not in repr(ticket)


def test_the_sweep_renews_tickets_vended_in_the_last_day_and_lets_the_others_expire() -> None:
    world = World()
    world.ticket(JSAPI_TICKET)
    world.ticket(CARD_TICKET)  # both vended now; from here on, pages use only the jsapi ticket
    start = int(world.now)
    while world.now < start + 26 * 3600:
        world.now += 600  # a sweep every 10 minutes, and WeChat's verify ticket as often
        now = int(world.now)
        world.stores.verify_tickets.save_ticket(VerifyTicket.received(COMPONENT, f"ticket@@@{now}", now, now))
        if (world.now - start) % (3 * 3600) == 0:
            world.ticket(JSAPI_TICKET)
        report = world.wx.refresher.sweep(lambda: 60_000)
        assert not report.failed, report
        assert world.stored(JSAPI_TICKET).valid_for(1200 - 600, world.now)  # never lapses
    card = [ticket for _, kind, ticket in world.wechat.js_tickets if kind == "wx_card"]
    # Fetched at the start, then renewed each time it fell due (every 6000 s on a 600 s grid) while
    # its last vend was less than a day old: at 6000, 12000, … 84000 s. At 90000 s it was left cold.
    assert len(card) == 1 + 84000 // 6000
    last = world.stored(CARD_TICKET)
    assert last.ticket == card[-1] and last.issued_at == start + 84000 and not last.valid_for(0, world.now)
    assert last.vended_at == start  # renewals never count as vends
    shards = world.stores.authorizers.refresh_shards()
    due = [key for shard in shards for key in world.stores.authorizers.due_refreshes(shard, 10**12).js_tickets]
    assert due == [(MERCHANT, JSAPI_TICKET)]  # the cold one left the index
    status, body = vend(world, {"kind": "card_ticket", "appid": MERCHANT})  # a page wants it again
    assert status == 200 and body["ticket"] != last.ticket and len(world.wechat.js_tickets) > len(card)
