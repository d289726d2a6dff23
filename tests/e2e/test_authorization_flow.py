"""The merchant's whole journey in a real browser: our start page, WeChat's (the sandbox's)
authorization page, back to our callback, which names the account; the table holds the grant."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.conftest import World
from tests.support.graph import graph

pytestmark = pytest.mark.slow


def test_clicking_through_ends_on_our_result_page_naming_the_account(world: World, page: Page) -> None:
    world.push_ticket()
    page.goto(f"{world.gateway.url}/wechat/authorize")
    assert page.locator("#start h1").inner_text().startswith("授权给")  # Chinese first
    # Chromium keeps the `__Host-` state cookie over http://127.0.0.1 too: loopback is a secure
    # context, so `make dev` works with the cookie a deployment sets.
    [cookie] = [c for c in page.context.cookies(world.gateway.url) if c["name"] == "__Host-wxcomponent_state"]
    assert (cookie["path"], cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == ("/", True, True, "Lax")
    page.click("#authorize")  # a real link with referrerpolicy="origin": WeChat's Referer check passes
    page.wait_for_selector("#accounts")
    account = page.locator("form.account").first
    appid = account.get_attribute("data-appid")
    assert appid
    page.click(f"#authorize-{appid}")
    page.wait_for_url(f"{world.gateway.url}/wechat/authorize/callback?*")
    profile = graph().profiles.get_profile(appid)
    assert profile is not None
    assert page.locator("#nick-name").inner_text() == profile.nick_name
    assert page.locator("#avatar").get_attribute("src") == profile.head_img
    grant = graph().authorizers.get_grant(appid)
    assert grant is not None and grant.active
    assert graph().authorizers.get_authorizer_token(appid) is not None
    assert world.calls("api_query_auth") == 1  # the callback and the push shared one exchange


def test_a_typed_sandbox_url_fails_wechats_referer_check_but_our_link_passes(world: World, page: Page) -> None:
    world.push_ticket()
    page.goto(f"{world.gateway.url}/wechat/authorize")
    href = page.get_attribute("#authorize", "href")
    assert href
    page.goto(href)  # typed into the address bar: no Referer
    assert page.locator("#wx-error").get_attribute("data-error") == "referer"


def test_phones_go_through_the_mobile_page(world: World, mobile_page: Page) -> None:
    world.push_ticket()
    mobile_page.goto(f"{world.gateway.url}/wechat/authorize")
    href = mobile_page.get_attribute("#authorize", "href")
    assert href and "/wxaopen/safe/bindcomponent?action=bindcomponent" in href
    mobile_page.tap("#authorize")
    mobile_page.wait_for_selector("#accounts")
    appid = mobile_page.locator("form.account").first.get_attribute("data-appid")
    mobile_page.tap(f"#authorize-{appid}")
    mobile_page.wait_for_url(f"{world.gateway.url}/wechat/authorize/callback?*")
    assert mobile_page.locator("#result h1").inner_text().startswith("授权成功")
