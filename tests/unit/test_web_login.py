"""Web login inside the token center (issue 19, H1): a page server hands in the visitor's code with a
`web_login` vend, and the token center exchanges it with the component token (which never leaves)
and, for `snsapi_userinfo`, asks for the profile. The WeChat adapter's two GETs, the service on
fakes through the composition root, and the vend's request and answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.fake_wechat import FakeWeChat
from tests.support.fakes import MemoryPublisher, MemoryStores
from tests.unit.test_wechat_http import (
    BASE,
    COMPONENT_TOKEN,
    assert_no_secret,
    connection_refused,
    harness,
    ok,
    read_timeout,
    wechat_error,
)
from wxcomponent.bootstrap import Container
from wxcomponent.domain.errors import BadRequest
from wxcomponent.domain.tokens import MIN_REFRESH_AGE
from wxcomponent.domain.verify_tickets import VerifyTicket
from wxcomponent.domain.wechat import (
    PermissionRejected,
    TokenRejected,
    UpstreamError,
    UpstreamUnavailable,
    WebAccessToken,
    WebLoginCodeRejected,
    WebUserInfo,
)
from wxcomponent.services.caller_policy import CallerPolicy
from wxcomponent.services.vending import VendRequest
from wxcomponent.settings import ComponentSettings, Settings

COMPONENT = "wx5a0d8c0ffee5a4d1"
ACCOUNT = "wx570bc396a51b8ff8"
OTHER = "wx0123456789abcdef"
NOW = 1_767_225_600.0
WEB_CODE = "WEBCODE-0a1b2c3d4e5f"
WEB_TOKEN = "WEBTOKEN-v1s1t0r-value"
WEB_REFRESH = "WEBREFRESH-v1s1t0r-value"
CALLER = "arn:aws:iam::123456789012:role/h5-pages"


# -- the adapter: two GETs, tokens in the query, the code never retried once WeChat may have seen it --


def sns_answer(**extra: Any) -> tuple[int, bytes]:
    fields = {
        "access_token": WEB_TOKEN,
        "expires_in": 7200,
        "refresh_token": WEB_REFRESH,
        "openid": "oVisitor",
        "scope": "snsapi_userinfo",
    }
    return ok(**(fields | extra))


def test_the_code_is_exchanged_by_a_get_with_everything_in_the_query() -> None:
    h = harness(sns_answer(unionid="uUnion", is_snapshotuser=1))
    web = h.api.oauth2_component_access_token(COMPONENT_TOKEN, COMPONENT, ACCOUNT, WEB_CODE)
    assert web == WebAccessToken(WEB_TOKEN, "oVisitor", "snsapi_userinfo", "uUnion", is_snapshotuser=True)
    [call] = h.transport.calls
    assert (call.method, call.path, call.body) == ("GET", "/sns/oauth2/component/access_token", None)
    assert call.url.startswith(BASE)
    assert {k: v[-1] for k, v in call.query.items()} == {
        "appid": ACCOUNT,
        "code": WEB_CODE,
        "grant_type": "authorization_code",
        "component_appid": COMPONENT,
        "component_access_token": COMPONENT_TOKEN,
    }
    assert WEB_TOKEN not in repr(web) and WEB_REFRESH not in repr(web)
    plain = harness(sns_answer(scope="snsapi_base")).api.oauth2_component_access_token(
        COMPONENT_TOKEN, COMPONENT, ACCOUNT, WEB_CODE
    )
    assert (plain.unionid, plain.is_snapshotuser, plain.scope) == ("", False, "snsapi_base")


@pytest.mark.parametrize("errcode", [40029, 40163])
def test_a_code_wechat_will_not_exchange_is_typed_as_the_callers_mistake(errcode: int) -> None:
    h = harness(wechat_error(errcode, f"invalid code {WEB_CODE} {COMPONENT_TOKEN} rid: 1"))
    with pytest.raises(WebLoginCodeRejected) as refused:
        h.api.oauth2_component_access_token(COMPONENT_TOKEN, COMPONENT, ACCOUNT, WEB_CODE)
    assert refused.value.errcode == errcode and refused.value.code == "bad_request"
    assert WEB_CODE not in str(refused.value) and COMPONENT_TOKEN not in str(refused.value)
    assert len(h.transport.calls) == 1


@pytest.mark.parametrize(
    "failure",
    [read_timeout(), (502, b"bad gateway"), wechat_error(-1, "system busy")],
    ids=["read-timeout", "http-502", "busy"],
)
def test_the_single_use_code_is_never_sent_twice_once_wechat_may_have_seen_it(failure: Any) -> None:
    h = harness(failure, sns_answer())
    with pytest.raises(UpstreamError):
        h.api.oauth2_component_access_token(COMPONENT_TOKEN, COMPONENT, ACCOUNT, WEB_CODE)
    assert len(h.transport.calls) == 1 and h.sleeps == []


def test_a_connection_that_never_opened_is_tried_again() -> None:
    h = harness(connection_refused(), sns_answer())
    assert h.api.oauth2_component_access_token(COMPONENT_TOKEN, COMPONENT, ACCOUNT, WEB_CODE).openid == "oVisitor"
    assert len(h.transport.calls) == 2


def test_a_malformed_answer_is_an_error_that_carries_no_token() -> None:
    """L7: an answer without openid must not put the visitor's tokens into the error."""
    h = harness(ok(access_token=WEB_TOKEN, refresh_token=WEB_REFRESH, scope="snsapi_base"))
    with pytest.raises(UpstreamUnavailable) as malformed:
        h.api.oauth2_component_access_token(COMPONENT_TOKEN, COMPONENT, ACCOUNT, WEB_CODE)
    shown = f"{malformed.value!s} {malformed.value!r} {vars(malformed.value)!r}"
    assert "openid" in shown and WEB_TOKEN not in shown and WEB_REFRESH not in shown


