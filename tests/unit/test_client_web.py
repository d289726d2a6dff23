"""The client's help for an authorized account's web pages, against a fake vending function and a
fake WeChat: `wx.config`'s fields signed as docs/protocol.md §7 says, the web-login link in WeChat's
parameter order (no vend, no secret: the component's appid is configuration), and the code's
exchange, which the token center makes (a `web_login` vend): the client never holds the component
token nor the visitor's web tokens (issue 19, H1 and L7)."""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.clock import FakeClock
from wxcomponent_client import OAuthCodeRejected, TokenClient, TokenError, WebUser, WeChatError, jsapi_signature

ACCOUNT = "wx570bc396a51b8ff8"
COMPONENT = "wx5a0d8c0ffee5a4d1"
NOW = 1_767_225_600.0
PAGE = "https://shop.example/h5/cart?id=7&from=menu"


def reference_signature(ticket: str, noncestr: str, timestamp: str, url: str) -> str:
    """Written from docs/protocol.md §7 alone."""
    page = url.split("#", maxsplit=1)[0]
    text = "&".join(
        f"{k}={v}"
        for k, v in sorted({"jsapi_ticket": ticket, "noncestr": noncestr, "timestamp": timestamp, "url": page}.items())
    )
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


class FakeLambda:
    """token_vending as far as these tests need it: tokens and tickets, one current per key, and web
    login's codes (single use), exchanged as the token center does."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.issued = 0
        self.current: dict[tuple[str, str], str] = {}
        self.codes: dict[str, dict[str, Any]] = {
            "code-base": {"openid": "oUser", "scope": "snsapi_base"},
            "code-info": {
                "openid": "oUser",
                "scope": "snsapi_userinfo",
                "nickname": "小明",
                "avatar": "https://thirdwx.qlogo.cn/x/132",
                "unionid": "uUser",
            },
            "code-snapshot": {"openid": "oVirtual", "scope": "snsapi_userinfo", "is_snapshotuser": True},
        }
        self.answer: Any = None  # a canned body instead
        self.web_answer: Any = None  # a canned body for web_login vends only

    def invoke(self, *, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        request = json.loads(Payload)
        self.requests.append(request)
        if self.answer is not None:
            return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer).encode())}
        if request["kind"] == "web_login" and self.web_answer is not None:
            return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.web_answer).encode())}
        if request["kind"] == "web_login":
            return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self._web_login(request)).encode())}
        key = (request["kind"], request.get("appid", ""))
        if key not in self.current or self.current[key] == request.get("invalid_token"):
            self.issued += 1
            self.current[key] = f"{key[0]}-{self.issued}"
        field = "ticket" if key[0].endswith("_ticket") else "access_token"
        body = {"kind": key[0], "appid": key[1] or COMPONENT, field: self.current[key], "expires_at": int(NOW) + 7140}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())}

    def _web_login(self, request: dict[str, Any]) -> dict[str, Any]:
        visitor = self.codes.pop(request["code"], None)
        if visitor is None:
            message = "the web-login code is invalid, expired, used, or another account's (WeChat's errcode 40163)"
            return {"error": {"code": "bad_request", "message": message, "errcode": 40163}}
        empty = {"unionid": None, "is_snapshotuser": False, "nickname": None, "avatar": None}
        return {"kind": "web_login", "appid": request["appid"], **empty, **visitor}


@dataclass
class Response:
    status: int
    data: bytes


class FakeWeChat:
    """WeChat's host: web login must never reach it from the client any more."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.answer: dict[str, Any] | None = None

    def request(self, method: str, url: str, **_: Any) -> Response:
        self.calls.append(urlsplit(url).path)
        if self.answer is not None:
            return Response(200, json.dumps(self.answer).encode())
        return Response(200, b'{"errcode": -1, "errmsg": "the client must not call WeChat for web login"}')


@pytest.fixture
def lam() -> FakeLambda:
    return FakeLambda()


@pytest.fixture
def wechat() -> FakeWeChat:
    return FakeWeChat()


@pytest.fixture
def client(lam: FakeLambda, wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch) -> TokenClient:
    monkeypatch.delenv("WECHAT_COMPONENT_APPID", raising=False)
    return TokenClient(
        lambda_client=lam,
        clock=FakeClock(NOW),
        api_base="https://api.test",
        http=wechat,
        open_base="https://open.test",
        component_appid=COMPONENT,
    )


