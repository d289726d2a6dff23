"""The sandbox as strict as WeChat's own documents (issue 18; docs/sandbox.md, "Sources"): each test
here fails against the sandbox as it was before, which answered the happy shape every time."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from infra.sandbox import Sandbox, SandboxConfig
from infra.sandbox.config import CHANNELS, NO_API_PERMISSION_INDEX, STORE, TALENT, seeded_accounts
from infra.sandbox.state import World
from tests.sandbox.helpers import START_DOMAIN, Client, Receiver, Wx, make_config

REDIRECT = START_DOMAIN + "/wechat/authorize/callback"
REFERER = {"Referer": START_DOMAIN + "/wechat/authorize"}
SEND = "/cgi-bin/message/custom/send"


def kind(wx: Wx, name: str) -> list[str]:
    return [a["appid"] for a in wx.accounts() if a["kind"] == name]


def advance(client: Client, seconds: float) -> None:
    client.post("/sandbox/clock", {"advance": seconds})


def exchanged(wx: Wx, code: str) -> dict[str, Any]:
    info: dict[str, Any] = wx.call("api_query_auth", {"authorization_code": code})["authorization_info"]
    return info


def page(wx: Wx, client: Client, **params: str) -> str:
    code = wx.call("api_create_preauthcode")["pre_auth_code"]
    query = {"component_appid": wx.appid, "pre_auth_code": code, "redirect_uri": REDIRECT, **params}
    return client.get("/cgi-bin/componentloginpage?" + urllib.parse.urlencode(query), REFERER)[2].decode()


def confirm(
    wx: Wx, client: Client, appid: str, func_info: list[int] | None = None
) -> tuple[int, dict[str, str], bytes]:
    fields: dict[str, Any] = {
        "pre_auth_code": wx.call("api_create_preauthcode")["pre_auth_code"],
        "appid": appid,
        "redirect_uri": REDIRECT,
    }
    if func_info is not None:
        fields.update(permissions_shown="1", func_info=[str(i) for i in func_info])
    form = urllib.parse.urlencode(fields, doseq=True).encode()
    return client.request(
        "POST", "/sandbox/authorize-confirm", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )


def no_push_in_flight(sandbox: Sandbox) -> bool:
    return not any(t.name == "sandbox-authorized-push" for t in threading.enumerate())


# -- 1. authorization codes live 600 s ---------------------------------------------------------------


def test_an_authorization_code_lives_600_seconds_as_the_redirect_says(
    wx: Wx, client: Client, receiver: Receiver
) -> None:
    appid = kind(wx, "official_account")[0]
    status, headers, _ = confirm(wx, client, appid)
    assert status == 302
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))
    assert params["expires_in"] == "600"
    pushed = receiver.wait_info("authorized")
    assert int(pushed.fields["AuthorizationCodeExpiredTime"]) == int(pushed.fields["CreateTime"]) + 600
    advance(client, 600)
    answer = wx.call("api_query_auth", {"authorization_code": params["auth_code"]})
    assert answer["errcode"] == 61010
    controlled = client.post("/sandbox/authorize", {"appid": kind(wx, "official_account")[1]})
    assert controlled["expires_in"] == 600


# -- 2. an unchanged permission set pushes nothing ----------------------------------------------------


def test_reauthorizing_with_the_same_permission_sets_pushes_nothing(
    wx: Wx, client: Client, receiver: Receiver, sandbox: Sandbox
) -> None:
    appid = kind(wx, "official_account")[0]
    first = client.post("/sandbox/authorize", {"appid": appid})
    assert first["event"] == "authorized" and first["delivery"]["ok"] is True
    same = client.post("/sandbox/update-authorization", {"appid": appid})
    assert same["event"] is None and same["delivery"] is None
    again = client.post("/sandbox/authorize", {"appid": appid})
    assert again["event"] is None and again["delivery"] is None
    # The page's confirm: the code comes back by the redirect alone, and no push thread starts.
    status, headers, _ = confirm(wx, client, appid)
    assert status == 302 and "auth_code=queryauthcode@@@" in headers["Location"]
    assert no_push_in_flight(sandbox)
    pushed = [p["info_type"] for p in client.get_json("/sandbox/pushes")["pushes"]]
    assert pushed.count("updateauthorized") == 0 and pushed.count("authorized") == 1
    # The redirect's code works: that is how the platform learns the new refresh token.
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))["auth_code"]
    assert exchanged(wx, code)["authorizer_refresh_token"].startswith("refreshtoken@@@")


def test_a_changed_permission_set_pushes_updateauthorized(wx: Wx, client: Client, receiver: Receiver) -> None:
    appid = kind(wx, "official_account")[0]
    client.post("/sandbox/authorize", {"appid": appid})
    changed = client.post("/sandbox/update-authorization", {"appid": appid, "func_info": [1, 4]})
    assert changed["event"] == "updateauthorized" and changed["delivery"]["ok"] is True
    assert receiver.wait_info("updateauthorized").fields["AuthorizationCode"] == changed["auth_code"]
    # From the page: the admin unticks a set.
    status, headers, _ = confirm(wx, client, appid, func_info=[1])
    assert status == 302
    pushed = receiver.wait_info("updateauthorized", count=2)
    assert pushed.fields["AuthorizationCode"] in headers["Location"]


def test_the_page_offers_each_accounts_permission_sets_ticked(wx: Wx, client: Client) -> None:
    appid = kind(wx, "official_account")[0]
    html = page(wx, client, auth_type="1")
    assert f'id="func-{appid}-1" checked' not in html  # the attribute order below
    assert f'name="func_info" value="1" checked id="func-{appid}-1"' in html
    status, _, body = confirm(wx, client, appid, func_info=[])
    assert status == 200 and b'data-error="func_info"' in body


# -- 3. the list's refresh token is empty until the code is exchanged ---------------------------------


def test_the_refresh_token_is_listed_only_once_the_code_was_exchanged(wx: Wx, client: Client) -> None:
    appid = kind(wx, "official_account")[0]
    code = client.post("/sandbox/authorize", {"appid": appid})["auth_code"]

    def listed() -> str:
        entries = wx.call("api_get_authorizer_list", {"offset": 0, "count": 500})["list"]
        return str(next(e["refresh_token"] for e in entries if e["authorizer_appid"] == appid))

    def in_info() -> str:
        info = wx.call("api_get_authorizer_info", {"authorizer_appid": appid})["authorization_info"]
        return str(info["authorizer_refresh_token"])

    assert listed() == "" and in_info() == ""
    refresh = exchanged(wx, code)["authorizer_refresh_token"]
    assert listed() == refresh and in_info() == refresh
    # A re-authorization makes a new refresh token, unlisted until its code is exchanged.
    again = client.post("/sandbox/authorize", {"appid": appid})["auth_code"]
    assert listed() == "" and in_info() == ""
    assert exchanged(wx, again)["authorizer_refresh_token"] == listed() != refresh


# -- 4. only the test list may authorize before the release -------------------------------------------


def test_before_the_release_only_the_test_list_may_authorize(wx: Wx, client: Client) -> None:
    officials = kind(wx, "official_account")
    state = client.get_json("/sandbox/release")
    assert state["released"] is False and set(officials) <= set(state["test_accounts"])  # the default
    client.post("/sandbox/test-accounts", {"appids": [officials[0]]})
    status, _, body = confirm(wx, client, officials[1])
    assert status == 200 and b'data-error="not_released"' in body
    assert "全网发布" in body.decode()
    assert client.post_raw("/sandbox/authorize", {"appid": officials[1]})[0] == 409
    assert confirm(wx, client, officials[0])[0] == 302
    assert confirm(wx, client, "wx570bc396a51b8ff8")[0] == 302  # WeChat's release-test account
    assert client.post("/sandbox/release", {"released": True})["released"] is True
    assert confirm(wx, client, officials[1])[0] == 302
    assert client.post_raw("/sandbox/test-accounts", {"appids": ["wx0000000000000000"]})[0] == 400


def test_a_sandbox_configured_released_or_with_a_test_list(receiver: Receiver) -> None:
    accounts = seeded_accounts(0)
    with Sandbox(make_config(receiver, test_accounts=[accounts[0].appid])) as sb:
        assert sb.world.merchants.may_authorize(accounts[0].appid)
        assert not sb.world.merchants.may_authorize(accounts[1].appid)
    with Sandbox(make_config(receiver, released=True, test_accounts=[])) as sb:
        assert sb.world.merchants.may_authorize(accounts[1].appid)


# -- 5. release check 3 races the authorized push; the Mini Program check -----------------------------


def test_release_check_3_pushes_authorized_with_the_same_code(
    wx: Wx, client: Client, receiver: Receiver, sandbox: Sandbox
) -> None:
    wx.token  # noqa: B018 - the system holds a component token
    exchanges: list[str] = []

    def answer(item: Any) -> tuple[int, bytes]:
        content = item.fields.get("Content", "")
        if not content.startswith("QUERY_AUTH_CODE:"):
            return 200, b"success"
        code = content.split(":", 1)[1]
        info = exchanged(wx, code)
        exchanges.append(code)
        body = {"touser": item.fields["FromUserName"], "msgtype": "text", "text": {"content": code + "_from_api"}}
        client.post(SEND, body, access_token=info["authorizer_access_token"])
        return 200, b""

    receiver.on_message = answer
    result = client.post("/sandbox/release-checks", {"wait": 5})
    by_name = {c["name"]: c for c in result["checks"]}
    for name, appid in (("query_auth_code", "wx570bc396a51b8ff8"), ("mini_program", "wxd101a85aa106f53e")):
        check = by_name[name]
        assert check["passed"] is True, check["detail"]
        assert check["required"] is True
        code = check["delivery"]["plaintext"].split("QUERY_AUTH_CODE:", 1)[1].split("]]>", 1)[0]
        push = check["authorized_push"]
        assert push["ok"] is True and push["info_type"] == "authorized"
        assert f"<AuthorizationCode><![CDATA[{code}]]>" in push["plaintext"]
        assert f"<AuthorizerAppid><![CDATA[{appid}]]>" in push["plaintext"]
        assert "1 accepted" in check["detail"]
    assert len(exchanges) == 2


def test_release_check_3_fails_when_the_message_is_sent_twice(wx: Wx, client: Client, receiver: Receiver) -> None:
    wx.token  # noqa: B018

    def answer(item: Any) -> tuple[int, bytes]:
        content = item.fields.get("Content", "")
        if content.startswith("QUERY_AUTH_CODE:"):
            code = content.split(":", 1)[1]
            token = exchanged(wx, code)["authorizer_access_token"]
            body = {"touser": item.fields["FromUserName"], "msgtype": "text", "text": {"content": code + "_from_api"}}
            for _ in range(2):  # the push and the message both handled in full
                client.post(SEND, body, access_token=token)
        return 200, b""

    receiver.on_message = answer
    result = client.post("/sandbox/release-checks", {"wait": 5, "appid": "wxd101a85aa106f53e"})
    check = next(c for c in result["checks"] if c["name"] == "query_auth_code")
    assert check["passed"] is False and "2 customer-service messages" in check["detail"]
    assert "mini_program" not in {c["name"] for c in result["checks"]}  # the named account was the Mini Program


# -- 6. customer-service allowances and permission sets -----------------------------------------------


@pytest.fixture
def oa_token(wx: Wx, client: Client) -> Iterator[tuple[str, str]]:
    appid = kind(wx, "official_account")[0]
    info = exchanged(wx, client.post("/sandbox/authorize", {"appid": appid})["auth_code"])
    yield appid, str(info["authorizer_access_token"])


def fresh_token(wx: Wx, appid: str) -> str:
    """A new authorizer access token (the old one expired when the clock moved on, and so did the
    component's: asked of the world directly)."""
    merchants = wx.sandbox.world.merchants
    refresh = next(a["refresh_token"] for a in merchants.states() if a["appid"] == appid)
    return str(merchants.authorizer_token(appid, refresh)["authorizer_access_token"])


def text(openid: str, n: int) -> dict[str, Any]:
    return {"touser": openid, "msgtype": "text", "text": {"content": f"reply {n}"}}


def test_five_messages_within_48_hours_of_a_users_message(wx: Wx, client: Client, oa_token: tuple[str, str]) -> None:
    appid, token = oa_token
    openid = "o" + "M" * 27
    assert client.post(SEND, text(openid, 0), access_token=token)["errcode"] == 45015  # never wrote
    client.post("/sandbox/send-message", {"appid": appid, "openid": openid, "content": "hi"})
    assert [client.post(SEND, text(openid, n), access_token=token)["errcode"] for n in range(6)] == [0] * 5 + [45047]
    client.post("/sandbox/send-message", {"appid": appid, "openid": openid, "content": "again"})
    assert client.post(SEND, text(openid, 6), access_token=token)["errcode"] == 0  # a new allowance
    advance(client, 48 * 3600)
    assert client.post(SEND, text(openid, 7), access_token=fresh_token(wx, appid))["errcode"] == 45015


def test_three_messages_within_a_minute_of_a_click_follow_or_scan(client: Client, oa_token: tuple[str, str]) -> None:
    appid, token = oa_token
    openid = "o" + "E" * 27
    client.post("/sandbox/send-event", {"appid": appid, "openid": openid, "event": "LOCATION"})
    assert client.post(SEND, text(openid, 0), access_token=token)["errcode"] == 45015  # LOCATION opens none
    for event in ("CLICK", "subscribe", "SCAN"):
        client.post("/sandbox/send-event", {"appid": appid, "openid": openid, "event": event, "event_key": "k"})
        sent = [client.post(SEND, text(openid, n), access_token=token)["errcode"] for n in range(4)]
        assert sent == [0, 0, 0, 45047], event
    client.post("/sandbox/send-event", {"appid": appid, "openid": openid, "event": "CLICK"})
    advance(client, 60)
    assert client.post(SEND, text(openid, 9), access_token=token)["errcode"] == 45015


def test_permission_sets_the_account_did_not_grant_are_refused(wx: Wx, client: Client) -> None:
    appid = kind(wx, "official_account")[0]
    code = client.post("/sandbox/authorize", {"appid": appid, "func_info": [2, 3]})["auth_code"]
    token = exchanged(wx, code)["authorizer_access_token"]
    openid = "o" + "P" * 27
    client.post("/sandbox/send-message", {"appid": appid, "openid": openid, "content": "hi"})
    assert client.post(SEND, text(openid, 0), access_token=token)["errcode"] == 48001  # no set 1
    ticket = json.loads(client.get(f"/cgi-bin/ticket/getticket?access_token={token}&type=jsapi")[2])
    assert ticket["errcode"] == 61007  # no set 4 (web pages)


def test_a_mini_program_gets_no_js_sdk_ticket(wx: Wx, client: Client) -> None:
    appid = kind(wx, "mini_program")[0]
    token = exchanged(wx, client.post("/sandbox/authorize", {"appid": appid})["auth_code"])["authorizer_access_token"]
    answer = json.loads(client.get(f"/cgi-bin/ticket/getticket?access_token={token}&type=jsapi")[2])
    assert answer["errcode"] == 48001


# -- 7. accounts without API permission ---------------------------------------------------------------


def test_an_account_without_api_permission_gets_no_tokens(wx: Wx, client: Client) -> None:
    no_api = seeded_accounts(0)[NO_API_PERMISSION_INDEX]
    assert not no_api.api_permission and no_api.kind == "official_account"
    state = next(a for a in wx.accounts() if a["appid"] == no_api.appid)
    assert state["api_permission"] is False
    info = exchanged(wx, client.post("/sandbox/authorize", {"appid": no_api.appid})["auth_code"])
    assert set(info) == {"authorizer_appid", "func_info"} and info["authorizer_appid"] == no_api.appid
    listed = wx.call("api_get_authorizer_list", {"offset": 0, "count": 500})["list"]
    assert [e["refresh_token"] for e in listed if e["authorizer_appid"] == no_api.appid] == [""]
    profile = wx.call("api_get_authorizer_info", {"authorizer_appid": no_api.appid})
    assert profile["authorization_info"]["authorizer_refresh_token"] == ""
    body = {"authorizer_appid": no_api.appid, "authorizer_refresh_token": ""}
    assert wx.call("api_authorizer_token", body)["errcode"] == 61023
    # Given API permission, its next authorization brings tokens.
    flipped = client.post(f"/sandbox/accounts/{no_api.appid}/api-permission", {"enabled": True})
    assert flipped == {"appid": no_api.appid, "api_permission": True}
    info = exchanged(wx, client.post("/sandbox/authorize", {"appid": no_api.appid})["auth_code"])
    assert info["authorizer_access_token"] and info["expires_in"] == 7200
    body["authorizer_refresh_token"] = info["authorizer_refresh_token"]
    assert wx.call("api_authorizer_token", body)["authorizer_access_token"]


def test_taking_api_permission_away_leaves_the_next_grant_without_tokens(wx: Wx, client: Client) -> None:
    appid = kind(wx, "official_account")[0]
    first = exchanged(wx, client.post("/sandbox/authorize", {"appid": appid})["auth_code"])
    client.post(f"/sandbox/accounts/{appid}/api-permission", {"enabled": False})
    again = exchanged(wx, client.post("/sandbox/authorize", {"appid": appid})["auth_code"])
    assert "authorizer_access_token" not in again
    send = text("o" + "Q" * 27, 0)
    assert client.post(SEND, send, access_token=first["authorizer_access_token"])["errcode"] == 40001


# -- 8. Channels, shop and talent accounts ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field", "auth_type"),
    [(CHANNELS, "channels_info", "5"), (STORE, "store_info", "6"), (TALENT, "talent_info", "8")],
)
def test_newer_account_kinds_have_their_own_profile_shape(
    wx: Wx, client: Client, name: str, field: str, auth_type: str
) -> None:
    (appid,) = kind(wx, name)
    assert f'data-appid="{appid}"' in page(wx, client, auth_type=auth_type)
    assert f'data-appid="{appid}"' not in page(wx, client, auth_type="3")
    client.post("/sandbox/authorize", {"appid": appid})
    info = wx.call("api_get_authorizer_info", {"authorizer_appid": appid})["authorizer_info"]
    assert "service_type_info" not in info and "verify_type_info" not in info
    assert "MiniProgramInfo" not in info and "business_info" not in info
    assert isinstance(info[field], dict) and info["nick_name"] and info["user_name"].startswith("gh_")
    others = {"channels_info", "store_info", "talent_info"} - {field}
    assert not others & set(info)


