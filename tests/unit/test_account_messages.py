"""The message URL's core on fakes: release checks, retries, drops, the reply function, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import reference_crypto
from tests.support.fakes import MemoryAuthorizers, MemoryMessageReceipts, MemoryPublisher, MemoryTaskQueue
from tests.support.pushes import (
    AES_KEY,
    APPID,
    OTHER_AES_KEY,
    TOKEN,
    Push,
    account_message_xml,
    signed_message,
)
from tests.unit.test_component_events import as_signed
from wxcomponent.domain.errors import AppIdMismatch, BadRequest, InvalidSignature, MalformedMessage, StaleTimestamp
from wxcomponent.domain.grants import AUTHORIZED, REVOKED, Grant
from wxcomponent.domain.messages import AccountMessage
from wxcomponent.domain.release import (
    QUERY_AUTH_CODE_TASK,
    RELEASE_TEST_ACCOUNTS,
    QueryAuthCode,
    ReplyNow,
    release_check,
)
from wxcomponent.services.account_messages import SUCCESS, AccountMessageService
from wxcomponent.settings import ComponentSettings

NOW = 1_767_225_600
MERCHANT = "wx0123456789abcdef"
MERCHANT_GH = "gh_0123456789ab"
TEST_OA = "wx570bc396a51b8ff8"
TEST_OA_GH = RELEASE_TEST_ACCOUNTS[TEST_OA]
OPENID = "oUser_0123456789abcdefghijk"


def grant(appid: str = MERCHANT, status: str = AUTHORIZED) -> Grant:
    return Grant(appid, APPID, "refresh@@@x" if status == AUTHORIZED else "", (1,), status, NOW, NOW)


class Clock:
    """Wall time and a monotonic clock that only moves when told (or when the service sleeps)."""

    def __init__(self) -> None:
        self.wall = float(NOW)
        self.mono = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.mono += seconds


class ReplyFunctionFake:
    def __init__(self, answer: object = None, *, error: Exception | None = None, takes: float = 0.0) -> None:
        self.answer = answer
        self.error = error
        self.takes = takes
        self.requests: list[tuple[dict[str, Any], float]] = []
        self.clock: Clock | None = None

    def ask(self, request: dict[str, Any], timeout: float) -> object:
        self.requests.append((request, timeout))
        if self.clock is not None:
            self.clock.mono += self.takes
        if self.error is not None:
            raise self.error
        return self.answer


class Harness:
    def __init__(self, *grants: Grant, reply: ReplyFunctionFake | None = None, previous: str = "") -> None:
        self.receipts = MemoryMessageReceipts()
        self.authorizers = MemoryAuthorizers(*grants)
        self.publisher = MemoryPublisher()
        self.tasks = MemoryTaskQueue()
        self.clock = Clock()
        if reply is not None:
            reply.clock = self.clock
        self.service = AccountMessageService(
            self.receipts,
            self.authorizers,
            self.publisher,
            self.tasks,
            reply_function=lambda: reply,
            component=lambda: ComponentSettings(APPID, "secret", TOKEN, AES_KEY, previous),
            clock=lambda: self.clock.wall,
            monotonic=lambda: self.clock.mono,
            sleep=self.clock.sleep,
        )

    def send(self, appid: str, push: Push, **override: str | None) -> str:
        return self.service.handle(appid, as_signed(push, **override)).body


def text(content: str, gh: str = MERCHANT_GH, msg_id: str = "6054768590064713728", **kwargs: Any) -> Push:
    inner = account_message_xml(
        gh, OPENID, [("MsgType", "text"), ("Content", content), ("MsgId", msg_id)], create_time=NOW
    )
    return signed_message(inner, gh, timestamp=NOW, **kwargs)


def event(name: str, gh: str = MERCHANT_GH, **fields: str) -> Push:
    inner = account_message_xml(gh, OPENID, [("MsgType", "event"), ("Event", name), *fields.items()], create_time=NOW)
    return signed_message(inner, gh, timestamp=NOW)


def opened(body: str, aes_key: str = AES_KEY) -> dict[str, str]:
    return reference_crypto.open_reply(body.encode(), TOKEN, aes_key, APPID)


# -- the release checks, decided -------------------------------------------------------------------


@pytest.mark.parametrize(("appid", "gh"), sorted(RELEASE_TEST_ACCOUNTS.items()))
def test_every_test_account_gets_every_check(appid: str, gh: str) -> None:
    def message(fields: list[tuple[str, str | int]]) -> AccountMessage:
        return AccountMessage.parse(account_message_xml(gh, OPENID, fields, create_time=NOW).encode())

    text_check = release_check(appid, message([("MsgType", "text"), ("Content", "TESTCOMPONENT_MSG_TYPE_TEXT")]))
    assert isinstance(text_check, ReplyNow)
    assert dict(text_check.reply.body) == {"Content": "TESTCOMPONENT_MSG_TYPE_TEXT_callback"}
    code_check = release_check(appid, message([("MsgType", "text"), ("Content", "QUERY_AUTH_CODE:q@@@a:b")]))
    assert code_check == QueryAuthCode(appid, OPENID, "q@@@a:b")  # the whole code after the first colon
    event_check = release_check(appid, message([("MsgType", "event"), ("Event", "subscribe")]))
    assert isinstance(event_check, ReplyNow)
    assert dict(event_check.reply.body) == {"Content": "subscribefrom_callback"}
    assert release_check(appid, message([("MsgType", "text"), ("Content", "hello")])) is None
    assert release_check(appid, message([("MsgType", "image"), ("PicUrl", "http://p")])) is None


@pytest.mark.parametrize(
    "fields",
    [
        [("MsgType", "text"), ("Content", "TESTCOMPONENT_MSG_TYPE_TEXT")],
        [("MsgType", "text"), ("Content", "QUERY_AUTH_CODE:queryauthcode@@@x")],
        [("MsgType", "event"), ("Event", "subscribe")],
    ],
)
def test_a_real_account_sending_the_same_is_an_ordinary_message(fields: list[tuple[str, str | int]]) -> None:
    message = AccountMessage.parse(account_message_xml(MERCHANT_GH, OPENID, fields, create_time=NOW).encode())
    assert release_check(MERCHANT, message) is None


def test_the_text_check_is_answered_with_an_encrypted_reply_to_the_sender() -> None:
    harness = Harness()
    fields = opened(harness.send(TEST_OA, text("TESTCOMPONENT_MSG_TYPE_TEXT", TEST_OA_GH)))
    assert fields["MsgType"] == "text"
    assert fields["Content"] == "TESTCOMPONENT_MSG_TYPE_TEXT_callback"
    assert (fields["ToUserName"], fields["FromUserName"]) == (OPENID, TEST_OA_GH)
    assert harness.publisher.events == []  # a check is not the vendor's business


def test_the_event_check_is_answered_with_event_from_callback() -> None:
    harness = Harness()
    fields = opened(harness.send(TEST_OA, event("LOCATION", TEST_OA_GH, Latitude="23.1")))
    assert fields["Content"] == "LOCATIONfrom_callback"


def test_query_auth_code_is_answered_empty_and_handed_over_once_however_often_wechat_retries() -> None:
    harness = Harness()
    push = text("QUERY_AUTH_CODE:queryauthcode@@@abc", TEST_OA_GH)
    answers = [harness.send(TEST_OA, push) for _ in range(3)]
    assert answers == ["", "", ""]
    assert harness.tasks.tasks == [
        {
            "task": QUERY_AUTH_CODE_TASK,
            "authorizer_appid": TEST_OA,
            "openid": OPENID,
            "auth_code": "queryauthcode@@@abc",
        }
    ]


def test_query_auth_code_not_handed_over_still_answers_at_once() -> None:
    harness = Harness()
    harness.tasks.fail = True
    assert harness.send(TEST_OA, text("QUERY_AUTH_CODE:queryauthcode@@@abc", TEST_OA_GH)) == ""


# -- ordinary messages -----------------------------------------------------------------------------


def test_a_message_is_published_once_with_wechats_fields_and_retries_are_answered_the_same() -> None:
    harness = Harness(grant())
    push = text("你好 ]]> <b>", msg_id="6054768590064713728")
    answers = [harness.send(MERCHANT, push) for _ in range(3)]
    assert answers == [SUCCESS] * 3
    [(detail_type, detail)] = harness.publisher.events
    assert detail_type == "message"
    assert detail == {
        "ToUserName": MERCHANT_GH,
        "FromUserName": OPENID,
        "CreateTime": str(NOW),
        "MsgType": "text",
        "Content": "你好 ]]> <b>",
        "MsgId": "6054768590064713728",
        "component_appid": APPID,
        "authorizer_appid": MERCHANT,
    }


def test_events_without_msgid_are_told_apart_by_sender_time_and_event() -> None:
    harness = Harness(grant())
    harness.send(MERCHANT, event("subscribe"))
    harness.send(MERCHANT, event("subscribe"))  # a retry
    harness.send(MERCHANT, event("CLICK", EventKey="V1001"))  # same second, another event
    assert [(kind, detail["Event"]) for kind, detail in harness.publisher.events] == [
        ("event", "subscribe"),
        ("event", "CLICK"),
    ]


def test_two_menu_clicks_in_one_second_are_two_events_and_a_retry_is_still_one() -> None:
    """Issue 19, S4: FromUserName + CreateTime + Event alone made the second click a 'retry' of the
    first: never published, and answered with the first click's stored reply."""
    harness = Harness(grant())
    harness.send(MERCHANT, event("CLICK", EventKey="V1001"))
    harness.send(MERCHANT, event("CLICK", EventKey="V1002"))  # another button, the same second
    harness.send(MERCHANT, event("CLICK", EventKey="V1002"))  # WeChat's retry of it
    assert [detail["EventKey"] for _, detail in harness.publisher.events] == ["V1001", "V1002"]


