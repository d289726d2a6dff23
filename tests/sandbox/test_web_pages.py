"""What authorized accounts' web pages get from WeChat, as the sandbox plays it (docs/protocol.md §7):
JS-SDK tickets, the JS-SDK's config check, and web login on an account's behalf."""

from __future__ import annotations

import hashlib
import html
import json
import re
import urllib.parse
from typing import Any

import pytest

from infra.sandbox import SandboxConfig
from infra.sandbox.state import World
from tests.sandbox.helpers import START_DOMAIN, Client, Wx

PAGE = f"{START_DOMAIN}/h5/shop?from=menu"  # the sandbox's page domain and JS-safe domain is START_DOMAIN


def js_sdk_signature(ticket: str, noncestr: str, timestamp: str, url: str) -> str:
    """Written from docs/protocol.md §7 alone: SHA-1 hex of the four pairs, keys in ASCII order,
    values raw, the URL without its fragment."""
    page = url.split("#", maxsplit=1)[0]
    return hashlib.sha1(
        f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={page}".encode(), usedforsecurity=False
    ).hexdigest()


def test_our_reference_signature_gives_wechats_published_example() -> None:
    # The JS-SDK documentation's appendix 1 (附录1-JS-SDK使用权限签名算法), its worked example.
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    signature = js_sdk_signature(ticket, "Wm3WZYTPz0wzccnW", "1414587457", "http://mp.weixin.qq.com?params=value")
    assert signature == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def official(wx: Wx) -> list[str]:
    return [a["appid"] for a in wx.accounts() if a["kind"] == "official_account"]


def authorized(wx: Wx, index: int = 0) -> tuple[str, str]:
    """An authorized Official Account and its authorizer access token."""
    appid = official(wx)[index]
    code = wx.authorize(appid)
    info = wx.call("api_query_auth", {"authorization_code": code})["authorization_info"]
    return appid, str(info["authorizer_access_token"])


def get(client: Client, path: str, **query: str) -> Any:
    status, _, data = client.get(f"{path}?{urllib.parse.urlencode(query)}")
    assert status == 200, (status, data)
    return json.loads(data)


def getticket(client: Client, token: str, kind: str = "jsapi") -> Any:
    return get(client, "/cgi-bin/ticket/getticket", access_token=token, type=kind)


def advance(client: Client, seconds: float) -> None:
    client.post("/sandbox/clock", {"advance": seconds})


def verify(client: Client, **fields: Any) -> Any:
    return client.post("/sandbox/jsapi-verify", fields)


def config_for(ticket: str, url: str = PAGE, nonce: str = "Wm3WZYTPz0wzccnW", timestamp: str = "1767225600") -> Any:
    return {
        "nonceStr": nonce,
        "timestamp": timestamp,
        "url": url,
        "signature": js_sdk_signature(ticket, nonce, timestamp, url),
    }


# -- JS-SDK tickets ----------------------------------------------------------------------------------


