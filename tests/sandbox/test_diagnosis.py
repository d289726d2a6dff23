"""The sandbox plays WeChat's diagnosis APIs over HTTP (issue 22): every error ends with a rid that
getRidInfo resolves for 7 days, to the account that made the call only; getApiQuota counts each
account's calls per API per day and 45009 refuses past the limit; clear_quota/v2 resets an account's
counts 10 times a month; and a second listener plays WeChat's disaster-recovery host, either
listener able to refuse connections as an unreachable host does."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from infra.sandbox import Sandbox
from tests.sandbox.helpers import Client, Receiver, Wx, make_config

TOKEN = "/cgi-bin/component/api_component_token"
RID_GET = "/cgi-bin/openapi/rid/get"
QUOTA_GET = "/cgi-bin/openapi/quota/get"
CLEAR = "/cgi-bin/component/clear_quota/v2"
PREAUTH = "/cgi-bin/component/api_create_preauthcode"


@pytest.fixture
def small(receiver: Receiver) -> Iterator[Sandbox]:
    """Two pre-auth codes and two custom messages a day, and a disaster-recovery listener."""
    config = make_config(receiver, daily_quotas={"api_create_preauthcode": 2, "custom_send": 2}, dr_port=0)
    with Sandbox(config) as sandbox:
        yield sandbox


@pytest.fixture
def swx(small: Sandbox, receiver: Receiver) -> Wx:
    return Wx(small, Client(small.url), receiver)


def rid_of(answer: dict[str, Any]) -> str:
    errmsg: str = answer["errmsg"]
    assert " rid: " in errmsg, answer
    return errmsg.rsplit(" rid: ", 1)[1]


def lookup(client: Client, token: str, rid: object) -> Any:
    return client.post(RID_GET, {"rid": rid}, access_token=token)


def official(wx: Wx) -> str:
    return str(next(a["appid"] for a in wx.accounts() if a["kind"] == "official_account"))


def mini_program(wx: Wx) -> str:
    return str(next(a["appid"] for a in wx.accounts() if a["kind"] == "mini_program"))


def fresh_token(wx: Wx) -> str:
    """A component token after the clock moved past the last ticket's 12 hours: a new ticket first."""
    ticket = wx.client.post("/sandbox/push-ticket")["ticket"]
    body = {"component_appid": wx.appid, "component_appsecret": wx.sandbox.config.component_appsecret}
    return str(wx.client.post(TOKEN, {**body, "component_verify_ticket": ticket})["component_access_token"])


def authorized(wx: Wx, appid: str) -> str:
    """The account's authorizer access token, once it authorized."""
    info = wx.call("api_query_auth", {"authorization_code": wx.authorize(appid)})["authorization_info"]
    return str(info["authorizer_access_token"])


# -- rids --------------------------------------------------------------------------------------------


def test_a_refused_call_is_looked_up_by_its_rid_with_what_wechat_saw(wx: Wx, client: Client) -> None:
    body = {"component_appid": wx.appid, "component_appsecret": "wrong", "component_verify_ticket": wx.ticket()}
    refused = client.post(TOKEN, body)
    assert refused["errcode"] == 40125
    rid = rid_of(refused)
    found = lookup(client, wx.token, rid)
    assert found["errcode"] == 0, found
    request = found["request"]
    assert json.loads(request["request_body"]) == body  # WeChat shows what came, secrets and all
    assert json.loads(request["response_body"]) == refused
    assert request["client_ip"] == "127.0.0.1" and request["request_url"] == ""
    now = client.get_json("/sandbox/state")["now"]
    assert now - 60 < request["invoke_time"] <= now and request["cost_in_ms"] >= 0


def test_a_fault_and_a_whitelist_refusal_carry_a_rid_too(wx: Wx, client: Client) -> None:
    wx.token  # noqa: B018 - the token first, while nothing refuses it
    client.post("/sandbox/faults", {"api": "api_create_preauthcode", "kind": "errcode", "value": -1, "count": 1})
    busy = wx.call("api_create_preauthcode")
    assert lookup(client, wx.token, rid_of(busy))["request"]["request_url"] == f"component_access_token={wx.token}"
    client.post("/sandbox/whitelist", {"ips": ["203.0.113.7"]})
    refused = wx.call("api_create_preauthcode")
    assert refused["errcode"] == 61004 and "requestIP: 127.0.0.1" in refused["errmsg"]
    client.post("/sandbox/whitelist", {"ips": None})
    assert lookup(client, wx.token, rid_of(refused))["request"]["client_ip"] == "127.0.0.1"