@pytest.mark.parametrize("grants", [(), (grant(status=REVOKED),)])
def test_a_message_for_an_account_without_an_active_grant_is_answered_and_dropped(grants: tuple[Grant, ...]) -> None:
    harness = Harness(*grants)
    assert harness.send(MERCHANT, text("hello")) == SUCCESS
    assert harness.publisher.events == []
    assert harness.receipts.items == {}


def test_a_bus_that_is_down_does_not_change_the_answer() -> None:
    harness = Harness(grant())
    harness.publisher.fail = True
    assert harness.send(MERCHANT, text("hello")) == SUCCESS


def test_a_retry_while_the_first_attempt_is_at_work_waits_for_its_answer() -> None:
    harness = Harness(grant())
    push = text("hello")
    first = harness.send(MERCHANT, push)
    [(key, item)] = harness.receipts.items.items()
    harness.receipts.items[key] = {**item, "state": "pending", "lease_until": NOW + 10}
    recorded = harness.receipts.record_answer

    def answer_arrives_while_waiting(seconds: float) -> None:
        recorded(*key, "<xml>the first attempt's reply</xml>")
        harness.clock.mono += seconds

    harness.service._sleep = answer_arrives_while_waiting
    assert first == SUCCESS
    assert harness.send(MERCHANT, push) == "<xml>the first attempt's reply</xml>"
    assert len(harness.publisher.events) == 1


