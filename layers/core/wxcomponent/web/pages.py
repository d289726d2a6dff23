"""The HTML a merchant's admin sees on our domain: the start page, the result, and failures.

Everything that comes from a request or from WeChat is escaped; pages carry no script.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from wxcomponent.domain.errors import WxComponentError, http_status
from wxcomponent.domain.grants import Profile
from wxcomponent.domain.wechat import AuthorizationCodeRejected
from wxcomponent.observability import logger

AUTH_TYPE_LABELS = {
    1: "your Official Account (公众号)",
    2: "your Mini Program (小程序)",
    3: "your Official Account or Mini Program (公众号或小程序)",
    4: "your 推客 account",
    5: "your Channels account (视频号)",
    6: "all your accounts (全部)",
    8: "your 带货助手 account",
}

_STYLE = """
body{font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Microsoft YaHei",sans-serif;
background:#f5f6f7;color:#191919;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:40px;max-width:440px;width:90%}
h1{font-size:22px;margin:0 0 12px}p{line-height:1.6;color:#4c4c4c}
.button{display:inline-block;background:#07c160;color:#fff;text-decoration:none;padding:12px 28px;
border-radius:6px;font-size:16px;margin-top:16px}.button:hover{background:#06ad56}
.account{display:flex;align-items:center;gap:16px;margin:20px 0}.account img{width:64px;height:64px;border-radius:50%}
.muted{font-size:13px;color:#888}.error h1{color:#fa5151}
"""


def _page(title: str, body: str, *, page_id: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main id="{page_id}">{body}</main></body></html>'
    )


def start_page(product: str, auth_type: int, link: str, *, mobile: bool) -> str:
    """One button to WeChat's authorization page; `referrerpolicy="origin"` keeps the Referer that
    WeChat's check needs when browsers would strip it."""
    what = AUTH_TYPE_LABELS.get(auth_type, "your account")
    how = "confirm in WeChat" if mobile else "scan the QR code with the administrator's WeChat"
    return _page(
        f"Authorize {product}",
        f"<h1>Authorize {escape(product)}</h1>"
        f"<p>{escape(product)} asks to manage {escape(what)} on your behalf. "
        f"On WeChat's page, {escape(how)} and choose the permissions to grant.</p>"
        f'<a id="authorize" class="button" href="{escape(link, quote=True)}" referrerpolicy="origin">'
        "Authorize with WeChat 前往微信授权</a>"
        '<p class="muted">You can revoke this at any time in the account settings.</p>',
        page_id="start",
    )


def result_page(product: str, authorizer_appid: str, profile: Profile | None) -> str:
    if profile is not None:
        who = (
            f'<div class="account"><img id="avatar" src="{escape(profile.head_img, quote=True)}" alt="">'
            f'<div><strong id="nick-name">{escape(profile.nick_name)}</strong><br>'
            f'<span class="muted">{escape(profile.principal_name)} · {escape(authorizer_appid)}</span></div></div>'
        )
    else:
        who = f'<p>Account <strong id="authorizer-appid">{escape(authorizer_appid)}</strong></p>'
    return _page(
        "Authorized",
        f"<h1>Authorized 授权成功</h1>{who}"
        f"<p>{escape(product)} can now manage this account. You may close this page.</p>",
        page_id="result",
    )


def error_page(title: str, message: str, *, retry_url: str, reference: str = "") -> str:
    shown = f'<p class="muted">Reference 编号: <span id="reference">{escape(reference)}</span></p>' if reference else ""
    return _page(
        title,
        f'<div class="error"><h1>{escape(title)}</h1><p id="message">{escape(message)}</p>'
        f'<a id="start-again" class="button" href="{escape(retry_url, quote=True)}">Start again 重新授权</a>'
        f"{shown}</div>",
        page_id="failure",
    )


# What a merchant reads for each status: our words only, never WeChat's errmsg (a 61004 names our
# egress IP) nor our own reasons, which go to the log under the same reference.
_FAILURES = {
    400: (
        "Invalid link 链接无效",
        "This link is incomplete or no longer valid. Please start again. 链接不完整或已失效，请重新开始。",
    ),
    503: (
        "Not ready yet 暂不可用",
        "Authorization is not available yet. Please try again in a few minutes. 授权暂不可用，请几分钟后再试。",
    ),
}
_SOMETHING_WRONG = ("Something went wrong 出错了", "Please try again in a moment. 请稍后再试。")


def error_page_for(error: Exception, *, retry_url: str) -> tuple[int, str]:
    """The one rendering of a failure on the merchant's pages: its status, and a page in our words
    with a way to start again and a reference to find the details in the log."""
    reference = logger.get_correlation_id() or ""
    if isinstance(error, AuthorizationCodeRejected):
        logger.warning("authorization code refused", extra={"errcode": error.errcode})
        html = error_page(
            "This authorization link has expired 授权已失效",
            "The code WeChat gave back has expired or was already used. Please start again."
            " 授权码已过期或已被使用，请重新授权。",
            retry_url=retry_url,
            reference=reference,
        )
        return 400, html
    if isinstance(error, WxComponentError):
        status = http_status(error)
        (logger.warning if status < 500 else logger.error)(
            "authorization page failed",
            extra={"error": type(error).__name__, "reason": error.message, "errcode": error.errcode},
        )
        title, message = _FAILURES.get(status, _SOMETHING_WRONG)
        return status, error_page(title, message, retry_url=retry_url, reference=reference)
    logger.exception("unexpected error")
    return 500, error_page(*_SOMETHING_WRONG, retry_url=retry_url, reference=reference)


_STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode("ascii")


def page_headers(image_origin: str = "") -> dict[str, str]:
    """Every page's headers: nothing but our one stylesheet and images may load, no frame may hold
    the page, no Referer leaves it (the result URL carries `auth_code`; the start link sets its own
    `referrerpolicy="origin"` for WeChat's check), no sniffing, no caching. `image_origin` adds a
    non-https origin for avatars (the local sandbox)."""
    images = "https: data:" + (f" {image_origin}" if image_origin else "")
    policy = (
        f"default-src 'none'; style-src '{_STYLE_HASH}'; img-src {images}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
