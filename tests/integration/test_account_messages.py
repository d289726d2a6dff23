"""The message URL over real wires: sandbox → local gateway → account_messages → emulator (table
and bus), replies opened by an implementation that is not ours, WeChat's retries, forgeries, the
reply function, and the full-network release checks run by the sandbox."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import jsonschema
import pytest

from infra.local.template import ROOT
from tests.conftest import World
from tests.support import reference_crypto
from tests.support.bus_queue import BusQueue
from tests.support.graph import graph
from tests.support.pushes import AES_KEY, APPID, TOKEN, Push, account_message_xml, signed_message

TEST_OA = ("wx570bc396a51b8ff8", "gh_3c884a361561")
TEST_MINI_PROGRAM = ("wxd101a85aa106f53e", "gh_8dad206e9538")
SCHEMA = json.loads((ROOT / "docs" / "account-message-event.schema.json").read_text(encoding="utf-8"))
OPENID = "oRelease_0123456789abcdefghi"


class Bus(BusQueue):
    def messages(self) -> list[dict[str, Any]]:
        return [e for e in self.drain() if e["detail-type"] in ("message", "event")]


@pytest.fixture
def bus(world: World, event_bus: str) -> Bus:
    return Bus.subscribed(event_bus, f"tail-{event_bus}")


def authorized_account(world: World) -> tuple[str, str]:
    """A sandbox Official Account, authorized through the sandbox's push (so we hold its grant)."""
    world.push_ticket()
    account = next(a for a in world.control("GET", "state")["accounts"] if a["kind"] == "official_account")
    assert world.control("POST", "authorize", {"appid": account["appid"]})["delivery"]["ok"]
    assert graph().authorizers.get_grant(account["appid"]) is not None
    return account["appid"], account["user_name"]


def post(world: World, appid: str, push: Push, **override: str) -> tuple[int, bytes, float]:
    query = urlencode({**push.query, **override})
    started = time.monotonic()
    answer = world.http.request("POST", f"{world.gateway.url}/wechat/accounts/{appid}/messages?{query}", body=push.body)
    return answer.status, answer.data, time.monotonic() - started


def text(gh: str, content: str, msg_id: str = "6054768590064713728", openid: str = OPENID) -> Push:
    inner = account_message_xml(gh, openid, [("MsgType", "text"), ("Content", content), ("MsgId", msg_id)])
    return signed_message(inner, gh)


