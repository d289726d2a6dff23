"""The HTML a merchant's admin sees on our domain: the start page, the result, and failures.

Chinese first, English below it in a smaller line (`lang="en"`), on every page. Everything that
comes from a request, from WeChat or from the settings is escaped. A page carries no script, one
stylesheet (allowed by its hash) and an inline favicon, so the browser fetches nothing but the
page and the images it shows (the vendor's logo, the account's avatar); its Content-Security-Policy
is computed from exactly those (`Page.headers`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from wxcomponent.domain.binding import StateMismatch
from wxcomponent.domain.errors import (
    BadRequest,
    ConfigurationError,
    StorageUnavailable,
    VerifyTicketMissing,
    WxComponentError,
    http_status,
)
from wxcomponent.domain.grants import Profile
from wxcomponent.domain.wechat import (
    AuthorizationCodeRejected,
    ConfigurationRejected,
    QuotaExceeded,
    TokenRejected,
    UpstreamError,
    VerifyTicketRejected,
)
from wxcomponent.observability import logger
from wxcomponent.services.authorization import AuthorizationCodeMalformed, AuthorizationInProgress

Text = tuple[str, str]  # (Chinese, English)

AUTH_TYPE_LABELS: dict[int, Text] = {
    1: ("你的公众号", "your Official Account"),
    2: ("你的小程序", "your Mini Program"),
    3: ("你的公众号或小程序", "your Official Account or Mini Program"),
    4: ("你的推客账号", "your promoter (推客) account"),
    5: ("你的视频号", "your Channels account"),
    6: ("你的全部账号", "all your accounts"),
    8: ("你的带货助手账号", "your sales assistant (带货助手) account"),
}
_ANY_ACCOUNT: Text = ("你的账号", "your account")

# One stylesheet for every page, allowed by its hash. The button's label never wraps (`nowrap`,
# `keep-all`): a phone once showed 前往微 / 信授权. Sizes fit a 320 px screen.
_STYLE = (
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}"
    "body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:16px;"
    'background:#f2f3f5;color:#191919;font:15px/1.6 -apple-system,BlinkMacSystemFont,"PingFang SC",'
    '"Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif}'
    "main{width:100%;max-width:420px;background:#fff;border-radius:12px;box-shadow:0 2px 16px rgba(0,0,0,.08);"
    "padding:32px 24px;text-align:center;overflow-wrap:anywhere}"
    ".brand{display:flex;align-items:center;justify-content:center;gap:8px;margin:0 0 20px;color:#4c4c4c;"
    "font-size:14px;font-weight:600}"
    ".brand img{width:28px;height:28px;border-radius:6px;object-fit:contain;flex:none}"
    ".icon{display:block;width:52px;height:52px;margin:0 auto 14px}"
    "h1{font-size:21px;line-height:1.4;margin:0;font-weight:600}"
    ".en,.sub{display:block;font-size:13px;line-height:1.5;color:#8a8a8a;font-weight:400;margin-top:2px}"
    "h1 .en{font-size:14px;margin-top:4px}"
    "p{margin:16px 0 0;color:#4c4c4c}"
    ".button{display:block;margin:28px auto 0;max-width:280px;padding:11px 16px;border-radius:8px;"
    "background:#07c160;color:#fff;text-decoration:none;word-break:keep-all}"
    ".button:hover{background:#06ad56}"
    ".button:focus-visible{outline:3px solid #9be3bd;outline-offset:2px}"
    ".label{display:block;font-size:17px;font-weight:600;white-space:nowrap}"
    ".button .en{color:rgba(255,255,255,.88);white-space:nowrap;margin-top:0}"
    ".account{display:flex;align-items:center;gap:14px;margin:20px 0 0;padding:14px;border-radius:10px;"
    "background:#f7f8fa;text-align:left}"
    ".account img{width:52px;height:52px;border-radius:50%;flex:none}"
    ".account strong{display:block;font-size:16px;line-height:1.4}"
    ".muted{font-size:13px;color:#8a8a8a;margin-top:20px}"
    ".muted .en{font-size:12px}"
    ".reference{display:block;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#4c4c4c}"
    "@media (max-width:360px){body{padding:12px}main{padding:28px 18px}h1{font-size:19px}}"
)
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode("ascii")

# A green square with a white tick, inline so that no favicon request is ever made.
FAVICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E"
    "%3Crect width='32' height='32' rx='8' fill='%2307c160'/%3E"
    "%3Cpath d='M9 16.5l4.5 4.5L23 11.5' fill='none' stroke='%23fff' stroke-width='3' "
    "stroke-linecap='round' stroke-linejoin='round'/%3E%3C/svg%3E"
)
_SVG = '<svg class="icon" viewBox="0 0 52 52" aria-hidden="true">'
_ICONS = {
    "start": _SVG + '<circle cx="26" cy="26" r="26" fill="#e7f8ef"/><path d="M26 14l10 4v7c0 7-4.3 11.6-10 13'
    '-5.7-1.4-10-6-10-13v-7z" fill="#07c160"/><path d="M21.5 26l3.2 3.2 6-6.4" fill="none" stroke="#fff" '
    'stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/></svg>',
    "result": _SVG + '<circle cx="26" cy="26" r="26" fill="#07c160"/><path d="M16 26.5l6.5 6.5L36 19.5" '
    'fill="none" stroke="#fff" stroke-width="4" stroke-linecap="round" stroke-linejoin="round"/></svg>',
    "failure": _SVG + '<circle cx="26" cy="26" r="26" fill="#fff3e0"/><path d="M26 14v15" stroke="#fa9d3b" '
    'stroke-width="4.5" stroke-linecap="round"/><circle cx="26" cy="37" r="2.8" fill="#fa9d3b"/></svg>',
}
# An image source we put in a page and in its policy: scheme, host and port, nothing a header or an
# attribute could be broken with.
_ORIGIN_RE = re.compile(r"(https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?)(?:[/?#][^\s\"'<>\\]*)?")


@dataclass(frozen=True)
class Brand:
    """Who asks: the vendor's product name and optional logo (settings PRODUCT_NAME, LOGO_URL).
    Empty when the settings cannot be read, so that an error page still renders."""

    product: str = ""
    logo_url: str = ""


@dataclass(frozen=True)
class Page:
    """A rendered page: its status, its HTML, and the origins of the images it shows."""

    html: str
    images: tuple[str, ...] = ()
    status: int = 200

    def headers(self) -> dict[str, str]:
        return page_headers(self.images)


def start_page(brand: Brand, auth_type: int, link: str, *, mobile: bool) -> Page:
    """One button to WeChat's authorization page; `referrerpolicy="origin"` keeps the Referer that
    WeChat's check needs when browsers would strip it."""
    product = brand.product
    what_zh, what_en = AUTH_TYPE_LABELS.get(auth_type, _ANY_ACCOUNT)
    if mobile:
        how: Text = ("在微信中确认", "confirm in WeChat")
    else:
        how = ("用管理员的微信扫描二维码", "scan the QR code with the administrator's WeChat")
    body = (
        _ICONS["start"]
        + _heading((f"授权给 {product}", f"Authorize {product}"))
        + _paragraph(
            (
                f"{product} 请求代你管理{what_zh}。接下来请{how[0]}，并选择要授予的权限。",
                f"{product} asks to manage {what_en} on your behalf. Next, {how[1]} and choose the permissions "
                "to grant.",
            )
        )
        + f'<a id="authorize" class="button" href="{escape(link, quote=True)}" referrerpolicy="origin">'
        + _button_label(("前往微信授权", "Authorize with WeChat"))
        + "</a>"
        + _paragraph(
            ("你可以随时在公众平台的授权管理中取消授权。", "You can revoke this at any time in the account settings."),
            css="muted",
        )
    )
    return _page(brand, ("授权", "Authorize"), body, page_id="start")


