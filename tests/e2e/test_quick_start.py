"""The README's first screen, walked as a newcomer walks it (issue 21): the start page, the sandbox's
stand-in for WeChat's account page, our result page, each with the words the README quotes; then
step 3's commands, run as written against the local stack, vend the account's token (and, for an
appid nobody authorized, fail). The one change from make dev: the local stack's ephemeral ports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
from playwright.sync_api import Page

from infra.local.stack import local_environment
from infra.local.template import ROOT
from tests.conftest import World
from wxcomponent import settings

pytestmark = pytest.mark.slow

SECTION = "## From `make dev` to a merchant's token"
ACCOUNT = "wx54dfd34fefd47bdb"  # 星河咖啡 Galaxy Coffee, the sandbox's first account
NAME = "星河咖啡 Galaxy Coffee"


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    return text[start : text.index("\n## ", start + len(SECTION))]


def step_three() -> str:
    (block,) = re.findall(r"<!-- quick-start: run -->\n( *)```bash\n(.*?)^\1```\n", section(), re.M | re.S)
    return textwrap.dedent(block[1])


def test_the_first_screen_walks_from_the_start_page_to_a_vended_token(
    world: World, page: Page, caplog: pytest.LogCaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRODUCT_NAME", local_environment("", "", "")["PRODUCT_NAME"])  # make dev's
    settings.reset_caches()
    words = section()
    for quoted in (
        "授权给 Demo SaaS (local)",
        "前往微信授权 / Authorize with WeChat",
        "选择要授权的账号 / Choose an account",
    ):
        assert quoted in words
    assert f"**授权 Authorize** beside **{NAME}** (`{ACCOUNT}`)" in words
    world.push_ticket()
    page.goto(f"{world.gateway.url}/wechat/authorize")
    assert page.locator("#start h1").inner_text().startswith("授权给 Demo SaaS (local)")
    assert "前往微信授权" in page.locator("#authorize").inner_text()
    assert "Authorize with WeChat" in page.locator("#authorize").inner_text()
    page.click("#authorize")
    page.wait_for_selector("#accounts")
    body = page.inner_text("body")
    assert "选择要授权的账号" in body and "Choose an account to authorize" in body
    first = page.locator("form.account").first
    assert first.get_attribute("data-appid") == ACCOUNT and NAME in first.inner_text()
    caplog.clear()
    page.click(f"#authorize-{ACCOUNT}")
    page.wait_for_url(f"{world.gateway.url}/wechat/authorize/callback?*")
    result = page.inner_text("body")
    assert "授权成功" in result and "Authorized" in result and NAME in result and ACCOUNT in result
    assert f"`authorization stored authorizer_appid={ACCOUNT}`" in words
    assert world.gateway.wait_for_async(timeout=60)  # the push's exchange, which may be the one that stores it
    stored = [r for r in caplog.records if r.getMessage() == "authorization stored"]
    assert stored and {getattr(r, "authorizer_appid", None) for r in stored} == {ACCOUNT}  # make dev's console

    # Step 3, in a second terminal, from the checkout.
    def step(code: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "GATEWAY_PORT": world.gateway.url.rsplit(":", 1)[1],  # the CLI's --local follows make dev's ports
        }
        code = code.replace("http://127.0.0.1:3000", world.gateway.url)
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    vended = step(step_three())
    assert vended.returncode == 0, vended.stderr
    table, _, answer = vended.stdout.partition("{")
    assert ACCOUNT in table and "expires" in table
    token = json.loads("{" + answer)
    assert (token["kind"], token["appid"]) == ("authorizer", ACCOUNT) and token["access_token"]
    refused = step(step_three().replace(ACCOUNT, "wx0123456789abcdef"))
    assert refused.returncode == 1 and "not_authorized (unknown)" in refused.stderr, refused.stderr
