"""The core held to WeChat's own documents (issue 18, the audit's F1 to F14), on in-memory fakes through
the composition root: each test is a documented answer the core once refused or misread."""

from __future__ import annotations

import pytest

from tests.unit.test_token_services import MERCHANT, NOW
from tests.unit.test_token_services import World as TokenServicesWorld
from wxcomponent.domain.errors import NoApiPermission, NotAuthorized
from wxcomponent.domain.grants import AUTHORIZED, NO_API_PERMISSION
from wxcomponent.domain.js_tickets import JSAPI_TICKET
from wxcomponent.domain.replies import InvalidReply, reply_from
from wxcomponent.domain.wechat import RefreshFailure, error_for


class World(TokenServicesWorld):
    """test_token_services' container on fakes (ticket stored, clock the test moves), and a vend."""

    def vend(self, kind: str = "authorizer") -> tuple[int, dict[str, object]]:
        answer = self.wx.vendor.answer({"kind": kind, "appid": MERCHANT}, "arn:aws:iam::123456789012:role/orders")
        return answer.status, answer.body


# -- F1: an account without API permission -------------------------------------------------------


def test_an_authorization_without_tokens_is_recorded_and_told_apart() -> None:
    world = World()
    world.wechat.without_api_permission.add(MERCHANT)
    code = world.wechat.new_code(MERCHANT)
    result = world.wx.authorizations.complete(code)
    assert result.new and not result.api_permission and result.authorizer_appid == MERCHANT
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.status == NO_API_PERMISSION and grant.func_info == (1, 15)
    assert world.stores.authorizers.get_authorizer_token(MERCHANT) is None
    assert MERCHANT not in world.stores.authorizers.due  # the refresher has nothing to do for it
    assert world.stores.profiles.get_profile(MERCHANT) is not None  # WeChat gave a profile
    assert world.events() == ["authorized_without_api_permission", "profile"]
    assert world.wechat.calls["api_query_auth"] == 1
    # The same code again (the push after the callback): nothing changes, still told apart.
    again = world.wx.authorizations.complete(code)
    assert not again.new and not again.api_permission


def test_a_vend_for_an_account_without_api_permission_names_why_and_costs_nothing() -> None:
    world = World()
    world.wechat.without_api_permission.add(MERCHANT)
    world.wx.authorizations.complete(world.wechat.new_code(MERCHANT))
    calls = sum(world.wechat.calls.values())
    for kind in ("authorizer", JSAPI_TICKET):
        status, body = world.vend(kind)
        error = body["error"]
        assert status == 404 and isinstance(error, dict)
        assert error["code"] == "not_authorized" and error["reason"] == "no_api_permission"
        assert "without API permission" in error["message"]
    with pytest.raises(NoApiPermission):
        world.wx.authorizer_tokens.token(MERCHANT)
    assert sum(world.wechat.calls.values()) == calls  # no WeChat call for it


def test_an_unknown_authorizer_is_told_apart_and_where_to_send_the_merchant() -> None:
    # Issue 21: a caller allowed to ask learns the reason (the policy's refusal stays vague:
    # tests/unit/test_refusal_reasons.py).
    status, body = World().vend()
    error = body["error"]
    assert status == 404 and isinstance(error, dict) and error["reason"] == "unknown"
    assert "/wechat/authorize" in error["message"]


def test_a_later_authorization_with_tokens_makes_it_a_normal_grant() -> None:
    world = World()
    world.wechat.without_api_permission.add(MERCHANT)
    world.wx.authorizations.complete(world.wechat.new_code(MERCHANT))
    world.now += 60
    world.wechat.without_api_permission.discard(MERCHANT)
    assert world.wx.authorizations.complete(world.wechat.new_code(MERCHANT)).api_permission
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.status == AUTHORIZED and grant.refresh_token
    status, body = world.vend()
    assert status == 200 and body["access_token"] == world.wechat.authorizer_tokens[MERCHANT]


def test_losing_api_permission_keeps_the_refresh_token_but_vends_nothing() -> None:
    world = World()
    world.wx.authorizations.complete(world.wechat.new_code(MERCHANT))
    ours = world.wechat.refresh_tokens[MERCHANT]
    world.now += 60
    world.wechat.without_api_permission.add(MERCHANT)
    world.wx.authorizations.complete(world.wechat.new_code(MERCHANT))
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.status == NO_API_PERMISSION
    assert grant.refresh_token == ours  # never replaced by nothing
    assert world.stores.authorizers.get_authorizer_token(MERCHANT) is None
    assert world.vend()[0] == 404