def test_a_retry_whose_first_attempt_never_answers_gets_success_within_the_budget() -> None:
    harness = Harness(grant())
    push = text("hello")
    harness.send(MERCHANT, push)
    [(key, item)] = harness.receipts.items.items()
    harness.receipts.items[key] = {**item, "state": "pending", "lease_until": NOW + 10}
    assert harness.send(MERCHANT, push) == SUCCESS
    assert 0 < sum(harness.clock.slept) <= 2.0


def test_a_claim_whose_invocation_died_is_taken_over_after_its_lease() -> None:
    harness = Harness(grant())
    push = text("hello")
    harness.send(MERCHANT, push)
    [(key, item)] = harness.receipts.items.items()
    harness.receipts.items[key] = {**item, "state": "pending", "lease_until": NOW - 1}
    harness.send(MERCHANT, push)
    assert len(harness.publisher.events) == 2  # at least once beats never


# -- the reply function ------------------------------------------------------------------------------


def test_the_reply_functions_reply_is_encrypted_and_sent_and_it_gets_the_bus_events_shape() -> None:
    reply = ReplyFunctionFake({"type": "text", "content": "收到 ]]>"})
    harness = Harness(grant(), reply=reply)
    fields = opened(harness.send(MERCHANT, text("hello")))
    assert (fields["Content"], fields["ToUserName"], fields["FromUserName"]) == ("收到 ]]>", OPENID, MERCHANT_GH)
    [(request, timeout)] = reply.requests
    assert request["source"] == "wxcomponent"
    assert request["detail-type"] == "message"
    assert request["detail"] == harness.publisher.events[0][1]
    assert request["deadline_ms"] == 3000 and timeout == 3.0


