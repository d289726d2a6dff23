"""WeChat's API paths: tokens, codes, grants and their errcodes."""

from __future__ import annotations

from typing import Any

import pytest

from infra.sandbox import Sandbox
from tests.sandbox.helpers import Client, Receiver, Wx

TOKEN = "/cgi-bin/component/api_component_token"


def official(wx: Wx) -> list[str]:
    return [a["appid"] for a in wx.accounts() if a["kind"] == "official_account"]


def mini(wx: Wx) -> list[str]:
    return [a["appid"] for a in wx.accounts() if a["kind"] == "mini_program"]


def token_body(wx: Wx, **overrides: Any) -> dict[str, Any]:
    body = {
        "component_appid": wx.appid,
        "component_appsecret": wx.sandbox.config.component_appsecret,
        "component_verify_ticket": wx.ticket(),
    }
    body.update(overrides)
    return body


def advance(client: Client, seconds: float) -> None:
    client.post("/sandbox/clock", {"advance": seconds})


def test_component_token_accepts_a_pushed_ticket(wx: Wx, client: Client) -> None:
    answer = client.post(TOKEN, token_body(wx))
    assert answer["expires_in"] == 7200
    assert len(answer["component_access_token"]) > 100
    second = client.post(TOKEN, token_body(wx))
    assert second["component_access_token"] != answer["component_access_token"]


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [
        ({"component_appsecret": "wrong"}, 40125),  # WeChat's code for a wrong secret here
        ({"component_verify_ticket": "ticket@@@unknown"}, 61006),
        ({"component_verify_ticket": None}, 61006),
        ({"component_appid": "wx0000000000000000"}, 61011),
        ({"component_appid": "nonsense"}, 40013),
    ],
)
def test_component_token_refusals(wx: Wx, client: Client, overrides: dict[str, Any], errcode: int) -> None:
    answer = client.post(TOKEN, token_body(wx, **overrides))
    assert answer["errcode"] == errcode
    assert answer["errmsg"]


def test_component_token_refuses_an_expired_ticket(wx: Wx, client: Client) -> None:
    body = token_body(wx)
    advance(client, 12 * 3600)
    assert client.post(TOKEN, body)["errcode"] == 61005
    fresh = client.post("/sandbox/push-ticket")["ticket"]
    assert "component_access_token" in client.post(TOKEN, {**body, "component_verify_ticket": fresh})


def test_previous_component_token_lives_five_minutes(wx: Wx, client: Client) -> None:
    old = wx.new_component_token()
    new = wx.new_component_token()
    assert wx.call("api_create_preauthcode")["pre_auth_code"].startswith("preauthcode@@@")
    pre = client.post(
        "/cgi-bin/component/api_create_preauthcode", {"component_appid": wx.appid}, component_access_token=old
    )
    assert "pre_auth_code" in pre
    advance(client, 301)
    stale = client.post(
        "/cgi-bin/component/api_create_preauthcode", {"component_appid": wx.appid}, component_access_token=old
    )
    assert stale["errcode"] == 40001
    assert "pre_auth_code" in client.post(
        "/cgi-bin/component/api_create_preauthcode", {"component_appid": wx.appid}, component_access_token=new
    )
    advance(client, 7200)
    expired = client.post(
        "/cgi-bin/component/api_create_preauthcode", {"component_appid": wx.appid}, component_access_token=new
    )
    assert expired["errcode"] == 42001


def test_token_must_be_in_the_query(wx: Wx, client: Client) -> None:
    token = wx.token
    path = "/cgi-bin/component/api_create_preauthcode"
    in_body = client.post(path, {"component_appid": wx.appid, "component_access_token": token})
    assert in_body["errcode"] == 41001
    assert client.post(path, {"component_appid": wx.appid})["errcode"] == 41001
    assert client.post(path, {"component_appid": wx.appid}, component_access_token="nope")["errcode"] == 40001
    wrong = client.post(path, {"component_appid": "wx0000000000000000"}, component_access_token=token)
    assert wrong["errcode"] == 61011


def test_pre_auth_code_shape(wx: Wx) -> None:
    answer = wx.call("api_create_preauthcode")
    assert answer["expires_in"] == 1800
    assert answer["pre_auth_code"].startswith("preauthcode@@@")


