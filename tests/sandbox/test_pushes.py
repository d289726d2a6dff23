"""Pushes: WeChat's encryption (checked against the published vectors), retries, failures."""

from __future__ import annotations

import socket
import time

from infra.sandbox import Sandbox, SandboxConfig
from infra.sandbox.envelope import cdata, encrypt_push, parse_xml_fields, xml_document
from infra.sandbox.pusher import Pusher
from infra.sandbox.state import World
from tests.sandbox.helpers import Client, Receiver, make_config
from wxcomponent.domain.crypto import MessageCrypto, sha1_signature

VECTOR_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
VECTOR = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="


def test_push_envelope_reproduces_the_published_vector() -> None:
    config = SandboxConfig(
        port=0, component_token="pamtest", component_aes_key=VECTOR_KEY, component_appid="wxb11529c136998cb6"
    )
    pusher = Pusher(World(config))
    push = pusher.envelope("我是中文abcd123", ("AppId", "wxb11529c136998cb6"), random_prefix=b"aaaabbbbccccdddd")
    assert push.encrypt == VECTOR
    q = push.query
    assert q["encrypt_type"] == "aes"
    assert q["signature"] == sha1_signature("pamtest", q["timestamp"], q["nonce"])
    assert q["msg_signature"] == sha1_signature("pamtest", q["timestamp"], q["nonce"], VECTOR)
    assert parse_xml_fields(push.body) == {"AppId": "wxb11529c136998cb6", "Encrypt": VECTOR}


def test_encrypt_push_is_pure_and_carries_openid_for_messages() -> None:
    crypto = MessageCrypto("pamtest", [VECTOR_KEY], "wxb11529c136998cb6")
    push = encrypt_push(
        crypto,
        "pamtest",
        "我是中文abcd123".encode(),
        timestamp="1458300676",
        nonce="260774613",
        head=("ToUserName", "gh_x"),
        random_prefix=b"aaaabbbbccccdddd",
        openid="oUser",
    )
    assert push.encrypt == VECTOR
    assert list(push.query) == ["signature", "timestamp", "nonce", "openid", "encrypt_type", "msg_signature"]
    assert push.body.startswith(b"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt>")


def test_cdata_survives_its_terminator() -> None:
    doc = xml_document([("Content", "a]]>b"), ("CreateTime", 5)])
    assert parse_xml_fields(doc.encode()) == {"Content": "a]]>b", "CreateTime": "5"}
    assert cdata("x") == "<![CDATA[x]]>"


def test_ticket_pushed_on_start_decrypts_and_verifies(sandbox: Sandbox, receiver: Receiver) -> None:
    push = receiver.wait_info("component_verify_ticket")
    assert push.error is None
    assert push.path == "/wechat/component/events"
    assert push.envelope["AppId"] == sandbox.config.component_appid
    assert "ToUserName" not in push.envelope
    assert push.fields["AppId"] == sandbox.config.component_appid
    assert push.fields["ComponentVerifyTicket"].startswith("ticket@@@")
    assert len(push.fields["ComponentVerifyTicket"]) == len("ticket@@@") + 40
    assert abs(int(push.fields["CreateTime"]) - time.time()) < 60
    assert b"<CreateTime>" + push.fields["CreateTime"].encode() + b"</CreateTime>" in push.plaintext


def test_push_ticket_now_returns_ticket_and_delivery(sandbox: Sandbox, client: Client, receiver: Receiver) -> None:
    answer = client.post("/sandbox/push-ticket")
    assert answer["delivery"]["ok"] is True
    assert len(answer["delivery"]["attempts"]) == 1
    pushed = receiver.wait_for(lambda r: r.fields.get("ComponentVerifyTicket") == answer["ticket"])
    assert pushed.error is None


def test_retries_until_success(sandbox: Sandbox, client: Client, receiver: Receiver) -> None:
    receiver.wait_info("component_verify_ticket")
    receiver.scripted.extend([(500, b"oops"), (500, b"oops")])
    delivery = client.post("/sandbox/push-ticket")["delivery"]
    assert delivery["ok"] is True
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["ok"] for a in delivery["attempts"]] == [False, False, True]
    assert delivery["attempts"][0]["body"] == "oops"
    assert all(a["info_type"] == "component_verify_ticket" for a in delivery["attempts"])