def result_page(brand: Brand, authorizer_appid: str, profile: Profile | None, *, api_permission: bool = True) -> Page:
    """The account the merchant authorized. One without API permission is recorded, but the platform
    can do nothing with it yet: the page says so rather than claim success."""
    images: tuple[str, ...] = ()
    avatar = ""
    if profile is not None:
        origin = image_origin(profile.head_img)
        if origin:
            avatar = f'<img id="avatar" src="{escape(profile.head_img, quote=True)}" alt="">'
            images = (origin,)
        who = (
            f'<div class="account">{avatar}<div><strong id="nick-name">{escape(profile.nick_name)}</strong>'
            f'<span class="sub">{escape(profile.principal_name)}</span>'
            f'<span class="sub">{escape(authorizer_appid)}</span></div></div>'
        )
    else:
        who = f'<div class="account"><div><strong id="authorizer-appid">{escape(authorizer_appid)}</strong></div></div>'
    product = brand.product
    if api_permission:
        text: Text = (
            f"{product} 现在可以管理这个账号了。你可以关闭此页面。",
            f"{product} can now manage this account. You may close this page.",
        )
    else:
        text = (
            f"授权已记录，但这个账号没有接口权限，{product} 暂时无法代它调用接口。账号获得接口权限后，请重新授权。",
            f"The authorization is recorded, but this account has no API permission, so {product} cannot call"
            " WeChat on its behalf yet. Authorize again once the account has API permission.",
        )
    note = _paragraph(text, element_id="" if api_permission else "no-api-permission")
    body = _ICONS["result"] + _heading(("授权成功", "Authorized")) + who + note
    return _page(brand, ("授权成功", "Authorized"), body, page_id="result", images=images)