def test_query_auth_is_single_use(wx: Wx, receiver: Receiver) -> None:
    appid = official(wx)[0]
    code = wx.authorize(appid)
    info = wx.call("api_query_auth", {"authorization_code": code})["authorization_info"]
    assert info["authorizer_appid"] == appid
    assert info["expires_in"] == 7200
    assert info["authorizer_refresh_token"].startswith("refreshtoken@@@")
    assert {"funcscope_category": {"id": 1}} in info["func_info"]
    assert wx.call("api_query_auth", {"authorization_code": code})["errcode"] == 61009
    assert wx.call("api_query_auth", {"authorization_code": "queryauthcode@@@nope"})["errcode"] == 61009
    pushed = receiver.wait_info("authorized")
    assert pushed.fields["AuthorizationCode"] == code


def test_query_auth_code_expires(wx: Wx, client: Client) -> None:
    code = wx.authorize(official(wx)[0])
    wx.token  # noqa: B018 - fetch the token before moving the clock
    advance(client, 3600)
    assert wx.call("api_query_auth", {"authorization_code": code})["errcode"] == 61010


def test_authorizer_token_without_and_with_rotation(wx: Wx, client: Client) -> None:
    appid = official(wx)[0]
    info = wx.call("api_query_auth", {"authorization_code": wx.authorize(appid)})["authorization_info"]
    refresh = info["authorizer_refresh_token"]
    same = wx.call("api_authorizer_token", {"authorizer_appid": appid, "authorizer_refresh_token": refresh})
    assert same["authorizer_refresh_token"] == refresh
    assert same["expires_in"] == 7200
    assert same["authorizer_access_token"] != info["authorizer_access_token"]

    client.post(f"/sandbox/accounts/{appid}/rotation", {"enabled": True})
    rotated = wx.call("api_authorizer_token", {"authorizer_appid": appid, "authorizer_refresh_token": refresh})
    new_refresh = rotated["authorizer_refresh_token"]
    assert new_refresh != refresh
    client.post(f"/sandbox/accounts/{appid}/rotation", {"enabled": False})
    overlap = wx.call("api_authorizer_token", {"authorizer_appid": appid, "authorizer_refresh_token": refresh})
    assert overlap["authorizer_refresh_token"] == new_refresh
    advance(client, 300)
    wx.new_component_token()
    late = wx.call("api_authorizer_token", {"authorizer_appid": appid, "authorizer_refresh_token": refresh})
    assert late["errcode"] == 61023
    ok = wx.call("api_authorizer_token", {"authorizer_appid": appid, "authorizer_refresh_token": new_refresh})
    assert ok["authorizer_refresh_token"] == new_refresh
    bad = wx.call("api_authorizer_token", {"authorizer_appid": appid, "authorizer_refresh_token": "x"})
    assert bad["errcode"] == 61023


def test_revoke_gives_61003(wx: Wx, client: Client, receiver: Receiver) -> None:
    appid = official(wx)[1]
    info = wx.call("api_query_auth", {"authorization_code": wx.authorize(appid)})["authorization_info"]
    access = info["authorizer_access_token"]
    openid = client.post("/sandbox/send-message", {"appid": appid, "content": "hi"})["openid"]  # the user wrote
    send = {"touser": openid, "msgtype": "text", "text": {"content": "hi"}}
    assert client.post("/cgi-bin/message/custom/send", send, access_token=access)["errcode"] == 0
    revoked = client.post("/sandbox/revoke", {"appid": appid})
    assert revoked["delivery"]["ok"] is True
    assert receiver.wait_info("unauthorized").fields["AuthorizerAppid"] == appid
    body = {"authorizer_appid": appid, "authorizer_refresh_token": info["authorizer_refresh_token"]}
    assert wx.call("api_authorizer_token", body)["errcode"] == 61003
    assert wx.call("api_get_authorizer_info", {"authorizer_appid": appid})["errcode"] == 61003
    assert client.post("/cgi-bin/message/custom/send", send, access_token=access)["errcode"] == 40001
    assert client.post_raw("/sandbox/revoke", {"appid": appid})[0] == 409


def test_reauthorization_kills_the_old_refresh_token(wx: Wx, receiver: Receiver) -> None:
    appid = official(wx)[0]
    first = wx.call("api_query_auth", {"authorization_code": wx.authorize(appid)})["authorization_info"]
    second = wx.call("api_query_auth", {"authorization_code": wx.authorize(appid)})["authorization_info"]
    assert first["authorizer_refresh_token"] != second["authorizer_refresh_token"]
    body = {"authorizer_appid": appid, "authorizer_refresh_token": first["authorizer_refresh_token"]}
    assert wx.call("api_authorizer_token", body)["errcode"] == 61023


