"""The merchant's pages (issue 12): Chinese first and English second everywhere, every error in
words a merchant understands with a way back, the reason in the log only, a policy computed from
what each page shows, and everything escaped."""

from __future__ import annotations

import base64
import hashlib
import importlib
import pkgutil
import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wxcomponent
from wxcomponent.domain.binding import check_same_browser
from wxcomponent.domain.errors import (
    BadRequest,
    ConfigurationError,
    NotAuthorized,
    StorageUnavailable,
    VerifyTicketMissing,
    WxComponentError,
    http_status,
)
from wxcomponent.domain.grants import Profile
from wxcomponent.domain.wechat import UpstreamUnavailable, error_for
from wxcomponent.services.authorization import (
    AuthorizationCodeMalformed,
    AuthorizationInProgress,
    AuthorizationRequest,
)
from wxcomponent.settings import Settings
from wxcomponent.web import pages

CJK = re.compile(r"[\u4e00-\u9fff]")
BRAND = pages.Brand("Demo SaaS", "https://cdn.example/brand/logo.svg")
RETRY = "https://auth.example/wechat/authorize"
SECRET_CODE = "queryauthcode@@@secret-code-never-shown"


def profile(
    nick_name: str = "全网发布测试号",
    head_img: str = "https://wx.qlogo.cn/mmopen/abc/0",
    principal_name: str = "示例公司",
) -> Profile:
    return Profile(
        authorizer_appid="wx570bc396a51b8ff8",
        nick_name=nick_name,
        head_img=head_img,
        user_name="gh_3c884a361561",
        alias="",
        principal_name=principal_name,
        service_type=2,
        verify_type=0,
        qrcode_url="",
        is_mini_program=False,
        updated_at=0,
    )


class Lines(HTMLParser):
    """Each heading, paragraph and button: the text before its `.en` span, and the span's text
    and language."""

    BLOCKS = ("h1", "p", "a")

    def __init__(self) -> None:
        super().__init__()
        self.html_lang = ""
        self.blocks: list[dict[str, str]] = []
        self._open: list[dict[str, str]] = []
        self._in_en = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.html_lang = attributes.get("lang") or ""
        if tag in self.BLOCKS:
            self._open.append({"tag": tag, "zh": "", "en": "", "en_lang": "", "id": attributes.get("id") or ""})
        elif tag == "span" and "en" in (attributes.get("class") or "").split() and self._open:
            self._in_en += 1
            self._open[-1]["en_lang"] = attributes.get("lang") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._in_en:
            self._in_en -= 1
        elif tag in self.BLOCKS and self._open:
            self.blocks.append(self._open.pop())

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1]["en" if self._in_en else "zh"] += data


def every_page() -> dict[str, pages.Page]:
    rendered = {
        "start (desktop)": pages.start_page(
            BRAND, 3, "https://mp.weixin.qq.com/cgi-bin/componentloginpage?a=1", mobile=False
        ),
        "start (phone)": pages.start_page(
            BRAND, 1, "https://open.weixin.qq.com/wxaopen/safe/bindcomponent", mobile=True
        ),
        "result": pages.result_page(BRAND, "wx570bc396a51b8ff8", profile()),
        "result without a profile": pages.result_page(BRAND, "wx570bc396a51b8ff8", None),
        "result without API permission": pages.result_page(
            BRAND, "wx570bc396a51b8ff8", profile(), api_permission=False
        ),
    }
    for _, failure in pages.FAILURES:
        rendered[failure.kind] = pages.error_page(failure, retry_url=RETRY, reference="c0ffee", brand=BRAND)
    return rendered


