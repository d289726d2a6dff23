"""What authorized Official Accounts' web pages get from WeChat (docs/protocol.md §7): JS-SDK tickets
(`jsapi` and `wx_card`), web login on an account's behalf (one-shot codes, then the visitor's own
web access token) and the seeded users who visit.

Owns its data behind its own lock; reads the clock and draws from the world's one random source.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from infra.sandbox.config import SandboxConfig
from infra.sandbox.state import saved
from infra.sandbox.state.clock import Clock
from infra.sandbox.state.credentials import TokenPair
from infra.sandbox.state.errors import JSON, WeChatError
from infra.sandbox.state.randomness import Randomness

JS_TICKET_TTL = 7200
TICKET_TYPES = ("jsapi", "wx_card")
OAUTH_CODE_TTL = 300  # single use, 5 minutes
WEB_TOKEN_TTL = 7200
SCOPES = ("snsapi_base", "snsapi_userinfo")
TICKET_MODES = ("new", "same")
_INVALID_CREDENTIAL = "invalid credential, access_token is invalid or not latest"


@dataclass(frozen=True)
class WebUser:
    """A WeChat user who visits authorized accounts' pages; the openid differs per account.

    A snapshot user (快照页模式) opened the page from a Moments snapshot without logging in: WeChat
    answers the code exchange with a virtual openid and `is_snapshotuser: 1`, and refuses
    sns/userinfo for them."""

    user_id: str
    nickname: str
    snapshot: bool = False


# Appended, never reordered: the first is the default user of POST /sandbox/oauth-code.
SEEDED_USERS = (
    WebUser("xiaoming", "小明 Xiao Ming"),
    WebUser("alice", "爱丽丝 Alice"),
    WebUser("visitor", "快照页访客 Snapshot visitor", snapshot=True),
)


@dataclass
class OAuthCode:
    value: str
    appid: str
    user_id: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class WebToken:
    """The visitor's web access token (`sns` token) from a code exchange."""

    value: str
    appid: str
    user_id: str
    scope: str
    expires_at: float
    refresh_token: str


@dataclass
class _Saved:
    tickets: dict[str, dict[str, TokenPair]] = field(default_factory=dict)
    codes: list[OAuthCode] = field(default_factory=list)
    tokens: list[WebToken] = field(default_factory=list)
    ticket_mode: str | None = None  # None: saved before the mode was kept, the configuration's