def test_the_signature_is_wechats_published_example() -> None:
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    url = "http://mp.weixin.qq.com?params=value"
    assert jsapi_signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, url) == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    assert (
        reference_signature(ticket, "Wm3WZYTPz0wzccnW", "1414587457", url) == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    )


def test_jsapi_config_signs_the_page_without_its_fragment_with_the_vended_ticket(
    client: TokenClient, lam: FakeLambda
) -> None:
    config = client.jsapi_config(ACCOUNT, PAGE + "#/checkout")
    assert set(config) == {"appId", "timestamp", "nonceStr", "signature"}
    assert config["appId"] == ACCOUNT and config["timestamp"] == int(NOW)
    assert re.fullmatch(r"[A-Za-z0-9]{16}", config["nonceStr"])
    ticket = lam.current[("jsapi_ticket", ACCOUNT)]
    assert config["signature"] == reference_signature(ticket, config["nonceStr"], str(int(NOW)), PAGE)
    again = client.jsapi_config(ACCOUNT, PAGE)
    assert again["nonceStr"] != config["nonceStr"]  # a fresh nonce per page view, the same ticket
    assert [r["kind"] for r in lam.requests] == ["jsapi_ticket"] and lam.requests[0]["appid"] == ACCOUNT
    assert lam.requests[0]["min_validity"] == 120  # the client's safety margin, as for tokens


@pytest.mark.parametrize("url", ["/h5/cart", "shop.example/h5", "ftp://shop.example/x", ""])
def test_jsapi_config_refuses_what_no_page_has_before_asking_for_a_ticket(
    client: TokenClient, lam: FakeLambda, url: str
) -> None:
    with pytest.raises(ValueError, match="absolute"):
        client.jsapi_config(ACCOUNT, url)
    assert lam.requests == []


def test_tickets_are_held_like_tokens_and_a_rejected_one_is_reported(client: TokenClient, lam: FakeLambda) -> None:
    jsapi, card = client.get_ticket(ACCOUNT), client.get_ticket(ACCOUNT, "card_ticket")
    assert (jsapi.kind, card.kind) == ("jsapi_ticket", "card_ticket") and jsapi.ticket != card.ticket
    assert client.get_ticket(ACCOUNT) == jsapi and len(lam.requests) == 2
    assert jsapi.ticket not in repr(jsapi)
    replacement = client.report_invalid(jsapi.ticket)
    assert replacement != jsapi.ticket and lam.requests[-1]["invalid_token"] == jsapi.ticket
    with pytest.raises(ValueError, match="kind"):
        client.get_ticket(ACCOUNT, "authorizer")


STATE = "s42a7f9c2e1b04d8b"  # 18 letters and digits: enough to bind the login to the visitor's session


def test_oauth_url_keeps_wechats_parameter_order_and_costs_no_vend(client: TokenClient, lam: FakeLambda) -> None:
    link = client.oauth_url(ACCOUNT, "https://shop.example/h5/login?next=/cart", "snsapi_userinfo", STATE)
    assert link == (
        "https://open.test/connect/oauth2/authorize?appid=wx570bc396a51b8ff8"
        "&redirect_uri=https%3A%2F%2Fshop.example%2Fh5%2Flogin%3Fnext%3D%2Fcart&response_type=code"
        f"&scope=snsapi_userinfo&state={STATE}&component_appid={COMPONENT}#wechat_redirect"
    )
    assert lam.requests == []  # H1: the component's appid is configuration, never a component-token vend