def message_items(table: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return [item for item in items if item["sk"]["S"].startswith("MESSAGE#")]


# -- the full-network release ------------------------------------------------------------------------


@pytest.mark.parametrize("account", [TEST_OA, TEST_MINI_PROGRAM], ids=["official_account", "mini_program"])
def test_the_sandboxs_release_checks_pass_end_to_end(world: World, account: tuple[str, str]) -> None:
    world.push_ticket()
    result = world.control("POST", "release-checks", {"appid": account[0], "wait": 20})
    # Run against the Official Account, the checks include the Mini Program's (against the Mini
    # Program, its own check 3 is that check); each races an `authorized` push with its code.
    mini = [("mini_program", True)] if account == TEST_OA else []
    assert [(c["name"], c["passed"]) for c in result["checks"]] == [
        ("ticket", True),
        ("text", True),
        ("query_auth_code", True),
        *mini,
        ("event", True),
    ], [c["detail"] for c in result["checks"]]
    assert result["passed"]
    grant = graph().authorizers.get_grant(account[0])  # the test account is now an authorizer like any other
    assert grant is not None and grant.active
    assert world.gateway.wait_for_async()
    checked = 1 + len(mini)  # one exchange and one customer-service text per check, push or no push
    assert world.calls("api_query_auth") == checked and world.calls("custom_send") == checked


def test_query_auth_code_retried_three_times_is_exchanged_and_answered_once(world: World, bus: Bus) -> None:
    world.push_ticket()
    appid, gh = TEST_OA
    code = world.sandbox.world.release_test_code(appid).value
    # This test plays WeChat's user itself: tell the sandbox the user wrote (the 48-hour window).
    world.sandbox.world.journal.record_user_wrote(appid, OPENID, world.sandbox.world.clock.now())
    push = text(gh, f"QUERY_AUTH_CODE:{code}")
    answers = [post(world, appid, push)[:2] for _ in range(3)]
    assert answers == [(200, b"")] * 3
    want = f"{code}_from_api"
    sent = world.sandbox.world.wait_for_message(lambda m: m["content"] == want and m["touser"] == OPENID, 20)
    assert sent is not None and sent["appid"] == appid
    assert world.gateway.wait_for_async()
    assert world.calls("api_query_auth") == 1 and world.calls("custom_send") == 1
    assert bus.messages() == []  # a release check is not handed to the vendor


def test_the_text_check_reply_opens_with_an_independent_implementation(world: World) -> None:
    world.push_ticket()
    appid, gh = TEST_OA
    status, body, _ = post(world, appid, text(gh, "TESTCOMPONENT_MSG_TYPE_TEXT"))
    assert status == 200
    fields = reference_crypto.open_reply(body, TOKEN, AES_KEY, APPID)
    assert (fields["ToUserName"], fields["FromUserName"]) == (OPENID, gh)
    assert (fields["MsgType"], fields["Content"]) == ("text", "TESTCOMPONENT_MSG_TYPE_TEXT_callback")


# -- everything else -----------------------------------------------------------------------------------


def test_a_message_retried_three_times_is_published_once_and_answered_identically(world: World, bus: Bus) -> None:
    appid, gh = authorized_account(world)
    bus.drain()
    push = text(gh, "你好，在吗？")  # noqa: RUF001 - a user's words
    answers = [post(world, appid, push)[:2] for _ in range(3)]
    assert answers == [(200, b"success")] * 3
    [event] = bus.messages()
    assert event["source"] == "wxcomponent" and event["detail-type"] == "message"
    assert event["detail"]["Content"] == "你好，在吗？"  # noqa: RUF001
    assert event["detail"]["authorizer_appid"] == appid and event["detail"]["component_appid"] == APPID
    assert "Encrypt" not in event["detail"]


def _kinds() -> dict[str, list[tuple[str, str | int]]]:
    return {
        "text": [("MsgType", "text"), ("Content", "hello"), ("MsgId", "1000000000000000001")],
        "image": [("MsgType", "image"), ("PicUrl", "http://mmbiz.qpic.cn/x"), ("MediaId", "m1"), ("MsgId", "2")],
        "voice": [("MsgType", "voice"), ("MediaId", "m2"), ("Format", "amr"), ("MsgId", "3")],
        "video": [("MsgType", "video"), ("MediaId", "m3"), ("ThumbMediaId", "t3"), ("MsgId", "4")],
        "location": [
            ("MsgType", "location"),
            ("Location_X", "23.134521"),
            ("Location_Y", "113.358803"),
            ("Scale", "20"),
            ("Label", "广州市海珠区"),
            ("MsgId", "5"),
        ],
        "link": [("MsgType", "link"), ("Title", "T"), ("Description", "D"), ("Url", "http://x"), ("MsgId", "6")],
        "subscribe": [("MsgType", "event"), ("Event", "subscribe")],
        "unsubscribe": [("MsgType", "event"), ("Event", "unsubscribe")],
        "CLICK": [("MsgType", "event"), ("Event", "CLICK"), ("EventKey", "V1001_TODAY_MUSIC")],
        "VIEW": [("MsgType", "event"), ("Event", "VIEW"), ("EventKey", "http://www.qq.com/")],
        "SCAN": [("MsgType", "event"), ("Event", "SCAN"), ("EventKey", "123123"), ("Ticket", "TICKET")],
        "LOCATION": [
            ("MsgType", "event"),
            ("Event", "LOCATION"),
            ("Latitude", "23.137466"),
            ("Longitude", "113.352425"),
            ("Precision", "119.385040"),
        ],
        "user_enter_tempsession": [("MsgType", "event"), ("Event", "user_enter_tempsession"), ("SessionFrom", "wxapp")],
        "unknown": [("MsgType", "hologram"), ("Depth", "3"), ("MsgId", "7")],
    }


def test_every_kind_of_message_reaches_the_bus_in_the_documented_shape(world: World, bus: Bus) -> None:
    appid, gh = authorized_account(world)
    bus.drain()
    kinds = _kinds()
    for name, fields in kinds.items():
        push = signed_message(account_message_xml(gh, OPENID, fields), gh)
        assert post(world, appid, push)[:2] == (200, b"success"), name
    events = bus.messages()
    assert len(events) == len(kinds)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for event in events:
        errors = [e.message for e in validator.iter_errors(event)]
        assert errors == [], (event["detail"].get("MsgType"), event["detail"].get("Event"), errors)
    seen = {e["detail"].get("Event") or e["detail"]["MsgType"] for e in events}
    assert seen == {str(dict(fields).get("Event") or dict(fields)["MsgType"]) for fields in kinds.values()}
    location = next(e for e in events if e["detail"]["MsgType"] == "location")
    assert location["detail"]["Location_X"] == "23.134521"  # WeChat's text, not a float


def test_the_schema_refuses_what_it_must() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    good: dict[str, Any] = {
        "source": "wxcomponent",
        "detail-type": "message",
        "detail": {
            "component_appid": APPID,
            "authorizer_appid": TEST_OA[0],
            "ToUserName": "gh_x",
            "FromUserName": "o",
            "CreateTime": "1",
            "MsgType": "text",
            "Content": "c",
            "MsgId": "1",
        },
    }
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "detail-type": "event"})
    assert not validator.is_valid({**good, "detail": {**good["detail"], "Content": None}})
    assert not validator.is_valid({**good, "detail": {k: v for k, v in good["detail"].items() if k != "Content"}})
    assert not validator.is_valid({**good, "detail": {**good["detail"], "CreateTime": 1}})


