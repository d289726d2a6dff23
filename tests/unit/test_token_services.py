"""The component-token, authorizer-token and authorization services on in-memory fakes (the same
graph the handlers build, through the composition root): what is called, stored and published."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.fake_wechat import FakeWeChat
from tests.support.fakes import MemoryPublisher, MemoryStores
from wxcomponent.bootstrap import Container
from wxcomponent.domain.errors import NotAuthorized, VerifyTicketMissing
from wxcomponent.domain.grants import AUTHORIZED, NEEDS_REAUTHORIZATION, REVOKED, Grant
from wxcomponent.domain.tokens import EXPIRY_SAFETY, MIN_REFRESH_AGE, AccessToken
from wxcomponent.domain.verify_tickets import VerifyTicket
from wxcomponent.domain.wechat import (
    AccountRevokedAuthorization,
    AuthorizationCodeRejected,
    UpstreamUnavailable,
    VerifyTicketRejected,
)
from wxcomponent.services.authorization import AuthorizationRequest
from wxcomponent.settings import ComponentSettings, Settings

COMPONENT = "wx0123456789abcdef"
MERCHANT = "wxfedcba9876543210"
NOW = 1_767_225_600.0


class World:
    """A container on fakes, with a clock the test moves."""

    def __init__(self, *, ticket: bool = True) -> None:
        self.now = NOW
        self.stores = MemoryStores()
        self.wechat = FakeWeChat()
        self.publisher = MemoryPublisher()
        component = ComponentSettings(COMPONENT, "secret", "token", "A" * 43)
        settings = Settings(table_name="unused", event_bus_name="unused", refresh_margin=1200)
        self.wx = Container(
            settings,
            stores=self.stores,
            wechat=self.wechat,
            publisher=self.publisher,
            component=lambda: component,
            clock=lambda: self.now,
        )
        if ticket:
            self.stores.verify_tickets.save_ticket(VerifyTicket.received(COMPONENT, "ticket@@@1", int(NOW), int(NOW)))

    def authorize(self, appid: str = MERCHANT) -> str:
        """A merchant's authorization, exchanged; returns the refresh token WeChat issued."""
        assert self.wx.authorizations.complete(self.wechat.new_code(appid)).new
        return self.wechat.refresh_tokens[appid]

    def events(self) -> list[str]:
        return [detail_type for detail_type, _ in self.publisher.events]


# -- the component token ------------------------------------------------------------------------------


def test_without_a_ticket_there_is_no_token_and_no_call() -> None:
    world = World(ticket=False)
    with pytest.raises(VerifyTicketMissing):
        world.wx.component_tokens.token()
    assert world.wechat.calls["api_component_token"] == 0


def test_a_token_is_fetched_once_and_served_from_the_store_while_valid() -> None:
    world = World()
    first = world.wx.component_tokens.token()
    world.now = first.expires_at - 301  # 301 s left: still good for the default 300
    assert world.wx.component_tokens.token() == first
    assert world.wechat.calls["api_component_token"] == 1
    world.now += 2  # 299 s left
    assert world.wx.component_tokens.token() != first
    assert world.wechat.calls["api_component_token"] == 2
    assert world.stores.tokens.get_component_token(COMPONENT) == world.wx.component_tokens.token()


def test_a_rejected_token_is_refreshed_once_and_a_stale_report_costs_nothing() -> None:
    world = World()
    rejected = world.wx.component_tokens.token()
    world.now += MIN_REFRESH_AGE + 1  # a younger token is never refreshed on a report (test_security_holes)
    fresh = world.wx.component_tokens.replace_rejected(rejected.access_token)
    assert fresh != rejected
    for _ in range(5):  # everyone else who held the rejected token reports it too
        assert world.wx.component_tokens.replace_rejected(rejected.access_token) == fresh
    assert world.wechat.calls["api_component_token"] == 2


def test_a_call_whose_token_wechat_rejects_refreshes_and_retries_once() -> None:
    world = World()
    world.wx.component_tokens.token()
    world.now += MIN_REFRESH_AGE + 1
    world.wechat.component_tokens.append("someone-else-refreshed")  # ours is superseded
    code = world.wx.component_tokens.call(lambda token: world.wechat.create_preauthcode(token, COMPONENT))
    assert code.pre_auth_code.startswith("preauthcode@@@")
    assert world.wechat.calls["api_create_preauthcode"] == 2 and world.wechat.calls["api_component_token"] == 2


def test_a_ticket_wechat_refuses_is_ticket_missing() -> None:
    world = World()
    world.wechat.fail("api_component_token", VerifyTicketRejected("errcode 61006", errcode=61006))
    with pytest.raises(VerifyTicketMissing) as missing:
        world.wx.component_tokens.token()
    assert missing.value.errcode == 61006
    assert world.stores.tokens.get_component_token(COMPONENT) is None


# -- authorization ------------------------------------------------------------------------------------