@pytest.mark.parametrize("name", list(every_page()))
def test_every_page_is_chinese_first_with_english_below(name: str) -> None:
    page = every_page()[name]
    lines = Lines()
    lines.feed(page.html)
    assert lines.html_lang == "zh-CN"
    texts = [block for block in lines.blocks if block["en"]]
    assert {"h1", "p", "a"} <= {block["tag"] for block in texts} or name.startswith("result")
    for block in lines.blocks:
        if block["tag"] == "a" or block["tag"] == "h1" or block["id"] == "message":
            assert block["en"], (name, block)  # no heading, button or message in one language only
    for block in texts:
        assert CJK.search(block["zh"]), (name, block)  # Chinese first …
        assert re.match(r"\s*[A-Z]", block["en"]) and block["en_lang"] == "en", (name, block)  # … English second
    title = re.search(r"<title>([^<]*)</title>", page.html)
    assert title is not None and CJK.match(title.group(1)), title


def test_the_button_label_cannot_wrap_and_every_page_has_an_inline_favicon() -> None:
    for page in every_page().values():
        buttons = re.findall(r'<a [^>]*class="button"[^>]*>(<span class="label">)?', page.html)
        assert all(buttons), buttons  # every button's Chinese is its one-line label
        assert f'<link rel="icon" href="{pages.FAVICON}">' in page.html
    assert pages.FAVICON.startswith("data:image/svg+xml,")
    style = re.search(r"<style>(.*)</style>", pages.start_page(BRAND, 3, "x", mobile=False).html)
    assert style is not None
    assert ".label{display:block;font-size:17px;font-weight:600;white-space:nowrap}" in style.group(1)
    assert "word-break:keep-all" in style.group(1)


