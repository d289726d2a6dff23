"""Issue 10's holes, each reproduced here before its fix (the unit ring; wire-level ones are in
tests/integration/test_security.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.fakes import MemoryLeases, MemoryVerifyTickets
from tests.support.pushes import APPID, event_xml, signed_push
from tests.unit.test_component_events import as_signed, service
from tests.unit.test_token_services import MERCHANT, World
from wxcomponent.adapters.wechat_http import DEFAULT_TIMEOUT, WeChatHttpApi
from wxcomponent.domain.errors import BadRequest, MalformedMessage, NotAuthorized
from wxcomponent.domain.grants import REVOKED
from wxcomponent.domain.tokens import MIN_REFRESH_AGE
from wxcomponent.domain.wechat import (
    AccountRevokedAuthorization,
    ConfigurationRejected,
    QuotaExceeded,
    SystemBusy,
    UpstreamError,
    UpstreamUnavailable,
)
from wxcomponent.services.authorization import AuthorizationRequest
from wxcomponent.services.single_flight import SingleFlight

NOW = 1_767_225_600


# -- hole 6: no input reaches a 500 -----------------------------------------------------------------------


@pytest.mark.parametrize("auth_type", ["²", "\uff13", "3 ", "03x", "1e1", "-3"])
def test_a_unicode_digit_or_junk_auth_type_is_a_400_not_a_500(auth_type: str) -> None:
    with pytest.raises(BadRequest):
        AuthorizationRequest.from_query({"auth_type": auth_type})


def test_a_unicode_digit_in_a_pushs_create_time_is_a_400_not_a_500() -> None:
    inner = event_xml("unauthorized", NOW, MERCHANT).replace(
        f"<CreateTime>{NOW}</CreateTime>", "<CreateTime>²</CreateTime>"
    )
    with pytest.raises(MalformedMessage):
        service(MemoryVerifyTickets()).handle(as_signed(signed_push(inner, timestamp=NOW)))


# -- hole 9: a retried `unauthorized` push revokes once and publishes once ---------------------------------


def test_a_retried_unauthorized_push_revokes_once_and_publishes_once() -> None:
    world = World()
    world.authorize()
    world.wechat.revoke(MERCHANT)
    at = int(world.now) + 5
    assert world.wx.authorizations.revoke(MERCHANT, at)
    assert not world.wx.authorizations.revoke(MERCHANT, at)  # WeChat's retry of the same push
    assert not world.wx.authorizations.revoke(MERCHANT, at + 60)  # or a later one for a revoked grant
    assert world.events().count("revoked") == 1
    assert APPID  # the component the pushes are for


# -- hole 3: one 61003 must not destroy a grant ------------------------------------------------------------


def test_61003_while_wechat_still_lists_the_authorizer_keeps_the_grant_whole() -> None:
    world = World()
    refresh_token = world.authorize()
    world.wechat.fail("api_authorizer_token", AccountRevokedAuthorization("errcode 61003", errcode=61003))
    world.now += 7200
    with pytest.raises(AccountRevokedAuthorization):
        world.wx.authorizer_tokens.token(MERCHANT)
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.active and grant.refresh_token == refresh_token
    assert "revoked" not in world.events()
    assert world.wechat.calls["api_get_authorizer_list"] == 1  # asked before believing it
    world.now += 600  # remembered for 10 minutes (issue 19, M3: test_token_services)
    assert world.wx.authorizer_tokens.token(MERCHANT)  # and the next refresh just works


def test_61003_confirmed_by_the_list_revokes_but_keeps_the_refresh_token() -> None:
    world = World()
    refresh_token = world.authorize()
    del world.wechat.listed[MERCHANT]  # WeChat no longer lists the authorizer
    world.wechat.fail("api_authorizer_token", AccountRevokedAuthorization("errcode 61003", errcode=61003))
    world.now += 7200
    with pytest.raises(NotAuthorized):
        world.wx.authorizer_tokens.token(MERCHANT)
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.status == REVOKED
    assert grant.refresh_token == refresh_token  # only a signed `unauthorized` push deletes anything
    assert world.events().count("revoked") == 1


# -- hole 2: one caller cannot burn WeChat's daily quota ----------------------------------------------------


def test_a_caller_looping_on_invalid_token_costs_no_refresh_while_the_token_is_young() -> None:
    world = World()
    token = world.wx.component_tokens.token()
    for _ in range(30):  # reports whatever it is handed, as fast as it can
        token = world.wx.component_tokens.replace_rejected(token.access_token)
        world.now += 0.04
    assert world.wechat.calls["api_component_token"] == 1
    world.authorize()
    authorizer = world.wx.authorizer_tokens.token(MERCHANT)
    for _ in range(30):
        authorizer = world.wx.authorizer_tokens.replace_rejected(MERCHANT, authorizer.access_token)
    assert world.wechat.calls["api_authorizer_token"] == 0


def test_a_report_of_a_token_older_than_the_minimum_age_refreshes_once() -> None:
    world = World()
    old = world.wx.component_tokens.token()
    world.now += MIN_REFRESH_AGE + 1
    fresh = world.wx.component_tokens.replace_rejected(old.access_token)
    assert fresh != old and world.wx.component_tokens.replace_rejected(fresh.access_token) == fresh
    assert world.wechat.calls["api_component_token"] == 2


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [
        (QuotaExceeded("api_component_token: errcode 45009", errcode=45009), 3600),
        (ConfigurationRejected("api_component_token: errcode 61004", errcode=61004), 600),
        (SystemBusy("api_component_token: errcode -1", errcode=-1), 10),
        (UpstreamUnavailable("api_component_token: HTTP 502"), 10),
    ],
)
def test_a_failed_refresh_is_remembered_and_answered_from_memory_until_its_retry_after(
    error: UpstreamError, retry_after: int
) -> None:
    world = World()
    world.wechat.fail("api_component_token", error)
    for _ in range(5):  # every caller, every container, for retry_after seconds: the same answer, no call
        with pytest.raises(type(error)) as raised:
            world.wx.component_tokens.token()
        assert raised.value.errcode == error.errcode
        world.now += (retry_after - 1) / 5
    assert world.wechat.calls["api_component_token"] == 1
    world.now += 2
    assert world.wx.component_tokens.token()  # then WeChat is asked again
    assert world.wechat.calls["api_component_token"] == 2


def test_a_failed_authorizer_refresh_is_remembered_per_authorizer() -> None:
    world = World()
    world.authorize()
    world.authorize("wx0000000000000001")
    world.wechat.fail("api_authorizer_token", QuotaExceeded("api_authorizer_token: errcode 45009", errcode=45009))
    world.now += 7200
    for _ in range(3):
        with pytest.raises(QuotaExceeded):
            world.wx.authorizer_tokens.token(MERCHANT)
    assert world.wechat.calls["api_authorizer_token"] == 1
    assert world.wx.authorizer_tokens.token("wx0000000000000001")  # another authorizer is not affected


# -- hole 8: revocation is immediate for vending ------------------------------------------------------------


def test_after_the_unauthorized_push_no_container_vends_the_authorizers_token() -> None:
    world = World()
    world.authorize()
    vendor = world.wx.vendor
    first = vendor.answer({"kind": "authorizer", "appid": MERCHANT})
    assert first.status == 200
    assert vendor.answer({"kind": "authorizer", "appid": MERCHANT}).body == first.body  # warm
    world.wechat.revoke(MERCHANT)
    world.wx.authorizations.revoke(MERCHANT, int(world.now) + 1)
    refused = vendor.answer({"kind": "authorizer", "appid": MERCHANT})
    assert refused.status == 404 and refused.body["error"]["code"] == "not_authorized"


def test_an_authorizer_vend_reads_grant_and_token_in_one_request() -> None:
    world = World()
    world.authorize()
    reads: list[str] = []

    def counted(name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def count(*args: Any) -> Any:
            reads.append(name)
            return read(*args)

        return count

    stores = world.stores
    stores.authorizers.get_grant = counted("get_grant", stores.authorizers.get_grant)  # type: ignore[method-assign]
    stores.authorizers.get_authorizer_token = counted("get_authorizer_token", stores.authorizers.get_authorizer_token)  # type: ignore[method-assign]
    stores.authorizers.read_for_refresh = counted("read_for_refresh", stores.authorizers.read_for_refresh)  # type: ignore[method-assign]
    assert world.wx.vendor.answer({"kind": "authorizer", "appid": MERCHANT}).status == 200
    assert reads == ["read_for_refresh"]


# -- suspicions: proven or disproven -------------------------------------------------------------------------


def test_a_crash_after_wechat_rotated_the_refresh_token_never_loses_it() -> None:
    """Suspected: a crash between saving the access token and the compare-and-set of the rotated
    refresh token loses it. Proven then (the refresh token was written first to close it); now the
    outcome is one all-or-nothing write, so a crash keeps both or neither, and neither is recovered:
    WeChat's authorizer list holds the current refresh token."""
    world = World()
    world.authorize()
    world.wechat.rotate.add(MERCHANT)
    world.now += 7200
    store = world.stores.authorizers.store_refresh

    def crash(*args: Any) -> bool:
        raise RuntimeError("the container died here")

    world.stores.authorizers.store_refresh = crash  # type: ignore[method-assign,assignment]
    with pytest.raises(RuntimeError):
        world.wx.authorizer_tokens.token(MERCHANT)
    stored = world.stores.authorizers.get_authorizer_token(MERCHANT)
    assert stored is None or stored.issued_at < world.now  # not half written: no new token without its refresh token
    world.stores.authorizers.store_refresh = store  # type: ignore[method-assign]
    world.stores.authorizers.leases.clear()  # the dead holder's lease has expired
    assert world.wx.authorizer_tokens.token(MERCHANT)  # the next refresh works
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.refresh_token == world.wechat.refresh_tokens[MERCHANT]


