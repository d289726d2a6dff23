"""Issue 10's holes that need the real wires: pages, headers, what a public route gives away."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.conftest import World
from tests.support.browser import Browser
from tests.support.graph import graph
from wxcomponent.client import RedirectRejected, verify_authorized_redirect

ACCOUNT = "wx570bc396a51b8ff8"


def get(world: World, path: str, **headers: str) -> Any:
    return world.http.request("GET", f"{world.gateway.url}{path}", headers=headers, redirect=False)


# -- hole 7: pages say nothing WeChat told us, send strict headers, and give a reference ------------------


def test_an_error_page_shows_a_generic_text_and_a_reference_never_wechats_errmsg(quiet_world: World) -> None:
    quiet_world.push_ticket_to_table()
    quiet_world.fault("api_create_preauthcode", "errcode", 61004, count=1)  # WeChat's errmsg names our IP
    page = get(quiet_world, "/wechat/authorize")
    html = page.data.decode()
    assert page.status == 502
    assert "61004" not in html and "errcode" not in html.lower() and "api_create_preauthcode" not in html
    reference = re.search(r'id="reference">([^<]+)<', html)
    assert reference is not None and len(reference.group(1)) >= 8


def test_every_page_sends_a_strict_policy(quiet_world: World) -> None:
    quiet_world.push_ticket_to_table()
    for path in ("/wechat/authorize", "/wechat/authorize/callback", "/wechat/authorize/callback?auth_code=x%20y"):
        page = get(quiet_world, path)
        headers = {k.lower(): v for k, v in page.headers.items()}
        csp = headers["content-security-policy"]
        for directive in ("default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"):
            assert directive in csp, (path, csp)
        assert "'unsafe-inline'" not in csp and "script-src" not in csp
        assert headers["referrer-policy"] == "no-referrer"  # the result URL carries auth_code
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"


# -- hole 5: the `authorized` push is answered at once; the exchange happens after ----------------------------


def test_the_authorized_push_is_answered_at_once_however_slow_wechat_is(world: World) -> None:
    world.push_ticket()
    world.fault("api_get_authorizer_info", "latency", 6.0, count=1)  # the profile is slow to come
    world.fault("api_query_auth", "latency", 3.0, count=1)
    started = time.monotonic()
    delivery = world.control("POST", "authorize", {"appid": ACCOUNT})["delivery"]
    [attempt] = delivery["attempts"]  # answered on the first try: WeChat does not retry
    assert attempt["body"] == "success" and attempt["elapsed"] < 1.0
    assert time.monotonic() - started >= 3.0  # control() joined the exchange that ran afterwards
    grant = graph().authorizers.get_grant(ACCOUNT)
    assert grant is not None and grant.active
    assert graph().profiles.get_profile(ACCOUNT) is not None
    assert world.calls("api_query_auth") == 1


def test_a_profile_wechat_refuses_during_the_exchange_is_fetched_later_for_real(world: World) -> None:
    world.push_ticket()
    world.fault("api_get_authorizer_info", "errcode", 61004, count=1)  # refused once, then given
    world.control("POST", "authorize", {"appid": ACCOUNT})
    grant = graph().authorizers.get_grant(ACCOUNT)
    assert grant is not None and grant.active  # the grant never waits for the profile
    profile = graph().profiles.get_profile(ACCOUNT)
    assert profile is not None and profile.nick_name  # fetched by the task the exchange deferred
    assert world.calls("api_get_authorizer_info") == 2


# -- hole 1: the callback belongs to the browser that started; the vendor can verify the redirect --------


def test_a_callback_not_started_in_this_browser_is_refused_before_wechat(quiet_world: World) -> None:
    quiet_world.push_ticket_to_table()
    code = quiet_world.control("POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    victim, attacker = Browser(quiet_world), Browser(quiet_world)
    victim.start()
    attacker.start()
    attempts = [
        get(quiet_world, f"/wechat/authorize/callback?{urlencode({'auth_code': code})}"),  # no state at all
        get(quiet_world, f"/wechat/authorize/callback?{urlencode({**attacker.callback_query, 'auth_code': code})}"),
        # login CSRF: the attacker's state and code, in the victim's browser (the victim's cookie)
        victim.get(f"/wechat/authorize/callback?{urlencode({**attacker.callback_query, 'auth_code': code})}"),
    ]
    assert [page.status for page in attempts] == [400, 400, 400]
    assert quiet_world.calls("api_query_auth") == 0  # refused before anything reached WeChat
    assert victim.callback(code).status == 200  # the real flow still works


def test_junk_codes_cost_wechat_nothing(quiet_world: World) -> None:
    """WeChat documents no code format (the queryauthcode@@@ prefix is only observed): the prefilter
    refuses only what no code can be, empty, oversized, spaced or non-ASCII."""
    quiet_world.push_ticket_to_table()
    browser = Browser(quiet_world)
    for junk in ("", "a b", "码", "x" * 513, "queryauthcode@@@\u00e9"):
        browser.start()
        assert browser.callback(junk).status == 400
    assert quiet_world.calls("api_query_auth") == 0


def test_the_vendor_redirect_carries_its_state_and_a_signature_it_verifies_offline(
    quiet_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "k" * 40
    monkeypatch.setenv("AUTHORIZED_REDIRECT_URL", "https://saas.example/wechat/done?from=wx")
    monkeypatch.setenv("WECHAT_AUTHORIZED_REDIRECT_KEY", key)
    quiet_world.push_ticket_to_table()
    code = quiet_world.control("POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    browser = Browser(quiet_world)
    browser.start({"state": "user-42.session_7"})
    answer = browser.callback(code)
    assert answer.status == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://saas.example/wechat/done"
    query = {k: v[-1] for k, v in parse_qs(location.query).items()}
    assert query["from"] == "wx"
    proof = verify_authorized_redirect(query, key)
    assert (proof.authorizer_appid, proof.state) == (ACCOUNT, "user-42.session_7")
    for forged in ({**query, "authorizer_appid": "wx0123456789abcdef"}, {**query, "state": "user-43"}):
        with pytest.raises(RedirectRejected):
            verify_authorized_redirect(forged, key)
    with pytest.raises(RedirectRejected):
        verify_authorized_redirect(query, "another key entirely, also long enough")
    with pytest.raises(RedirectRejected):
        verify_authorized_redirect(query, key, now=int(query["expires"]) + 1)


def test_without_a_signing_key_there_is_no_redirect_to_forge(
    quiet_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHORIZED_REDIRECT_URL", "https://saas.example/wechat/done")
    monkeypatch.delenv("WECHAT_AUTHORIZED_REDIRECT_KEY", raising=False)
    quiet_world.push_ticket_to_table()
    code = quiet_world.control("POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    browser = Browser(quiet_world)
    browser.start()
    answer = browser.callback(code)
    assert answer.status == 503 and "Location" not in answer.headers  # a setting is missing
    assert graph().authorizers.get_grant(ACCOUNT) is not None  # the grant is kept: only the redirect is withheld


# -- issue 19: states and codes are single use on our side ----------------------------------------------


def test_a_victims_used_code_replayed_with_the_attackers_own_state_gets_no_redirect(
    quiet_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """M1: the attacker loads our start page with their own vendor session and replays the victim's
    used callback URL: the vendor must not get a signed redirect binding the victim's account."""
    key = "k" * 40
    monkeypatch.setenv("AUTHORIZED_REDIRECT_URL", "https://saas.example/wechat/done")
    monkeypatch.setenv("WECHAT_AUTHORIZED_REDIRECT_KEY", key)
    quiet_world.push_ticket_to_table()
    victim = Browser(quiet_world)
    victim.start({"state": "victim-session"})
    code = victim.authorize_at_wechat(ACCOUNT)
    landed = victim.callback(code)
    assert landed.status == 302
    assert verify_authorized_redirect(_query(landed.headers["Location"]), key).state == "victim-session"
    attacker = Browser(quiet_world)
    attacker.start({"state": "attacker-session"})
    replayed = attacker.callback(code)
    assert replayed.status == 400 and "Location" not in replayed.headers
    assert 'data-failure="not_this_browser"' in replayed.data.decode()
    assert quiet_world.calls("api_query_auth") == 1