def test_userinfo_is_a_get_with_the_visitors_token_and_retried_like_any_read() -> None:
    profile = ok(openid="oVisitor", nickname="小明", headimgurl="https://thirdwx.qlogo.cn/x/132", unionid="uUnion")
    h = harness((502, b"bad gateway"), profile)
    info = h.api.sns_userinfo(WEB_TOKEN, "oVisitor", "en")
    assert info == WebUserInfo("oVisitor", "小明", "https://thirdwx.qlogo.cn/x/132", "uUnion")
    call = h.transport.calls[-1]
    assert (call.method, call.path) == ("GET", "/sns/userinfo")
    assert {k: v[-1] for k, v in call.query.items()} == {"access_token": WEB_TOKEN, "openid": "oVisitor", "lang": "en"}
    assert len(h.transport.calls) == 2
    refused = harness(wechat_error(48001, f"api unauthorized {WEB_TOKEN}"))
    with pytest.raises(PermissionRejected) as error:
        refused.api.sns_userinfo(WEB_TOKEN, "oVisitor", "zh_CN")
    assert_no_secret(str(error.value))
    assert WEB_TOKEN not in str(error.value)


# -- the service, on fakes through the composition root -------------------------------------------------


class World:
    def __init__(self) -> None:
        self.now = NOW
        self.stores = MemoryStores()
        self.wechat = FakeWeChat()
        component = ComponentSettings(COMPONENT, "secret", "token", "A" * 43)
        self.wx = Container(
            Settings(table_name="unused", event_bus_name="unused"),
            stores=self.stores,
            wechat=self.wechat,
            publisher=MemoryPublisher(),
            component=lambda: component,
            clock=lambda: self.now,
        )
        self.stores.verify_tickets.save_ticket(VerifyTicket.received(COMPONENT, "ticket@@@1", int(NOW), int(NOW)))
        assert self.wx.authorizations.complete(self.wechat.new_code(ACCOUNT)).new

    def vend(self, caller: str | None = None, policy: Any = None, **payload: Any) -> tuple[int, dict[str, Any]]:
        check = None
        if policy is not None:

            def check(who: str | None, request: VendRequest) -> None:
                CallerPolicy.parse(policy).check(who, request)

        answer = self.wx.vendor.answer({"kind": "web_login", **payload}, caller, check=check)
        return answer.status, answer.body


@pytest.fixture
def world() -> World:
    return World()


def test_a_base_login_gives_the_openid_and_never_asks_for_a_profile(world: World) -> None:
    code = world.wechat.new_web_code(ACCOUNT, "oAlice", "snsapi_base")
    status, body = world.vend(appid=ACCOUNT, code=code)
    assert status == 200, body
    assert body == {
        "kind": "web_login",
        "appid": ACCOUNT,
        "openid": "oAlice",
        "scope": "snsapi_base",
        "unionid": None,
        "is_snapshotuser": False,
        "nickname": None,
        "avatar": None,
    }
    assert world.wechat.calls["sns_component_access_token"] == 1 and world.wechat.calls["sns_userinfo"] == 0