# -- refused: 4xx, nothing stored, nothing published -----------------------------------------------------


def test_forged_stale_foreign_and_malformed_messages_are_refused(world: World, bus: Bus, table: str) -> None:
    appid, gh = authorized_account(world)
    bus.drain()
    push = text(gh, "hello")
    text_xml = account_message_xml(gh, OPENID, [("MsgType", "text"), ("Content", "hi"), ("MsgId", "9")])
    cases: dict[str, tuple[str, Push, dict[str, str]]] = {
        "bad signature": (appid, push, {"signature": "0" * 40}),
        "bad msg_signature": (appid, push, {"msg_signature": "f" * 40}),
        "non-ASCII signature": (appid, push, {"signature": "é" * 40}),
        "stale": (appid, text(gh, "x"), {}),
        "unicode digit timestamp": (appid, push, {"timestamp": "²"}),
        "foreign component": (
            appid,
            signed_message(text_xml, gh, appid="wxffffffffffffffff"),  # only the component differs
            {},
        ),
        "malformed inner": (appid, signed_message("<xml><MsgType>text</MsgType></xml>", gh), {}),
        "not XML": (appid, Push(push.query, b"\x00\x01not xml"), {}),
        "bad path appid": ("wx-not-an-appid", push, {}),
    }
    stale_query = cases["stale"][1].query
    cases["stale"] = (appid, cases["stale"][1], {**stale_query, "timestamp": str(int(time.time()) - 3600)})
    for name, (target, case, override) in cases.items():
        status, body, _ = post(world, target, case, **override)
        assert 400 <= status < 500, (name, status, body)
    too_large = Push(push.query, b"<xml>" + b" " * (64 * 1024) + b"</xml>")
    assert post(world, appid, too_large)[0] == 413
    assert bus.messages() == []
    assert message_items(table) == []


