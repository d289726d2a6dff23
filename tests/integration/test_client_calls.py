"""`TokenClient.call` over real wires: tokens from the vending function behind the local gateway,
WeChat's APIs from the sandbox. A token WeChat really rejects (the sandbox's clock has run past it)
is reported and replaced once, and the call made again."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.conftest import World
from tests.support.graph import age_stored_token
from wxcomponent.keys import authorizer_key, component_key
from wxcomponent_client import TokenClient, WeChatError

ACCOUNT = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account
OPENID = "oClientCallsTest000000000001"  # 28 characters, as WeChat's
COMPONENT_APPID = "wx5a0d8c0ffee5a4d1"


@pytest.fixture
def tokens(world: World) -> TokenClient:
    lambda_client: Any = boto3.client("lambda", endpoint_url=world.gateway.url, region_name="us-east-1")
    return TokenClient("token_vending", lambda_client=lambda_client, api_base=world.sandbox.url)


@pytest.fixture
def authorized(world: World) -> None:
    world.push_ticket()
    assert world.control("POST", "authorize", {"appid": ACCOUNT})["delivery"]["ok"]
    # The user writes first: customer-service messages answer within 48 hours of that.
    world.control("POST", "send-message", {"appid": ACCOUNT, "openid": OPENID, "content": "hello"})


def refreshes(world: World) -> int:
    """Authorizer tokens the sandbox issued (a call refused for an expired component token issues none)."""
    calls = world.control("GET", "calls?api=api_authorizer_token")["calls"]
    return sum(1 for call in calls if call["api"] == "api_authorizer_token" and call["errcode"] == 0)


def send(tokens: TokenClient, content: str) -> dict[str, Any]:
    return tokens.call(
        ACCOUNT, "POST", "/cgi-bin/message/custom/send", touser=OPENID, msgtype="text", text={"content": content}
    )


def test_call_sends_with_the_authorizers_token(world: World, tokens: TokenClient, authorized: None) -> None:
    assert send(tokens, "你好")["errcode"] == 0
    sent = world.control("GET", "messages")
    assert [(m["appid"], m["touser"], m["content"]) for m in sent["messages"]] == [(ACCOUNT, OPENID, "你好")]


def test_a_token_wechat_rejects_is_replaced_once_and_the_call_made_again(
    world: World, tokens: TokenClient, authorized: None
) -> None:
    assert send(tokens, "first")["errcode"] == 0
    issued = refreshes(world)
    world.control("POST", "clock", {"advance": 7200})  # WeChat's side: the token has expired (42001)
    # Ours: old enough that a report refreshes them (the component token has expired at WeChat too).
    age_stored_token(authorizer_key(ACCOUNT))
    age_stored_token(component_key(COMPONENT_APPID))
    assert send(tokens, "second")["errcode"] == 0
    assert refreshes(world) == issued + 1
    assert [m["content"] for m in world.control("GET", "messages")["messages"]] == ["first", "second"]


def test_a_rejection_the_token_center_will_not_act_on_is_raised_and_never_reported_again(
    world: World, tokens: TokenClient, authorized: None
) -> None:
    send(tokens, "first")
    issued = world.calls("api_authorizer_token")
    world.control("POST", "clock", {"advance": 7200})
    # The stored token is minutes old: a report of it is answered with it, without a refresh (a
    # looping caller costs WeChat nothing). The same token back is not tried again (WeChat would
    # refuse it the same way), and never reported again however often the caller calls (M2).
    for attempt in ("second", "third", "fourth"):
        with pytest.raises(WeChatError) as raised:
            send(tokens, attempt)
        assert raised.value.errcode == 42001
    assert world.calls("api_authorizer_token") == issued
    assert world.calls("custom_send") == 4  # first, then each call once: no retry with the same token


def test_call_component_lists_the_authorizers(world: World, tokens: TokenClient, authorized: None) -> None:
    listed = tokens.call_component(
        "POST", "/cgi-bin/component/api_get_authorizer_list", component_appid=COMPONENT_APPID, offset=0, count=10
    )
    assert listed["total_count"] == 1 and listed["list"][0]["authorizer_appid"] == ACCOUNT


def test_any_other_errcode_is_raised_with_wechats_answer(world: World, tokens: TokenClient, authorized: None) -> None:
    with pytest.raises(WeChatError) as raised:
        tokens.call(ACCOUNT, "POST", "/cgi-bin/message/custom/send", touser="not-an-openid", msgtype="text")
    assert raised.value.errcode == 40003 and raised.value.answer["errcode"] == 40003
