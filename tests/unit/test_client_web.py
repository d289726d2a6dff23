"""The client's help for an authorized account's web pages, against a fake vending function and a
fake WeChat: `wx.config`'s fields signed as docs/protocol.md §7 says, the web-login link in WeChat's
parameter order, and the code's exchange with the component token."""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.clock import FakeClock
from wxcomponent_client import OAuthCodeRejected, TokenClient, WebUser, WeChatError, jsapi_signature

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
    """token_vending as far as these tests need it: tokens and tickets, one current per key."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.issued = 0
        self.current: dict[tuple[str, str], str] = {}

    def invoke(self, *, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        request = json.loads(Payload)
        self.requests.append(request)
        key = (request["kind"], request.get("appid", ""))
        if key not in self.current or self.current[key] == request.get("invalid_token"):
            self.issued += 1
            self.current[key] = f"{key[0]}-{self.issued}"
        field = "ticket" if key[0].endswith("_ticket") else "access_token"
        body = {"kind": key[0], "appid": key[1] or COMPONENT, field: self.current[key], "expires_at": int(NOW) + 7140}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())}


@dataclass
class Response:
    status: int
    data: bytes


class FakeWeChat:
    """The two web-login APIs: codes single use, the component token checked, users by scope."""

    def __init__(self, lam: FakeLambda) -> None:
        self.lam = lam
        self.codes = {"code-base": "snsapi_base", "code-info": "snsapi_userinfo", "code-snapshot": "snsapi_userinfo"}
        self.calls: list[tuple[str, dict[str, str]]] = []

    def request(self, method: str, url: str, **_: Any) -> Response:
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.calls.append((parts.path, query))
        return Response(200, json.dumps(self._answer(parts.path, query)).encode())

    def _answer(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        if path == "/sns/oauth2/component/access_token":
            if query["component_access_token"] != self.lam.current[("component", "")]:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            scope = self.codes.pop(query["code"], None)
            if scope is None:
                return {"errcode": 40163, "errmsg": "code been used, rid: 1"}
            answer = {
                "access_token": f"user-token-{scope}",
                "expires_in": 7200,
                "refresh_token": "r",
                "openid": "oUser",
                "scope": scope,
            }
            if query["code"] == "code-snapshot":  # a visitor of the page's snapshot mode
                answer |= {"openid": "oVirtual", "is_snapshotuser": 1, "access_token": "user-token-snapshot"}
            return answer
        if path == "/sns/userinfo" and query["access_token"] == "user-token-snapshot":
            return {"errcode": 48001, "errmsg": "api unauthorized"}  # observed for snapshot users
        if path == "/sns/userinfo":
            assert query == {"access_token": "user-token-snsapi_userinfo", "openid": "oUser", "lang": "zh_CN"}
            return {"openid": "oUser", "nickname": "小明", "headimgurl": "https://thirdwx.qlogo.cn/x/132"}
        return {"errcode": -1, "errmsg": "no such path"}


@pytest.fixture
def lam() -> FakeLambda:
    return FakeLambda()


@pytest.fixture
def wechat(lam: FakeLambda) -> FakeWeChat:
    return FakeWeChat(lam)


@pytest.fixture
def client(lam: FakeLambda, wechat: FakeWeChat) -> TokenClient:
    return TokenClient(
        lambda_client=lam, clock=FakeClock(NOW), api_base="https://api.test", http=wechat, open_base="https://open.test"
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


def test_oauth_url_keeps_wechats_parameter_order(client: TokenClient, lam: FakeLambda) -> None:
    link = client.oauth_url(ACCOUNT, "https://shop.example/h5/login?next=/cart", "snsapi_userinfo", "s42")
    assert link == (
        "https://open.test/connect/oauth2/authorize?appid=wx570bc396a51b8ff8"
        "&redirect_uri=https%3A%2F%2Fshop.example%2Fh5%2Flogin%3Fnext%3D%2Fcart&response_type=code"
        f"&scope=snsapi_userinfo&state=s42&component_appid={COMPONENT}#wechat_redirect"
    )
    assert [r["kind"] for r in lam.requests] == ["component"]  # the component's appid, learned once
    client.oauth_url(ACCOUNT, "https://shop.example/h5/login")
    assert len(lam.requests) == 1
    given = TokenClient(lambda_client=lam, component_appid="wx0000000000000001")
    assert given.oauth_url(ACCOUNT, "https://a.example/").startswith("https://open.weixin.qq.com/connect/oauth2/")
    assert len(lam.requests) == 1


@pytest.mark.parametrize(
    ("redirect_uri", "scope", "state", "problem"),
    [
        ("https://shop.example/h5", "snsapi_login", "", "scope"),
        ("/h5/login", "snsapi_base", "", "redirect_uri"),
        ("https://shop.example/h5", "snsapi_base", "has space", "state"),
        ("https://shop.example/h5", "snsapi_base", "x" * 129, "state"),
    ],
)
def test_oauth_url_refuses_what_wechat_would(
    client: TokenClient, redirect_uri: str, scope: str, state: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        client.oauth_url(ACCOUNT, redirect_uri, scope, state)


def test_a_base_login_gives_the_openid_and_a_userinfo_login_the_profile(
    client: TokenClient, wechat: FakeWeChat
) -> None:
    assert client.oauth_exchange(ACCOUNT, "code-base") == WebUser("oUser", "snsapi_base")
    assert [path for path, _ in wechat.calls] == ["/sns/oauth2/component/access_token"]
    _, query = wechat.calls[0]
    assert (query["appid"], query["code"], query["grant_type"], query["component_appid"]) == (
        ACCOUNT,
        "code-base",
        "authorization_code",
        COMPONENT,
    )
    user = client.oauth_exchange(ACCOUNT, "code-info")
    assert user == WebUser("oUser", "snsapi_userinfo", None, "小明", "https://thirdwx.qlogo.cn/x/132")


def test_a_snapshot_mode_visitor_is_flagged_and_never_asked_for_a_profile(
    client: TokenClient, wechat: FakeWeChat
) -> None:
    user = client.oauth_exchange(ACCOUNT, "code-snapshot")
    assert user == WebUser("oVirtual", "snsapi_userinfo", is_snapshotuser=True)
    assert [path for path, _ in wechat.calls] == ["/sns/oauth2/component/access_token"]


def test_a_code_exchanged_twice_fails_clearly_the_second_time(client: TokenClient) -> None:
    client.oauth_exchange(ACCOUNT, "code-base")
    with pytest.raises(OAuthCodeRejected) as rejected:
        client.oauth_exchange(ACCOUNT, "code-base")
    assert isinstance(rejected.value, WeChatError) and rejected.value.errcode == 40163
    assert "already used" in str(rejected.value) and "oauth_url again" in str(rejected.value)


def test_a_rejected_component_token_is_reported_and_the_exchange_made_once_more(
    client: TokenClient, lam: FakeLambda, wechat: FakeWeChat
) -> None:
    client.get_component_token()
    lam.current[("component", "")] = "replaced-elsewhere"  # WeChat no longer takes the one held
    assert client.oauth_exchange(ACCOUNT, "code-base").openid == "oUser"
    assert lam.requests[-1]["invalid_token"] == "component-1"
    assert len(wechat.calls) == 2
