"""The sandbox at least as strict as WeChat, since every other test trusts it (issue 11): what WeChat
refuses, it refuses; what WeChat accepts, it accepts."""

from __future__ import annotations

import itertools
import time

from tests.sandbox.helpers import RETRY_INTERVAL, Client, Receiver, Wx


def authorized(wx: Wx) -> tuple[str, str]:
    """An authorized Official Account and its access token."""
    appid = next(a["appid"] for a in wx.accounts() if a["kind"] == "official_account")
    info = wx.call("api_query_auth", {"authorization_code": wx.authorize(appid)})["authorization_info"]
    return appid, info["authorizer_access_token"]


def test_custom_send_refuses_what_wechat_refuses(wx: Wx, client: Client) -> None:
    appid, access = authorized(wx)
    openid = client.post("/sandbox/send-message", {"appid": appid, "content": "hi"})["openid"]  # the user wrote

    def send(body: dict[str, object]) -> int:
        errcode: int = client.post("/cgi-bin/message/custom/send", body, access_token=access)["errcode"]
        return errcode

    text = {"touser": openid, "msgtype": "text", "text": {"content": "hello"}}
    assert send(text) == 0
    assert send({**text, "touser": "not-an-openid"}) == 40003
    assert send({**text, "msgtype": "bogus"}) == 40008
    assert send({**text, "text": {"content": ""}}) == 44004
    assert send({"touser": openid, "msgtype": "text"}) == 44004
    assert send({"touser": openid, "msgtype": "image", "image": {}}) == 40007
    assert send({"touser": openid, "msgtype": "image", "image": {"media_id": "MEDIA_ID"}}) == 0
    never_wrote = "o" + "A" * 27  # a well-formed openid outside the 48-hour window
    assert send({**text, "touser": never_wrote}) == 45015


def test_errors_carry_a_rid_as_wechats_do(wx: Wx) -> None:
    answer = wx.call("api_query_auth", {"authorization_code": "queryauthcode@@@never-issued"})
    assert answer["errcode"] in (61009, 61010) and " rid: " in answer["errmsg"]


def test_a_wrong_secret_on_the_component_token_is_40125(wx: Wx, client: Client) -> None:
    body = {"component_appid": wx.appid, "component_appsecret": "wrong", "component_verify_ticket": wx.ticket()}
    assert client.post("/cgi-bin/component/api_component_token", body)["errcode"] == 40125


def test_component_apis_take_the_token_as_access_token_too(wx: Wx, client: Client) -> None:
    wx.call("api_create_preauthcode")  # makes wx hold a component token
    token = wx.token
    answer = client.post("/cgi-bin/component/api_create_preauthcode", {"component_appid": wx.appid}, access_token=token)
    assert answer.get("errcode", 0) == 0 and answer["pre_auth_code"].startswith("preauthcode@@@")


def test_push_timestamps_are_real_time_even_when_the_sandbox_clock_moved(client: Client, receiver: Receiver) -> None:
    client.post("/sandbox/clock", {"advance": 7200})
    client.post("/sandbox/push-ticket")
    push = receiver.wait_for(lambda r: r.fields.get("InfoType") == "component_verify_ticket", count=2)
    assert abs(int(push.query["timestamp"]) - time.time()) < 60


def test_a_message_answered_with_an_invalid_reply_is_not_delivered(wx: Wx, client: Client, receiver: Receiver) -> None:
    appid, _ = authorized(wx)
    receiver.on_message = lambda item: (200, b"<xml><Content>not encrypted</Content></xml>")
    delivery = client.post("/sandbox/send-message", {"appid": appid, "content": "hi"})
    assert delivery["ok"] is False and delivery["reply"]["encrypted"] is False


def test_retries_come_late_and_signed_anew_as_wechats_do(client: Client, receiver: Receiver) -> None:
    """A push that failed fast is not resent at once: the next attempt starts the retry interval
    after the previous one started, under a new timestamp and nonce, with the same ciphertext."""
    receiver.wait_info("component_verify_ticket")  # the push on start, answered before we script
    receiver.scripted.extend([(500, b""), (200, b"not success")])
    delivery = client.post("/sandbox/push-ticket")["delivery"]
    assert [a["ok"] for a in delivery["attempts"]] == [False, False, True]
    pushes = receiver.received[-3:]
    assert all(p.error is None for p in pushes)  # each one verifies
    assert len({p.query["nonce"] for p in pushes}) == 3
    assert len({p.query["msg_signature"] for p in pushes}) == 3
    assert len({p.envelope["Encrypt"] for p in pushes}) == 1
    # The gaps by the sandbox's own clock: when a loaded receiver noticed each push says nothing.
    starts = [attempt["started"] for attempt in delivery["attempts"]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= RETRY_INTERVAL - 0.001 for gap in gaps), gaps  # 0.001: the record is rounded


def delivered_on_start(client: Client) -> None:
    """The push on start has been delivered and recorded (received is not enough: its answer is
    still on the way back when the receiver has it), polled with a deadline."""
    deadline = time.monotonic() + 10
    while not client.get_json("/sandbox/pushes")["pushes"]:
        assert time.monotonic() < deadline, "the push on start was never recorded"
        time.sleep(0.02)  # a poll of the sandbox's own record, with a deadline


def test_a_lost_answer_makes_wechat_retry_though_the_receiver_answered(client: Client, receiver: Receiver) -> None:
    delivered_on_start(client)  # the push on start must not take the fault
    client.post("/sandbox/faults", {"api": "push", "kind": "lose_answer", "count": 1})
    delivery = client.post("/sandbox/push-ticket")["delivery"]
    first, second = delivery["attempts"]
    assert first["status"] == 200 and first["lost"] and not first["ok"] and second["ok"]
    assert client.post("/sandbox/faults", {"api": "*", "kind": "errcode", "value": -1, "count": 1})
    assert client.post("/sandbox/push-ticket")["delivery"]["attempts"][0]["ok"]  # "*" never faults a push
    for api, kind in (("push", "errcode"), ("api_query_auth", "lose_answer")):
        status, _, _ = client.post_raw("/sandbox/faults", {"api": api, "kind": kind, "value": 1})
        assert status == 400, (api, kind)


def test_the_ip_whitelist_refuses_other_addresses_with_61004(wx: Wx, client: Client) -> None:
    secret = wx.sandbox.config.component_appsecret
    body = {"component_appid": wx.appid, "component_appsecret": secret, "component_verify_ticket": wx.ticket()}
    assert client.post("/sandbox/whitelist", {"ips": ["203.0.113.7"]}) == {"ips": ["203.0.113.7"]}
    refused = client.post("/cgi-bin/component/api_component_token", body)
    assert refused["errcode"] == 61004 and "127.0.0.1" in refused["errmsg"] and " rid: " in refused["errmsg"]
    assert client.post("/sandbox/whitelist", {"ips": ["127.0.0.1"]}) == {"ips": ["127.0.0.1"]}
    assert "component_access_token" in client.post("/cgi-bin/component/api_component_token", body)
    for bad in ({"ips": ["not-an-ip"]}, {"ips": "127.0.0.1"}):
        status, _, _ = client.post_raw("/sandbox/whitelist", bad)
        assert status == 400, bad
    client.post("/sandbox/reset")
    assert client.get_json("/sandbox/whitelist") == {"ips": None}  # back to the configuration: no check