def test_the_link_carries_a_fresh_pre_auth_code_to_the_pc_or_the_mobile_page() -> None:
    world = World()
    request = AuthorizationRequest.from_query({"auth_type": "2", "biz_appid": MERCHANT})
    pc = world.wx.authorizations.link(request, "https://auth.example/cb", mobile=False)
    mobile = world.wx.authorizations.link(request, "https://auth.example/cb", mobile=True)
    assert pc.url.startswith("https://mp.weixin.qq.com/cgi-bin/componentloginpage?")
    assert mobile.url.startswith("https://open.weixin.qq.com/wxaopen/safe/bindcomponent?")
    assert mobile.url.endswith("#wechat_redirect")
    query = parse_qs(urlsplit(pc.url).query)
    assert query["component_appid"] == [COMPONENT] and query["auth_type"] == ["2"]
    assert query["biz_appid"] == [MERCHANT] and query["redirect_uri"] == ["https://auth.example/cb"]
    assert query["pre_auth_code"] != parse_qs(urlsplit(mobile.url).query)["pre_auth_code"]


def test_a_code_is_exchanged_once_and_leaves_grant_token_profile_and_one_event() -> None:
    world = World()
    code = world.wechat.new_code(MERCHANT)
    first = world.wx.authorizations.complete(code)
    again = world.wx.authorizations.complete(code)  # the push and the callback both bring it
    assert first.new and first.profile is not None
    assert not again.new and again.authorizer_appid == MERCHANT
    assert world.wechat.calls["api_query_auth"] == 1
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.status == AUTHORIZED and grant.func_info == (1, 15)
    assert grant.refresh_token == world.wechat.refresh_tokens[MERCHANT]
    token = world.stores.authorizers.get_authorizer_token(MERCHANT)
    assert token is not None and token.expires_at == int(NOW) + 7200 - EXPIRY_SAFETY
    assert world.stores.authorizers.due[MERCHANT] == token.expires_at - 1200  # the settings' margin
    assert world.stores.profiles.get_profile(MERCHANT) is not None
    assert world.events() == ["authorized", "profile"]  # the grant first, the profile after


def test_a_push_does_not_wait_for_an_exchange_in_progress_elsewhere() -> None:
    world = World()
    code = world.wechat.new_code(MERCHANT)
    assert world.stores.code_claims.claim_code(hashlib.sha256(code.encode()).hexdigest(), "other", NOW, 30)
    world.wx.authorizations.complete_pushed(code, "authorized")
    assert world.wechat.calls["api_query_auth"] == 0


def test_a_failed_exchange_gives_the_code_back_and_a_profile_failure_loses_nothing() -> None:
    world = World()
    code = world.wechat.new_code(MERCHANT)
    world.wechat.fail("api_query_auth", UpstreamUnavailable("api_query_auth: ConnectTimeoutError"))
    with pytest.raises(UpstreamUnavailable):
        world.wx.authorizations.complete(code)
    world.wechat.fail("api_get_authorizer_info", UpstreamUnavailable("api_get_authorizer_info: HTTP 502"))
    result = world.wx.authorizations.complete(code)  # the claim was given back: try again
    assert result.new and result.profile is None
    assert world.stores.authorizers.get_grant(MERCHANT) is not None
    assert world.events() == ["authorized"]


def test_an_expired_code_stores_nothing() -> None:
    world = World()
    with pytest.raises(AuthorizationCodeRejected):
        world.wx.authorizations.complete("queryauthcode@@@never-issued")
    assert world.stores.authorizers.get_grant(MERCHANT) is None and world.events() == []


def test_authorizing_again_is_an_update_and_revocation_is_ordered_by_time() -> None:
    world = World()
    world.authorize()
    world.now += 10
    world.authorize()
    assert [e for e in world.events() if e != "profile"] == ["authorized", "updated"]
    assert not world.wx.authorizations.revoke(MERCHANT, int(NOW))  # older than the re-authorization
    world.wechat.revoke(MERCHANT)
    assert world.wx.authorizations.revoke(MERCHANT, int(world.now) + 5)
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.status == REVOKED and grant.refresh_token == ""
    assert world.stores.authorizers.get_authorizer_token(MERCHANT) is None
    assert world.events()[-1] == "revoked"


# -- the authorizer token -------------------------------------------------------------------------------


def test_an_unknown_or_revoked_authorizer_gets_no_token_and_costs_no_call() -> None:
    world = World()
    with pytest.raises(NotAuthorized):
        world.wx.authorizer_tokens.token(MERCHANT)
    world.authorize()
    world.wechat.revoke(MERCHANT)
    world.wx.authorizations.revoke(MERCHANT, int(world.now) + 1)
    with pytest.raises(NotAuthorized):
        world.wx.authorizer_tokens.token(MERCHANT)
    assert world.wechat.calls["api_authorizer_token"] == 0


