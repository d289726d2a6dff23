"""The client's help for web pages over real wires: tickets from the vending function behind the
local gateway, `wx.config` checked by the sandbox as the JS-SDK checks it, web login through the
sandbox's page, its code exchanged by the token center (a `web_login` vend): the client holds
neither the component token nor the visitor's web tokens."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest

from tests.conftest import World
from wxcomponent_client import OAuthCodeRejected, TokenClient

ACCOUNT = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account
COMPONENT_APPID = "wx5a0d8c0ffee5a4d1"  # the sandbox's component, as the vendor configures it
STATE = "s42cart0000000001"


@pytest.fixture
def tokens(world: World) -> TokenClient:
    world.push_ticket()
    assert world.control("POST", "authorize", {"appid": ACCOUNT})["delivery"]["ok"]
    lambda_client: Any = boto3.client("lambda", endpoint_url=world.gateway.url, region_name="us-east-1")
    return TokenClient(
        "token_vending",
        lambda_client=lambda_client,
        api_base=world.sandbox.url,
        open_base=world.sandbox.url,
        component_appid=COMPONENT_APPID,
    )


def verify(world: World, config: dict[str, Any], url: str) -> Any:
    """What the JS-SDK asks WeChat when the page at `url` calls wx.config(config)."""
    return world.control("POST", "jsapi-verify", {**config, "url": url.split("#", maxsplit=1)[0]})


def test_a_config_for_our_page_passes_the_js_sdks_check(world: World, tokens: TokenClient) -> None:
    page = f"{world.gateway.url}/h5/pay?order=42&note=a b"
    config = tokens.jsapi_config(ACCOUNT, page + "#/confirm")
    assert verify(world, config, page + "#/confirm") == {"valid": True, "errMsg": "config:ok"}
    assert verify(world, config, page + "&x=1")["errMsg"] == "config:invalid signature"  # another page
    assert world.calls("getticket") == 1
    tokens.jsapi_config(ACCOUNT, page)
    assert world.calls("getticket") == 1  # held by the client, and stored by the token center


def sign_in(world: World, link: str, user: str) -> dict[str, str]:
    """A browser following `link`: WeChat's (the sandbox's) page, the user's allow, the redirect back."""
    path = link.removeprefix(world.sandbox.url).split("#", 1)[0]
    page = world.http.request("GET", world.sandbox.url + path)
    assert page.status == 200 and b'id="wx-oauth-page"' in page.data, page.data[:300]
    form = re.search(rf'<form class="account"[^>]*data-user="{user}".*?</form>', page.data.decode(), re.S)
    assert form is not None
    fields = {name: html.unescape(value) for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', form.group())}
    back = world.http.request(
        "POST",
        f"{world.sandbox.url}/sandbox/oauth-confirm",
        body=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        redirect=False,
    )
    assert back.status == 302
    location = back.headers["Location"]
    return {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}


def test_web_login_gives_the_openid_and_the_profile_and_a_code_serves_once(world: World, tokens: TokenClient) -> None:
    link = tokens.oauth_url(ACCOUNT, f"{world.gateway.url}/h5/login", "snsapi_userinfo", STATE)
    landing = sign_in(world, link, "alice")
    assert landing["state"] == STATE and landing["appid"] == ACCOUNT
    components = world.calls("api_component_token")
    user = tokens.oauth_exchange(ACCOUNT, landing["code"])
    openid = world.sandbox.world.web.openid(ACCOUNT, "alice")
    assert (user.openid, user.scope, user.nickname) == (openid, "snsapi_userinfo", "爱丽丝 Alice")
    assert user.avatar == f"{world.sandbox.url}/sandbox/users/alice.svg"
    with pytest.raises(OAuthCodeRejected, match="already used") as again:
        tokens.oauth_exchange(ACCOUNT, landing["code"])
    assert again.value.errcode == 40163
    base = sign_in(world, tokens.oauth_url(ACCOUNT, f"{world.gateway.url}/h5/login", "snsapi_base", STATE), "xiaoming")
    silent = tokens.oauth_exchange(ACCOUNT, base["code"])
    assert (silent.scope, silent.nickname, silent.avatar) == ("snsapi_base", None, None)
    assert world.calls("sns_userinfo") == 1  # only the userinfo login asked for the profile
    assert world.calls("sns_component_access_token") == 3  # the token center exchanged each code
    assert world.calls("api_component_token") == components  # with the token it holds: none vended


def test_a_snapshot_mode_visitor_comes_back_flagged_and_without_a_profile(world: World, tokens: TokenClient) -> None:
    snapshot = next(user for user in world.sandbox.world.web.users() if user.snapshot)
    landing = sign_in(
        world, tokens.oauth_url(ACCOUNT, f"{world.gateway.url}/h5/login", "snsapi_userinfo", STATE), snapshot.user_id
    )
    user = tokens.oauth_exchange(ACCOUNT, landing["code"])
    assert user.is_snapshotuser and (user.nickname, user.avatar) == (None, None)
    assert world.calls("sns_userinfo") == 0
