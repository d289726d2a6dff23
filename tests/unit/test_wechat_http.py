"""The WeChat adapter against a fake transport: requests it builds, answers it maps, errcodes it
types, and when it retries (-1, 5xx, non-JSON, timeouts, connection errors) and when it never does."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3
from hypothesis import given
from hypothesis import strategies as st
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError

from wxcomponent.adapters import wechat_http
from wxcomponent.adapters.wechat_http import DEFAULT_TIMEOUT, WeChatHttpApi
from wxcomponent.domain.errors import WxComponentError
from wxcomponent.domain.wechat import (
    AccountRevokedAuthorization,
    AuthorizationCodeRejected,
    AuthorizationInfo,
    AuthorizerListItem,
    AuthorizerListPage,
    AuthorizerToken,
    ConfigurationRejected,
    CustomerServiceLimit,
    IssuedToken,
    PermissionRejected,
    PreAuthCode,
    QuotaExceeded,
    RefreshTokenRejected,
    RequestRejected,
    SystemBusy,
    TokenRejected,
    UnknownWeChatError,
    UpstreamError,
    UpstreamUnavailable,
    VerifyTicketRejected,
    error_for,
)
from wxcomponent.observability import logger
from wxcomponent.ports import WeChatApi

BASE = "https://wechat.test"
APPID = "wx_component_appid"
AUTHORIZER = "wx_authorizer_appid"
# Distinctive values: no repr, error message or log may ever contain one of them.
SECRET = "SECRET-s3cr3t-value"
TICKET = "TICKET-t1ck3t-value"
COMPONENT_TOKEN = "CTOKEN-c0mp0nent-value"
AUTH_CODE = "CODE-auth0rization-value"
AUTHORIZER_TOKEN = "ATOKEN-auth0rizer-value"
REFRESH_TOKEN = "RTOKEN-refr3sh-value"
NEW_REFRESH_TOKEN = "RTOKEN-n3w-refresh-value"
PRE_AUTH = "PREAUTH-pre-auth-value"
ALL_SECRETS = (
    SECRET,
    TICKET,
    COMPONENT_TOKEN,
    AUTH_CODE,
    AUTHORIZER_TOKEN,
    REFRESH_TOKEN,
    NEW_REFRESH_TOKEN,
    PRE_AUTH,
)

Answer = tuple[int, bytes] | BaseException


@dataclass
class Call:
    method: str
    url: str
    body: bytes | None
    headers: Mapping[str, str]
    timeout: urllib3.Timeout
    retries: bool

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query)

    @property
    def json(self) -> Any:
        assert self.body is not None
        return json.loads(self.body)


@dataclass
class FakeResponse:
    status: int
    data: bytes


@dataclass
class FakeTransport:
    """Answers from a script, one entry per request; the last entry repeats once the script runs out."""

    script: list[Answer]
    calls: list[Call] = field(default_factory=list)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: urllib3.Timeout,
        retries: bool,
    ) -> FakeResponse:
        self.calls.append(Call(method, url, body, headers, timeout, retries))
        answer = self.script[min(len(self.calls), len(self.script)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return FakeResponse(*answer)


def ok(**fields: Any) -> tuple[int, bytes]:
    return 200, json.dumps(fields, ensure_ascii=False).encode()


def wechat_error(errcode: int, errmsg: str = "some error rid: 1234") -> tuple[int, bytes]:
    return 200, json.dumps({"errcode": errcode, "errmsg": errmsg}).encode()


@dataclass
class Harness:
    transport: FakeTransport
    api: WeChatHttpApi
    sleeps: list[float]


def harness(*script: Answer, max_attempts: int = 3, seed: int = 7) -> Harness:
    transport = FakeTransport(list(script))
    sleeps: list[float] = []
    api = WeChatHttpApi(
        BASE, http=transport, max_attempts=max_attempts, backoff=0.2, sleep=sleeps.append, rng=random.Random(seed)
    )
    return Harness(transport, api, sleeps)


def assert_no_secret(text: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in text


def read_timeout() -> ReadTimeoutError:
    return ReadTimeoutError(
        urllib3.HTTPConnectionPool("wechat.test"), f"/x?component_access_token={COMPONENT_TOKEN}", "Read timed out."
    )


def connection_refused() -> NewConnectionError:
    return NewConnectionError(urllib3.connection.HTTPConnection("wechat.test"), "Connection refused")


def connection_reset() -> ProtocolError:
    return ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))


# -- requests ------------------------------------------------------------------------------------


def test_component_token_sends_the_secret_and_ticket_in_the_body_and_no_token() -> None:
    h = harness(ok(component_access_token=COMPONENT_TOKEN, expires_in=7200))
    issued = h.api.component_token(APPID, SECRET, TICKET)
    assert issued == IssuedToken(COMPONENT_TOKEN, 7200)
    [call] = h.transport.calls
    assert call.method == "POST"
    assert call.url == f"{BASE}/cgi-bin/component/api_component_token"
    assert call.json == {
        "component_appid": APPID,
        "component_appsecret": SECRET,
        "component_verify_ticket": TICKET,
    }
    assert call.headers["Content-Type"].startswith("application/json")
    assert call.timeout is DEFAULT_TIMEOUT
    assert call.retries is False


def test_create_preauthcode_puts_the_token_in_the_query_only() -> None:
    h = harness(ok(pre_auth_code=PRE_AUTH, expires_in=600))
    assert h.api.create_preauthcode(COMPONENT_TOKEN, APPID) == PreAuthCode(PRE_AUTH, 600)
    [call] = h.transport.calls
    assert call.path == "/cgi-bin/component/api_create_preauthcode"
    assert call.query == {"component_access_token": [COMPONENT_TOKEN]}
    assert call.json == {"component_appid": APPID}
    assert call.body is not None and COMPONENT_TOKEN.encode() not in call.body


def test_query_auth_maps_authorization_info() -> None:
    func_info = [{"funcscope_category": {"id": 1}}, {"funcscope_category": {"id": 15}}]
    h = harness(
        ok(
            authorization_info={
                "authorizer_appid": AUTHORIZER,
                "authorizer_access_token": AUTHORIZER_TOKEN,
                "expires_in": 7200,
                "authorizer_refresh_token": REFRESH_TOKEN,
                "func_info": func_info,
            }
        )
    )
    info = h.api.query_auth(COMPONENT_TOKEN, APPID, AUTH_CODE)
    assert info == AuthorizationInfo(AUTHORIZER, AUTHORIZER_TOKEN, 7200, REFRESH_TOKEN, func_info)
    [call] = h.transport.calls
    assert call.path == "/cgi-bin/component/api_query_auth"
    assert call.query == {"component_access_token": [COMPONENT_TOKEN]}
    assert call.json == {"component_appid": APPID, "authorization_code": AUTH_CODE}


@pytest.mark.parametrize(
    ("answered", "expected"),
    [({"authorizer_refresh_token": NEW_REFRESH_TOKEN}, NEW_REFRESH_TOKEN), ({}, "")],
    ids=["new", "omitted"],
)
def test_authorizer_token_keeps_a_new_refresh_token_or_empty(answered: dict[str, str], expected: str) -> None:
    h = harness(ok(authorizer_access_token=AUTHORIZER_TOKEN, expires_in=7200, **answered))
    token = h.api.authorizer_token(COMPONENT_TOKEN, APPID, AUTHORIZER, REFRESH_TOKEN)
    assert token == AuthorizerToken(AUTHORIZER_TOKEN, 7200, expected)
    [call] = h.transport.calls
    assert call.path == "/cgi-bin/component/api_authorizer_token"
    assert call.query == {"component_access_token": [COMPONENT_TOKEN]}
    assert call.json == {
        "component_appid": APPID,
        "authorizer_appid": AUTHORIZER,
        "authorizer_refresh_token": REFRESH_TOKEN,
    }


def profile_answer(*, mini_program: bool) -> dict[str, Any]:
    info: dict[str, Any] = {
        "nick_name": "微信小店",
        "head_img": "https://img.test/head",
        "service_type_info": {"id": 2},
        "verify_type_info": {"id": 0},
        "user_name": "gh_eb5e3a772040",
        "alias": "shop",
        "principal_name": "腾讯计算机系统有限公司",
        "qrcode_url": "https://img.test/qr",
        "account_status": 1,
    }
    if mini_program:
        info["MiniProgramInfo"] = {"network": {}, "categories": [], "visit_status": 0}
    return {
        "authorizer_info": info,
        "authorization_info": {
            "authorizer_appid": AUTHORIZER,
            "authorizer_refresh_token": REFRESH_TOKEN,
            "func_info": [{"funcscope_category": {"id": 1}}],
        },
    }


@pytest.mark.parametrize("mini_program", [False, True])
def test_get_authorizer_info_maps_the_profile(mini_program: bool) -> None:
    answer = profile_answer(mini_program=mini_program)
    h = harness(ok(**answer))
    profile = h.api.get_authorizer_info(COMPONENT_TOKEN, APPID, AUTHORIZER)
    assert profile.authorizer_appid == AUTHORIZER
    assert profile.nick_name == "微信小店"
    assert (profile.head_img, profile.qrcode_url) == ("https://img.test/head", "https://img.test/qr")
    assert (profile.user_name, profile.alias) == ("gh_eb5e3a772040", "shop")
    assert profile.principal_name == "腾讯计算机系统有限公司"
    assert (profile.service_type, profile.verify_type) == (2, 0)
    assert profile.is_mini_program is mini_program
    assert profile.raw == answer
    [call] = h.transport.calls
    assert call.path == "/cgi-bin/component/api_get_authorizer_info"
    assert call.query == {"component_access_token": [COMPONENT_TOKEN]}
    assert call.json == {"component_appid": APPID, "authorizer_appid": AUTHORIZER}
    assert_no_secret(repr(profile))


def test_get_authorizer_list_maps_a_page() -> None:
    rows = [
        {"authorizer_appid": AUTHORIZER, "refresh_token": REFRESH_TOKEN, "auth_time": 1_558_000_607},
        {"authorizer_appid": "wx_other", "refresh_token": NEW_REFRESH_TOKEN, "auth_time": 1_558_000_700},
    ]
    h = harness(ok(total_count=33, list=rows))
    page = h.api.get_authorizer_list(COMPONENT_TOKEN, APPID, 0, 500)
    assert page == AuthorizerListPage(
        33,
        [
            AuthorizerListItem(AUTHORIZER, REFRESH_TOKEN, 1_558_000_607),
            AuthorizerListItem("wx_other", NEW_REFRESH_TOKEN, 1_558_000_700),
        ],
    )
    [call] = h.transport.calls
    assert call.path == "/cgi-bin/component/api_get_authorizer_list"
    assert call.query == {"component_access_token": [COMPONENT_TOKEN]}
    assert call.json == {"component_appid": APPID, "offset": 0, "count": 500}
    assert_no_secret(repr(page))


def test_an_empty_authorizer_list_may_leave_the_list_out() -> None:
    h = harness(ok(total_count=0))
    assert h.api.get_authorizer_list(COMPONENT_TOKEN, APPID, 0, 100) == AuthorizerListPage(0, [])


@pytest.mark.parametrize(("offset", "count"), [(-1, 10), (0, 0), (0, 501)])
def test_get_authorizer_list_refuses_a_bad_page_without_calling(offset: int, count: int) -> None:
    h = harness(ok(total_count=0))
    with pytest.raises(ValueError, match="count"):
        h.api.get_authorizer_list(COMPONENT_TOKEN, APPID, offset, count)
    assert h.transport.calls == []


def test_start_push_ticket_sends_the_secret_in_the_body() -> None:
    h = harness(ok(errcode=0, errmsg="ok"))
    h.api.start_push_ticket(APPID, SECRET)
    [call] = h.transport.calls
    assert call.url == f"{BASE}/cgi-bin/component/api_start_push_ticket"
    assert call.json == {"component_appid": APPID, "component_secret": SECRET}


def test_send_custom_message_uses_access_token_in_the_query() -> None:
    message = {"touser": "OPENID", "msgtype": "text", "text": {"content": "QUERY_AUTH_CODE的API文本"}}
    h = harness(ok(errcode=0, errmsg="ok"))
    h.api.send_custom_message(AUTHORIZER_TOKEN, message)
    [call] = h.transport.calls
    assert call.path == "/cgi-bin/message/custom/send"
    assert call.query == {"access_token": [AUTHORIZER_TOKEN]}
    assert call.json == message
    assert call.body is not None
    assert "QUERY_AUTH_CODE的API文本".encode() in call.body  # ensure_ascii=False: UTF-8, not \\u escapes


@pytest.mark.parametrize(("kind", "wechat_type"), [("jsapi", "jsapi"), ("card", "wx_card")])
def test_get_ticket_is_a_get_with_the_token_and_type_in_the_query(kind: str, wechat_type: str) -> None:
    h = harness(ok(errcode=0, errmsg="ok", ticket=TICKET, expires_in=7200))
    issued = h.api.get_ticket(AUTHORIZER_TOKEN, wechat_type)
    assert (issued.ticket, issued.expires_in) == (TICKET, 7200)
    [call] = h.transport.calls
    assert (call.method, call.path, call.body) == ("GET", "/cgi-bin/ticket/getticket", None)
    assert call.query == {"access_token": [AUTHORIZER_TOKEN], "type": [wechat_type]}
    assert TICKET not in repr(issued)


def test_get_ticket_maps_errcodes_and_retries_only_a_busy_wechat() -> None:
    h = harness(wechat_error(-1), ok(errcode=0, errmsg="ok", ticket=TICKET, expires_in=7200))
    assert h.api.get_ticket(AUTHORIZER_TOKEN, "jsapi").ticket == TICKET
    assert len(h.transport.calls) == 2
    h = harness(wechat_error(40001))
    with pytest.raises(TokenRejected):
        h.api.get_ticket(AUTHORIZER_TOKEN, "jsapi")
    h = harness(ok(errcode=0, errmsg="ok", expires_in=7200))
    with pytest.raises(UpstreamUnavailable, match="ticket"):
        h.api.get_ticket(AUTHORIZER_TOKEN, "jsapi")


def test_the_base_url_is_the_one_given_without_a_trailing_slash() -> None:
    transport = FakeTransport([ok(pre_auth_code=PRE_AUTH, expires_in=600)])
    api = WeChatHttpApi("http://sandbox.test:8080/", http=transport)  # the root passes the setting
    api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert transport.calls[0].url.startswith("http://sandbox.test:8080/cgi-bin/component/api_create_preauthcode?")


def test_the_adapter_implements_the_port() -> None:
    port: WeChatApi = WeChatHttpApi(BASE, http=FakeTransport([]))  # mypy checks the structure
    assert isinstance(port, WeChatHttpApi)


def test_without_an_injected_transport_the_shared_pool_is_used() -> None:
    api, other = WeChatHttpApi(BASE), WeChatHttpApi(BASE)
    assert isinstance(api.http, urllib3.PoolManager)
    assert api.http is other.http is wechat_http.shared_pool()


# -- errcodes ------------------------------------------------------------------------------------

ERRCODES: list[tuple[int, type[UpstreamError]]] = [
    (40001, TokenRejected),
    (40014, TokenRejected),
    (42001, TokenRejected),
    (40013, ConfigurationRejected),
    (61011, ConfigurationRejected),
    (41001, ConfigurationRejected),
    (61004, ConfigurationRejected),
    (45009, QuotaExceeded),
    (61003, AccountRevokedAuthorization),
    (61005, VerifyTicketRejected),
    (61006, VerifyTicketRejected),
    (61009, AuthorizationCodeRejected),
    (61010, AuthorizationCodeRejected),
    (61023, RefreshTokenRejected),
    (48001, PermissionRejected),
    (40125, ConfigurationRejected),
    (41004, ConfigurationRejected),
    (45015, CustomerServiceLimit),
    (40097, RequestRejected),
    (99999, UnknownWeChatError),
]


@pytest.mark.parametrize(("errcode", "cls"), ERRCODES)
def test_each_errcode_raises_its_error_at_once(errcode: int, cls: type[UpstreamError]) -> None:
    h = harness(wechat_error(errcode, "the errmsg rid: 42"))
    with pytest.raises(cls) as raised:
        h.api.authorizer_token(COMPONENT_TOKEN, APPID, AUTHORIZER, REFRESH_TOKEN)
    assert type(raised.value) is cls
    assert raised.value.errcode == errcode
    assert raised.value.code == "upstream_error"
    assert "the errmsg rid: 42" in raised.value.message and "api_authorizer_token" in raised.value.message
    assert len(h.transport.calls) == 1
    assert h.sleeps == []


@pytest.mark.parametrize(("errcode", "cls"), [*ERRCODES, (-1, SystemBusy)])
def test_error_for_maps_the_table(errcode: int, cls: type[UpstreamError]) -> None:
    error = error_for(errcode, "msg")
    assert type(error) is cls
    assert isinstance(error, UpstreamError) and isinstance(error, WxComponentError)
    assert error.errcode == errcode


@given(errcode=st.integers(min_value=-(2**31), max_value=2**31).filter(lambda code: code not in (0, -1)))
def test_no_errcode_but_minus_one_is_ever_retried(errcode: int) -> None:
    h = harness(wechat_error(errcode))
    with pytest.raises(UpstreamError) as raised:
        h.api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert raised.value.errcode == errcode
    assert not isinstance(raised.value, (SystemBusy, UpstreamUnavailable))
    assert len(h.transport.calls) == 1


def test_errcode_zero_is_success() -> None:
    h = harness(ok(errcode=0, errmsg="ok", pre_auth_code=PRE_AUTH, expires_in=600))
    assert h.api.create_preauthcode(COMPONENT_TOKEN, APPID).pre_auth_code == PRE_AUTH


# -- retries -------------------------------------------------------------------------------------


def test_system_busy_is_retried_with_jittered_backoff_then_succeeds() -> None:
    h = harness(
        wechat_error(-1, "system error"),
        wechat_error(-1, "system error"),
        ok(pre_auth_code=PRE_AUTH, expires_in=600),
        seed=11,
    )
    assert h.api.create_preauthcode(COMPONENT_TOKEN, APPID) == PreAuthCode(PRE_AUTH, 600)
    assert len(h.transport.calls) == 3
    expected = random.Random(11)
    assert h.sleeps == [expected.uniform(0, 0.2), expected.uniform(0, 0.4)]
    assert 0 <= h.sleeps[0] <= 0.2 and 0 <= h.sleeps[1] <= 0.4
    assert len({call.url for call in h.transport.calls}) == 1
    assert len({call.body for call in h.transport.calls}) == 1


@given(seed=st.integers(min_value=0, max_value=2**32), attempts=st.integers(min_value=1, max_value=8))
def test_every_wait_is_within_its_full_jitter_bound(seed: int, attempts: int) -> None:
    h = harness(wechat_error(-1), max_attempts=attempts, seed=seed)
    with pytest.raises(SystemBusy):
        h.api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert len(h.transport.calls) == attempts
    assert len(h.sleeps) == attempts - 1  # no wait after the last attempt
    for n, wait in enumerate(h.sleeps):
        assert 0 <= wait <= 0.2 * 2**n


@pytest.mark.parametrize(
    "failure",
    [
        (502, b"<html>Bad Gateway</html>"),
        (500, b'{"errcode": 0}'),
        (200, b"<html>not json</html>"),
        (200, b"[]"),
        (200, b"\xff\xfe"),
    ],
    ids=["502", "500-json", "html", "not-an-object", "not-utf8"],
)
def test_an_unusable_answer_is_retried_then_succeeds(failure: tuple[int, bytes]) -> None:
    h = harness(failure, ok(pre_auth_code=PRE_AUTH, expires_in=600))
    assert h.api.create_preauthcode(COMPONENT_TOKEN, APPID) == PreAuthCode(PRE_AUTH, 600)
    assert len(h.transport.calls) == 2
    assert len(h.sleeps) == 1


@pytest.mark.parametrize("exception", [read_timeout, connection_refused, connection_reset, TimeoutError])
def test_a_transport_failure_is_retried_then_succeeds(exception: Any) -> None:
    h = harness(exception(), ok(pre_auth_code=PRE_AUTH, expires_in=600))
    assert h.api.create_preauthcode(COMPONENT_TOKEN, APPID) == PreAuthCode(PRE_AUTH, 600)
    assert len(h.transport.calls) == 2


def test_system_busy_on_every_attempt_raises_system_busy() -> None:
    h = harness(wechat_error(-1, "system error"))
    with pytest.raises(SystemBusy) as raised:
        h.api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert raised.value.errcode == -1
    assert len(h.transport.calls) == 3
    assert len(h.sleeps) == 2


@pytest.mark.parametrize(
    "failure",
    [(503, b"busy"), (200, b"not json"), read_timeout(), connection_refused(), connection_reset()],
    ids=["503", "not-json", "read-timeout", "refused", "reset"],
)
def test_unavailable_on_every_attempt_raises_upstream_unavailable(failure: Answer) -> None:
    h = harness(failure, max_attempts=4)
    with pytest.raises(UpstreamUnavailable) as raised:
        h.api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert raised.value.errcode is None
    assert raised.value.__cause__ is None and raised.value.__context__ is None  # no URL through a chained error
    assert len(h.transport.calls) == 4
    assert_no_secret(str(raised.value))


def test_a_busy_then_a_token_error_stops_at_the_token_error() -> None:
    h = harness(wechat_error(-1), wechat_error(40001), ok(pre_auth_code=PRE_AUTH, expires_in=600))
    with pytest.raises(TokenRejected):
        h.api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert len(h.transport.calls) == 2


@pytest.mark.parametrize("errcode", [40001, 45009, 61023])
def test_token_quota_and_refresh_errors_are_never_retried(errcode: int) -> None:
    h = harness(wechat_error(errcode), ok(authorizer_access_token=AUTHORIZER_TOKEN, expires_in=7200))
    with pytest.raises(UpstreamError):
        h.api.authorizer_token(COMPONENT_TOKEN, APPID, AUTHORIZER, REFRESH_TOKEN)
    assert len(h.transport.calls) == 1
    assert h.sleeps == []


# -- malformed answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        ("component_token", {"expires_in": 7200}),
        ("component_token", {"component_access_token": "", "expires_in": 7200}),
        ("component_token", {"component_access_token": COMPONENT_TOKEN, "expires_in": "soon"}),
        ("component_token", {"component_access_token": COMPONENT_TOKEN, "expires_in": 0}),
        ("create_preauthcode", {"expires_in": 600}),
        ("query_auth", {}),
        ("query_auth", {"authorization_info": {"expires_in": 7200}}),
        ("authorizer_token", {"expires_in": 7200}),
        ("authorizer_token", {"authorizer_access_token": AUTHORIZER_TOKEN, "expires_in": True}),
        ("get_authorizer_info", {"authorization_info": {}}),
        ("get_authorizer_info", {"authorizer_info": "x"}),
        ("get_authorizer_list", {"list": []}),
        ("get_authorizer_list", {"total_count": 1, "list": [{"refresh_token": REFRESH_TOKEN}]}),
        ("get_authorizer_list", {"total_count": 1, "list": "nope"}),
        ("component_token", {"errcode": "zero", "component_access_token": COMPONENT_TOKEN, "expires_in": 7200}),
        ("component_token", {"errcode": 0.5, "component_access_token": COMPONENT_TOKEN, "expires_in": 7200}),
    ],
)
def test_a_success_answer_without_a_required_field_is_unavailable(call: str, answer: dict[str, Any]) -> None:
    h = harness(ok(**answer))
    calls: dict[str, Callable[[], object]] = {
        "component_token": lambda: h.api.component_token(APPID, SECRET, TICKET),
        "create_preauthcode": lambda: h.api.create_preauthcode(COMPONENT_TOKEN, APPID),
        "query_auth": lambda: h.api.query_auth(COMPONENT_TOKEN, APPID, AUTH_CODE),
        "authorizer_token": lambda: h.api.authorizer_token(COMPONENT_TOKEN, APPID, AUTHORIZER, REFRESH_TOKEN),
        "get_authorizer_info": lambda: h.api.get_authorizer_info(COMPONENT_TOKEN, APPID, AUTHORIZER),
        "get_authorizer_list": lambda: h.api.get_authorizer_list(COMPONENT_TOKEN, APPID, 0, 10),
    }
    with pytest.raises(UpstreamUnavailable, match="malformed answer") as raised:
        calls[call]()
    assert raised.value.errcode is None
    assert len(h.transport.calls) == 1  # WeChat answered; asking again would not help
    assert_no_secret(str(raised.value))


# -- nothing secret leaks ------------------------------------------------------------------------


def test_reprs_never_show_tokens_codes_or_refresh_tokens() -> None:
    values: list[object] = [
        IssuedToken(COMPONENT_TOKEN, 7200),
        PreAuthCode(PRE_AUTH, 600),
        AuthorizationInfo(AUTHORIZER, AUTHORIZER_TOKEN, 7200, REFRESH_TOKEN, [{"funcscope_category": {"id": 1}}]),
        AuthorizerToken(AUTHORIZER_TOKEN, 7200, NEW_REFRESH_TOKEN),
        AuthorizerListItem(AUTHORIZER, REFRESH_TOKEN, 1),
        AuthorizerListPage(1, [AuthorizerListItem(AUTHORIZER, REFRESH_TOKEN, 1)]),
    ]
    for value in values:
        assert_no_secret(repr(value))
        assert_no_secret(str(value))
    assert AUTHORIZER in repr(values[2])


def test_an_errmsg_echoing_a_sent_value_is_scrubbed() -> None:
    h = harness(wechat_error(40001, f"invalid credential {COMPONENT_TOKEN} / {REFRESH_TOKEN} rid: 1"))
    with pytest.raises(TokenRejected) as raised:
        h.api.authorizer_token(COMPONENT_TOKEN, APPID, AUTHORIZER, REFRESH_TOKEN)
    assert_no_secret(str(raised.value))
    assert "invalid credential" in raised.value.message and "rid: 1" in raised.value.message


def test_logs_name_the_api_but_never_the_url_tokens_or_bodies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = harness(
        connection_refused(),
        connection_refused(),
        ok(
            authorization_info={
                "authorizer_appid": AUTHORIZER,
                "authorizer_access_token": AUTHORIZER_TOKEN,
                "expires_in": 7200,
                "authorizer_refresh_token": REFRESH_TOKEN,
            }
        ),
    )
    with caplog.at_level("INFO", logger="wxcomponent"):
        h.api.query_auth(COMPONENT_TOKEN, APPID, AUTH_CODE)
    records = [record.__dict__ for record in caplog.records]
    assert [(r["api"], r["attempt"], r.get("errcode")) for r in records] == [
        ("api_query_auth", 1, None),
        ("api_query_auth", 2, None),
        ("api_query_auth", 3, 0),
    ]
    assert all(isinstance(r["elapsed_ms"], int) for r in records)
    assert [r["levelname"] for r in records] == ["WARNING", "WARNING", "INFO"]
    rendered = "\n".join(logger.registered_formatter.format(record) for record in caplog.records)
    assert '"api":"api_query_auth"' in rendered  # the JSON lines Powertools writes
    assert_no_secret(rendered + caplog.text)
    assert "component_access_token" not in rendered


@pytest.mark.parametrize(
    "failure",
    [read_timeout(), connection_reset(), (503, b"busy"), wechat_error(-1, "system error")],
    ids=["read-timeout", "reset", "503", "minus-one"],
)
def test_single_use_calls_are_not_retried_once_wechat_may_have_seen_them(failure: Answer) -> None:
    """A code WeChat may have consumed, or a message it may have sent, is not sent again: -1 is
    "busy", which WeChat does not document as "nothing done" (F14)."""
    h = harness(failure, ok())
    with pytest.raises(UpstreamError):
        h.api.query_auth(COMPONENT_TOKEN, APPID, AUTH_CODE)
    assert len(h.transport.calls) == 1
    h = harness(failure, ok())
    with pytest.raises(UpstreamError):
        h.api.send_custom_message(AUTHORIZER_TOKEN, {"touser": "o", "msgtype": "text", "text": {"content": "x"}})
    assert len(h.transport.calls) == 1


def test_single_use_calls_are_retried_when_the_connection_never_opened() -> None:
    h = harness(
        connection_refused(),
        ok(
            authorization_info={
                "authorizer_appid": AUTHORIZER,
                "authorizer_access_token": AUTHORIZER_TOKEN,
                "expires_in": 7200,
                "authorizer_refresh_token": REFRESH_TOKEN,
            }
        ),
    )
    assert h.api.query_auth(COMPONENT_TOKEN, APPID, AUTH_CODE).authorizer_appid == AUTHORIZER
    assert len(h.transport.calls) == 2


# -- rids, whitelist refusals, diagnosis APIs (issue 22) ------------------------------------------

RID = "61725984-6126f6f9-040f19c4"


def test_an_error_carries_wechats_rid_and_the_failure_line_names_it(caplog: pytest.LogCaptureFixture) -> None:
    h = harness(wechat_error(40001, f"invalid credential, access_token is invalid or not latest rid: {RID}"))
    with caplog.at_level("INFO", logger="wxcomponent"), pytest.raises(TokenRejected) as raised:
        h.api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert raised.value.rid == RID
    [record] = [r.__dict__ for r in caplog.records if r.getMessage() == "wechat call failed"]
    assert (record["rid"], record["errcode"], record["host"]) == (RID, 40001, "wechat.test")


def test_an_unavailable_wechat_has_no_rid(caplog: pytest.LogCaptureFixture) -> None:
    h = harness((502, b"<html>bad gateway</html>"), max_attempts=1)
    with caplog.at_level("INFO", logger="wxcomponent"), pytest.raises(UpstreamUnavailable) as raised:
        h.api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert raised.value.rid is None
    [record] = [r.__dict__ for r in caplog.records if r.getMessage() == "wechat call failed"]
    assert record["rid"] is None and "client_ip" not in record


@pytest.mark.parametrize(
    ("errcode", "errmsg"),
    [
        (61004, f"access clientip is not registered requestIP: 203.0.113.9 rid: {RID}"),
        (40164, f"invalid ip 203.0.113.9 ipv6 ::ffff:203.0.113.9, not in whitelist rid: {RID}"),
    ],
    ids=["61004", "40164"],
)
def test_a_whitelist_refusal_names_the_address_wechat_saw_beside_the_whitelist(
    errcode: int, errmsg: str, caplog: pytest.LogCaptureFixture
) -> None:
    transport = FakeTransport([wechat_error(errcode, errmsg)])
    api = WeChatHttpApi(BASE, http=transport, sleep=lambda _: None, whitelist_ips=("198.51.100.7",))
    with caplog.at_level("INFO", logger="wxcomponent"), pytest.raises(ConfigurationRejected) as raised:
        api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert raised.value.client_ip == "203.0.113.9" and raised.value.rid == RID
    [record] = [r.__dict__ for r in caplog.records if r.getMessage() == "wechat call failed"]
    assert record["client_ip"] == "203.0.113.9" and record["whitelist_ips"] == ["198.51.100.7"]


def rid_answer(**request: Any) -> tuple[int, bytes]:
    return ok(errcode=0, errmsg="ok", request=request)


def test_get_rid_info_asks_with_the_token_in_the_query_and_masks_what_wechat_saw() -> None:
    h = harness(
        rid_answer(
            invoke_time=1_635_156_704,
            cost_in_ms=30,
            request_url=f"component_access_token={COMPONENT_TOKEN}",
            request_body=json.dumps(
                {"component_appid": APPID, "component_appsecret": SECRET, "component_verify_ticket": TICKET}
            ),
            response_body=json.dumps({"errcode": 45009, "errmsg": f"reach max api daily quota limit rid: {RID}"}),
            client_ip="203.0.113.9",
        )
    )
    info = h.api.get_rid_info(COMPONENT_TOKEN, RID)
    [call] = h.transport.calls
    assert (call.method, call.path) == ("POST", "/cgi-bin/openapi/rid/get")
    assert call.query == {"access_token": [COMPONENT_TOKEN]} and call.json == {"rid": RID}
    assert (info.rid, info.invoke_time, info.cost_in_ms, info.client_ip) == (RID, 1_635_156_704, 30, "203.0.113.9")
    assert info.request_url == "component_access_token=<redacted>"
    assert json.loads(info.request_body) == {
        "component_appid": APPID,
        "component_appsecret": "<redacted>",
        "component_verify_ticket": "<redacted>",
    }
    assert json.loads(info.response_body)["errcode"] == 45009
    assert_no_secret(repr(info))


def test_get_rid_info_masks_tokens_in_an_authorizers_call_and_in_a_body_that_is_not_json() -> None:
    h = harness(
        rid_answer(
            invoke_time=1,
            cost_in_ms=2,
            request_url=f"access_token={AUTHORIZER_TOKEN}&type=jsapi",
            request_body=f"<xml><ticket>{TICKET}</ticket></xml>",
            response_body=json.dumps({"authorizer_refresh_token": REFRESH_TOKEN, "code": AUTH_CODE}),
            client_ip="",
        )
    )
    info = h.api.get_rid_info(AUTHORIZER_TOKEN, RID)
    assert info.request_url == "access_token=<redacted>&type=jsapi"
    assert info.request_body == "<xml><ticket><redacted></ticket></xml>"
    assert_no_secret(repr(info))


@pytest.mark.parametrize(("errcode", "cls"), [(76001, UnknownWeChatError), (76003, UnknownWeChatError)])
def test_get_rid_info_refusals_are_typed_errors(errcode: int, cls: type[UpstreamError]) -> None:
    h = harness(wechat_error(errcode, f"rid not found rid: {RID}"))
    with pytest.raises(cls) as raised:
        h.api.get_rid_info(COMPONENT_TOKEN, RID)
    assert raised.value.errcode == errcode and len(h.transport.calls) == 1


def test_get_api_quota_asks_for_one_cgi_path() -> None:
    h = harness(ok(errcode=0, errmsg="ok", quota={"daily_limit": 2000, "used": 12, "remain": 1988}))
    quota = h.api.get_api_quota(COMPONENT_TOKEN, "/cgi-bin/component/api_component_token")
    [call] = h.transport.calls
    assert call.path == "/cgi-bin/openapi/quota/get" and call.query == {"access_token": [COMPONENT_TOKEN]}
    assert call.json == {"cgi_path": "/cgi-bin/component/api_component_token"}
    assert (quota.daily_limit, quota.used, quota.remain) == (2000, 12, 1988)


@pytest.mark.parametrize("appid", ["", AUTHORIZER])
def test_clear_quota_sends_the_appsecret_alone_and_the_account_when_named(appid: str) -> None:
    h = harness(ok(errcode=0, errmsg="ok"))
    h.api.clear_quota(APPID, SECRET, appid)
    [call] = h.transport.calls
    assert call.path == "/cgi-bin/component/clear_quota/v2" and call.query == {}
    assert call.json == {"component_appid": APPID, "appsecret": SECRET, **({"appid": appid} if appid else {})}


def test_clear_quota_is_never_sent_twice_once_wechat_may_have_seen_it() -> None:
    h = harness(read_timeout(), ok(errcode=0, errmsg="ok"))
    with pytest.raises(UpstreamUnavailable):
        h.api.clear_quota(APPID, SECRET)
    assert len(h.transport.calls) == 1


# -- the disaster-recovery host --------------------------------------------------------------------

DR = "https://dr.wechat.test"


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def with_fallback(*script: Answer, clock: Clock | None = None, max_attempts: int = 3) -> Harness:
    transport = FakeTransport(list(script))
    sleeps: list[float] = []
    api = WeChatHttpApi(
        BASE,
        fallback_urls=(DR,),
        http=transport,
        max_attempts=max_attempts,
        sleep=sleeps.append,
        rng=random.Random(7),
        clock=clock or Clock(),
    )
    return Harness(transport, api, sleeps)


def hosts(h: Harness) -> list[str]:
    return [f"{urlsplit(call.url).scheme}://{urlsplit(call.url).netloc}" for call in h.transport.calls]


def test_the_same_attempt_goes_on_to_the_next_host_when_the_first_cannot_be_reached(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = with_fallback(connection_refused(), ok(pre_auth_code=PRE_AUTH, expires_in=600))
    with caplog.at_level("INFO", logger="wxcomponent"):
        assert h.api.create_preauthcode(COMPONENT_TOKEN, APPID).pre_auth_code == PRE_AUTH
    assert hosts(h) == [BASE, DR] and h.sleeps == []  # no backoff: nothing was sent anywhere
    assert [urlsplit(c.url).path for c in h.transport.calls] == ["/cgi-bin/component/api_create_preauthcode"] * 2
    messages = [(r.getMessage(), r.__dict__.get("host")) for r in caplog.records]
    assert messages == [("wechat host unreachable", "wechat.test"), ("wechat call", "dr.wechat.test")]


def test_a_single_use_call_goes_to_the_next_host_only_when_it_was_never_sent() -> None:
    answer = ok(
        authorization_info={
            "authorizer_appid": AUTHORIZER,
            "authorizer_access_token": AUTHORIZER_TOKEN,
            "expires_in": 7200,
            "authorizer_refresh_token": REFRESH_TOKEN,
        }
    )
    h = with_fallback(connection_refused(), answer)
    assert h.api.query_auth(COMPONENT_TOKEN, APPID, AUTH_CODE).authorizer_appid == AUTHORIZER
    assert hosts(h) == [BASE, DR]
    for seen in (read_timeout(), connection_reset(), (503, b"busy")):
        h = with_fallback(seen, answer)
        with pytest.raises(UpstreamUnavailable):
            h.api.query_auth(COMPONENT_TOKEN, APPID, AUTH_CODE)
        assert hosts(h) == [BASE]  # the main host may have used the code: never a second send


def test_a_call_the_host_may_have_seen_is_retried_there_not_elsewhere() -> None:
    h = with_fallback(read_timeout(), ok(pre_auth_code=PRE_AUTH, expires_in=600))
    assert h.api.create_preauthcode(COMPONENT_TOKEN, APPID).pre_auth_code == PRE_AUTH
    assert hosts(h) == [BASE, BASE] and len(h.sleeps) == 1


def test_an_unreachable_host_is_tried_last_for_a_while_then_first_again() -> None:
    clock = Clock()
    token = ok(pre_auth_code=PRE_AUTH, expires_in=600)
    h = with_fallback(connection_refused(), token, token, token, clock=clock)
    for _ in range(2):
        h.api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert hosts(h) == [BASE, DR, DR]  # the second call skips the main host's connect timeout
    clock.now += wechat_http.HOST_COOLDOWN
    h.api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert hosts(h)[-1] == BASE


def test_when_no_host_can_be_reached_each_attempt_tries_them_all() -> None:
    h = with_fallback(connection_refused(), max_attempts=2)
    with pytest.raises(UpstreamUnavailable, match="NewConnectionError"):
        h.api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert hosts(h) == [BASE, DR, BASE, DR] and len(h.sleeps) == 1