# -- 9. web login: snapshot users, the refusal, no sex nor region -------------------------------------


def oauth_link(appid: str, component_appid: str, scope: str = "snsapi_userinfo") -> str:
    query = {
        "appid": appid,
        "redirect_uri": START_DOMAIN + "/h5/login",
        "response_type": "code",
        "scope": scope,
        "state": "s-7",
        "component_appid": component_appid,
    }
    return "/connect/oauth2/authorize?" + urllib.parse.urlencode(query)


def sns(client: Client, path: str, **query: str) -> Any:
    return json.loads(client.get(f"{path}?{urllib.parse.urlencode(query)}")[2])


def test_web_login_for_a_snapshot_user_and_user_info_without_sex_or_region(
    wx: Wx, client: Client, oa_token: tuple[str, str]
) -> None:
    appid, _ = oa_token

    def login(user: str) -> Any:
        code = client.post("/sandbox/oauth-code", {"appid": appid, "scope": "snsapi_userinfo", "user": user})["code"]
        query = {"grant_type": "authorization_code", "component_appid": wx.appid, "component_access_token": wx.token}
        return sns(client, "/sns/oauth2/component/access_token", appid=appid, code=code, **query)

    visitor = login("visitor")
    assert visitor["is_snapshotuser"] == 1
    profile = sns(client, "/sns/userinfo", access_token=visitor["access_token"], openid=visitor["openid"])
    assert profile["errcode"] == 48001
    alice = login("alice")
    assert "is_snapshotuser" not in alice
    profile = sns(client, "/sns/userinfo", access_token=alice["access_token"], openid=alice["openid"])
    assert (profile["sex"], profile["province"], profile["city"], profile["country"]) == (0, "", "", "")
    assert profile["nickname"] == "爱丽丝 Alice"


