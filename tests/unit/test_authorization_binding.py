"""States and codes, single use on our side (issue 19: M1, M5), on fakes: the state a start page
issues is recorded with its pre-auth code and consumed by the first callback; a code exchanged
already is shown only to the callback whose start page issued it."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.unit.test_token_services import MERCHANT, NOW, World
from wxcomponent.domain.binding import StateMismatch
from wxcomponent.domain.errors import BadRequest
from wxcomponent.domain.wechat import AuthorizationCodeRejected
from wxcomponent.observability import logger
from wxcomponent.services.authorization import AuthorizationInProgress, AuthorizationRequest, StartedAuthorization

CALLBACK = "https://auth.example/wechat/authorize/callback"


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start(world: World, vendor_state: str = "") -> StartedAuthorization:
    request = AuthorizationRequest.from_query({"state": vendor_state} if vendor_state else {})
    return world.wx.authorizations.start(request, CALLBACK, mobile=False)


def pre_auth_code(started: StartedAuthorization) -> str:
    return parse_qs(urlsplit(started.link.url).query)["pre_auth_code"][0]


def waiting_moves_the_clock(world: World) -> None:
    """A callback waiting for another's exchange sleeps on the test's clock, not the wall's."""

    def sleep(seconds: float) -> None:
        world.now += seconds

    world.wx.authorizations._sleep = sleep


# -- the state: recorded with its pre-auth code, consumed by the first callback ------------------------


def test_the_start_records_the_state_with_its_pre_auth_code_as_hashes_for_the_codes_life() -> None:
    world = World()
    started = start(world, "user-42")
    redirect_uri = parse_qs(urlsplit(started.link.url).query)["redirect_uri"][0]
    assert parse_qs(urlsplit(redirect_uri).query) == {"state": [started.state], "vendor_state": ["user-42"]}
    assert started.lifetime == 600  # the pre-auth code's expires_in
    [(state_hash, record)] = world.stores.authorization_states.states.items()
    assert state_hash == sha256(started.state)
    assert record.pre_auth_hash == sha256(pre_auth_code(started))
    assert record.expires_at == NOW + 600
    assert started.state not in repr(world.stores.authorization_states.states)  # hashes only


def test_a_pre_auth_code_life_over_30_minutes_is_capped() -> None:
    world = World()
    world.wechat.expires_in["api_create_preauthcode"] = 7200
    assert start(world).lifetime == 1800


def test_one_start_page_load_buys_at_most_one_exchange() -> None:
    """M5: the review's reproduction, 100 callbacks with one state and junk codes."""
    world = World()
    started = start(world)
    outcomes = []
    for index in range(100):
        try:
            world.wx.authorizations.complete_callback(f"queryauthcode@@@junk-{index}", started.state)
        except AuthorizationCodeRejected:
            outcomes.append("WeChat refused the code")
        except StateMismatch:
            outcomes.append("state used")
    assert outcomes == ["WeChat refused the code"] + ["state used"] * 99
    assert world.wechat.calls["api_query_auth"] == 1


def test_a_state_is_consumed_by_a_successful_callback_too() -> None:
    world = World()
    started = start(world)
    assert world.wx.authorizations.complete_callback(world.wechat.new_code(MERCHANT), started.state).new
    with pytest.raises(StateMismatch):
        world.wx.authorizations.complete_callback(world.wechat.new_code(MERCHANT), started.state)
    assert world.wechat.calls["api_query_auth"] == 1


@pytest.mark.parametrize("state", ["A" * 32, "never-issued-but-well-formed-xxxx"])
def test_a_state_we_never_issued_is_refused_before_wechat(state: str) -> None:
    world = World()
    start(world)
    with pytest.raises(StateMismatch):
        world.wx.authorizations.complete_callback(world.wechat.new_code(MERCHANT), state)
    assert world.wechat.calls["api_query_auth"] == 0


def test_a_state_outlives_its_pre_auth_code_by_nothing() -> None:
    world = World()
    started = start(world)
    world.now += started.lifetime
    with pytest.raises(StateMismatch):
        world.wx.authorizations.complete_callback(world.wechat.new_code(MERCHANT), started.state)
    assert world.wechat.calls["api_query_auth"] == 0