def test_a_retry_is_answered_with_the_same_sealed_reply_without_asking_again() -> None:
    reply = ReplyFunctionFake({"type": "text", "content": "once"})
    harness = Harness(grant(), reply=reply)
    push = text("hello")
    first, second = harness.send(MERCHANT, push), harness.send(MERCHANT, push)
    assert first == second and first.startswith("<xml><Encrypt>")
    assert len(reply.requests) == 1


def test_during_a_key_rotation_the_reply_uses_the_key_that_opened_the_message() -> None:
    harness = Harness(grant(), reply=ReplyFunctionFake({"type": "text", "content": "old key"}))
    harness.service._component = lambda: ComponentSettings(APPID, "s", TOKEN, OTHER_AES_KEY, AES_KEY)
    assert opened(harness.send(MERCHANT, text("hello")), AES_KEY)["Content"] == "old key"


@pytest.mark.parametrize(
    "reply",
    [
        ReplyFunctionFake(None),
        ReplyFunctionFake({}),
        ReplyFunctionFake({"type": "sticker"}),
        ReplyFunctionFake("not an object"),
        ReplyFunctionFake(error=TimeoutError("read timeout")),
        ReplyFunctionFake(error=RuntimeError("the function raised")),
    ],
)
def test_no_reply_a_bad_reply_a_timeout_or_an_error_is_answered_success(reply: ReplyFunctionFake) -> None:
    harness = Harness(grant(), reply=reply)
    assert harness.send(MERCHANT, text("hello")) == SUCCESS
    assert len(harness.publisher.events) == 1


def test_the_deadline_is_what_is_left_of_the_budget_less_a_margin() -> None:
    reply = ReplyFunctionFake({"type": "text", "content": "late"})
    harness = Harness(grant(), reply=reply)
    real_get_grant = harness.authorizers.get_grant

    def slow_table(appid: str) -> Grant | None:
        harness.clock.mono += 1.7  # the table took its time
        return real_get_grant(appid)

    harness.authorizers.get_grant = slow_table  # type: ignore[method-assign, assignment]
    harness.send(MERCHANT, text("hello"))
    [(request, timeout)] = reply.requests
    assert timeout == pytest.approx(4.0 - 1.7 - 0.5)
    assert request["deadline_ms"] == int(timeout * 1000)  # rounded down: never promise more than we wait


def test_with_no_time_left_the_reply_function_is_not_asked() -> None:
    reply = ReplyFunctionFake({"type": "text", "content": "late"})
    harness = Harness(grant(), reply=reply)
    real_get_grant = harness.authorizers.get_grant

    def very_slow_table(appid: str) -> Grant | None:
        harness.clock.mono += 3.4
        return real_get_grant(appid)

    harness.authorizers.get_grant = very_slow_table  # type: ignore[method-assign, assignment]
    assert harness.send(MERCHANT, text("hello")) == SUCCESS
    assert reply.requests == []