def test_a_user_who_declines_comes_back_with_the_state_only(wx: Wx, client: Client, oa_token: tuple[str, str]) -> None:
    appid, _ = oa_token
    html = client.get(oauth_link(appid, wx.appid))[2].decode()
    assert 'id="deny"' in html and 'action="/sandbox/oauth-deny"' in html
    form = {"appid": appid, "redirect_uri": START_DOMAIN + "/h5/login", "scope": "snsapi_userinfo", "state": "s-7"}
    status, headers, _ = client.request(
        "POST",
        "/sandbox/oauth-deny",
        urllib.parse.urlencode(form).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 302 and headers["Location"] == START_DOMAIN + "/h5/login?state=s-7"
    refusal = client.post("/sandbox/oauth-refusal", {"appid": appid, "redirect_uri": START_DOMAIN + "/cb?x=1"})
    assert refusal["location"] == START_DOMAIN + "/cb?x=1&state="


# -- 10. domains compared by domain -------------------------------------------------------------------


def test_the_referer_and_the_callback_are_compared_by_domain(wx: Wx, client: Client) -> None:
    # START_DOMAIN is https://vendor.example: another scheme or port on the same domain passes.
    code = wx.call("api_create_preauthcode")["pre_auth_code"]
    query = {"component_appid": wx.appid, "pre_auth_code": code, "redirect_uri": "http://vendor.example:8443/cb"}
    path = "/cgi-bin/componentloginpage?" + urllib.parse.urlencode(query)
    html = client.get(path, {"Referer": "http://vendor.example:8080/start"})[2].decode()
    assert 'id="accounts"' in html
    html = client.get(path, {"Referer": "https://sub.vendor.example/start"})[2].decode()
    assert 'data-error="referer"' in html


# -- 11. the same JS-SDK ticket within its life (observed only) ---------------------------------------


def test_the_same_ticket_mode_returns_the_live_ticket_without_extending_it(
    wx: Wx, client: Client, oa_token: tuple[str, str]
) -> None:
    appid, token = oa_token
    assert client.get_json("/sandbox/ticket-mode") == {"mode": "new"}

    def ticket() -> Any:
        return json.loads(client.get(f"/cgi-bin/ticket/getticket?access_token={token}&type=jsapi")[2])

    first = ticket()
    assert ticket()["ticket"] != first["ticket"]  # the default: a new one each call
    assert client.post("/sandbox/ticket-mode", {"mode": "same"}) == {"mode": "same"}
    current = ticket()
    advance(client, 7000)
    token = fresh_token(wx, appid)
    again = ticket()
    assert again["ticket"] == current["ticket"] and again["expires_in"] == 7200
    advance(client, 200)  # its real life ended at 7200 s after it was issued, whatever was answered
    assert not client.post("/sandbox/jsapi-verify", {"ticket": current["ticket"], **_config(current["ticket"])})[
        "ticket_live"
    ]
    assert ticket()["ticket"] != current["ticket"]
    assert client.post_raw("/sandbox/ticket-mode", {"mode": "other"})[0] == 400


def _config(ticket: str) -> dict[str, str]:
    url = START_DOMAIN + "/p"
    signed = f"jsapi_ticket={ticket}&noncestr=n&timestamp=1&url={url}"
    return {
        "nonceStr": "n",
        "timestamp": "1",
        "url": url,
        "signature": hashlib.sha1(signed.encode(), usedforsecurity=False).hexdigest(),
    }


# -- 12. a world saved before these fields restores with their defaults -------------------------------


def test_a_world_saved_before_these_fields_restores_with_defaults() -> None:
    world = World(SandboxConfig(port=0, clock=lambda: 1_800_000_000.0))
    appid = world.merchants.accounts()[0].appid
    code, _ = world.merchants.authorize(appid)
    refresh = world.merchants.query_auth(code.value)["authorization_info"]["authorizer_refresh_token"]
    data = json.loads(json.dumps(world.export()))
    merchants = data["merchants"]
    for name in ("api_permission", "released", "test_accounts"):
        merchants.pop(name)
    for grant in merchants["grants"]:
        grant.pop("exchanged")
        grant.pop("api_permission")
    copy = World(SandboxConfig(port=0, clock=lambda: 1_800_000_000.0))
    copy.restore(data)
    assert copy.merchants.authorizer_list(0, 10)["list"][0]["refresh_token"] == refresh  # exchanged: listed
    assert copy.merchants.authorizer_token(appid, refresh)["authorizer_access_token"]
    assert copy.merchants.test_accounts() == [a.appid for a in copy.merchants.accounts()]
    assert copy.merchants.released is False
    fresh = World(SandboxConfig(port=0, clock=lambda: 1_800_000_000.0))
    fresh.restore(json.loads(json.dumps(copy.export())))
    assert fresh.export() == copy.export()
