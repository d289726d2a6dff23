"""The previous platform (infra/sandbox/previous.py) and the console's URLs (state/console.py): what a
platform moving here starts from, its refresher on the sandbox's clock, and where WeChat pushes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from infra.sandbox import Sandbox, SandboxConfig
from infra.sandbox.previous import EVENTS_PATH
from infra.sandbox.state import World
from tests.sandbox.helpers import Client, Receiver, Wx, make_config

INTERVAL = 3600


@pytest.fixture
def sandbox(receiver: Receiver) -> Iterator[Sandbox]:
    """A sandbox whose time moves only when a test moves it: a sweep falls due when the test says."""
    now = time.time()
    with Sandbox(make_config(receiver, clock=lambda: now)) as sb:
        yield sb


def accounts(sandbox: Sandbox) -> list[str]:
    """The seeded Official Accounts 0-2 and the Mini Program 3, all with API permission."""
    return [a.appid for a in sandbox.world.merchants.accounts()[:4]]


def set_up(client: Client, **body: Any) -> dict[str, Any]:
    answer: dict[str, Any] = client.post("/sandbox/previous-platform", {"interval": INTERVAL, **body})
    return answer


def previous(client: Client) -> dict[str, Any]:
    answer: dict[str, Any] = client.get_json("/sandbox/previous-platform")
    return answer


def advance(client: Client, seconds: float) -> None:
    client.post("/sandbox/clock", {"advance": seconds})


def getticket(client: Client, token: str) -> int:
    """What WeChat says of an authorizer token when it is used: 0 accepted, else the errcode."""
    status, _, data = client.get(f"/cgi-bin/ticket/getticket?access_token={token}&type=jsapi")
    assert status == 200
    return int(json.loads(data)["errcode"])


# -- the console's URLs -------------------------------------------------------------------------------


def test_the_console_urls_move_the_pushes_and_reset_brings_them_back(
    sandbox: Sandbox, client: Client, receiver: Receiver
) -> None:
    configured = client.get_json("/sandbox/urls")
    assert configured == {
        "component_events_url": receiver.url + "/wechat/component/events",
        "account_messages_url": receiver.url + "/wechat/accounts/{appid}/messages",
    }
    moved = client.post(
        "/sandbox/urls",
        {
            "component_events_url": receiver.url + "/moved/events",
            "account_messages_url": receiver.url + "/moved/$APPID$/messages",  # as WeChat's console takes it
        },
    )
    assert moved["account_messages_url"] == receiver.url + "/moved/{appid}/messages"
    client.post("/sandbox/push-ticket")
    assert receiver.wait_for(lambda r: r.path == "/moved/events").fields["InfoType"] == "component_verify_ticket"
    appid = accounts(sandbox)[0]
    client.post("/sandbox/send-message", {"appid": appid, "content": "hi"})
    assert receiver.wait_for(lambda r: r.path == f"/moved/{appid}/messages").fields["Content"] == "hi"
    for bad in ({"component_events_url": "ftp://x"}, {"account_messages_url": "http://x/{other}"}):
        status, _, _ = client.post_raw("/sandbox/urls", bad)
        assert status == 400
    assert client.get_json("/sandbox/urls")["account_messages_url"] == receiver.url + "/moved/{appid}/messages"
    client.post("/sandbox/reset")
    assert client.get_json("/sandbox/urls") == configured


# -- the previous platform ----------------------------------------------------------------------------


def test_it_holds_grants_it_exchanged_and_wechat_lists_their_tokens_or_not(
    sandbox: Sandbox, client: Client, receiver: Receiver, wx: Wx
) -> None:
    a, b, c, d = accounts(sandbox)
    wx.token  # noqa: B018 - our own component token, from the ticket pushed to us on start
    state = set_up(client, accounts=[a, b, c], hidden=[b], unexchanged=[d])
    assert state["set_up"] and state["refreshing"] and state["receiving"] and state["has_ticket"]
    assert sandbox.world.clock.now() < state["next_sweep"] <= sandbox.world.clock.now() + INTERVAL
    assert client.get_json("/sandbox/urls")["component_events_url"] == sandbox.url + EVENTS_PATH
    wechat = {g["appid"]: g for g in wx.accounts()}
    assert state["refresh_tokens"] == {x: wechat[x]["refresh_token"] for x in (a, b, c)}
    assert all(getticket(client, state["authorizer_access_tokens"][x]) == 0 for x in (a, b, c))
    listed = {i["authorizer_appid"]: i["refresh_token"] for i in wx.call("api_get_authorizer_list")["list"]}
    assert listed == {a: wechat[a]["refresh_token"], b: "", c: wechat[c]["refresh_token"], d: ""}
    info = wx.call("api_get_authorizer_info", {"authorizer_appid": b})["authorization_info"]
    assert info["authorizer_refresh_token"] == ""  # WeChat shows b's nowhere; the previous platform has it
    assert len(receiver.received) == 1  # ours got the start's ticket only: the rest went to the previous platform


def test_it_refreshes_on_the_sandboxs_clock_superseding_every_token_until_stopped(
    sandbox: Sandbox, client: Client, wx: Wx
) -> None:
    a, b, _, _ = accounts(sandbox)
    set_up(client, accounts=[a, b])
    ours = wx.call(
        "api_authorizer_token",
        {"authorizer_appid": a, "authorizer_refresh_token": previous(client)["refresh_tokens"][a]},
    )["authorizer_access_token"]  # a second platform's token, taken while the previous one refreshes
    advance(client, INTERVAL - 1)
    assert previous(client)["sweeps"] == 0 and getticket(client, ours) == 0
    advance(client, 1)
    state = previous(client)  # the sweep the clock made due is done before anything is answered
    assert state["sweeps"] == 1 and state["calls"]["api_authorizer_token"] == 2
    assert getticket(client, ours) == 0  # superseded: it lives 5 more minutes
    assert getticket(client, state["authorizer_access_tokens"][a]) == 0
    advance(client, 300)
    assert getticket(client, ours) == 40001  # knocked out
    client.post("/sandbox/previous-platform/stop")
    calls = client.get_json("/sandbox/calls?api=api_authorizer_token")["counters"]["api_authorizer_token"]
    advance(client, 10 * INTERVAL)
    assert previous(client)["sweeps"] == 1 and not previous(client)["refreshing"]
    assert client.get_json("/sandbox/calls?api=api_authorizer_token")["counters"]["api_authorizer_token"] == calls
    restarted = client.post("/sandbox/previous-platform/start")  # going back: a sweep at once
    assert restarted["sweeps"] == 2 and restarted["refreshing"]


def test_a_component_token_taken_by_another_platform_costs_it_one_retry(
    sandbox: Sandbox, client: Client, wx: Wx
) -> None:
    a, b, _, _ = accounts(sandbox)
    set_up(client, accounts=[a])
    wx.new_component_token()  # ours supersedes the previous platform's
    advance(client, INTERVAL)
    state = previous(client)
    # Its sweep renews its component token first, so nothing was refused: one call each.
    assert state["calls"]["api_component_token"] == 2 and state["errors"] == []
    wx.new_component_token()
    advance(client, 301)  # its token has been superseded for longer than 5 minutes
    assert client.post("/sandbox/authorize", {"appid": b})["delivery"]["ok"]  # pushed to it
    state = previous(client)
    assert [(e["api"], e["errcode"]) for e in state["errors"]] == [("api_query_auth", 40001)]
    assert b in state["refresh_tokens"]  # refused once, then a new component token and the exchange
    assert getticket(client, state["authorizer_access_tokens"][b]) == 0


def test_while_the_urls_point_at_it_it_takes_the_new_authorizations_and_revocations(
    sandbox: Sandbox, client: Client, wx: Wx
) -> None:
    a, b, _, _ = accounts(sandbox)
    set_up(client, accounts=[a])
    assert client.post("/sandbox/authorize", {"appid": b})["delivery"]["ok"]
    state = previous(client)
    assert set(state["refresh_tokens"]) == {a, b}  # it exchanged b's code from the push
    assert {g["appid"]: g["exchanged"] for g in wx.accounts()}[b] is True
    client.post("/sandbox/push-ticket")
    assert client.post("/sandbox/revoke", {"appid": a})["delivery"]["ok"]
    assert set(previous(client)["refresh_tokens"]) == {b}
    status, _, _ = client.post_raw("/sandbox/previous-platform/events", {"not": "a push"})
    assert status == 400


def test_bad_set_ups_are_refused_and_reset_forgets_it(sandbox: Sandbox, client: Client, receiver: Receiver) -> None:
    a, b, _, _ = accounts(sandbox)
    bodies: list[dict[str, Any]] = [
        {"accounts": []},
        {"accounts": ["wx0000000000000000"]},
        {"accounts": [a], "hidden": [b]},
        {"accounts": [a], "unexchanged": [a]},
        {"accounts": [a], "interval": 0},
        {"accounts": [a], "interval": "hourly"},
    ]
    for body in bodies:
        status, _, data = client.post_raw("/sandbox/previous-platform", body)
        assert status == 400, (body, data)
    assert not previous(client)["set_up"]
    status, _, _ = client.post_raw("/sandbox/previous-platform/start")
    assert status == 400
    set_up(client, accounts=[a])
    client.post("/sandbox/reset")
    assert previous(client)["set_up"] is False and previous(client)["refresh_tokens"] == {}
    assert client.get_json("/sandbox/urls")["component_events_url"] == receiver.url + "/wechat/component/events"


def test_a_hidden_refresh_token_stays_hidden_across_a_restart_and_a_new_authorization_shows_it() -> None:
    world = World(SandboxConfig(port=0))
    appid = world.merchants.accounts()[0].appid
    code, _ = world.merchants.authorize(appid)
    world.merchants.query_auth(code.value)
    world.merchants.hide_refresh_token(appid)
    restored = World(SandboxConfig(port=0))
    restored.restore(json.loads(json.dumps(world.export())))  # what make dev keeps
    assert [i["refresh_token"] for i in restored.merchants.authorizer_list(0, 500)["list"]] == [""]
    code, _ = restored.merchants.authorize(appid, [1, 2])  # the merchant authorizes again
    restored.merchants.query_auth(code.value)
    assert restored.merchants.authorizer_list(0, 500)["list"][0]["refresh_token"].startswith("refreshtoken@@@")