class WebPages:
    """JS-SDK tickets per account and type, web-login codes and the visitors' web tokens."""

    def __init__(self, config: SandboxConfig, clock: Clock, random: Randomness) -> None:
        self._config = config
        self._clock = clock
        self._random = random
        self._lock = threading.Lock()
        self._tickets: dict[str, dict[str, TokenPair]] = {}  # appid -> type -> the current and previous
        self._codes: dict[str, OAuthCode] = {}
        self._tokens: dict[str, WebToken] = {}
        self._ticket_mode = _checked_mode(config.ticket_mode)

    def reset(self) -> None:
        with self._lock:
            self._tickets, self._codes, self._tokens = {}, {}, {}
            self._ticket_mode = _checked_mode(self._config.ticket_mode)

    @property
    def ticket_mode(self) -> str:
        with self._lock:
            return self._ticket_mode

    def set_ticket_mode(self, mode: object) -> str:
        """`new` (a new ticket every call) or `same` (the live ticket again); ValueError otherwise."""
        checked = _checked_mode(mode)
        with self._lock:
            self._ticket_mode = checked
        return checked

    def export(self) -> JSON:
        """Tickets, codes, web tokens and the ticket mode as JSON (`make dev` keeps them: the table
        holds the tickets, and a mode switched on the control page stays switched)."""
        with self._lock:
            return saved.dump(
                _Saved(self._tickets, list(self._codes.values()), list(self._tokens.values()), self._ticket_mode)
            )

    def restore(self, data: Any) -> None:
        """`export`'s JSON back; ValueError (and nothing changed) when it is not one."""
        record = saved.load(_Saved, data)
        mode = _checked_mode(self._config.ticket_mode if record.ticket_mode is None else record.ticket_mode)
        with self._lock:
            self._tickets = record.tickets
            self._codes = {code.value: code for code in record.codes}
            self._tokens = {token.value: token for token in record.tokens}
            self._ticket_mode = mode

    # -- the users -------------------------------------------------------------------------------

    @staticmethod
    def users() -> list[WebUser]:
        return list(SEEDED_USERS)

    @staticmethod
    def user(user_id: str) -> WebUser | None:
        return next((user for user in SEEDED_USERS if user.user_id == user_id), None)

    def openid(self, appid: str, user_id: str) -> str:
        """The user's openid for this account: 28 URL-safe characters, the same for the same seed
        (a snapshot user's is as virtual as WeChat's, and looks the same)."""
        digest = hashlib.sha256(f"{self._config.seed}:{appid}:{user_id}".encode()).digest()
        return "o" + base64.urlsafe_b64encode(digest).decode()[:27]

    # -- JS-SDK tickets --------------------------------------------------------------------------

    def issue_ticket(self, appid: str, ticket_type: Any) -> JSON:
        """A ticket of `ticket_type` for the account. Mode `new`: a new one, the one it replaces
        lives 5 more minutes. Mode `same`: the current one while it lives, still answered with
        expires_in 7200 (its life is not extended), a new one once it expired."""
        if ticket_type not in TICKET_TYPES:
            raise WeChatError(40097, "invalid args: type must be jsapi or wx_card")
        now = self._clock.now()
        with self._lock:
            pair = self._tickets.setdefault(appid, {}).setdefault(str(ticket_type), TokenPair())
            current = pair.current
            if self._ticket_mode == "same" and current is not None and now < current.expires_at:
                return {"errcode": 0, "errmsg": "ok", "ticket": current.value, "expires_in": JS_TICKET_TTL}
            issued = pair.issue(self._random.string("", 86), now, JS_TICKET_TTL)
            return {"errcode": 0, "errmsg": "ok", "ticket": issued.value, "expires_in": JS_TICKET_TTL}

    def live_tickets(self, appid: str, ticket_type: str) -> list[str]:
        """The account's tickets of this type that WeChat still accepts now (at most two)."""
        now = self._clock.now()
        with self._lock:
            pair = self._tickets.get(appid, {}).get(ticket_type)
            if pair is None:
                return []
            issued = [token for token in (pair.current, pair.previous) if token is not None]
            return [token.value for token in issued if pair.check(token.value, now) == 0]

    def is_live_ticket(self, ticket: str) -> bool:
        now = self._clock.now()
        with self._lock:
            pairs = [pair for kinds in self._tickets.values() for pair in kinds.values()]
            return any(pair.check(ticket, now) == 0 for pair in pairs)

    def tickets(self) -> list[JSON]:
        """Every account's current tickets, for `GET /sandbox/state`."""
        with self._lock:
            return [
                {"appid": appid, "type": kind, "ticket": pair.current.value, "expires_at": pair.current.expires_at}
                for appid, kinds in self._tickets.items()
                for kind, pair in kinds.items()
                if pair.current is not None
            ]

    # -- web login -------------------------------------------------------------------------------

    def new_code(self, appid: str, user_id: str, scope: str) -> OAuthCode:
        """The code the browser brings back to `redirect_uri`, once the user went through the page."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        if self.user(user_id) is None:
            raise ValueError(f"{user_id!r} is not a sandbox user")
        with self._lock:
            code = OAuthCode(self._random.string("", 32), appid, user_id, scope, self._clock.now() + OAUTH_CODE_TTL)
            self._codes[code.value] = code
            return code

    def exchange_code(self, appid: Any, value: Any) -> JSON:
        """sns/oauth2/component/access_token, once the component's token and appid were checked."""
        with self._lock:
            code = self._codes.get(value) if isinstance(value, str) else None
            if code is None or code.appid != appid:
                raise WeChatError(40029, "invalid code")
            if code.used:
                raise WeChatError(40163, "code been used")
            if self._clock.now() >= code.expires_at:
                raise WeChatError(40029, "invalid code, code expired")
            code.used = True
            token = WebToken(
                self._random.string("", 110),
                code.appid,
                code.user_id,
                code.scope,
                self._clock.now() + WEB_TOKEN_TTL,
                self._random.string("", 110),
            )
            self._tokens[token.value] = token
        answer: JSON = {
            "access_token": token.value,
            "expires_in": WEB_TOKEN_TTL,
            "refresh_token": token.refresh_token,
            "openid": self.openid(token.appid, token.user_id),
            "scope": token.scope,
        }
        user = self.user(token.user_id)
        if user is not None and user.snapshot:
            answer["is_snapshotuser"] = 1
        return answer

    def userinfo(self, value: Any, openid: Any, base_url: str) -> JSON:
        """sns/userinfo: the visitor's profile, with a web token of scope snsapi_userinfo only."""
        if not value:
            raise WeChatError(41001, "access_token missing")
        with self._lock:
            token = self._tokens.get(value) if isinstance(value, str) else None
        if token is None:
            raise WeChatError(40001, _INVALID_CREDENTIAL)
        if self._clock.now() >= token.expires_at:
            raise WeChatError(42001, "access_token expired")
        if openid != self.openid(token.appid, token.user_id):
            raise WeChatError(40003, "invalid openid")
        if token.scope != "snsapi_userinfo":
            raise WeChatError(48001, "api unauthorized")
        user = self.user(token.user_id)
        assert user is not None  # codes are made for seeded users only
        if user.snapshot:
            raise WeChatError(48001, "api unauthorized")  # a snapshot user has no profile to give
        # Since 2021-10-20 web login no longer gives sex nor region: 0 and empty strings.
        return {
            "openid": openid,
            "nickname": user.nickname,
            "sex": 0,
            "province": "",
            "city": "",
            "country": "",
            "headimgurl": f"{base_url}/sandbox/users/{user.user_id}.svg",
            "privilege": [],
        }

    # -- the JS-SDK's config check ---------------------------------------------------------------

    def check_config(self, appid: str | None, ticket: str | None, fields: JSSDKConfig, web_origin: str) -> JSON:
        """What `wx.config` learns from WeChat: `config:ok`, or why not. With `appid` (as the
        JS-SDK sends it) the signature must be made with one of the account's live jsapi tickets,
        for a page on a JS-safe domain; with `ticket` alone, only the signature is checked."""
        if appid is not None:
            if domain(fields.url) != domain(web_origin):
                return _config_answer(False, "config:invalid url domain")
            candidates = self.live_tickets(appid, "jsapi")
        else:
            candidates = [ticket] if ticket else []
        valid = any(fields.signed_with(candidate) == fields.signature.lower() for candidate in candidates)
        answer = _config_answer(valid, "config:ok" if valid else "config:invalid signature")
        if appid is None and ticket:
            answer["ticket_live"] = self.is_live_ticket(ticket)
        return answer


@dataclass(frozen=True)
class JSSDKConfig:
    """What a page passes to `wx.config`, and the page's URL (the JS-SDK drops its fragment)."""

    nonce_str: str
    timestamp: str
    url: str
    signature: str

    def signed_with(self, ticket: str) -> str:
        """The JS-SDK signature: SHA-1 of the four fields, keys in ASCII order, values raw."""
        text = f"jsapi_ticket={ticket}&noncestr={self.nonce_str}&timestamp={self.timestamp}&url={self.url}"
        return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _config_answer(valid: bool, message: str) -> JSON:
    return {"valid": valid, "errMsg": message}


def _checked_mode(mode: object) -> str:
    if mode not in TICKET_MODES:
        raise ValueError(f"the ticket mode is one of {', '.join(TICKET_MODES)}")
    return str(mode)


def domain(url: str) -> str:
    """A URL's domain (host name, lower case, no scheme, port nor user): WeChat's domain settings
    are domains, and it compares pages and callbacks by domain."""
    return (urllib.parse.urlsplit(url).hostname or "").lower()