def test_answer_other_than_success_is_a_failure(sandbox: Sandbox, client: Client, receiver: Receiver) -> None:
    receiver.wait_info("component_verify_ticket")
    receiver.scripted.extend([(200, b"ok")] * 3)
    delivery = client.post("/sandbox/push-ticket")["delivery"]
    assert delivery["ok"] is False
    assert len(delivery["attempts"]) == 3


def test_target_down_never_crashes_the_sandbox(receiver: Receiver) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/events"
    with Sandbox(make_config(receiver, component_events_url=dead, push_ticket_on_start=False)) as sb:
        client = Client(sb.url)
        delivery = client.post("/sandbox/push-ticket")["delivery"]
        assert delivery["ok"] is False
        assert len(delivery["attempts"]) == 3
        assert all(a["status"] is None and a["error"] for a in delivery["attempts"])
        assert client.get_json("/sandbox/pushes")["pushes"][-1]["ok"] is False


def test_send_message_opens_an_encrypted_passive_reply(sandbox: Sandbox, client: Client, receiver: Receiver) -> None:
    account = next(a for a in sandbox.world.merchants.accounts() if not a.is_mini_program)

    def echo(item: object) -> tuple[int, bytes]:
        fields = item.fields  # type: ignore[attr-defined]
        return 200, receiver.passive_reply(
            [
                ("ToUserName", fields["FromUserName"]),
                ("FromUserName", fields["ToUserName"]),
                ("CreateTime", 1),
                ("MsgType", "text"),
                ("Content", "echo: " + fields["Content"]),
            ]
        )

    receiver.on_message = echo
    delivery = client.post("/sandbox/send-message", {"appid": account.appid, "content": "你好 <b>", "openid": "oTest"})
    assert delivery["ok"] is True
    assert delivery["reply"]["encrypted"] is True
    assert delivery["reply"]["fields"]["Content"] == "echo: 你好 <b>"
    assert delivery["reply"]["fields"]["ToUserName"] == "oTest"
    got = receiver.wait_for(lambda r: r.fields.get("Content") == "你好 <b>")
    assert got.error is None
    assert got.path == f"/wechat/accounts/{account.appid}/messages"
    assert got.query["openid"] == "oTest"
    assert got.envelope["ToUserName"] == account.user_name
    assert got.fields["FromUserName"] == "oTest"
    assert got.fields["MsgType"] == "text"
    assert got.fields["MsgId"].isdigit()


def test_message_reply_with_a_bad_signature_is_reported(sandbox: Sandbox, client: Client, receiver: Receiver) -> None:
    account = sandbox.world.merchants.accounts()[0]
    good = receiver.passive_reply([("Content", "x")])
    receiver.on_message = lambda item: (
        200,
        good.replace(b"<MsgSignature><![CDATA[", b"<MsgSignature><![CDATA[0"),
    )
    delivery = client.post("/sandbox/send-message", {"appid": account.appid, "content": "hi"})
    assert delivery["ok"] is False  # WeChat cannot read it: not delivered (the sandbox is as strict)
    assert delivery["reply"]["encrypted"] is False
    assert "InvalidSignature" in delivery["reply"]["error"]


def test_periodic_tickets_and_immediate_stop(receiver: Receiver) -> None:
    sb = Sandbox(make_config(receiver, ticket_interval=0.05)).start()
    try:
        receiver.wait_info("component_verify_ticket", count=3)
    finally:
        started = time.monotonic()
        sb.stop()
    assert time.monotonic() - started < 1.0


def test_stop_is_immediate_with_a_long_interval(receiver: Receiver) -> None:
    sb = Sandbox(make_config(receiver, ticket_interval=600)).start()
    receiver.wait_info("component_verify_ticket")
    started = time.monotonic()
    sb.stop()
    assert time.monotonic() - started < 1.0
