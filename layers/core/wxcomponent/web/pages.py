"""The HTML a merchant's admin sees on our domain: the start page, the result, and failures.

Everything that comes from a request or from WeChat is escaped; pages carry no script.
"""

from __future__ import annotations

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


def error_page(title: str, message: str, *, retry_url: str) -> str:
    return _page(
        title,
        f'<div class="error"><h1>{escape(title)}</h1><p id="message">{escape(message)}</p>'
        f'<a id="start-again" class="button" href="{escape(retry_url, quote=True)}">Start again 重新授权</a></div>',
        page_id="failure",
    )


def error_page_for(error: Exception, *, retry_url: str) -> tuple[int, str]:
    """The one rendering of a failure on the merchant's pages: its status and a page with a way to
    start again, never a stack trace. Logged here, with the reason the page leaves out."""
    if isinstance(error, AuthorizationCodeRejected):
        logger.warning("authorization code refused", extra={"errcode": error.errcode})
        html = error_page(
            "This authorization link has expired 授权已失效",
            "The code WeChat gave back has expired or was already used. Please start again.",
            retry_url=retry_url,
        )
        return 400, html
    if isinstance(error, WxComponentError):
        status = http_status(error)
        (logger.warning if status < 500 else logger.error)(
            "authorization page failed", extra={"error": type(error).__name__, "reason": error.message}
        )
        titles = {400: "Invalid request 请求无效", 503: "Not ready yet 暂不可用"}
        return status, error_page(titles.get(status, "Something went wrong 出错了"), error.message, retry_url=retry_url)
    logger.exception("unexpected error")
    return 500, error_page("Something went wrong 出错了", "Please try again in a moment.", retry_url=retry_url)
