"""The merchant's pages in Chromium (issue 12), on a 320 px phone and a 1280 px desktop: Chinese
first, the button's label on one line (微信 never split), no horizontal scrolling, the vendor's
logo, a Content-Security-Policy on every page and not one violation of it. Each page is also
photographed into docs/screenshots/ for the README."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Page, Request, Response, Route, ViewportSize

from tests.conftest import World

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PRODUCT = "Demo SaaS"
LOGO_URL = "https://logo.example/demo-saas.svg"
# The vendor's logo, served inside the browser by a route (nothing leaves loopback): shapes only,
# so it looks the same whatever fonts the machine has.
LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" '
    'fill="#2f6bff"/><circle cx="24" cy="32" r="11" fill="#fff"/><rect x="36" y="21" width="12" '
    'height="22" rx="3" fill="#fff" opacity=".75"/></svg>'
)
# The reference on an error page is the request's id, new on every request: pinned in the picture
# only, so that the committed screenshots do not change from run to run.
PINNED_REFERENCE = "3f2c9a1e-5b7d-4c8e-9f10-2a4b6c8d0e1f"
PHONE: ViewportSize = {"width": 320, "height": 568}
DEVICES = ["desktop", "phone"]
# Collects the page's CSP violations; an init script runs before the page's own content, and is not
# subject to the page's policy.
WATCH_VIOLATIONS = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation', e =>"
    " window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
)
# For every button: how many line boxes its Chinese label and its English line take, whether the
# line under 微 is the line under 信, and whether the label stays inside the button.
MEASURE_BUTTONS = """
() => Array.from(document.querySelectorAll('a.button')).map(button => {
  const lines = element => new Set(Array.from((() => {
    const range = document.createRange(); range.selectNodeContents(element); return range.getClientRects();
  })()).map(rect => Math.round(rect.top))).size;
  const label = button.querySelector('.label');
  const text = label.firstChild;
  const at = i => { const r = document.createRange(); r.setStart(text, i); r.setEnd(text, i + 1);
                    return r.getBoundingClientRect(); };
  const i = text.data.indexOf('微信');
  const box = button.getBoundingClientRect();
  const range = document.createRange(); range.selectNodeContents(label);
  const ink = range.getBoundingClientRect();
  return {
    id: button.id, label: text.data, labelLines: lines(label), englishLines: lines(button.querySelector('.en')),
    weixinSplit: i >= 0 && Math.round(at(i).top) !== Math.round(at(i + 1).top),
    inside: ink.left >= box.left && ink.right <= box.right,
  };
})
"""


@dataclass
class Watch:
    """What one page did in the browser: its policy violations (from the event), console errors,
    and every request it made."""

    page: Page
    console_errors: list[tuple[str, str]] = field(default_factory=list)  # (text, url)
    requests: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__violations || []")
        return found


@pytest.fixture
def brand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODUCT_NAME", PRODUCT)
    monkeypatch.setenv("LOGO_URL", LOGO_URL)


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> Iterator[tuple[str, Page, Watch]]:
    """A desktop (1280x800) or a phone (WeChat's user agent, 320x568, touch), watched."""
    name: str = request.param
    page: Page = request.getfixturevalue("page" if name == "desktop" else "mobile_page")
    if name == "phone":
        page.set_viewport_size(PHONE)
    yield name, page, watch(page)


def watch(page: Page) -> Watch:
    watched = Watch(page)
    page.add_init_script(WATCH_VIOLATIONS)
    page.on(
        "console", lambda m: watched.console_errors.append((m.text, m.location["url"])) if m.type == "error" else None
    )
    page.on("request", lambda request: watched.requests.append(request.url))

    def logo(route: Route, _: Request) -> None:
        route.fulfill(status=200, content_type="image/svg+xml", body=LOGO_SVG)

    page.route(LOGO_URL, logo)
    return watched


def check(watched: Watch, response: Response | None, *, page_id: str, status: int, width: int) -> dict[str, str]:
    """What every merchant page must be, wherever it is shown; returns its headers."""
    page = watched.page
    assert response is not None and response.status == status, response and response.status
    headers = response.headers
    policy = headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-"), policy
    for directive in ("frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"):
        assert directive in policy
    assert "unsafe" not in policy and "script-src" not in policy
    img_src = re.search(r"img-src ([^;]+);", policy)
    assert img_src is not None and "https://logo.example" in img_src.group(1).split()
    assert page.locator(f"main#{page_id}").is_visible()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    heading = page.locator("h1").inner_text()
    assert re.match(r"[\u4e00-\u9fff]", heading), heading  # Chinese first …
    assert page.locator("h1 .en").get_attribute("lang") == "en"  # … English under it
    logo = page.locator("#logo")
    assert logo.get_attribute("alt") == PRODUCT
    assert page.evaluate("document.getElementById('logo').complete && document.getElementById('logo').naturalWidth") > 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    for button in page.evaluate(MEASURE_BUTTONS):
        assert button["labelLines"] == 1 and button["englishLines"] == 1, button
        assert not button["weixinSplit"] and button["inside"], button
    assert watched.violations() == []
    # Chromium reports an error status as a console error; that one is the page's own status, expected.
    own = f"Failed to load resource: the server responded with a status of {status} "
    assert [e for e in watched.console_errors if not (e[1] == response.url and e[0].startswith(own))] == []
    assert not any("favicon" in url for url in watched.requests)  # the icon is inline
    return headers


def screenshot(page: Page, name: str, device: str) -> None:
    """docs/screenshots/<name>-<device>.png, rewritten only when the picture changed."""
    page.mouse.move(0, 0)  # no hover
    if page.locator("#reference").count():
        page.evaluate(f"document.getElementById('reference').textContent = '{PINNED_REFERENCE}'")
    picture = page.screenshot(full_page=True, animations="disabled", caret="hide")
    path = SCREENSHOTS / f"{name}-{device}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != picture:
        path.write_bytes(picture)


def width_of(device: str) -> int:
    return PHONE["width"] if device == "phone" else 1280


# -- the pages --------------------------------------------------------------------------------------


def test_the_start_page(world: World, brand: None, device: tuple[str, Page, Watch]) -> None:
    name, page, watched = device
    world.push_ticket()
    response = page.goto(f"{world.gateway.url}/wechat/authorize")
    check(watched, response, page_id="start", status=200, width=width_of(name))
    assert page.locator("#authorize .label").inner_text() == "前往微信授权"
    assert page.locator("#authorize .en").inner_text() == "Authorize with WeChat"
    assert page.locator("#product").inner_text() == PRODUCT
    how = "在微信中确认" if name == "phone" else "扫描二维码"
    assert how in page.locator("main p").first.inner_text()
    screenshot(page, "start", name)


def test_the_result_page(world: World, brand: None, device: tuple[str, Page, Watch]) -> None:
    name, page, watched = device
    world.push_ticket()
    page.goto(f"{world.gateway.url}/wechat/authorize")
    (page.tap if name == "phone" else page.click)("#authorize")
    page.wait_for_selector("#accounts")
    appid = page.locator("form.account").first.get_attribute("data-appid")
    with page.expect_response(lambda r: "/wechat/authorize/callback" in r.url) as answer:
        (page.tap if name == "phone" else page.click)(f"#authorize-{appid}")
    page.wait_for_selector("main#result")
    headers = check(watched, answer.value, page_id="result", status=200, width=width_of(name))
    avatar = page.locator("#avatar").get_attribute("src") or ""
    assert f"{world.sandbox.url}" == f"{urlsplit(avatar).scheme}://{urlsplit(avatar).netloc}"
    assert world.sandbox.url in headers["content-security-policy"]  # the avatar's origin, and no other
    assert page.evaluate("document.getElementById('avatar').naturalWidth") > 0
    assert page.locator("h1").inner_text().startswith("授权成功")
    screenshot(page, "result", name)


def test_an_expired_link(quiet_world: World, brand: None, device: tuple[str, Page, Watch]) -> None:
    name, page, watched = device
    quiet_world.push_ticket_to_table()
    code = quiet_world.control("POST", "authorize", {"appid": "wx570bc396a51b8ff8"})["auth_code"]
    page.goto(f"{quiet_world.gateway.url}/wechat/authorize?state=user-42")
    back = callback_query(page)
    quiet_world.control("POST", "clock", {"advance": 3601})  # WeChat's code lives an hour
    response = page.goto(
        f"{quiet_world.gateway.url}/wechat/authorize/callback?{urlencode({**back, 'auth_code': code})}"
    )
    check(watched, response, page_id="failure", status=400, width=width_of(name))
    assert page.locator("main").get_attribute("data-failure") == "link_expired"
    assert page.locator("h1").inner_text().startswith("授权链接已失效")
    again = page.locator("#start-again")
    assert again.get_attribute("href") == f"{quiet_world.gateway.url}/wechat/authorize?state=user-42"
    assert again.locator(".label").inner_text() == "重新发起授权"
    assert "61010" not in page.content() and "auth_code" not in page.content()
    screenshot(page, "link-expired", name)
    (again.tap if name == "phone" else again.click)()  # the way back works
    page.wait_for_selector("main#start")


def test_not_ready_yet(quiet_world: World, brand: None, device: tuple[str, Page, Watch]) -> None:
    name, page, watched = device
    response = page.goto(f"{quiet_world.gateway.url}/wechat/authorize?auth_type=1")  # no ticket yet
    check(watched, response, page_id="failure", status=503, width=width_of(name))
    assert page.locator("main").get_attribute("data-failure") == "not_ready"
    assert (
        page.locator("#start-again").get_attribute("href") == f"{quiet_world.gateway.url}/wechat/authorize?auth_type=1"
    )
    assert re.fullmatch(r"[0-9a-f-]{36}", page.locator("#reference").inner_text())
    screenshot(page, "not-ready", name)


def test_a_callback_from_another_browser(quiet_world: World, brand: None, page: Page) -> None:
    watched = watch(page)
    query = urlencode({"state": "s" * 32, "auth_code": "queryauthcode@@@abc"})
    response = page.goto(f"{quiet_world.gateway.url}/wechat/authorize/callback?{query}")
    check(watched, response, page_id="failure", status=400, width=1280)
    assert page.locator("main").get_attribute("data-failure") == "not_this_browser"
    assert quiet_world.calls("api_query_auth") == 0


# -- the checks can fail ------------------------------------------------------------------------------


def test_the_checks_see_a_violation_and_a_wrapped_label(world: World, brand: None, mobile_page: Page) -> None:
    """Controls: the same start page with a policy that lacks its stylesheet's hash is seen
    violating it, and a label forced narrow is seen on two lines with 微信 split."""
    page = mobile_page
    page.set_viewport_size(PHONE)
    watched = watch(page)
    world.push_ticket()

    def without_the_style(route: Route, _: Request) -> None:
        real = route.fetch()
        policy = re.sub(r"style-src [^;]+;", "style-src 'none';", real.headers["content-security-policy"])
        route.fulfill(response=real, headers={**real.headers, "content-security-policy": policy})

    page.route(re.compile(r".*/wechat/authorize$"), without_the_style)
    page.goto(f"{world.gateway.url}/wechat/authorize")
    assert any(v.startswith("style-src") for v in watched.violations()), watched.violations()
    forced = "l => { l.style.display = 'block'; l.style.whiteSpace = 'normal'; l.style.width = '3em'; }"
    page.locator(".label").evaluate(forced)  # CSSOM, which the policy allows
    [button] = page.evaluate(MEASURE_BUTTONS)
    assert button["labelLines"] > 1 and button["weixinSplit"], button


def callback_query(page: Page) -> dict[str, str]:
    """The query WeChat will send back, read from the start page's link (its redirect_uri)."""
    href = page.get_attribute("#authorize", "href") or ""
    redirect_uri = parse_qs(urlsplit(href).query)["redirect_uri"][0]
    return {k: v[-1] for k, v in parse_qs(urlsplit(redirect_uri).query).items()}
