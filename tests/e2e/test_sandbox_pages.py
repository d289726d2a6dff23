"""The sandbox's authorization pages in a real browser (docs/sandbox.md, "The authorization pages").

Three loopback servers per test: the WeChat sandbox; a vendor "start page" site that links to the
authorization page (with a fresh pre-auth code per visit) and shows the code on its callback; and a
receiver for the authorization-event pushes that verifies, decrypts and queues them, answering
`success`. Nothing waits by sleeping: the browser auto-waits, pushes are awaited on a queue.
"""

from __future__ import annotations

import html
import json
import queue
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from infra.local.devconfig import component_settings
from infra.sandbox import Sandbox, SandboxConfig
from infra.sandbox.envelope import parse_xml_fields
from infra.sandbox.pages import REFERER_ERROR_ZH
from tests.e2e.conftest import MOBILE_USER_AGENT, _context
from wxcomponent.domain.crypto import MessageCrypto

pytestmark = pytest.mark.slow

PUSH_WAIT = 5.0
HTTP_TIMEOUT = 5.0
PC_PATH = "/cgi-bin/componentloginpage"
MOBILE_PATH = "/wxaopen/safe/bindcomponent"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- loopback servers ----------------------------------------------------------------------------


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def reply(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1, an ephemeral port, served in a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=2)


class Receiver(_Server):
    """Our authorization-event URL: checks both signatures, decrypts, queues the fields, says `success`."""

    def __init__(self, crypto: MessageCrypto) -> None:
        self.pushes: queue.Queue[dict[str, str]] = queue.Queue()
        receiver = self

        class Handler(_Quiet):
            def do_POST(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    encrypt = parse_xml_fields(body)["Encrypt"]
                    crypto.verify_signature(query.get("signature"), query["timestamp"], query["nonce"])
                    crypto.verify_msg_signature(query.get("msg_signature"), query["timestamp"], query["nonce"], encrypt)
                    fields = parse_xml_fields(crypto.decrypt(encrypt).message)
                except Exception as exc:
                    fields = {"error": f"{type(exc).__name__}: {exc}"}
                receiver.pushes.put(fields)
                self.reply(200, b"success", "text/plain")

        super().__init__(Handler)

    def wait_info(self, info_type: str, timeout: float = PUSH_WAIT) -> dict[str, str]:
        """The next push of that InfoType (others are passed over); a bad push fails at once."""
        deadline = time.monotonic() + timeout
        seen: list[dict[str, str]] = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                fields = self.pushes.get(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise AssertionError(f"no {info_type!r} push within {timeout} s; got {seen!r}") from None
            assert "error" not in fields, fields
            if fields.get("InfoType") == info_type:
                return fields
            seen.append(fields)


class StartSite(_Server):
    """The vendor's authorization-start domain: `/` (PC) and `/mobile` link to WeChat's pages with a
    fresh pre-auth code per visit; `/callback` shows the auth_code it got and queues it."""

    def __init__(self) -> None:
        self.authorize_url: Callable[[str], str] | None = None  # set once the sandbox runs
        self.callbacks: queue.Queue[dict[str, str]] = queue.Queue()
        site = self

        class Handler(_Quiet):
            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                if parts.path in ("/", "/mobile") and site.authorize_url is not None:
                    target = site.authorize_url(MOBILE_PATH if parts.path == "/mobile" else PC_PATH)
                    self.reply(200, start_page(target))
                elif parts.path == "/callback":
                    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
                    site.callbacks.put(query)
                    self.reply(200, callback_page(query))
                else:
                    self.reply(404, b"not found", "text/plain")

        super().__init__(Handler)

    @property
    def callback_url(self) -> str:
        return f"{self.url}/callback"


def start_page(target: str) -> bytes:
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>Vendor</title></head><body>'
        '<h1>Vendor admin</h1><p><a id="go" referrerpolicy="origin" '
        f'href="{html.escape(target)}">授权公众号 Authorize your account</a></p></body></html>'
    ).encode()


def callback_page(query: dict[str, str]) -> bytes:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Callback</title></head><body>'
        f'<p>auth_code: <code id="auth-code">{html.escape(query.get("auth_code", ""))}</code></p>'
        f'<p>expires_in: <code id="expires-in">{html.escape(query.get("expires_in", ""))}</code></p>'
        "</body></html>"
    ).encode()


def post_json(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body or {}).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
        return json.loads(response.read())


# -- the world of one test -----------------------------------------------------------------------


