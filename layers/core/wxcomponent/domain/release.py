"""The full-network release (全网发布) checks, answered on their own (docs/messages.md).

WeChat's automated checks send messages from its own test accounts to our message URL. Only those
accounts trigger what follows; a real account that sends the same text is an ordinary message.
- text `TESTCOMPONENT_MSG_TYPE_TEXT` → a passive text reply `TESTCOMPONENT_MSG_TYPE_TEXT_callback`;
- text `QUERY_AUTH_CODE:<code>` → an empty answer at once; later (another invocation, because a
  Lambda is frozen once it answers) `api_query_auth` on the whole code, then a customer-service
  text `<code>_from_api` to the sender with the new authorizer's token;
- any event → a passive text reply `<Event>from_callback` (the older form of the check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wxcomponent.domain.errors import BadRequest
from wxcomponent.domain.messages import EVENT, AccountMessage
from wxcomponent.domain.replies import PassiveReply, text_reply

# WeChat's release test accounts (its 全网发布 instructions): Official Accounts, then Mini Programs,
# appid → original id.
RELEASE_TEST_ACCOUNTS: dict[str, str] = {
    "wx570bc396a51b8ff8": "gh_3c884a361561",
    "wx9252c5e0bb1836fc": "gh_c0f28a78b318",
    "wx8e1097c5bc82cde9": "gh_3f222ed8d140",
    "wx14550af28c71a144": "gh_26128078e9ab",
    "wxa35b9c23cfe664eb": "gh_2b3713f184a6",
    "wxd101a85aa106f53e": "gh_8dad206e9538",
    "wxc39235c15087f6f3": "gh_905ae9d01059",
    "wx7720d01d4b2a4500": "gh_393666f1fdf4",
    "wx05d483572dcd5d8b": "gh_39abb5d4e1b7",
    "wx5910277cae6fd970": "gh_7818dcb60240",
}
TEXT_CHECK = "TESTCOMPONENT_MSG_TYPE_TEXT"
TEXT_CHECK_REPLY = TEXT_CHECK + "_callback"
QUERY_AUTH_CODE = "QUERY_AUTH_CODE:"
QUERY_AUTH_CODE_TASK = "release.query_auth_code"
_AUTH_CODE_RE = re.compile(r"[\x21-\x7e]{1,512}")
_OPENID_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True)
class ReplyNow:
    """Answer the check with this passive reply."""

    reply: PassiveReply


@dataclass(frozen=True)
class QueryAuthCode:
    """Answer empty now; exchange the code and send `<code>_from_api` to the user in another invocation."""

    authorizer_appid: str
    openid: str
    auth_code: str

    def __repr__(self) -> str:  # the code is single-use and grants an account's tokens
        return f"QueryAuthCode(authorizer_appid={self.authorizer_appid!r})"

    def task(self) -> dict[str, Any]:
        return {
            "task": QUERY_AUTH_CODE_TASK,
            "authorizer_appid": self.authorizer_appid,
            "openid": self.openid,
            "auth_code": self.auth_code,
        }

    @classmethod
    def from_task(cls, payload: dict[str, Any]) -> QueryAuthCode:
        """The task as the deferred invocation receives it, checked like any input."""
        appid, openid, code = payload.get("authorizer_appid"), payload.get("openid"), payload.get("auth_code")
        if not isinstance(appid, str) or appid not in RELEASE_TEST_ACCOUNTS:
            raise BadRequest("the task is not for a release test account")
        if not isinstance(openid, str) or not _OPENID_RE.fullmatch(openid):
            raise BadRequest("the task has no valid openid")
        if not isinstance(code, str) or not _AUTH_CODE_RE.fullmatch(code):
            raise BadRequest("the task has no valid authorization code")
        return cls(appid, openid, code)


def release_check(authorizer_appid: str, message: AccountMessage) -> ReplyNow | QueryAuthCode | None:
    """What a release check asks of us, or None when this is not one."""
    if authorizer_appid not in RELEASE_TEST_ACCOUNTS:
        return None
    if message.msg_type == EVENT:
        return ReplyNow(text_reply(f"{message.event}from_callback"))
    if message.msg_type != "text":
        return None
    content = message.text("Content")
    if content == TEXT_CHECK:
        return ReplyNow(text_reply(TEXT_CHECK_REPLY))
    if content.startswith(QUERY_AUTH_CODE):
        code = content[len(QUERY_AUTH_CODE) :]
        if _AUTH_CODE_RE.fullmatch(code) and _OPENID_RE.fullmatch(message.from_user_name):
            return QueryAuthCode(authorizer_appid, message.from_user_name, code)
    return None