@dataclass(frozen=True)
class Failure:
    """What a merchant reads for one kind of failure: our words, never a reason of ours or WeChat's
    (a 61004 errmsg names our egress IP); those go to the log under the page's reference."""

    kind: str  # in the log and in the page's data-failure
    title: Text
    message: Text
    action: Text  # the button back to the start page
    status: int | None = None  # when not the error's own (http_status)


_START_AGAIN: Text = ("重新发起授权", "Start again")
_TRY_AGAIN: Text = ("重试", "Try again")
_CONTACT = ("如果问题持续，请联系服务商。", "If it keeps happening, contact the provider.")
LINK_EXPIRED = Failure(
    "link_expired",
    ("授权链接已失效", "The authorization link has expired"),
    (
        "授权码已过期或已被使用，请返回重新发起授权。",
        "The authorization code has expired or was already used. Please start again.",
    ),
    _START_AGAIN,
    status=400,  # WeChat refused the code the request brought: the request's fault, not an upstream failure
)
NOT_THIS_BROWSER = Failure(
    "not_this_browser",
    ("授权链接已失效", "This authorization link is no longer valid"),
    (
        "这个链接已经用过，或授权不是在这个浏览器中发起的。请在同一个浏览器中重新发起授权。",
        "It was used already, or the authorization was started in another browser. Please start again in this browser.",
    ),
    _START_AGAIN,
)
LINK_INCOMPLETE = Failure(
    "link_incomplete",
    ("授权未完成", "The authorization was not completed"),
    (
        "微信返回的链接不完整，请返回重新发起授权。",
        "The link back from WeChat is incomplete. Please start again.",
    ),
    _START_AGAIN,
)
LINK_INVALID = Failure(
    "link_invalid",
    ("授权链接有误", "This authorization link is not valid"),
    (
        "链接中的参数有误。请重新发起授权；" + _CONTACT[0],
        "Something in the link is wrong. Please start again. " + _CONTACT[1],
    ),
    _START_AGAIN,
)
IN_PROGRESS = Failure(
    "in_progress",
    ("授权正在处理中", "Your authorization is still being completed"),
    (
        "请稍后刷新此页面查看结果。",
        "Please refresh this page in a moment to see the result.",
    ),
    _START_AGAIN,
)
NOT_READY = Failure(
    "not_ready",
    ("暂时无法授权", "Authorization is not available yet"),
    (
        "服务正在准备中，请几分钟后再试。",
        "The service is getting ready. Please try again in a few minutes.",
    ),
    _TRY_AGAIN,
)
WECHAT_UNAVAILABLE = Failure(
    "wechat_unavailable",
    ("微信暂时没有响应", "WeChat is not responding right now"),
    ("请稍后再试。" + _CONTACT[0], "Please try again in a moment. " + _CONTACT[1]),
    _TRY_AGAIN,
)
SERVICE_UNAVAILABLE = Failure(
    "service_unavailable",
    ("服务暂时不可用", "The service is temporarily unavailable"),
    ("请稍后再试。" + _CONTACT[0], "Please try again later. " + _CONTACT[1]),
    _TRY_AGAIN,
)
UNEXPECTED = Failure(
    "unexpected",
    ("出错了", "Something went wrong"),
    ("请稍后再试。" + _CONTACT[0], "Please try again later. " + _CONTACT[1]),
    _TRY_AGAIN,
)

# Every error the authorization function can meet, most specific first; the first match wins.
FAILURES: tuple[tuple[type[Exception], Failure], ...] = (
    (AuthorizationCodeRejected, LINK_EXPIRED),
    (StateMismatch, NOT_THIS_BROWSER),
    (AuthorizationCodeMalformed, LINK_INCOMPLETE),
    (BadRequest, LINK_INVALID),
    (AuthorizationInProgress, IN_PROGRESS),
    (VerifyTicketMissing, NOT_READY),
    (VerifyTicketRejected, NOT_READY),
    # WeChat answered, but only an operator can help: our IP, appid or secret, or the day's quota.
    (ConfigurationRejected, SERVICE_UNAVAILABLE),
    (TokenRejected, SERVICE_UNAVAILABLE),
    (QuotaExceeded, SERVICE_UNAVAILABLE),
    (UpstreamError, WECHAT_UNAVAILABLE),
    (ConfigurationError, SERVICE_UNAVAILABLE),
    (StorageUnavailable, SERVICE_UNAVAILABLE),
    (WxComponentError, SERVICE_UNAVAILABLE),
    (Exception, UNEXPECTED),
)