@dataclass
class World:
    sandbox: Sandbox
    site: StartSite
    receiver: Receiver
    component_appid: str
    component_token: str
    pre_auth_codes: list[str]

    def new_pre_auth_code(self) -> str:
        answer = post_json(
            f"{self.sandbox.url}/cgi-bin/component/api_create_preauthcode?"
            + urllib.parse.urlencode({"component_access_token": self.component_token}),
            {"component_appid": self.component_appid},
        )
        code = answer.get("pre_auth_code")
        assert isinstance(code, str), answer
        assert code.startswith("preauthcode@@@"), answer
        self.pre_auth_codes.append(code)
        return code

    def authorize_url(self, path: str) -> str:
        """WeChat's authorization page for a fresh pre-auth code, back to the site's /callback."""
        query = {
            "component_appid": self.component_appid,
            "pre_auth_code": self.new_pre_auth_code(),
            "redirect_uri": self.site.callback_url,
            "auth_type": "3",
        }
        if path == MOBILE_PATH:
            query = {"action": "bindcomponent", "no_scan": "1", **query}
        return f"{self.sandbox.url}{path}?{urllib.parse.urlencode(query)}"


@pytest.fixture
def world() -> Iterator[World]:
    settings = component_settings()
    appid = settings["WECHAT_COMPONENT_APPID"]
    crypto = MessageCrypto(settings["WECHAT_COMPONENT_TOKEN"], [settings["WECHAT_COMPONENT_AES_KEY"]], appid)
    receiver = Receiver(crypto)
    site = StartSite()
    events_url = f"{receiver.url}/wechat/component/events"
    sandbox = Sandbox(
        SandboxConfig(
            port=0,
            ticket_interval=0,
            push_ticket_on_start=False,
            component_events_url=events_url,
            account_messages_url=receiver.url + "/wechat/accounts/{appid}/messages",
            start_domain=site.url,
            push_timeout=2.0,
        )
    ).start()
    try:
        ticket = post_json(f"{sandbox.url}/sandbox/push-ticket")["ticket"]
        assert receiver.wait_info("component_verify_ticket")["ComponentVerifyTicket"] == ticket
        token = post_json(
            f"{sandbox.url}/cgi-bin/component/api_component_token",
            {
                "component_appid": appid,
                "component_appsecret": settings["WECHAT_COMPONENT_APPSECRET"],
                "component_verify_ticket": ticket,
            },
        )
        assert isinstance(token.get("component_access_token"), str), token
        w = World(sandbox, site, receiver, appid, token["component_access_token"], [])
        site.authorize_url = w.authorize_url
        yield w
    finally:
        sandbox.stop()
        site.close()
        receiver.close()


# -- the flows -----------------------------------------------------------------------------------


def open_account_list(page: Page, start: str) -> list[str]:
    """From the vendor's start page, click through to WeChat's list; returns the offered appids."""
    page.goto(start)
    page.locator("#go").click()
    accounts = page.locator("#accounts")
    expect(accounts).to_be_visible()
    forms = accounts.locator("form.account[data-appid]")
    appids = [forms.nth(i).get_attribute("data-appid") or "" for i in range(forms.count())]
    assert appids, page.content()
    expect(accounts).to_have_attribute("data-count", str(len(appids)))
    return appids


def authorize_and_check(page: Page, world: World, appid: str, *, tap: bool = False) -> None:
    button = page.locator(f"#authorize-{appid}")
    if tap:
        button.tap()
    else:
        button.click()
    page.wait_for_url(f"{world.site.callback_url}?*")
    code = page.locator("#auth-code").inner_text()
    assert code.startswith("queryauthcode@@@"), code
    assert f"auth_code={code}" in page.url  # the @@@ left raw, as WeChat does
    expect(page.locator("#expires-in")).to_have_text("600")  # WeChat's codes live 10 minutes
    assert world.site.callbacks.get(timeout=PUSH_WAIT)["auth_code"] == code

    pushed = world.receiver.wait_info("authorized")
    assert pushed["AuthorizerAppid"] == appid
    assert pushed["AuthorizationCode"] == code
    assert pushed["AppId"] == world.component_appid
    assert pushed["PreAuthCode"] == world.pre_auth_codes[-1]


def test_pc_page_from_the_start_page_authorizes_and_pushes(page: Page, world: World) -> None:
    appids = open_account_list(page, world.site.url + "/")
    assert page.url.startswith(f"{world.sandbox.url}{PC_PATH}?")
    expect(page.locator("#wx-error")).to_have_count(0)
    kinds = {page.locator(f'form[data-appid="{a}"]').get_attribute("data-kind") for a in appids}
    assert kinds == {"official_account", "mini_program"}  # auth_type 3 offers both

    authorize_and_check(page, world, appids[0])