def test_a_lease_outlasts_the_slowest_refresh_it_guards() -> None:
    """Suspected: the 30 s lease is shorter than a refresh's worst nested path, so a second holder
    could start while the first still talks to WeChat. The longest path is four WeChat calls: the
    component token (refreshed on the way), api_authorizer_token, one page of the authorizer list
    after a 61023, and api_authorizer_token again; each may take every attempt at full timeout."""
    api = WeChatHttpApi("http://wechat.test")
    timeout = DEFAULT_TIMEOUT.connect_timeout + DEFAULT_TIMEOUT.read_timeout  # type: ignore[operator]
    backoffs = sum(api._backoff * 2 ** (attempt - 1) for attempt in range(1, api._max_attempts))
    worst_call = api._max_attempts * timeout + backoffs
    assert SingleFlight(MemoryLeases()).lease_ttl > 4 * worst_call


def test_a_code_wechat_consumed_whose_answer_was_lost_is_recovered_from_the_authorizer_list() -> None:
    """Suspected: api_query_auth spent the code but its answer timed out; the retry meets 61010 and
    the merchant's grant is lost. Proven; the pushed code's authorizer is now reconciled from
    api_get_authorizer_list, which carries its refresh token."""
    world = World()
    code = world.wechat.new_code(MERCHANT)
    world.wechat.lose_answers["api_query_auth"] = 1
    task = {
        "task": "authorization.exchange",
        "auth_code": code,
        "info_type": "authorized",
        "authorizer_appid": MERCHANT,
    }
    with pytest.raises(UpstreamUnavailable):
        world.wx.task_runner.run(task)  # Lambda will retry it
    assert world.wx.task_runner.run(task)["done"] is True  # the retry: 61010, then the list
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.active and grant.refresh_token == world.wechat.refresh_tokens[MERCHANT]
    assert world.wx.authorizer_tokens.token(MERCHANT)  # and it serves
    assert "authorized" in world.events()


