"""What an authorized Official Account's web pages need (docs/protocol.md §7), without I/O: the
JS-SDK signature a page's `wx.config` carries, the link that starts web login on the account's
behalf, and what a login gives. `TokenClient` adds the ticket and the vends (the code's exchange
is the token center's: the component token never leaves it)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from wxcomponent_client.wechat import WeChatError

DEFAULT_OPEN_BASE = "https://open.weixin.qq.com"
SCOPES = ("snsapi_base", "snsapi_userinfo")
LANGS = ("zh_CN", "zh_TW", "en")  # the language of the visitor's profile (sns/userinfo's `lang`)
# WeChat's `state` is at most 128 bytes of letters and digits. Ours is at least 16: it is what binds
# the visitor's return to their session (login CSRF, L7), so it must not be guessable or empty.
MIN_STATE = 16
_STATE = re.compile(r"[A-Za-z0-9]{16,128}")
_APPID = re.compile(r"wx[0-9a-f]{16}")
COMPONENT_APPID_ENV = "WECHAT_COMPONENT_APPID"
_NONCE_ALPHABET = string.ascii_letters + string.digits
# What sns/oauth2/component/access_token answers for a code it will not exchange: invalid or
# expired (40029), already used (40163), or from another account (40029).
CODE_REJECTED = frozenset({40029, 40163})


def page_url(url: str) -> str:
    """The URL the JS-SDK signs: the page's whole URL without its `#fragment`, nothing else changed.
    `ValueError` for anything that is not an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("url must be the page's absolute http(s) URL, as location.href gives it")
    return url.split("#", 1)[0]


def jsapi_signature(ticket: str, nonce_str: str, timestamp: int | str, url: str) -> str:
    """SHA-1 hex of `jsapi_ticket=…&noncestr=…&timestamp=…&url=…`: the keys in ASCII order, the
    values raw (not URL-encoded), the URL without its fragment."""
    text = f"jsapi_ticket={ticket}&noncestr={nonce_str}&timestamp={timestamp}&url={page_url(url)}"
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def jsapi_config(appid: str, ticket: str, url: str, timestamp: int, nonce_str: str | None = None) -> dict[str, Any]:
    """The fields a page passes to `wx.config` (add `jsApiList` and, if you like, `debug`)."""
    nonce = nonce_str if nonce_str is not None else "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(16))
    return {
        "appId": appid,
        "timestamp": timestamp,
        "nonceStr": nonce,
        "signature": jsapi_signature(ticket, nonce, timestamp, url),
    }


def oauth_url(open_base: str, appid: str, redirect_uri: str, scope: str, state: str, component_appid: str) -> str:
    """The link that sends a visitor to web login on the account's behalf. WeChat matches the
    parameters in this order, so the order is kept exactly."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    target = urlsplit(redirect_uri)
    if target.scheme not in ("http", "https") or not target.netloc:
        raise ValueError("redirect_uri must be an absolute http(s) URL on the platform's page domain")
    if not _STATE.fullmatch(state):
        raise ValueError(
            f"state must be {MIN_STATE} to 128 letters and digits, random per visitor and kept in their session"
            " (secrets.token_hex(16) makes one): it is what proves the return is theirs"
        )
    query = urlencode(
        [
            ("appid", appid),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", scope),
            ("state", state),
            ("component_appid", component_appid),
        ]
    )
    return f"{open_base.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"


@dataclass(frozen=True)
class WebUser:
    """Who logged in through web login: the `openid` the account knows them by, the `scope` they
    granted, `unionid` when WeChat gives one, and for `snsapi_userinfo` their `nickname` and
    `avatar` (WeChat's `headimgurl`). `is_snapshotuser` is WeChat's flag for a visitor in the
    page's snapshot mode (朋友圈快照页): their openid and unionid are virtual, not the user's, so
    bind nothing to them and ask them to open the page fully."""

    openid: str
    scope: str
    unionid: str | None = None
    nickname: str | None = None
    avatar: str | None = None
    is_snapshotuser: bool = False


def component_appid(given: str | None) -> str | None:
    """The component's appid from configuration: `given`, else the environment variable
    `WECHAT_COMPONENT_APPID` (the name the token center's own setting has); None when neither."""
    value = given if given is not None else os.environ.get(COMPONENT_APPID_ENV) or None
    if value is not None and not _APPID.fullmatch(value):
        raise ValueError(f"component_appid (or {COMPONENT_APPID_ENV}) must be wx followed by 16 lower-case hex digits")
    return value


class OAuthCodeRejected(WeChatError):
    """WeChat will not exchange this web-login code: unknown, older than its 5 minutes, already
    exchanged (codes are single use), or given to another account. Send the visitor through
    `oauth_url` again."""

    def __init__(self, errcode: int, errmsg: str, answer: Mapping[str, Any]) -> None:
        super().__init__(errcode, errmsg, answer)
        reason = "already used" if errcode == 40163 else "invalid, expired or another account's"
        self.args = (
            f"the web-login code is {reason} (WeChat's errcode {errcode}); codes are single use and "
            "last 5 minutes: send the visitor through oauth_url again",
        )