def test_a_stored_token_is_served_and_an_expiring_one_refreshed_once() -> None:
    world = World()
    world.authorize()
    stored = world.wx.authorizer_tokens.token(MERCHANT)
    assert world.wechat.calls["api_authorizer_token"] == 0
    world.now += 7200 - 100
    fresh = world.wx.authorizer_tokens.token(MERCHANT)
    assert fresh != stored and world.wx.authorizer_tokens.token(MERCHANT) == fresh
    assert world.wechat.calls["api_authorizer_token"] == 1
    assert world.stores.authorizers.due[MERCHANT] == fresh.expires_at - 1200


def test_a_rotated_refresh_token_is_kept() -> None:
    world = World()
    first = world.authorize()
    world.wechat.rotate.add(MERCHANT)
    world.now += 7200
    world.wx.authorizer_tokens.token(MERCHANT)
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.refresh_token != first
    assert grant.refresh_token == world.wechat.refresh_tokens[MERCHANT]


def test_61023_recovers_the_refresh_token_from_the_authorizer_list() -> None:
    world = World()
    world.authorize()
    world.wechat.refresh_tokens[MERCHANT] = world.wechat.listed[MERCHANT] = "refresh@@@issued-elsewhere"
    world.now += 7200
    world.wx.authorizer_tokens.token(MERCHANT)
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.refresh_token == "refresh@@@issued-elsewhere" and grant.active
    assert world.wechat.calls["api_authorizer_token"] == 2 and world.wechat.calls["api_get_authorizer_list"] == 1


def test_61023_with_nothing_to_recover_keeps_the_refresh_token_and_asks_for_reauthorization() -> None:
    world = World()
    ours = world.authorize()
    world.wechat.refresh_tokens[MERCHANT] = "refresh@@@unknown-to-anyone"  # WeChat lists ours still
    world.now += 7200
    with pytest.raises(NotAuthorized):
        world.wx.authorizer_tokens.token(MERCHANT)
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.status == NEEDS_REAUTHORIZATION and grant.refresh_token == ours
    assert world.stores.authorizers.get_authorizer_token(MERCHANT) is None
    assert world.events()[-1] == "needs_reauthorization"


def test_a_rejected_authorizer_token_is_refreshed_once_however_many_report_it() -> None:
    world = World()
    world.authorize()
    rejected = world.wx.authorizer_tokens.token(MERCHANT)
    world.now += MIN_REFRESH_AGE + 1
    fresh = world.wx.authorizer_tokens.replace_rejected(MERCHANT, rejected.access_token)
    for _ in range(5):
        assert world.wx.authorizer_tokens.replace_rejected(MERCHANT, rejected.access_token) == fresh
    assert world.wechat.calls["api_authorizer_token"] == 1


def test_grants_and_tokens_are_values_that_never_show_secrets() -> None:
    grant = Grant(MERCHANT, COMPONENT, "refresh@@@secret", (1,), AUTHORIZED, 1, 1)
    token = AccessToken(MERCHANT, "token-secret", 1, 2)
    assert "secret" not in repr(grant) and "secret" not in repr(token)


def test_the_log_names_the_authorizer_and_the_duration_of_each_refresh_and_exchange(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What X-Ray annotations told (whose refresh or exchange was slow) is in the log line of each:
    tracing is Lambda's own, with no SDK in the process (docs/decisions.md)."""
    world = World()
    with caplog.at_level("INFO", logger="wxcomponent"):
        world.authorize()
        world.now += 7200
        world.wx.authorizer_tokens.token(MERCHANT)
    timed = {r.getMessage(): r.__dict__ for r in caplog.records if "took_ms" in r.__dict__}
    assert set(timed) == {"authorization stored", "authorizer token refreshed"}
    for line in timed.values():
        assert line["authorizer_appid"] == MERCHANT
        assert isinstance(line["took_ms"], int) and line["took_ms"] >= 0


def test_an_unconfirmed_61003_is_remembered_for_ten_minutes_like_any_refusal_an_operator_must_see() -> None:
    """M3 (issue 19): WeChat answers 61003 for an account it still lists; believing the list, the
    grant stays, and the refusal is remembered, so ten vends cost one call of each, not ten."""
    world = World()
    world.authorize()
    world.wechat.fail("api_authorizer_token", AccountRevokedAuthorization("errcode 61003", errcode=61003), times=100)
    world.now += 7200  # the stored token has run out
    for _ in range(10):
        answer = world.wx.vendor.answer({"kind": "authorizer", "appid": MERCHANT})
        assert answer.status == 502 and answer.body["error"]["errcode"] == 61003
    assert world.wechat.calls["api_authorizer_token"] == 1 and world.wechat.calls["api_get_authorizer_list"] == 1
    failure = world.stores.authorizers.failures.get(MERCHANT)
    assert failure is not None and failure.errcode == 61003 and failure.until == world.now + 600
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.active
    world.now += 600  # asked again once the 10 minutes are up
    assert world.wx.vendor.answer({"kind": "authorizer", "appid": MERCHANT}).status == 502
    assert world.wechat.calls["api_authorizer_token"] == 2 and world.wechat.calls["api_get_authorizer_list"] == 2