def test_only_the_account_that_made_the_call_may_look_its_rid_up(wx: Wx, client: Client) -> None:
    appid = mini_program(wx)
    access = authorized(wx, appid)
    refused = client.get_json(f"/cgi-bin/ticket/getticket?access_token={access}&type=jsapi")
    assert refused["errcode"] == 48001  # a Mini Program has no JS-SDK
    rid = rid_of(refused)
    assert lookup(client, wx.token, rid)["errcode"] == 76003  # the component did not make that call
    assert lookup(client, access, rid)["request"]["request_url"] == f"access_token={access}&type=jsapi"
    mine = rid_of(wx.call("api_query_auth", {"authorization_code": "nope"}))
    assert lookup(client, access, mine)["errcode"] == 76003


def test_a_rid_is_kept_seven_days_and_must_have_wechats_shape(wx: Wx, client: Client) -> None:
    rid = rid_of(wx.call("api_query_auth", {"authorization_code": "nope"}))
    for bad in ("", "61725984", 42, "61725984-6126f6f9-040f19cG"):
        assert lookup(client, wx.token, bad)["errcode"] == 76002
    assert lookup(client, wx.token, "61725984-6126f6f9-040f19c4")["errcode"] == 76001
    client.post("/sandbox/clock", {"advance": 7 * 86400 - 600})
    assert lookup(client, fresh_token(wx), rid)["errcode"] == 0
    client.post("/sandbox/clock", {"advance": 600})
    assert lookup(client, fresh_token(wx), rid)["errcode"] == 76001


def test_web_login_rids_are_not_looked_up(wx: Wx, client: Client) -> None:
    refused = client.get_json("/sns/userinfo?access_token=nope&openid=o&lang=zh_CN")
    assert refused["errcode"] != 0
    assert lookup(client, wx.token, rid_of(refused))["errcode"] == 76022


def test_looking_up_needs_a_live_token(wx: Wx, client: Client) -> None:
    rid = rid_of(wx.call("api_query_auth", {"authorization_code": "nope"}))
    assert client.post(RID_GET, {"rid": rid})["errcode"] == 41001
    assert lookup(client, "not-a-token", rid)["errcode"] == 40001


# -- quotas ------------------------------------------------------------------------------------------


def quota(client: Client, token: str, path: str) -> Any:
    return client.post(QUOTA_GET, {"cgi_path": path}, access_token=token)


def test_each_api_counts_its_calls_and_45009_refuses_past_the_limit(swx: Wx, small: Sandbox) -> None:
    client = swx.client
    assert quota(client, swx.token, PREAUTH)["quota"] == {"daily_limit": 2, "used": 0, "remain": 2}
    assert "pre_auth_code" in swx.call("api_create_preauthcode")
    assert quota(client, swx.token, PREAUTH)["quota"] == {"daily_limit": 2, "used": 1, "remain": 1}
    swx.call("api_create_preauthcode")
    spent = swx.call("api_create_preauthcode")
    assert spent["errcode"] == 45009 and spent["errmsg"].startswith("reach max api daily quota limit rid: ")
    assert quota(client, swx.token, PREAUTH)["quota"] == {"daily_limit": 2, "used": 2, "remain": 0}
    assert quota(client, swx.token, TOKEN)["quota"] == {"daily_limit": 10000, "used": 1, "remain": 9999}
    client.post("/sandbox/clock", {"advance": 86400})  # a new day in Beijing
    assert quota(client, fresh_token(swx), PREAUTH)["quota"]["used"] == 0


