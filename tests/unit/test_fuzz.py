"""Every parser and entry point, fed what Hypothesis makes up: the only outcomes are an answer or a
typed refusal (a 4xx), never anything else. Runs in the unit ring (fakes, no sockets)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fakes import (
    MemoryAuthorizers,
    MemoryMessageReceipts,
    MemoryPublisher,
    MemoryTaskQueue,
    MemoryVerifyTickets,
)
from tests.support.pushes import AES_KEY, APPID, TOKEN, signed_message, signed_push
from tests.unit.test_token_services import World
from wxcomponent.domain.crypto import MessageCrypto
from wxcomponent.domain.errors import BadRequest, ConfigurationError, WxComponentError, http_status
from wxcomponent.domain.messages import AccountMessage
from wxcomponent.domain.replies import InvalidReply, reply_from
from wxcomponent.domain.signed import SignedPush
from wxcomponent.domain.xmlparse import parse_xml_tree
from wxcomponent.services.account_messages import AccountMessageService
from wxcomponent.services.authorization import AuthorizationRequest
from wxcomponent.services.component_events import ComponentEventService
from wxcomponent.services.vending import VendRequest
from wxcomponent.settings import ComponentSettings, Settings

NOW = 1_767_225_600
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COMPONENT = ComponentSettings(APPID, "secret", TOKEN, AES_KEY)

text = st.text(max_size=80)
maybe_text = st.none() | text
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
xmlish = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.lists(
        st.tuples(
            st.sampled_from(["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "item", "x"]),
            text,
        ),
        max_size=8,
    ).map(
        lambda fields: ("<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields) + "</xml>").encode(
            "utf-8", "surrogatepass"
        )
    ),
)


def refused_only(error: Exception) -> None:
    assert isinstance(error, BadRequest), f"{type(error).__name__}: {error}"
    assert 400 <= http_status(error) < 500


@EXAMPLES
@given(
    body=st.binary(max_size=400),
    signature=maybe_text,
    timestamp=maybe_text,
    nonce=maybe_text,
    msg_signature=maybe_text,
    encrypt_type=maybe_text,
)
def test_the_push_url_answers_or_refuses_whatever_arrives(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    nonce: str | None,
    msg_signature: str | None,
    encrypt_type: str | None,
) -> None:
    service = ComponentEventService(MemoryVerifyTickets(), component=lambda: COMPONENT, clock=lambda: NOW)
    try:
        assert service.handle(SignedPush(body, signature, timestamp, nonce, msg_signature, encrypt_type)) == "success"
    except Exception as error:
        refused_only(error)


@EXAMPLES
@given(inner=xmlish)
def test_a_genuine_envelope_around_anything_is_answered_or_refused(inner: bytes) -> None:
    push = signed_push(inner, timestamp=NOW)
    query = push.query
    signed = SignedPush(
        push.body, query["signature"], query["timestamp"], query["nonce"], query["msg_signature"], "aes"
    )
    service = ComponentEventService(MemoryVerifyTickets(), component=lambda: COMPONENT, clock=lambda: NOW)
    try:
        service.handle(signed)
    except Exception as error:
        refused_only(error)


@EXAMPLES
@given(appid=st.text(max_size=24) | st.just("wx0123456789abcdef"), inner=xmlish)
def test_the_message_url_answers_or_refuses_whatever_a_signed_envelope_holds(appid: str, inner: bytes) -> None:
    push = signed_message(inner, "gh_0123456789ab", timestamp=NOW)
    query = push.query
    signed = SignedPush(
        push.body, query["signature"], query["timestamp"], query["nonce"], query["msg_signature"], "aes"
    )
    service = AccountMessageService(
        MemoryMessageReceipts(),
        MemoryAuthorizers(),
        MemoryPublisher(),
        MemoryTaskQueue(),
        component=lambda: COMPONENT,
        clock=lambda: NOW,
    )
    try:
        service.handle(appid, signed)
    except Exception as error:
        refused_only(error)


@EXAMPLES
@given(document=xmlish)
def test_message_and_xml_parsing_refuse_only_with_a_malformed_message(document: bytes) -> None:
    for parse in (AccountMessage.parse, parse_xml_tree):
        try:
            parse(document)
        except Exception as error:
            refused_only(error)


@EXAMPLES
@given(encrypt=st.text(max_size=200))
def test_decryption_refuses_junk_with_a_typed_error(encrypt: str) -> None:
    try:
        MessageCrypto(TOKEN, [AES_KEY], APPID).decrypt(encrypt)
    except Exception as error:
        refused_only(error)


@EXAMPLES
@given(payload=json_values)
def test_vending_answers_every_payload_with_the_contract(payload: Any) -> None:
    answer = World().wx.vendor.answer(payload)
    assert answer.status in (200, 400, 404, 502, 503)
    assert ("error" in answer.body) == (answer.status != 200)
    raw = World().wx.vendor.answer(json.dumps(payload).encode())
    assert raw.status in (200, 400, 404, 502, 503)


@EXAMPLES
@given(payload=json_values)
def test_a_vend_request_is_parsed_or_refused(payload: Any) -> None:
    try:
        VendRequest.parse(payload)
    except Exception as error:
        refused_only(error)


@EXAMPLES
@given(
    query=st.dictionaries(
        st.sampled_from(["auth_type", "biz_appid", "category_id_list", "state", "x"]), text, max_size=5
    )
)
def test_the_start_pages_query_is_parsed_or_refused(query: dict[str, str]) -> None:
    try:
        AuthorizationRequest.from_query(query)
    except Exception as error:
        refused_only(error)


@EXAMPLES
@given(answer=json_values)
def test_a_reply_functions_answer_is_a_reply_or_invalid(answer: Any) -> None:
    try:
        reply = reply_from(answer)
    except InvalidReply:
        return
    if reply is not None:
        reply.xml("o", "gh", 1)  # and any reply renders


@EXAMPLES
@given(
    payload=st.dictionaries(
        st.sampled_from(["task", "auth_code", "info_type", "authorizer_appid", "openid"]), json_values, max_size=5
    )
)
def test_a_task_payload_is_run_or_refused_never_raised_for_bad_input(payload: dict[str, Any]) -> None:
    world = World()
    try:
        answer = world.wx.task_runner.run(payload)
    except WxComponentError as error:  # a well-formed task may meet WeChat's refusal: typed, for Lambda's retry
        assert not isinstance(error, BadRequest)
        return
    assert isinstance(answer, dict)


@EXAMPLES
@given(
    environ=st.dictionaries(
        st.sampled_from(
            [
                "TABLE_NAME",
                "EVENT_BUS_NAME",
                "REFRESH_MARGIN_SECONDS",
                "REFRESH_PARALLELISM",
                "WECHAT_API_BASE",
                "PUBLIC_BASE_URL",
                "MESSAGE_REPLY_FUNCTION_ARN",
                "AUTHORIZED_REDIRECT_URL",
                "LOGO_URL",
            ]
        ),
        text,
        max_size=8,
    )
)
def test_settings_are_read_or_refused_with_one_configuration_error(environ: dict[str, str]) -> None:
    try:
        Settings.from_environment(environ)
    except ConfigurationError as error:
        assert error.message.startswith("invalid settings: ")