def test_getticket_gives_each_type_its_own_ticket_for_two_hours(wx: Wx, client: Client) -> None:
    _, token = authorized(wx)
    jsapi = getticket(client, token, "jsapi")
    card = getticket(client, token, "wx_card")
    assert (jsapi["errcode"], jsapi["errmsg"], jsapi["expires_in"]) == (0, "ok", 7200)
    assert card["expires_in"] == 7200 and card["ticket"] != jsapi["ticket"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{86}", jsapi["ticket"])
    assert wx.client.get_json("/sandbox/calls?api=getticket")["counters"]["getticket"] == 2


@pytest.mark.parametrize(
    ("query", "errcode"),
    [
        ({"type": "jsapi"}, 41001),  # no token
        ({"access_token": "nonsense", "type": "jsapi"}, 40001),
        ({"type": "wechat_pay"}, 40097),
        ({}, 40097),  # no type
    ],
)
def test_getticket_refuses_what_wechat_refuses(wx: Wx, client: Client, query: dict[str, str], errcode: int) -> None:
    _, token = authorized(wx)
    if "access_token" not in query and errcode != 41001:
        query = {**query, "access_token": token}
    answer = get(client, "/cgi-bin/ticket/getticket", **query)
    assert answer["errcode"] == errcode and " rid: " in answer["errmsg"]


def test_getticket_is_a_get_and_needs_a_live_token(wx: Wx, client: Client) -> None:
    appid, token = authorized(wx)
    status, _, data = client.post_raw("/cgi-bin/ticket/getticket", {}, access_token=token, type="jsapi")
    assert status == 200 and json.loads(data)["errcode"] == 43001
    advance(client, 7200)
    assert getticket(client, token)["errcode"] == 42001
    wx.new_component_token()  # that one expired too
    fresh = wx.call("api_authorizer_token", {"authorizer_appid": appid, "authorizer_refresh_token": refresh(wx, appid)})
    assert getticket(client, fresh["authorizer_access_token"])["errcode"] == 0
    client.post("/sandbox/revoke", {"appid": appid})
    assert getticket(client, fresh["authorizer_access_token"])["errcode"] == 40001


def refresh(wx: Wx, appid: str) -> str:
    return str(next(a for a in wx.accounts() if a["appid"] == appid)["refresh_token"])


def test_faults_and_the_call_log_cover_getticket(wx: Wx, client: Client) -> None:
    _, token = authorized(wx)
    client.post("/sandbox/faults", {"api": "getticket", "kind": "errcode", "value": 45009, "count": 1})
    assert getticket(client, token)["errcode"] == 45009
    assert getticket(client, token)["errcode"] == 0
    calls = wx.client.get_json("/sandbox/calls?api=getticket")["calls"]
    assert [call["errcode"] for call in calls] == [45009, 0]


# -- the JS-SDK's config check ---------------------------------------------------------------------------


def test_a_config_signed_with_the_live_ticket_is_valid_for_that_page_only(wx: Wx, client: Client) -> None:
    appid, token = authorized(wx)
    ticket = getticket(client, token)["ticket"]
    assert verify(client, appId=appid, **config_for(ticket)) == {"valid": True, "errMsg": "config:ok"}
    # The JS-SDK sends the page's URL without its fragment: a config signed so stays valid after a #.
    signed = config_for(ticket)
    assert verify(client, appId=appid, **{**signed, "url": PAGE + "#/cart"})["valid"] is True
    # Signed over the URL with its fragment: WeChat's check fails ("invalid signature").
    with_fragment = config_for(ticket, url=PAGE + "#/cart")
    with_fragment["signature"] = hashlib.sha1(
        f"jsapi_ticket={ticket}&noncestr=Wm3WZYTPz0wzccnW&timestamp=1767225600&url={PAGE}#/cart".encode(),
        usedforsecurity=False,
    ).hexdigest()
    assert verify(client, appId=appid, **with_fragment) == {"valid": False, "errMsg": "config:invalid signature"}
    for changed in ({"nonceStr": "another"}, {"timestamp": "1767225601"}, {"url": PAGE + "&x=1"}):
        assert verify(client, appId=appid, **{**signed, **changed})["errMsg"] == "config:invalid signature"
    other_domain = config_for(ticket, url="https://elsewhere.example/h5")
    assert verify(client, appId=appid, **other_domain)["errMsg"] == "config:invalid url domain"
    other_account = official(wx)[1]
    assert verify(client, appId=other_account, **signed)["valid"] is False  # its ticket, not this one's
    assert verify(client, appId="wx0000000000000000", **signed)["errMsg"] == "config:invalid appId"
    card = getticket(client, token, "wx_card")["ticket"]
    assert verify(client, appId=appid, **config_for(card))["valid"] is False  # the card ticket signs no config


def test_a_new_ticket_supersedes_the_old_one_which_lives_five_more_minutes(wx: Wx, client: Client) -> None:
    appid, token = authorized(wx)
    old = getticket(client, token)["ticket"]
    new = getticket(client, token)["ticket"]
    assert new != old
    assert verify(client, appId=appid, **config_for(old))["valid"] is True
    advance(client, 301)
    assert verify(client, appId=appid, **config_for(old))["valid"] is False
    assert verify(client, appId=appid, **config_for(new))["valid"] is True
    advance(client, 7200)
    assert verify(client, appId=appid, **config_for(new))["valid"] is False  # expired


def test_a_bare_signature_check_takes_the_ticket_itself(wx: Wx, client: Client) -> None:
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    published = {
        "ticket": ticket,
        "nonceStr": "Wm3WZYTPz0wzccnW",
        "timestamp": 1414587457,
        "url": "http://mp.weixin.qq.com?params=value",
        "signature": "0f9de62fce790f9a083d5c99e95740ceb90c27ed",
    }
    assert verify(client, **published) == {"valid": True, "errMsg": "config:ok", "ticket_live": False}
    assert verify(client, **{**published, "timestamp": 1414587458})["valid"] is False
    _, token = authorized(wx)
    live = getticket(client, token)["ticket"]
    assert verify(client, ticket=live, **config_for(live))["ticket_live"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"nonceStr": "n", "timestamp": "1", "url": PAGE, "signature": "s"},  # neither appId nor ticket
        {
            "appId": "wx570bc396a51b8ff8",
            "ticket": "t",
            "nonceStr": "n",
            "timestamp": "1",
            "url": PAGE,
            "signature": "s",
        },
        {"appId": "wx570bc396a51b8ff8", "timestamp": "1", "url": PAGE, "signature": "s"},
        {"appId": "wx570bc396a51b8ff8", "nonceStr": "n", "timestamp": True, "url": PAGE, "signature": "s"},
    ],
)
def test_a_config_check_with_missing_or_extra_fields_is_a_400(client: Client, body: dict[str, Any]) -> None:
    status, _, data = client.post_raw("/sandbox/jsapi-verify", body)
    assert status == 400 and json.loads(data)["error"]


