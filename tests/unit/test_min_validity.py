"""S2 (issue 19): what a vend's `min_validity` (up to 3600 s) costs WeChat. On fakes, with a clock
the test moves.

- Real: a value whose life WeChat gives shorter than `min_validity` + 60 (a short `expires_in`, or
  getticket answering the live ticket again with what is left of its life) made every such vend
  call WeChat. A value fetched less than 30 minutes ago is now fetched again only once it has run
  out (or on a report), never for a `min_validity` it falls short of.
- Bounded, and kept: asking for an hour refreshes a 7200 s token about once an hour instead of
  about every 99 minutes (the refresh margin), never more than once per 30 minutes."""

from __future__ import annotations

import pytest

from tests.unit.test_token_services import MERCHANT, World
from wxcomponent.domain.js_tickets import JSAPI_TICKET
from wxcomponent.domain.tokens import AccessToken
from wxcomponent.domain.verify_tickets import VerifyTicket

HOUR = 3600
SHORT = 1800  # what WeChat answers as expires_in here: stored as 1740, short of an hour


def vend_with_an_hour(world: World, kind: str) -> AccessToken | None:
    if kind == "component":
        return world.wx.component_tokens.token(HOUR)
    if kind == "authorizer":
        return world.wx.authorizer_tokens.token(MERCHANT, HOUR)
    world.wx.js_tickets.ticket(MERCHANT, JSAPI_TICKET, HOUR)
    return None


@pytest.mark.parametrize(
    ("kind", "api"),
    [("component", "api_component_token"), ("authorizer", "api_authorizer_token"), ("jsapi_ticket", "getticket")],
)
def test_a_life_shorter_than_min_validity_is_fetched_once_not_on_every_vend(kind: str, api: str) -> None:
    world = World()
    world.authorize()
    world.wx.js_tickets.ticket(MERCHANT, JSAPI_TICKET)
    world.wechat.expires_in[api] = SHORT
    world.now += 7200  # everything stored has run out: the next vend fetches, with the short life
    before = world.wechat.calls[api]
    for _ in range(20):  # a vend a minute for 20 minutes, each asking for an hour
        vend_with_an_hour(world, kind)
        world.now += 60
    assert world.wechat.calls[api] - before == 1, "every vend asked WeChat for a life it cannot give"
    world.now += SHORT  # once it has run out, it is fetched again
    vend_with_an_hour(world, kind)
    assert world.wechat.calls[api] - before == 2


def test_the_same_ticket_answered_again_near_its_end_is_fetched_once_not_on_every_vend() -> None:
    """getticket has been seen answering the live ticket again (F8): its stored life is kept, so
    asking again before it runs out would only answer the same."""
    world = World()
    world.authorize()
    world.wechat.same_js_ticket = True
    first = world.wx.js_tickets.ticket(MERCHANT, JSAPI_TICKET)
    world.now = first.expires_at - 299  # short of the default 300: fetched again, the same answered
    for _ in range(10):
        again = world.wx.js_tickets.ticket(MERCHANT, JSAPI_TICKET)
        assert again.ticket == first.ticket and again.expires_at == first.expires_at
        world.now += 20
    assert world.wechat.calls["getticket"] == 2


def test_asking_for_an_hour_all_day_refreshes_at_most_once_an_hour() -> None:
    """The bounded half of S2 (true before and after): 24 h of vends asking for 3600 s, one a
    minute, refresh a 7140 s token each time it has less than an hour left: every 3540 s."""
    world = World()
    world.authorize()
    start = world.now
    while world.now < start + 86400:
        now = int(world.now)
        world.stores.verify_tickets.save_ticket(
            VerifyTicket.received("wx0123456789abcdef", f"ticket@@@{now}", now, now)
        )
        assert world.wx.authorizer_tokens.token(MERCHANT, HOUR).valid_for(HOUR, world.now)
        world.now += 60
    assert world.wechat.calls["api_authorizer_token"] == 86400 // (7140 - HOUR)  # 24; at most 48 (one per 30 min)