def test_a_malformed_code_is_refused_and_leaves_the_state_unused() -> None:
    world = World()
    started = start(world)
    with pytest.raises(BadRequest):  # nothing changed
        world.wx.authorizations.complete_callback("a b", started.state)
    assert world.wx.authorizations.complete_callback(world.wechat.new_code(MERCHANT), started.state).new


def test_coming_back_with_the_same_code_reads_the_outcome_and_never_exchanges_again() -> None:
    """The in-progress page asks the admin to refresh: the same state with the same code reads the
    exchange's outcome; it never claims the code, so the load still costs one exchange at most."""
    world = World()
    started = start(world)
    code = world.wechat.new_code(MERCHANT)
    holder = "the push's exchange, slow"
    assert world.stores.code_claims.claim_code(sha256(code), holder, NOW, 30)
    waiting_moves_the_clock(world)
    with pytest.raises(AuthorizationInProgress):
        world.wx.authorizations.complete_callback(code, started.state)
    world.stores.code_claims.claims.clear()  # the slow exchange failed and gave the code back
    with pytest.raises(AuthorizationInProgress):  # the push's retry will exchange it: never this state
        world.wx.authorizations.complete_callback(code, started.state)
    assert world.wechat.calls["api_query_auth"] == 0
    with pytest.raises(StateMismatch):  # another code with the consumed state: refused outright
        world.wx.authorizations.complete_callback(world.wechat.new_code(MERCHANT), started.state)
    assert world.wechat.calls["api_query_auth"] == 0


def test_coming_back_after_the_exchange_finished_shows_the_account() -> None:
    world = World()
    started = start(world)
    code = world.wechat.new_code(MERCHANT)
    claim = sha256(code)
    assert world.stores.code_claims.claim_code(claim, "slow", NOW, 30)
    waiting_moves_the_clock(world)
    with pytest.raises(AuthorizationInProgress):
        world.wx.authorizations.complete_callback(code, started.state)
    world.stores.code_claims.claims.clear()
    world.wx.authorizations.complete_pushed(code, "authorized", pre_auth_code=pre_auth_code(started))
    result = world.wx.authorizations.complete_callback(code, started.state)  # the refresh
    assert result.authorizer_appid == MERCHANT and not result.new
    assert world.wechat.calls["api_query_auth"] == 1


# -- the code: shown only to the start that issued it --------------------------------------------------


def test_a_used_code_replayed_with_another_state_is_refused_without_a_call() -> None:
    """M1: the victim's callback exchanged the code; the attacker's fresh state cannot present it."""
    world = World()
    victim, attacker = start(world, "victim-session"), start(world, "attacker-session")
    code = world.wechat.new_code(MERCHANT)
    assert world.wx.authorizations.complete_callback(code, victim.state).new
    with pytest.raises(StateMismatch):
        world.wx.authorizations.complete_callback(code, attacker.state)
    assert world.wechat.calls["api_query_auth"] == 1


def test_a_code_the_push_exchanged_first_is_shown_to_the_callback_whose_start_issued_it() -> None:
    world = World()
    merchant, attacker = start(world), start(world)
    code = world.wechat.new_code(MERCHANT)
    world.wx.authorizations.complete_pushed(code, "authorized", pre_auth_code=pre_auth_code(merchant))
    with pytest.raises(StateMismatch):
        world.wx.authorizations.complete_callback(code, attacker.state)
    result = world.wx.authorizations.complete_callback(code, merchant.state)
    assert result.authorizer_appid == MERCHANT and not result.new and result.profile is not None
    assert world.wechat.calls["api_query_auth"] == 1