@pytest.mark.parametrize("path", [PC_PATH, MOBILE_PATH])
def test_typed_url_without_referer_shows_wechat_error(page: Page, world: World, path: str) -> None:
    page.goto(world.authorize_url(path))  # typed in the address bar: no Referer
    error = page.locator("#wx-error")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("data-error", "referer")
    expect(error).to_contain_text(REFERER_ERROR_ZH)
    expect(page.locator("#wx-error-reason")).to_have_text("Referer: (none)")
    expect(page.locator("#accounts")).to_have_count(0)


def test_mobile_page_authorizes_and_pushes(mobile_page: Page, world: World) -> None:
    page = mobile_page
    assert "MicroMessenger" in page.evaluate("navigator.userAgent")
    appids = open_account_list(page, world.site.url + "/mobile")
    assert page.url.startswith(f"{world.sandbox.url}{MOBILE_PATH}?action=bindcomponent&no_scan=1&")
    expect(page.locator("main")).to_contain_text("(mobile)")

    authorize_and_check(page, world, appids[-1], tap=True)


def test_account_list_screenshot(page: Page, world: World, tmp_path: Path) -> None:
    open_account_list(page, world.site.url + "/")
    # Every avatar (an SVG from the sandbox) has loaded before the picture is taken.
    page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    shot = tmp_path / "accounts.png"
    page.screenshot(path=shot, full_page=True)

    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1280, width
    assert height >= 400, height
    assert len(data) > 10_000, len(data)


# -- 320 px: the narrowest phone a page must fit (issue 21) -------------------------------------------

NARROW = 320
# Everything a page draws must lie within the window, and a button within its card's padding.
FITS = """() => {
  const root = document.documentElement;
  const problems = [];
  if (root.scrollWidth > innerWidth) problems.push('scrollWidth ' + root.scrollWidth);
  for (const element of document.querySelectorAll('main *')) {
    const box = element.getBoundingClientRect();
    if (box.width === 0) continue;
    const card = element.closest('main');
    const style = getComputedStyle(card);
    const right = card.getBoundingClientRect().right - parseFloat(style.paddingRight)
      - parseFloat(style.borderRightWidth);
    if (box.right > right + 0.5 && getComputedStyle(element.parentElement).overflowX === 'visible') {
      problems.push(element.tagName + (element.id ? '#' + element.id : '') + ' ends at ' + box.right + ' > ' + right);
    }
  }
  return problems;
}"""


@pytest.fixture
def narrow_page(browser: Browser) -> Iterator[Page]:
    """WeChat's in-app browser on a 320 px phone (an iPhone SE's width, the narrowest still sold)."""
    with _context(
        browser,
        user_agent=MOBILE_USER_AGENT,
        viewport={"width": NARROW, "height": 640},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    ) as context:
        yield context.new_page()


def assert_fits(page: Page) -> None:
    page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert page.evaluate("innerWidth") == NARROW
    assert page.evaluate(FITS) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW


def test_the_account_picker_fits_320_px(narrow_page: Page, world: World) -> None:
    open_account_list(narrow_page, world.site.url + "/mobile")
    assert_fits(narrow_page)


def test_the_pc_account_picker_fits_320_px_too(narrow_page: Page, world: World) -> None:
    open_account_list(narrow_page, world.site.url + "/")  # a link to the PC page opened on a phone
    assert_fits(narrow_page)


def test_the_web_login_page_fits_320_px(narrow_page: Page, world: World) -> None:
    appid = next(a["appid"] for a in world.sandbox.world.merchants.states() if a["kind"] == "official_account")
    post_json(f"{world.sandbox.url}/sandbox/authorize", {"appid": appid})
    query = {
        "appid": appid,
        "redirect_uri": world.site.callback_url,
        "response_type": "code",
        "scope": "snsapi_userinfo",
        "state": "s",
        "component_appid": world.component_appid,
    }
    narrow_page.goto(f"{world.sandbox.url}/connect/oauth2/authorize?{urllib.parse.urlencode(query)}#wechat_redirect")
    expect(narrow_page.locator("#users form.account")).to_have_count(3)
    assert_fits(narrow_page)
    narrow_page.locator("#allow-alice").tap()  # the button is where a thumb can reach it
    narrow_page.wait_for_url(f"{world.site.callback_url}?*")


def test_the_control_page_fits_320_px_and_has_a_favicon(narrow_page: Page, world: World) -> None:
    errors: list[str] = []
    narrow_page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    narrow_page.goto(f"{world.sandbox.url}/sandbox/")
    expect(narrow_page.locator("#account-table")).to_be_visible()
    assert_fits(narrow_page)
    icon = narrow_page.request.get(f"{world.sandbox.url}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
    narrow_page.reload()  # the browser asks for the icon by itself; nothing in the console
    expect(narrow_page.locator("#account-table")).to_be_visible()
    assert errors == []