# -- F2: Channels and shop accounts --------------------------------------------------------------


def test_a_profile_without_service_or_verify_type_is_stored() -> None:
    world = World()
    world.wechat.profile_info[MERCHANT] = {"nick_name": "视频号小店", "user_name": "gh_0123456789ab", "store_info": {}}
    world.wx.authorizations.complete(world.wechat.new_code(MERCHANT))
    profile = world.stores.profiles.get_profile(MERCHANT)
    assert profile is not None and profile.nick_name == "视频号小店"
    assert profile.service_type is None and profile.verify_type is None and profile.account_kind == "shop"
    assert not profile.is_mini_program and profile.extra == {"store_info": {}}


# -- F3: a wrong or missing AppSecret ------------------------------------------------------------


@pytest.mark.parametrize("errcode", [40125, 41004])
def test_a_wrong_or_missing_secret_is_remembered_ten_minutes(errcode: int) -> None:
    world = World()
    world.wechat.fail("api_component_token", error_for(errcode, "invalid appsecret"), times=5)
    for _ in range(3):
        assert world.vend("component")[0] == 502
        world.now += 11  # past the 10 s a transient failure is remembered
    assert world.wechat.calls["api_component_token"] == 1
    world.now = NOW + 601
    assert world.vend("component")[0] == 502
    assert world.wechat.calls["api_component_token"] == 2
    failure = RefreshFailure.of(error_for(errcode, "x"), NOW)
    assert failure is not None and failure.until == NOW + 600 and failure.kind == "ConfigurationRejected"


# -- F10: no assumption about the code's format --------------------------------------------------


def test_a_code_of_any_visible_ascii_form_is_exchanged() -> None:
    world = World()
    world.wechat.codes["X1y2-Z3_future.format"] = MERCHANT
    assert world.wx.authorizations.complete("X1y2-Z3_future.format").new
    assert world.wechat.calls["api_query_auth"] == 1


# -- 61023: the refresh token also recovered from api_get_authorizer_info --------------------------


def test_61023_recovers_the_refresh_token_from_the_authorizer_info_when_the_list_has_none() -> None:
    world = World()
    world.wx.authorizations.complete(world.wechat.new_code(MERCHANT))
    world.wechat.refresh_tokens[MERCHANT] = "refresh@@@issued-elsewhere"
    world.wechat.listed[MERCHANT] = ""  # the list's documented gap
    world.wechat.info_refresh_tokens[MERCHANT] = "refresh@@@issued-elsewhere"
    world.now += 7200
    world.wx.authorizer_tokens.token(MERCHANT)
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.active and grant.refresh_token == "refresh@@@issued-elsewhere"
    assert world.wechat.calls["api_get_authorizer_list"] == 1
    assert world.wechat.calls["api_authorizer_token"] == 2


def test_61023_with_nothing_anywhere_still_asks_for_reauthorization() -> None:
    world = World()
    world.wx.authorizations.complete(world.wechat.new_code(MERCHANT))
    world.wechat.refresh_tokens[MERCHANT] = "refresh@@@unknown"
    world.now += 7200
    with pytest.raises(NotAuthorized):
        world.wx.authorizer_tokens.token(MERCHANT)
    assert world.events()[-1] == "needs_reauthorization"


# -- F8: getticket answering the same ticket -----------------------------------------------------


def test_the_same_ticket_again_never_extends_its_stored_life() -> None:
    world = World()
    world.wechat.same_js_ticket = True
    world.wx.authorizations.complete(world.wechat.new_code(MERCHANT))
    first = world.wx.js_tickets.ticket(MERCHANT, JSAPI_TICKET)
    world.now = first.expires_at - 299  # short of the default 300: fetched again
    again = world.wx.js_tickets.ticket(MERCHANT, JSAPI_TICKET)
    assert world.wechat.calls["getticket"] == 2
    assert again.ticket == first.ticket and again.expires_at == first.expires_at
    stored = world.stores.tokens.js_tickets[(MERCHANT, JSAPI_TICKET)]
    assert stored.expires_at == first.expires_at and stored.issued_at == first.issued_at


# -- F12: a news reply to a user's message carries one article ------------------------------------


def test_a_news_reply_to_a_message_carries_one_article_and_to_an_event_up_to_eight() -> None:
    article = {"title": "t"}
    with pytest.raises(InvalidReply, match="exactly 1 article"):
        reply_from({"type": "news", "articles": [article, article]}, max_articles=1)
    assert reply_from({"type": "news", "articles": [article]}, max_articles=1) is not None
    assert reply_from({"type": "news", "articles": [article] * 8}) is not None