def test_the_callback_fetches_the_profile_the_push_has_not_stored_yet() -> None:
    """The push exchanged the code, and another invocation is to fetch the profile: the merchant's
    browser, waiting, fetches it itself (once) rather than show an account without its name. Over
    the wires this happens only when the callback wins that race."""
    world = World()
    merchant = start(world)
    code = world.wechat.new_code(MERCHANT)
    world.wx.authorizations.complete_pushed(code, "authorized", pre_auth_code=pre_auth_code(merchant))
    del world.stores.profiles.profiles[MERCHANT]  # not stored yet
    fetched = world.wechat.calls["api_get_authorizer_info"]
    result = world.wx.authorizations.complete_callback(code, merchant.state)
    assert result.profile is not None and result.profile.authorizer_appid == MERCHANT
    assert world.wechat.calls["api_get_authorizer_info"] == fetched + 1
    assert world.stores.profiles.get_profile(MERCHANT) == result.profile
    assert world.wechat.calls["api_query_auth"] == 1


def test_a_code_pushed_without_a_pre_auth_code_is_shown_to_no_callback() -> None:
    """WeChat's release-test auto-authorization pushes PreAuthCode empty: no start page issued it."""
    world = World()
    started = start(world)
    code = world.wechat.new_code(MERCHANT)
    world.wx.authorizations.complete_pushed(code, "authorized", pre_auth_code="")
    with pytest.raises(StateMismatch):
        world.wx.authorizations.complete_callback(code, started.state)
    assert world.stores.authorizers.get_grant(MERCHANT) is not None  # the authorization itself is kept


def test_a_push_whose_pre_auth_code_differs_from_the_callbacks_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An unused code presented by another browser before the rightful one (captured in flight):
    nothing can undo that callback's answer, but the push tells us, and the log says so."""
    world = World()
    attacker, merchant = start(world), start(world)
    code = world.wechat.new_code(MERCHANT)
    assert world.wx.authorizations.complete_callback(code, attacker.state).new
    with caplog.at_level("WARNING", logger=logger.name):
        world.wx.authorizations.complete_pushed(code, "authorized", pre_auth_code=pre_auth_code(merchant))
    [record] = [r for r in caplog.records if r.getMessage() == "authorization code exchanged for another start"]
    assert record.__dict__["authorizer_appid"] == MERCHANT
    assert code not in caplog.text and pre_auth_code(merchant) not in caplog.text


def test_a_code_exchanged_longer_ago_than_its_life_is_refused() -> None:
    world = World()
    merchant = start(world)
    code = world.wechat.new_code(MERCHANT)
    world.wx.authorizations.complete_pushed(code, "authorized", pre_auth_code=pre_auth_code(merchant))
    world.now += 601  # WeChat's code lives 600 s: no callback can rightly bring it now
    with pytest.raises(StateMismatch):  # the state outlived too (600 s)
        world.wx.authorizations.complete_callback(code, merchant.state)
    with pytest.raises(AuthorizationCodeRejected):  # the waiting exchange (the release check) too
        world.wx.authorizations.complete(code)
    assert world.wechat.calls["api_query_auth"] == 1


def test_a_code_exchanged_longer_ago_than_its_life_is_refused_even_to_a_long_lived_state() -> None:
    world = World()
    world.wechat.expires_in["api_create_preauthcode"] = 1800
    merchant = start(world)
    code = world.wechat.new_code(MERCHANT)
    world.wx.authorizations.complete_pushed(code, "authorized", pre_auth_code=pre_auth_code(merchant))
    world.now += 601
    with pytest.raises(AuthorizationCodeRejected):
        world.wx.authorizations.complete_callback(code, merchant.state)
    assert world.wechat.calls["api_query_auth"] == 1


def test_a_claim_past_its_ttl_is_not_an_exchange() -> None:
    """The review: code_exchanged_for ignored the claim's 24 h ttl, so it answered until DynamoDB's
    lazy TTL removed the item."""
    world = World()
    code = world.wechat.new_code(MERCHANT)
    world.wx.authorizations.complete(code)
    claims = world.stores.code_claims
    exchange = claims.code_exchanged_for(sha256(code), NOW + 10)
    assert exchange is not None and exchange.authorizer_appid == MERCHANT
    assert claims.code_exchanged_for(sha256(code), NOW + 24 * 3600 + 1) is None
