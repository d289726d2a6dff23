"""make dev's demo H5 page (examples/web_login) in Chromium, as a developer opens it: for an
authorized sandbox account, web login through WeChat's (the sandbox's) page, then the visitor's
openid and a wx.config that the JS-SDK (the sandbox's) confirms valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.support.make_dev import MakeDev, until

pytestmark = pytest.mark.slow

ACCOUNT = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account


def test_the_demo_page_logs_the_visitor_in_and_its_wx_config_is_valid(page: Page, tmp_path: Path) -> None:
    with MakeDev(tmp_path / "dev-state.json") as dev:
        demo = f"{dev.gateway}/demo/web-login?appid={ACCOUNT}"
        assert any(demo in line for line in dev.lines)  # make dev says where it is
        dev.control("authorize", {"appid": ACCOUNT})
        until(lambda: "access_token" in dev.vend({"kind": "authorizer", "appid": ACCOUNT}), 60, "the grant stored")

        page.goto(demo)  # no login yet: off to web login on the account's behalf
        page.wait_for_selector("#wx-oauth-page")
        assert page.locator("#scope").get_attribute("data-scope") == "snsapi_userinfo"
        openid = page.locator('form[data-user="alice"]').get_attribute("data-openid")
        assert openid
        page.click("#allow-alice")

        page.wait_for_url(f"{dev.gateway}/demo/web-login?*")
        assert page.locator("#openid").inner_text() == openid
        assert page.locator("#nickname").inner_text() == "爱丽丝 Alice"
        page.wait_for_selector('#config[data-valid="true"]')
        assert page.locator("#config").inner_text() == "wx.config: ok"
        calls = dev.control("calls?api=getticket")["calls"]
        assert [call["errcode"] for call in calls] == [0]  # one ticket, fetched for this page view

        page.reload()  # the code in the address bar served once
        assert "already used" in page.locator("#failure").inner_text()
        page.click("#again")
        page.wait_for_selector("#wx-oauth-page")
        page.click("#deny")  # WeChat sends a visitor who declines back with the state alone
        page.wait_for_selector("#declined")
        assert page.url.startswith(f"{dev.gateway}/demo/web-login?") and "code=" not in page.url