def test_authorizer_info_shapes(wx: Wx) -> None:
    oa, mp = official(wx)[0], mini(wx)[0]
    wx.authorize(oa)
    wx.authorize(mp)
    oa_info = wx.call("api_get_authorizer_info", {"authorizer_appid": oa})
    info = oa_info["authorizer_info"]
    assert info["user_name"].startswith("gh_") and len(info["user_name"]) == 15
    assert info["account_status"] == 1
    assert info["service_type_info"] == {"id": 2}
    assert "MiniProgramInfo" not in info
    assert info["head_img"] == f"{wx.sandbox.url}/sandbox/avatar/{oa}.svg"
    assert oa_info["authorization_info"]["authorizer_appid"] == oa
    mp_info = wx.call("api_get_authorizer_info", {"authorizer_appid": mp})["authorizer_info"]
    assert "MiniProgramInfo" in mp_info
    assert wx.call("api_get_authorizer_info", {"authorizer_appid": official(wx)[2]})["errcode"] == 61003


def test_authorizer_list_pages(wx: Wx) -> None:
    appids = official(wx)[:3]
    for appid in appids:
        wx.authorize(appid)
    first = wx.call("api_get_authorizer_list", {"offset": 0, "count": 2})
    second = wx.call("api_get_authorizer_list", {"offset": 2, "count": 2})
    assert first["total_count"] == second["total_count"] == 3
    listed = [e["authorizer_appid"] for e in first["list"] + second["list"]]
    assert sorted(listed) == sorted(appids)
    assert all(e["refresh_token"] == "" for e in first["list"])  # no code was exchanged yet
    assert wx.call("api_get_authorizer_list", {"offset": 0, "count": 501})["errcode"] == 40097
    assert wx.call("api_get_authorizer_list", {"offset": -1, "count": 5})["errcode"] == 40097


def test_start_push_ticket(wx: Wx, client: Client, receiver: Receiver) -> None:
    receiver.wait_info("component_verify_ticket")
    body = {"component_appid": wx.appid, "component_secret": wx.sandbox.config.component_appsecret}
    assert client.post("/cgi-bin/component/api_start_push_ticket", body) == {"errcode": 0, "errmsg": "ok"}
    receiver.wait_info("component_verify_ticket", count=2)
    wrong = client.post("/cgi-bin/component/api_start_push_ticket", {**body, "component_secret": "x"})
    assert wrong["errcode"] == 40001


def test_custom_send_is_recorded(wx: Wx, client: Client) -> None:
    appid = official(wx)[0]
    access = wx.call("api_query_auth", {"authorization_code": wx.authorize(appid)})["authorization_info"][
        "authorizer_access_token"
    ]
    openid = client.post("/sandbox/send-message", {"appid": appid, "content": "hi"})["openid"]  # the user wrote
    send = {"touser": openid, "msgtype": "text", "text": {"content": "你好"}}
    assert client.post("/cgi-bin/message/custom/send", send, access_token=access) == {
        "errcode": 0,
        "errmsg": "ok",
    }
    messages = client.get_json("/sandbox/messages")["messages"]
    assert [(m["appid"], m["touser"], m["content"]) for m in messages] == [(appid, openid, "你好")]
    assert client.post("/cgi-bin/message/custom/send", send)["errcode"] == 41001
    assert client.post("/cgi-bin/message/custom/send", send, access_token="nope")["errcode"] == 40001
    assert client.post("/cgi-bin/message/custom/send", {"touser": "o"}, access_token=access)["errcode"] == 44002


def test_clear_quota_limit_and_quota_faults(wx: Wx, client: Client) -> None:
    client.post("/sandbox/faults", {"api": "api_component_token", "kind": "errcode", "value": 45009, "count": None})
    assert client.post(TOKEN, token_body(wx))["errcode"] == 45009
    body = {"component_appid": wx.appid, "appsecret": wx.sandbox.config.component_appsecret}
    assert client.post("/cgi-bin/component/clear_quota/v2", body)["errcode"] == 0
    assert "component_access_token" in client.post(TOKEN, token_body(wx))
    for _ in range(9):
        assert client.post("/cgi-bin/component/clear_quota/v2", body)["errcode"] == 0
    assert client.post("/cgi-bin/component/clear_quota/v2", body)["errcode"] == 48006
    wrong = client.post("/cgi-bin/component/clear_quota/v2", {**body, "appsecret": "x"})
    assert wrong["errcode"] == 40001


def test_bad_json_unknown_path_and_get(sandbox: Sandbox, client: Client) -> None:
    status, _, data = client.request("POST", TOKEN, b"{not json", {"Content-Type": "application/json"})
    assert status == 200 and b'"errcode": 47001' in data
    status, _, data = client.request("POST", "/cgi-bin/nope", b"{}")
    assert status == 404 and b'"errcode": -1' in data
    status, _, data = client.get(TOKEN)
    assert status == 200 and b"43002" in data