def test_an_accounts_apis_are_its_own_quota(swx: Wx) -> None:
    client = swx.client
    appid = official(swx)
    access = authorized(swx, appid)
    openid = client.post("/sandbox/send-message", {"appid": appid, "content": "hi"})["openid"]
    send = {"touser": openid, "msgtype": "text", "text": {"content": "你好"}}
    for _ in range(2):
        assert client.post("/cgi-bin/message/custom/send", send, access_token=access)["errcode"] == 0
    assert client.post("/cgi-bin/message/custom/send", send, access_token=access)["errcode"] == 45009
    assert quota(client, access, "/cgi-bin/message/custom/send")["quota"] == {"daily_limit": 2, "used": 2, "remain": 0}
    assert quota(client, swx.token, "/cgi-bin/message/custom/send")["errcode"] == 76022  # not the component's
    assert quota(client, access, TOKEN)["errcode"] == 76022
    assert quota(client, access, "/cgi-bin/nope")["errcode"] == 76021
    assert quota(client, access, "/sns/userinfo")["errcode"] == 76022


def test_clear_quota_resets_one_accounts_counts_ten_times_a_month(swx: Wx, small: Sandbox) -> None:
    client = swx.client
    secret = small.config.component_appsecret
    appid = official(swx)
    access = authorized(swx, appid)
    openid = client.post("/sandbox/send-message", {"appid": appid, "content": "hi"})["openid"]
    send = {"touser": openid, "msgtype": "text", "text": {"content": "hi"}}
    for _ in range(3):
        client.post("/cgi-bin/message/custom/send", send, access_token=access)
        swx.call("api_create_preauthcode")
    assert client.post(CLEAR, {"component_appid": swx.appid, "appsecret": secret, "appid": appid})["errcode"] == 0
    assert quota(client, access, "/cgi-bin/message/custom/send")["quota"]["used"] == 0
    assert swx.call("api_create_preauthcode")["errcode"] == 45009  # the component's own are not cleared
    assert client.post(CLEAR, {"component_appid": swx.appid, "appsecret": secret})["errcode"] == 0
    assert "pre_auth_code" in swx.call("api_create_preauthcode")
    for _ in range(9):
        assert client.post(CLEAR, {"component_appid": swx.appid, "appsecret": secret})["errcode"] == 0
    assert client.post(CLEAR, {"component_appid": swx.appid, "appsecret": secret})["errcode"] == 48006
    described = client.get_json("/sandbox/quotas")
    assert described["clears"] == {swx.appid: 10, appid: 1} and described["clears_per_month"] == 10
    other = mini_program(swx)  # never authorized
    assert client.post(CLEAR, {"component_appid": swx.appid, "appsecret": secret, "appid": other})["errcode"] == 61003
    assert client.post(CLEAR, {"component_appid": swx.appid, "appsecret": "x"})["errcode"] == 40001


# -- the disaster-recovery listener -----------------------------------------------------------------


def refuses(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        try:
            sock.connect((host, int(port)))
        except ConnectionRefusedError:
            return True
    return False


def test_the_disaster_recovery_listener_serves_the_same_wechat(swx: Wx, small: Sandbox) -> None:
    dr = Client(small.dr_url)
    assert "pre_auth_code" in dr.post(PREAUTH, {"component_appid": swx.appid}, component_access_token=swx.token)
    calls = swx.client.get_json("/sandbox/calls?api=api_create_preauthcode")["calls"]
    assert [c["listener"] for c in calls] == ["dr"]


def test_a_listener_taken_down_refuses_connections_until_it_is_back(swx: Wx, small: Sandbox) -> None:
    dr = Client(small.dr_url)
    token = swx.token
    shown = dr.post("/sandbox/listeners", {"main": False})
    assert shown == {"main": {"url": small.url, "up": False}, "dr": {"url": small.dr_url, "up": True}}
    assert refuses(small.url)
    assert "pre_auth_code" in dr.post(PREAUTH, {"component_appid": swx.appid}, component_access_token=token)
    assert dr.post("/sandbox/listeners", {"main": True})["main"]["up"] is True
    assert "pre_auth_code" in swx.call("api_create_preauthcode")
    status, _, data = dr.post_raw("/sandbox/listeners", {"nope": False})
    assert status == 400 and b"no listener" in data
    small.join(timeout=0.05)  # taking a listener down is not the sandbox dying
    assert not small._ended.is_set()
