"""Web login on an authorized account's behalf (代公众号发起网页授权, docs/protocol.md §7), done inside the
token center: a page server hands in the visitor's code (a `web_login` vend) and gets the visitor
back, never the component token and never the visitor's web tokens (issue 19, H1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# WeChat documents no format for the code (32 letters and digits are what it has been seen to
# send): visible ASCII, bounded, so nothing else can reach its query string.
CODE_RE = re.compile(r"[\x21-\x7e]{1,512}")
LANGS = ("zh_CN", "zh_TW", "en")  # sns/userinfo's `lang`
DEFAULT_LANG = "zh_CN"
USERINFO_SCOPE = "snsapi_userinfo"
CODE_REJECTED = (
    "the web-login code is invalid, expired, used, or another account's: codes are single use and last"
    " 5 minutes, so send the visitor through web login again"
)


@dataclass(frozen=True)
class WebLogin:
    """Who logged in: the `openid` the account knows them by, the `scope` they granted, `unionid`
    when WeChat gives one, and for `snsapi_userinfo` their `nickname` and `avatar` (`headimgurl`).
    `is_snapshotuser`: a visitor of the page's snapshot mode, whose openid is virtual."""

    authorizer_appid: str
    openid: str
    scope: str
    unionid: str | None = None
    is_snapshotuser: bool = False
    nickname: str | None = None
    avatar: str | None = None

    @property
    def wants_profile(self) -> bool:
        """sns/userinfo is asked only for `snsapi_userinfo`, and never for a snapshot-mode visitor
        (WeChat has answered 48001 for them)."""
        return USERINFO_SCOPE in self.scope.split(",") and not self.is_snapshotuser

    def body(self, kind: str) -> dict[str, Any]:
        """The vend's success body: absent fields are null, so every answer has the same keys."""
        return {
            "kind": kind,
            "appid": self.authorizer_appid,
            "openid": self.openid,
            "scope": self.scope,
            "unionid": self.unionid,
            "is_snapshotuser": self.is_snapshotuser,
            "nickname": self.nickname,
            "avatar": self.avatar,
        }

    def __repr__(self) -> str:  # who the visitor is stays out of logs
        return f"WebLogin(authorizer_appid={self.authorizer_appid!r}, scope={self.scope!r}, openid=<visitor>)"