def test_the_component_appid_comes_from_the_constructor_or_the_environment(
    lam: FakeLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WECHAT_COMPONENT_APPID", raising=False)
    unconfigured = TokenClient(lambda_client=lam)
    with pytest.raises(ValueError, match="WECHAT_COMPONENT_APPID"):
        unconfigured.oauth_url(ACCOUNT, "https://a.example/", "snsapi_base", STATE)
    monkeypatch.setenv("WECHAT_COMPONENT_APPID", "wx0000000000000001")
    link = TokenClient(lambda_client=lam).oauth_url(ACCOUNT, "https://a.example/", "snsapi_base", STATE)
    assert link.startswith("https://open.weixin.qq.com/connect/oauth2/")
    assert "component_appid=wx0000000000000001" in link
    given = TokenClient(lambda_client=lam, component_appid="wx0000000000000002")
    assert "component_appid=wx0000000000000002" in given.oauth_url(ACCOUNT, "https://a.example/", "snsapi_base", STATE)
    with pytest.raises(ValueError, match="component_appid"):
        TokenClient(lambda_client=lam, component_appid="not-an-appid")
    assert lam.requests == []


@pytest.mark.parametrize(
    ("redirect_uri", "scope", "state", "problem"),
    [
        ("https://shop.example/h5", "snsapi_login", STATE, "scope"),
        ("/h5/login", "snsapi_base", STATE, "redirect_uri"),
        ("https://shop.example/h5", "snsapi_base", "has space in it too", "state"),
        ("https://shop.example/h5", "snsapi_base", "x" * 129, "state"),
        # L7: a login without a state of its own is open to login CSRF.
        ("https://shop.example/h5", "snsapi_base", "", "state"),
        ("https://shop.example/h5", "snsapi_base", "cart", "state"),
        ("https://shop.example/h5", "snsapi_base", "x" * 15, "state"),
    ],
)
def test_oauth_url_refuses_what_wechat_would_and_a_state_too_short_to_bind_anything(
    client: TokenClient, redirect_uri: str, scope: str, state: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        client.oauth_url(ACCOUNT, redirect_uri, scope, state)


def test_oauth_url_has_no_default_state() -> None:
    assert inspect.signature(TokenClient.oauth_url).parameters["state"].default is inspect.Parameter.empty
    assert inspect.signature(TokenClient.oauth_url).parameters["scope"].default is inspect.Parameter.empty


def test_a_base_login_gives_the_openid_and_a_userinfo_login_the_profile(
    client: TokenClient, lam: FakeLambda, wechat: FakeWeChat
) -> None:
    assert client.oauth_exchange(ACCOUNT, "code-base") == WebUser("oUser", "snsapi_base")
    assert lam.requests == [{"kind": "web_login", "appid": ACCOUNT, "code": "code-base", "lang": "zh_CN"}]
    user = client.oauth_exchange(ACCOUNT, "code-info", lang="en")
    assert user == WebUser("oUser", "snsapi_userinfo", "uUser", "小明", "https://thirdwx.qlogo.cn/x/132")
    assert lam.requests[-1]["lang"] == "en"
    # H1: no component token is vended, and WeChat is never called from here.
    assert all(r["kind"] == "web_login" for r in lam.requests) and wechat.calls == []


def test_a_snapshot_mode_visitor_is_flagged(client: TokenClient) -> None:
    user = client.oauth_exchange(ACCOUNT, "code-snapshot")
    assert user == WebUser("oVirtual", "snsapi_userinfo", is_snapshotuser=True)


def test_a_code_exchanged_twice_fails_clearly_the_second_time(client: TokenClient) -> None:
    client.oauth_exchange(ACCOUNT, "code-base")
    with pytest.raises(OAuthCodeRejected) as rejected:
        client.oauth_exchange(ACCOUNT, "code-base")
    assert isinstance(rejected.value, WeChatError) and rejected.value.errcode == 40163
    assert "already used" in str(rejected.value) and "oauth_url again" in str(rejected.value)
    assert set(rejected.value.answer) == {"errcode", "errmsg"}


def test_another_refusal_of_the_token_center_is_a_token_error(client: TokenClient, lam: FakeLambda) -> None:
    lam.answer = {"error": {"code": "not_authorized", "message": "the authorizer is unknown"}}
    with pytest.raises(TokenError) as refused:
        client.oauth_exchange(ACCOUNT, "code-base")
    assert refused.value.code == "not_authorized"


@pytest.mark.parametrize(
    "answer",
    [
        # An answer without the visitor, carrying what a careless server might have put in it.
        {"kind": "web_login", "appid": ACCOUNT, "scope": "snsapi_base", "access_token": "VISITOR-TOKEN"},
        {"kind": "web_login", "appid": ACCOUNT, "openid": 7, "refresh_token": "VISITOR-TOKEN"},
    ],
)
def test_no_error_carries_the_visitors_tokens(
    client: TokenClient, lam: FakeLambda, wechat: FakeWeChat, answer: dict[str, Any]
) -> None:
    """L7: an answer without openid or scope was a WeChatError whose `.answer` held the visitor's
    access and refresh tokens, for any error reporter to serialise."""
    lam.web_answer = answer
    wechat.answer = answer  # what the client used to get from WeChat itself
    with pytest.raises(Exception) as raised:
        client.oauth_exchange(ACCOUNT, "code-base")
    shown = f"{raised.value!s} {raised.value!r} {vars(raised.value)!r} {raised.value.args!r}"
    assert "VISITOR-TOKEN" not in shown