def test_a_replayed_code_never_shows_the_victims_account(quiet_world: World) -> None:
    quiet_world.push_ticket_to_table()
    victim = Browser(quiet_world)
    victim.start()
    code = victim.authorize_at_wechat(ACCOUNT)
    page = victim.callback(code)
    profile = graph().profiles.get_profile(ACCOUNT)
    assert page.status == 200 and profile is not None and profile.nick_name in page.data.decode()
    attacker = Browser(quiet_world)
    attacker.start()
    replayed = attacker.callback(code)
    html = replayed.data.decode()
    assert replayed.status == 400 and profile.nick_name not in html and profile.principal_name not in html


def test_the_browser_that_started_still_sees_its_account_when_the_push_exchanged_the_code_first(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The `authorized` push carries the PreAuthCode of the link the admin followed: its exchange
    records it, so the callback whose state was issued with that pre-auth code is matched."""
    key = "k" * 40
    monkeypatch.setenv("AUTHORIZED_REDIRECT_URL", "https://saas.example/wechat/done")
    monkeypatch.setenv("WECHAT_AUTHORIZED_REDIRECT_KEY", key)
    world.push_ticket()
    browser, other = Browser(world), Browser(world)
    browser.start({"state": "merchant-7"})
    other.start({"state": "attacker-session"})
    code = world.sandbox.world.merchants.confirm(ACCOUNT, None).code  # the admin confirmed on WeChat's page
    delivery = world.sandbox.pusher.push_authorized(ACCOUNT, code.value, code.expires_at, browser.pre_auth_code)
    assert delivery["ok"] and world.gateway.wait_for_async()  # the push's exchange is done
    assert graph().authorizers.get_grant(ACCOUNT) is not None
    refused = other.callback(code.value)  # another start page's state: never this code's
    assert refused.status == 400 and "Location" not in refused.headers
    landed = browser.callback(code.value)
    assert landed.status == 302
    assert verify_authorized_redirect(_query(landed.headers["Location"]), key).state == "merchant-7"
    assert world.calls("api_query_auth") == 1


def test_a_push_without_a_pre_auth_code_cannot_be_claimed_by_any_browser(world: World) -> None:
    """WeChat's release-test auto-authorization pushes an empty PreAuthCode: no start page issued
    that code, so no callback may present it as its own."""
    world.push_ticket()
    authorized = world.control("POST", "authorize", {"appid": ACCOUNT})  # pushed with PreAuthCode empty
    assert authorized["delivery"]["ok"] and graph().authorizers.get_grant(ACCOUNT) is not None
    browser = Browser(world)
    browser.start()
    page = browser.callback(authorized["auth_code"])
    assert page.status == 400 and 'data-failure="not_this_browser"' in page.data.decode()


def test_one_start_page_load_buys_at_most_one_exchange(quiet_world: World) -> None:
    """M5: 100 callbacks with one state and junk codes (8 at a time) cost one api_query_auth."""
    quiet_world.push_ticket_to_table()
    browser = Browser(quiet_world)
    browser.start()

    def callback(index: int) -> int:
        status: int = browser.callback(f"queryauthcode@@@junk-{index}").status
        return status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(callback, range(100)))
    assert set(statuses) == {400}
    assert quiet_world.calls("api_query_auth") == 1


def _query(location: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}