def failure_for(error: Exception) -> Failure:
    return next(failure for kind, failure in FAILURES if isinstance(error, kind))


def error_page_for(error: Exception, *, retry_url: str, brand: Brand | None = None) -> Page:
    """The one rendering of a failure on the merchant's pages: its status (4xx for what the request
    got wrong), a page in our words with a way back, and a reference that finds the reason in the
    log. The reason is logged, never shown; no reason carries a code or a token."""
    failure = failure_for(error)
    reference = logger.get_correlation_id() or ""
    if isinstance(error, WxComponentError):
        status = failure.status or http_status(error)
        (logger.warning if status < 500 else logger.error)(
            "merchant page failed",
            extra={
                "failure": failure.kind,
                "error": type(error).__name__,
                "reason": error.message,
                "errcode": error.errcode,
            },
        )
    else:
        status = 500
        logger.error("merchant page failed unexpectedly", exc_info=error, extra={"failure": failure.kind})
    return error_page(failure, retry_url=retry_url, reference=reference, brand=brand, status=status)


def error_page(
    failure: Failure, *, retry_url: str, reference: str = "", brand: Brand | None = None, status: int = 400
) -> Page:
    shown = ""
    if reference:
        shown = (
            '<p class="muted">如需帮助，请向服务商提供此编号：<span class="en" lang="en">If you need help, give the '
            f'provider this reference:</span><span class="reference" id="reference">{escape(reference)}</span></p>'
        )
    body = (
        _ICONS["failure"]
        + _heading(failure.title)
        + _paragraph(failure.message, element_id="message")
        + f'<a id="start-again" class="button" href="{escape(retry_url, quote=True)}">'
        + _button_label(failure.action)
        + "</a>"
        + shown
    )
    return _page(brand or Brand(), failure.title, body, page_id="failure", status=status, data_failure=failure.kind)


def image_origin(url: str) -> str:
    """The origin of an http(s) image URL, for the policy's img-src; "" when it is not one we can
    name safely (then the image is not shown)."""
    match = _ORIGIN_RE.fullmatch(url)
    return match.group(1).lower() if match else ""


def page_headers(images: Iterable[str] = ()) -> dict[str, str]:
    """Every page's headers. The policy allows what the page uses and nothing else: our one
    stylesheet by hash; images from data: (the favicon) and the origins of the images it shows; no
    script, no form, no frame may hold it, no base. No Referer leaves a page (the result URL carries
    `auth_code`; the link to WeChat sets its own `referrerpolicy="origin"` for WeChat's check); no
    sniffing, no caching."""
    sources = " ".join(["data:", *sorted(set(images))])
    policy = (
        f"default-src 'none'; style-src '{STYLE_HASH}'; img-src {sources}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


# -- the parts of a page --------------------------------------------------------------------------


def _page(
    brand: Brand,
    title: Text,
    body: str,
    *,
    page_id: str,
    images: tuple[str, ...] = (),
    status: int = 200,
    data_failure: str = "",
) -> Page:
    header, logo = _brand_header(brand)
    full_title = f"{title[0]} · {title[1]}" + (f" | {brand.product}" if brand.product else "")
    failure = f' data-failure="{escape(data_failure, quote=True)}"' if data_failure else ""
    html = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(full_title)}</title><link rel="icon" href="{FAVICON}">'
        f"<style>{_STYLE}</style></head>"
        f'<body><main id="{page_id}"{failure}>{header}{body}</main></body></html>'
    )
    return Page(html, images + logo, status)


def _brand_header(brand: Brand) -> tuple[str, tuple[str, ...]]:
    """The product's name, beside its logo when one is set (alt text: the name)."""
    if not brand.product:
        return "", ()
    origin = image_origin(brand.logo_url) if brand.logo_url else ""
    logo = ""
    if origin:
        logo = f'<img id="logo" src="{escape(brand.logo_url, quote=True)}" alt="{escape(brand.product, quote=True)}">'
    header = f'<div class="brand">{logo}<span id="product">{escape(brand.product)}</span></div>'
    return header, (origin,) if origin else ()


def _heading(text: Text) -> str:
    return f'<h1>{escape(text[0])}<span class="en" lang="en">{escape(text[1])}</span></h1>'


def _paragraph(text: Text, *, css: str = "", element_id: str = "") -> str:
    attributes = (f' id="{element_id}"' if element_id else "") + (f' class="{css}"' if css else "")
    return f'<p{attributes}>{escape(text[0])}<span class="en" lang="en">{escape(text[1])}</span></p>'


def _button_label(text: Text) -> str:
    return f'<span class="label">{escape(text[0])}</span><span class="en" lang="en">{escape(text[1])}</span>'