def test_a_userinfo_login_gives_the_profile_and_never_the_visitors_tokens(world: World) -> None:
    code = world.wechat.new_web_code(ACCOUNT, "oAlice", "snsapi_userinfo", nickname="爱丽丝", unionid="uAlice")
    status, body = world.vend(appid=ACCOUNT, code=code, lang="en")
    assert status == 200, body
    assert (body["openid"], body["nickname"], body["unionid"]) == ("oAlice", "爱丽丝", "uAlice")
    assert body["avatar"] == "https://thirdwx.qlogo.cn/oAlice/132"
    assert world.wechat.userinfo_langs == ["en"]
    shown = json.dumps(body)
    for token in world.wechat.web_tokens:
        assert token not in shown
    assert "access_token" not in body and "refresh_token" not in body


def test_a_snapshot_mode_visitor_is_flagged_and_never_asked_for_a_profile(world: World) -> None:
    code = world.wechat.new_web_code(ACCOUNT, "oVirtual", "snsapi_userinfo", snapshot=True)
    status, body = world.vend(appid=ACCOUNT, code=code)
    assert status == 200 and body["is_snapshotuser"] is True and body["nickname"] is None
    assert world.wechat.calls["sns_userinfo"] == 0  # WeChat has answered 48001 for them


@pytest.mark.parametrize("errcode", [40029, 40163])
def test_a_rejected_code_is_a_bad_request_that_says_what_to_do(world: World, errcode: int) -> None:
    code = world.wechat.new_web_code(ACCOUNT, "oAlice", "snsapi_base")
    if errcode == 40163:
        assert world.vend(appid=ACCOUNT, code=code)[0] == 200
    else:
        code = "never-issued"
    status, body = world.vend(appid=ACCOUNT, code=code)
    assert status == 400 and body["error"]["code"] == "bad_request" and body["error"]["errcode"] == errcode
    assert "the web-login code is invalid, expired, used, or another account's" in body["error"]["message"]
    assert code not in body["error"]["message"]


def test_another_accounts_code_is_rejected_too(world: World) -> None:
    assert world.wx.authorizations.complete(world.wechat.new_code(OTHER)).new
    code = world.wechat.new_web_code(OTHER, "oAlice", "snsapi_base")
    status, body = world.vend(appid=ACCOUNT, code=code)
    assert status == 400 and body["error"]["errcode"] == 40029


def test_a_rejected_component_token_is_compare_and_refreshed_once(world: World) -> None:
    first = world.wx.component_tokens.token()
    world.now += MIN_REFRESH_AGE + 1
    world.wechat.component_token(COMPONENT, "secret", "ticket")  # another holder minted a newer one
    code = world.wechat.new_web_code(ACCOUNT, "oAlice", "snsapi_base")
    status, body = world.vend(appid=ACCOUNT, code=code)
    assert status == 200 and body["openid"] == "oAlice", body
    assert world.wechat.calls["sns_component_access_token"] == 2  # rejected once, then exchanged
    assert world.stores.tokens.get_component_token(COMPONENT) != first


def test_a_component_token_rejected_for_good_is_refused_after_one_retry(world: World) -> None:
    world.now += MIN_REFRESH_AGE + 1  # old enough that a report of it refreshes it
    world.wechat.fail(
        "sns_component_access_token", TokenRejected("errcode 40001: invalid credential", errcode=40001), 5
    )
    status, body = world.vend(appid=ACCOUNT, code=world.wechat.new_web_code(ACCOUNT, "oAlice", "snsapi_base"))
    assert status == 502 and body["error"]["errcode"] == 40001
    assert world.wechat.calls["sns_component_access_token"] == 2


@pytest.mark.parametrize("appid", [OTHER, "revoked"])
def test_an_account_we_do_not_hold_costs_wechat_nothing(world: World, appid: str) -> None:
    if appid == "revoked":
        appid = ACCOUNT
        world.wechat.revoke(ACCOUNT)  # WeChat no longer lists it: the push is not a stale one
        assert world.wx.authorizations.revoke(ACCOUNT, int(NOW) + 1)
    calls = sum(world.wechat.calls.values())
    status, body = world.vend(appid=appid, code="some-code")
    assert status == 404 and body["error"]["code"] == "not_authorized"
    assert sum(world.wechat.calls.values()) == calls