def test_a_late_unauthorized_push_never_revokes_the_authorization_that_followed_it() -> None:
    """Suspected: revocations are ordered by comparing WeChat's CreateTime with our own clock.
    Proven: with our clock 10 s behind WeChat's, a merchant who revokes and authorizes again at
    once loses the new authorization to the late push. Near an authorization, a revocation is now
    checked against WeChat's list (the new refresh token listed: the push is older)."""
    world = World()
    world.authorize()
    wechat_now = int(world.now) + 10  # WeChat's clock runs 10 s ahead of ours
    revoked_at_wechat = wechat_now + 100
    world.now += 92  # by our clock, the merchant authorizes again right after revoking
    renewed = world.authorize()
    assert world.wx.authorizations.revoke(MERCHANT, revoked_at_wechat) is False  # delivered late
    grant = world.stores.authorizers.get_grant(MERCHANT)
    assert grant is not None and grant.active and grant.refresh_token == renewed
    # A revocation WeChat confirms (the account no longer listed) is applied, skew or not.
    del world.wechat.listed[MERCHANT]
    assert world.wx.authorizations.revoke(MERCHANT, revoked_at_wechat + 1)
    revoked = world.stores.authorizers.get_grant(MERCHANT)
    assert revoked is not None and revoked.status == REVOKED