# -- refusals: nothing stored, nothing published -----------------------------------------------------


@pytest.mark.parametrize(
    ("appid", "override", "error"),
    [
        ("not-an-appid", {}, BadRequest),
        ("WX0123456789ABCDEF", {}, BadRequest),
        (MERCHANT, {"signature": "0" * 40}, InvalidSignature),
        (MERCHANT, {"msg_signature": "0" * 40}, InvalidSignature),
        (MERCHANT, {"msg_signature": "é" * 40}, InvalidSignature),
        (MERCHANT, {"signature": None}, InvalidSignature),
        (MERCHANT, {"timestamp": str(NOW - 301)}, StaleTimestamp),
        (MERCHANT, {"timestamp": "²"}, BadRequest),
        (MERCHANT, {"timestamp": "\uff11\uff17\uff16\uff17\uff12\uff12\uff15\uff16\uff10\uff10"}, BadRequest),
        (MERCHANT, {"nonce": ""}, BadRequest),
        (MERCHANT, {"encrypt_type": "raw"}, BadRequest),
    ],
)
def test_forged_stale_and_malformed_requests_are_refused_and_change_nothing(
    appid: str, override: dict[str, str | None], error: type[BadRequest]
) -> None:
    harness = Harness(grant())
    with pytest.raises(error):
        harness.send(appid, text("hello"), **override)
    assert harness.publisher.events == [] and harness.receipts.items == {}


def test_a_message_sealed_for_another_component_is_refused() -> None:
    harness = Harness(grant())
    foreign = text("hello", appid="wxffffffffffffffff")
    with pytest.raises(AppIdMismatch):
        harness.send(MERCHANT, foreign)
    assert harness.publisher.events == []


@pytest.mark.parametrize(
    "inner",
    [
        "<xml><ToUserName>gh</ToUserName></xml>",
        "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>²</CreateTime><MsgType>text</MsgType></xml>",
        "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime></xml>",
        "not xml",
        '<!DOCTYPE x [<!ENTITY a "b">]><xml><ToUserName>&a;</ToUserName></xml>',
        "<xml>" + "<a>" * 20 + "</a>" * 20 + "</xml>",
    ],
)
def test_a_genuine_envelope_around_a_malformed_message_is_refused(inner: str) -> None:
    harness = Harness(grant())
    with pytest.raises(MalformedMessage):
        harness.send(MERCHANT, signed_message(inner, MERCHANT_GH, timestamp=NOW))
    assert harness.publisher.events == [] and harness.receipts.items == {}


# -- the message, parsed -----------------------------------------------------------------------------


def test_nested_elements_become_objects_and_item_lists_lists() -> None:
    inner = (
        f"<xml><ToUserName><![CDATA[{MERCHANT_GH}]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>"
        "<CreateTime>1408090816</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[pic_weixin]]></Event>"
        "<EventKey><![CDATA[6]]></EventKey><SendPicsInfo><Count>2</Count><PicList>"
        "<item><PicMd5Sum><![CDATA[aaa]]></PicMd5Sum></item><item><PicMd5Sum><![CDATA[bbb]]></PicMd5Sum></item>"
        "</PicList></SendPicsInfo></xml>"
    )
    message = AccountMessage.parse(inner.encode())
    assert message.fields["SendPicsInfo"] == {"Count": "2", "PicList": [{"PicMd5Sum": "aaa"}, {"PicMd5Sum": "bbb"}]}
    assert message.kind == "event"
    assert "aaa" not in repr(message) and OPENID not in repr(message)


def test_leaf_text_is_kept_exactly() -> None:
    inner = account_message_xml(MERCHANT_GH, OPENID, [("MsgType", "text"), ("Content", "  two spaces  ")])
    assert AccountMessage.parse(inner.encode()).fields["Content"] == "  two spaces  "