def test_the_profile_refused_after_the_exchange_is_an_upstream_error(world: World) -> None:
    code = world.wechat.new_web_code(ACCOUNT, "oAlice", "snsapi_userinfo")
    world.wechat.fail(
        "sns_userinfo", PermissionRejected("sns_userinfo: errcode 48001: api unauthorized", errcode=48001)
    )
    status, body = world.vend(appid=ACCOUNT, code=code)
    assert status == 502 and body["error"]["errcode"] == 48001


def test_web_login_is_scoped_by_the_callers_appid_and_kind(world: World) -> None:
    pages = {CALLER: [f"{ACCOUNT}:web_login", f"{ACCOUNT}:jsapi_ticket"]}
    status, body = world.vend(
        CALLER, pages, appid=ACCOUNT, code=world.wechat.new_web_code(ACCOUNT, "oA", "snsapi_base")
    )
    assert status == 200 and body["openid"] == "oA"
    assert world.vend(CALLER, {CALLER: [f"{ACCOUNT}:jsapi_ticket"]}, appid=ACCOUNT, code="c")[0] == 404
    assert world.vend(CALLER, {CALLER: [OTHER]}, appid=ACCOUNT, code="c")[0] == 404
    assert world.vend(CALLER, {CALLER: ["component"]}, appid=ACCOUNT, code="c")[0] == 404
    # The caller allowed web login only gets neither the account's token nor the component's.
    component = world.wx.vendor.answer(
        {"kind": "component"}, CALLER, check=lambda who, r: CallerPolicy.parse(pages).check(who, r)
    )
    assert component.status == 404
    assert world.wechat.calls["sns_component_access_token"] == 1


def test_the_audit_line_never_carries_the_code_or_the_visitor(world: World, caplog: pytest.LogCaptureFixture) -> None:
    code = world.wechat.new_web_code(ACCOUNT, "oAuditVisitor", "snsapi_userinfo", nickname="审计")
    with caplog.at_level("DEBUG", logger="wxcomponent"):
        assert world.vend(CALLER, appid=ACCOUNT, code=code)[0] == 200
        world.vend(CALLER, appid=ACCOUNT, code=code)  # used
    audits = [r.__dict__ for r in caplog.records if r.__dict__.get("audit") == "vend"]
    assert [(a["kind"], a["appid"], a["outcome"]) for a in audits] == [
        ("web_login", ACCOUNT, "ok"),
        ("web_login", ACCOUNT, "bad_request"),
    ]
    everything = caplog.text + " ".join(repr(r.__dict__) for r in caplog.records)
    for secret in (code, "oAuditVisitor", "审计", *world.wechat.web_tokens):
        assert secret not in everything


# -- the request ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"appid": ACCOUNT}, "code"),
        ({"appid": ACCOUNT, "code": ""}, "code"),
        ({"appid": ACCOUNT, "code": 7}, "code"),
        ({"appid": ACCOUNT, "code": "x" * 513}, "code"),
        ({"appid": ACCOUNT, "code": "has space"}, "code"),
        ({"appid": ACCOUNT, "code": "代码"}, "code"),
        ({"appid": ACCOUNT, "code": "a\nb"}, "code"),
        ({"code": "c"}, "appid"),
        ({"appid": "WX570BC396A51B8FF8", "code": "c"}, "appid"),
        ({"appid": ACCOUNT, "code": "c", "lang": "fr"}, "lang"),
        ({"appid": ACCOUNT, "code": "c", "lang": 1}, "lang"),
        ({"appid": ACCOUNT, "code": "c", "invalid_token": "t"}, "invalid_token"),
    ],
)
def test_a_bad_web_login_request_is_refused_before_anything_is_read(
    world: World, payload: dict[str, Any], problem: str
) -> None:
    calls = sum(world.wechat.calls.values())
    with pytest.raises(BadRequest, match=problem):
        VendRequest.parse({"kind": "web_login", **payload})
    status, body = world.vend(**payload)
    assert status == 400 and body["error"]["code"] == "bad_request"
    assert sum(world.wechat.calls.values()) == calls


def test_the_request_keeps_the_code_out_of_its_repr() -> None:
    request = VendRequest.parse({"kind": "web_login", "appid": ACCOUNT, "code": WEB_CODE})
    assert (request.code, request.lang) == (WEB_CODE, "zh_CN")
    assert WEB_CODE not in repr(request)
    assert VendRequest.parse({"kind": "web_login", "appid": ACCOUNT, "code": WEB_CODE, "lang": "zh_TW"}).lang == "zh_TW"