def test_the_config_check_answers_pages_on_other_origins(client: Client) -> None:
    status, headers, _ = client.post_raw("/sandbox/jsapi-verify", {})
    assert status == 400 and headers["Access-Control-Allow-Origin"] == "*"
    status, headers, script = client.get("/open/js/jweixin-1.6.0.js")
    assert status == 200 and headers["Content-Type"].startswith("application/javascript")
    assert b"window.wx" in script and b"/sandbox/jsapi-verify" in script


# -- web login on an account's behalf ----------------------------------------------------------------------


def login_link(account: str, component: str, **overrides: str) -> str:
    query = {
        "appid": account,
        "redirect_uri": f"{START_DOMAIN}/h5/login?next=%2Fshop",
        "response_type": "code",
        "scope": "snsapi_userinfo",
        "state": "s-42",
        "component_appid": component,
        **overrides,
    }
    return "/connect/oauth2/authorize?" + urllib.parse.urlencode({k: v for k, v in query.items() if v != ""})


def forms(page: bytes) -> list[dict[str, str]]:
    """Each user's allow form: its hidden fields and the openid it shows."""
    found = []
    for form in re.findall(r'<form class="account".*?</form>', page.decode(), re.S):
        fields = {name: html.unescape(value) for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', form)}
        openid = re.search(r'data-openid="([^"]+)"', form)
        assert openid is not None
        found.append({**fields, "openid": openid.group(1)})
    return found


def confirm(client: Client, form: dict[str, str]) -> dict[str, str]:
    body = urllib.parse.urlencode({k: v for k, v in form.items() if k != "openid"}).encode()
    status, headers, _ = client.request(
        "POST", "/sandbox/oauth-confirm", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 302, status
    location = headers["Location"]
    assert location.startswith(f"{START_DOMAIN}/h5/login?next=%2Fshop&")
    return {k: v[-1] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).items()}


def exchange(wx: Wx, appid: str, code: str, **overrides: str) -> Any:
    query = {
        "appid": appid,
        "code": code,
        "grant_type": "authorization_code",
        "component_appid": wx.appid,
        "component_access_token": wx.token,
        **overrides,
    }
    return get(wx.client, "/sns/oauth2/component/access_token", **query)


def test_a_seeded_user_confirms_and_the_component_exchanges_the_code(wx: Wx, client: Client) -> None:
    appid, _ = authorized(wx)
    status, _, page = client.get(login_link(appid, wx.appid))
    assert status == 200 and b'id="wx-oauth-page"' in page and b'data-scope="snsapi_userinfo"' in page
    users = forms(page)
    assert len(users) == 3 and len({user["openid"] for user in users}) == 3
    back = confirm(client, users[1])
    assert back["state"] == "s-42" and back["appid"] == appid and re.fullmatch(r"[A-Za-z0-9_-]{32}", back["code"])
    answer = exchange(wx, appid, back["code"])
    assert answer["openid"] == users[1]["openid"] and answer["scope"] == "snsapi_userinfo"
    assert answer["expires_in"] == 7200 and answer["access_token"] and answer["refresh_token"]
    assert re.fullmatch(r"o[A-Za-z0-9_-]{27}", answer["openid"])
    profile = get(client, "/sns/userinfo", access_token=answer["access_token"], openid=answer["openid"], lang="zh_CN")
    assert profile["nickname"] == "爱丽丝 Alice" and profile["openid"] == answer["openid"]
    assert profile["headimgurl"].endswith("/sandbox/users/alice.svg")
    status, headers, _ = client.get("/sandbox/users/alice.svg")
    assert status == 200 and headers["Content-Type"] == "image/svg+xml"
    # Another account knows the same user by another openid.
    other, _ = authorized(wx, 1)
    assert client.post("/sandbox/oauth-code", {"appid": other, "user": "alice"})["openid"] != answer["openid"]


def test_a_code_is_single_use_and_lives_five_minutes(wx: Wx, client: Client) -> None:
    appid, _ = authorized(wx)
    code = client.post("/sandbox/oauth-code", {"appid": appid})["code"]
    assert "openid" in exchange(wx, appid, code)
    assert exchange(wx, appid, code)["errcode"] == 40163  # code been used
    assert exchange(wx, appid, "nonsense")["errcode"] == 40029
    other, _ = authorized(wx, 1)
    stranger = client.post("/sandbox/oauth-code", {"appid": appid})["code"]
    assert exchange(wx, other, stranger)["errcode"] == 40029  # another account's code
    assert exchange(wx, appid, stranger, grant_type="client_credential")["errcode"] == 40002
    assert exchange(wx, appid, stranger, component_access_token="nonsense")["errcode"] == 40001
    assert exchange(wx, appid, stranger, component_appid="wx0000000000000000")["errcode"] == 61011
    late = client.post("/sandbox/oauth-code", {"appid": appid})["code"]
    advance(client, 299)
    assert "openid" in exchange(wx, appid, stranger)  # the refusals above did not use it up
    advance(client, 1)
    assert exchange(wx, appid, late)["errcode"] == 40029  # expired after 5 minutes


def test_userinfo_needs_the_userinfo_scope_the_tokens_openid_and_a_live_token(wx: Wx, client: Client) -> None:
    appid, _ = authorized(wx)
    base = exchange(wx, appid, client.post("/sandbox/oauth-code", {"appid": appid})["code"])
    assert base["scope"] == "snsapi_base"
    assert get(client, "/sns/userinfo", access_token=base["access_token"], openid=base["openid"])["errcode"] == 48001
    full = exchange(wx, appid, client.post("/sandbox/oauth-code", {"appid": appid, "scope": "snsapi_userinfo"})["code"])
    assert (
        get(client, "/sns/userinfo", access_token=full["access_token"], openid=base["openid"] + "x")["errcode"] == 40003
    )
    assert get(client, "/sns/userinfo", access_token="nonsense", openid=full["openid"])["errcode"] == 40001
    assert get(client, "/sns/userinfo", openid=full["openid"])["errcode"] == 41001
    advance(client, 7200)
    assert get(client, "/sns/userinfo", access_token=full["access_token"], openid=full["openid"])["errcode"] == 42001


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"appid": ""}, "10012"),
        ({"appid": "wx0000000000000000"}, "10016"),
        ({"redirect_uri": ""}, "10011"),
        ({"scope": ""}, "10010"),
        ({"scope": "snsapi_login"}, "10005"),
        ({"response_type": "token"}, "response_type"),
        ({"component_appid": "wx0000000000000000"}, "component_appid"),
        ({"redirect_uri": "https://elsewhere.example/h5/login"}, "10003"),
    ],
)
def test_web_login_links_wechat_refuses(wx: Wx, client: Client, overrides: dict[str, str], error: str) -> None:
    appid, _ = authorized(wx)
    status, _, page = client.get(login_link(appid, wx.appid, **overrides))
    assert status == 200  # WeChat's error pages answer 200
    assert f'data-error="{error}"'.encode() in page and b"<form" not in page