def test_the_policy_allows_the_one_stylesheet_by_hash_and_exactly_the_images_shown() -> None:
    start = pages.start_page(BRAND, 3, "https://mp.weixin.qq.com/x", mobile=False)
    style = re.search(r"<style>(.*)</style>", start.html)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    policy = start.headers()["Content-Security-Policy"]
    assert policy == (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data: https://cdn.example; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    plain = pages.start_page(pages.Brand("Demo SaaS"), 3, "https://mp.weixin.qq.com/x", mobile=False)
    assert "img-src data:;" in plain.headers()["Content-Security-Policy"]
    assert "<img" not in plain.html
    result = pages.result_page(BRAND, "wx570bc396a51b8ff8", profile(head_img="http://127.0.0.1:3100/a.svg"))
    assert "img-src data: http://127.0.0.1:3100 https://cdn.example;" in result.headers()["Content-Security-Policy"]
    failure = pages.error_page(pages.LINK_EXPIRED, retry_url=RETRY)  # settings unreadable: no brand
    assert "img-src data:;" in failure.headers()["Content-Security-Policy"]
    for page in (start, plain, result, failure):
        assert "unsafe" not in page.headers()["Content-Security-Policy"]
        assert "<script" not in page.html and " style=" not in page.html  # nothing the policy would block


@pytest.mark.parametrize(
    "head_img",
    ["javascript:alert(1)", "https://evil.example;script-src *", "https://a b/c", "data:image/png;base64,AA", ""],
)
def test_an_avatar_we_cannot_name_in_the_policy_is_not_shown(head_img: str) -> None:
    page = pages.result_page(BRAND, "wx570bc396a51b8ff8", profile(head_img=head_img))
    assert 'id="avatar"' not in page.html
    assert page.headers()["Content-Security-Policy"].count(";") == 5  # nothing smuggled into the header
    assert "全网发布测试号" in page.html


def test_everything_from_settings_requests_and_wechat_is_escaped() -> None:
    brand = pages.Brand('<b>"Evil"</b> & Co', "https://cdn.example/logo.svg?x=1&y=2")
    page = pages.result_page(
        brand,
        "wx570bc396a51b8ff8",
        profile(nick_name="<script>alert(1)</script>", principal_name="<img src=x onerror=alert(1)>"),
    )
    assert "<script>" not in page.html and "<img src=x" not in page.html and "<b>" not in page.html
    assert "&lt;script&gt;" in page.html and "&lt;b&gt;&quot;Evil&quot;&lt;/b&gt; &amp; Co" in page.html
    assert 'alt="&lt;b&gt;&quot;Evil&quot;&lt;/b&gt; &amp; Co"' in page.html  # the logo's alt text: the name
    assert 'src="https://cdn.example/logo.svg?x=1&amp;y=2"' in page.html
    link = 'https://mp.weixin.qq.com/x?a=1&b="><script>'
    start = pages.start_page(brand, 3, link, mobile=False)
    assert 'href="https://mp.weixin.qq.com/x?a=1&amp;b=&quot;&gt;&lt;script&gt;"' in start.html


# -- every error a merchant can meet --------------------------------------------------------------


def _bad_start() -> Exception:
    try:
        AuthorizationRequest.from_query({"auth_type": "7"})
    except BadRequest as error:
        return error
    raise AssertionError("auth_type 7 was accepted")


def _not_this_browser() -> Exception:
    try:
        check_same_browser("a" * 32, "b" * 32)
    except BadRequest as error:
        return error
    raise AssertionError("a different state was accepted")


# What the authorization function can meet, each with the page it must get and its status.
ERRORS: list[tuple[Exception, pages.Failure, int]] = [
    (error_for(61010, "invalid authorization code", api="api_query_auth"), pages.LINK_EXPIRED, 400),
    (error_for(61009, "code is invalid", api="api_query_auth"), pages.LINK_EXPIRED, 400),
    (_not_this_browser(), pages.NOT_THIS_BROWSER, 400),
    (AuthorizationCodeMalformed("the callback carries no auth_code"), pages.LINK_INCOMPLETE, 400),
    (AuthorizationCodeMalformed("auth_code is malformed"), pages.LINK_INCOMPLETE, 400),
    (_bad_start(), pages.LINK_INVALID, 400),
    (BadRequest("state must be 1 to 128 of A-Z a-z 0-9 . _ ~ -"), pages.LINK_INVALID, 400),
    (AuthorizationInProgress("the authorization is still being completed"), pages.IN_PROGRESS, 502),
    (VerifyTicketMissing("no verify ticket yet"), pages.NOT_READY, 503),
    (error_for(61005, "component ticket is expired", api="api_component_token"), pages.NOT_READY, 502),
    (error_for(-1, "system error", api="api_create_preauthcode"), pages.WECHAT_UNAVAILABLE, 502),
    (error_for(45009, "reach max api daily quota limit", api="api_query_auth"), pages.SERVICE_UNAVAILABLE, 502),
    (error_for(99999, "something new", api="api_query_auth"), pages.WECHAT_UNAVAILABLE, 502),
    (error_for(40001, "invalid credential", api="api_create_preauthcode"), pages.SERVICE_UNAVAILABLE, 502),
    (UpstreamUnavailable("api_query_auth: timed out"), pages.WECHAT_UNAVAILABLE, 502),
    (error_for(61004, "access clientip 203.0.113.9 is not registered", api="x"), pages.SERVICE_UNAVAILABLE, 502),
    # not configured yet: the one map's status (503), whatever the page
    (
        ConfigurationError("invalid settings: LOGO_URL …"),
        pages.SERVICE_UNAVAILABLE,
        http_status(ConfigurationError("")),
    ),
    (StorageUnavailable("the table is throttled"), pages.SERVICE_UNAVAILABLE, 500),
    (NotAuthorized("wx… is not authorized"), pages.SERVICE_UNAVAILABLE, 404),
    (KeyError("Traceback-worthy internals"), pages.UNEXPECTED, 500),
]


@pytest.mark.parametrize(("error", "failure", "status"), ERRORS, ids=[f"{type(e).__name__}-{s}" for e, _, s in ERRORS])
def test_every_error_is_a_page_in_a_merchants_words_with_a_way_back_and_the_reason_in_the_log(
    error: Exception, failure: pages.Failure, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="wxcomponent"):
        page = pages.error_page_for(error, retry_url=RETRY + "?state=user-42", brand=BRAND)
    assert (page.status, f'data-failure="{failure.kind}"' in page.html) == (status, True)
    assert f'id="start-again" class="button" href="{RETRY}?state=user-42"' in page.html
    reason = getattr(error, "message", str(error))
    assert reason not in page.html and "errcode" not in page.html and "Traceback" not in page.html
    assert failure.title[0] in page.html and failure.message[0] in page.html
    [record] = [r for r in caplog.records if r.__dict__.get("failure") == failure.kind]
    assert record.levelname == ("WARNING" if status < 500 else "ERROR")
    logged = caplog.text + str(record.__dict__)
    assert reason in logged  # the reason is in the log, not on the page


def test_no_code_or_token_reaches_the_log_of_a_refused_code(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG", logger="wxcomponent"):
        pages.error_page_for(AuthorizationCodeMalformed("auth_code is malformed"), retry_url=RETRY)
        pages.error_page_for(error_for(61010, "invalid code", api="api_query_auth"), retry_url=RETRY)
    assert SECRET_CODE not in caplog.text and "queryauthcode@@@" not in caplog.text
    assert all("auth_code" not in str(r.__dict__.get(k, "")) for r in caplog.records for k in ("errcode", "error"))


def _every_error_class() -> set[type[WxComponentError]]:
    for module in pkgutil.walk_packages(wxcomponent.__path__, "wxcomponent."):
        importlib.import_module(module.name)
    found: set[type[WxComponentError]] = set()
    todo: list[type[WxComponentError]] = [WxComponentError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_of_the_core_has_a_merchant_page_and_bad_input_stays_a_4xx() -> None:
    for cls in _every_error_class():
        failure = pages.failure_for(cls.__new__(cls))
        assert failure is not pages.UNEXPECTED, cls
        if issubclass(cls, BadRequest):
            assert failure in (pages.LINK_INVALID, pages.LINK_INCOMPLETE, pages.NOT_THIS_BROWSER), cls
    kinds = [failure.kind for _, failure in pages.FAILURES]
    assert len(set(kinds)) == len({id(f) for _, f in pages.FAILURES})  # one kind names one page


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    logo=st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda host, path: f"https://{host}/{path}",
            st.one_of(st.from_regex(r"[A-Za-z0-9.-]{1,20}(:[0-9]{1,5})?", fullmatch=True), st.text(max_size=20)),
            st.text(max_size=40),
        ),
    ),
    product=st.text(max_size=40),
)
def test_a_logo_the_settings_accept_is_shown_and_named_in_the_policy_and_nothing_else_gets_in(
    logo: str, product: str
) -> None:
    try:
        configured = Settings.from_environment({"TABLE_NAME": "t-1", "EVENT_BUS_NAME": "b", "LOGO_URL": logo})
    except ConfigurationError:
        return
    brand = pages.Brand(product or "p", configured.logo_url)
    page = pages.start_page(brand, 3, "https://mp.weixin.qq.com/", mobile=False)
    policy = page.headers()["Content-Security-Policy"]
    images = re.search(r"img-src ([^;]*);", policy)
    assert images is not None
    if configured.logo_url:
        assert 'id="logo"' in page.html
        assert images.group(1).split() == ["data:", pages.image_origin(configured.logo_url)]
    assert policy.count(";") == 5 and "\n" not in policy and "," not in policy


def test_a_result_without_api_permission_says_so_instead_of_claiming_the_account_is_managed() -> None:
    page = pages.result_page(BRAND, "wx570bc396a51b8ff8", profile(), api_permission=False).html
    assert 'id="no-api-permission"' in page and "no API permission" in page
    assert "can now manage this account" not in page
    assert "can now manage this account" in pages.result_page(BRAND, "wx570bc396a51b8ff8", profile()).html