def test_a_genuine_message_for_an_account_we_do_not_hold_is_answered_and_dropped(
    world: World, bus: Bus, table: str
) -> None:
    world.push_ticket()
    status, body, _ = post(world, "wx0123456789abcdef", text("gh_0123456789ab", "hello"))
    assert (status, body) == (200, b"success")
    assert bus.messages() == []
    assert message_items(table) == []


# -- the reply function ------------------------------------------------------------------------------


def test_the_reply_functions_reply_is_encrypted_and_answered(
    world: World, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    appid, gh = authorized_account(world)
    monkeypatch.setenv("MESSAGE_REPLY_FUNCTION_ARN", "arn:aws:lambda:us-east-1:123456789012:function:ReplyEcho")
    status, body, _ = post(world, appid, text(gh, "ping ]]> pong"))
    assert status == 200
    fields = reference_crypto.open_reply(body, TOKEN, AES_KEY, APPID)
    assert (fields["ToUserName"], fields["FromUserName"], fields["MsgType"]) == (OPENID, gh, "text")
    assert fields["Content"].startswith("]]>echo<![CDATA[ ping ]]> pong (deadline ")
    assert len(bus.messages()) == 1  # published as well as answered


@pytest.mark.parametrize("function", ["ReplySlow", "ReplyFailing"])
def test_a_slow_or_failing_reply_function_still_gets_wechat_success_within_the_budget(
    world: World, bus: Bus, monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    appid, gh = authorized_account(world)
    bus.drain()
    monkeypatch.setenv("MESSAGE_REPLY_FUNCTION_ARN", function)
    status, body, elapsed = post(world, appid, text(gh, "hello"))
    assert (status, body) == (200, b"success")
    assert elapsed < 4.0  # WeChat waits 5 s
    if function == "ReplySlow":  # it was asked and waited for up to its deadline (3 s), not skipped
        assert elapsed > 2.5
    assert len(bus.messages()) == 1


def test_retries_of_a_replied_message_get_the_same_sealed_reply_and_one_event(
    world: World, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    appid, gh = authorized_account(world)
    bus.drain()
    monkeypatch.setenv("MESSAGE_REPLY_FUNCTION_ARN", "ReplyEcho")
    push = text(gh, "once")
    answers = [post(world, appid, push)[:2] for _ in range(3)]
    assert answers[0][0] == 200 and answers[0][1].startswith(b"<xml><Encrypt>")
    assert answers == [answers[0]] * 3  # byte for byte, the reply function asked once
    assert len(bus.messages()) == 1


def test_a_late_retry_after_a_lost_answer_gets_the_same_reply_and_publishes_nothing_more(
    world: World, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox's first attempt is answered but its answer lost on the way back; WeChat's retry
    comes a second later, signed anew, when the first attempt is long finished (not still pending,
    as with back-to-back resends): it must get the recorded reply, not a second handling."""
    appid, _ = authorized_account(world)
    bus.drain()
    monkeypatch.setenv("MESSAGE_REPLY_FUNCTION_ARN", "ReplyEcho")
    world.control("POST", "faults", {"api": "push", "kind": "lose_answer", "count": 1})
    delivery = world.control("POST", "send-message", {"appid": appid, "content": "lost once"})
    first, second = delivery["attempts"]
    assert first["lost"] and first["status"] == 200 and second["ok"] and delivery["ok"]
    query = [parse_qs(urlsplit(attempt["url"]).query) for attempt in (first, second)]
    assert query[0]["nonce"] != query[1]["nonce"] and query[0]["msg_signature"] != query[1]["msg_signature"]
    assert second["body"] == first["body"] and first["body"].startswith("<xml><Encrypt>")  # the same sealed reply
    assert delivery["reply"]["encrypted"]
    assert len(bus.messages()) == 1  # handled once