def test_only_official_accounts_that_authorized_the_component(wx: Wx, client: Client) -> None:
    never = official(wx)[2]
    _, _, page = client.get(login_link(never, wx.appid))
    assert b'data-error="10015"' in page
    mini = next(a["appid"] for a in wx.accounts() if a["kind"] == "mini_program")
    wx.authorize(mini)
    _, _, page = client.get(login_link(mini, wx.appid))
    assert b'data-error="10016"' in page
    status, _, data = client.post_raw("/sandbox/oauth-code", {"appid": never})
    assert status == 409
    status, _, data = client.post_raw("/sandbox/oauth-code", {"appid": mini})
    assert status == 404
    appid, _ = authorized(wx)
    status, _, data = client.post_raw("/sandbox/oauth-code", {"appid": appid, "scope": "snsapi_login"})
    assert status == 400 and b"scope" in data
    # A page confirmed after the account revoked is refused too.
    _, _, page = client.get(login_link(appid, wx.appid))
    client.post("/sandbox/revoke", {"appid": appid})
    body = urllib.parse.urlencode({k: v for k, v in forms(page)[0].items() if k != "openid"}).encode()
    status, _, refused = client.request(
        "POST", "/sandbox/oauth-confirm", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200 and b'data-error="10015"' in refused


def test_the_web_pages_state_is_saved_and_restored() -> None:
    world = World(SandboxConfig(port=0, clock=lambda: 1_800_000_000.0))
    appid = world.merchants.accounts()[0].appid
    world.merchants.authorize(appid)
    ticket = world.web.issue_ticket(appid, "jsapi")["ticket"]
    code = world.web.new_code(appid, "xiaoming", "snsapi_base")
    saved = json.loads(json.dumps(world.export()))
    copy = World(SandboxConfig(port=0, clock=lambda: 1_800_000_000.0))
    copy.restore(saved)
    assert copy.web.live_tickets(appid, "jsapi") == [ticket]
    assert copy.web.exchange_code(appid, code.value)["openid"] == world.web.openid(appid, "xiaoming")
    older = {key: value for key, value in saved.items() if key != "web"}  # saved before the web pages existed
    copy.restore(older)
    assert copy.web.live_tickets(appid, "jsapi") == []
