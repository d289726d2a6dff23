"""`TokenClient`: tokens from the token center's `token_vending` function, for the vendor's own
services, and WeChat API calls made with them.

    tokens = TokenClient("my-stack-TokenVendingFunction-abc123")
    token = tokens.get_authorizer_token("wx0123456789abcdef")
    ... WeChat answers 40001 / 42001 ...
    token = tokens.report_invalid(token)  # the replacement; many reports of one token cost one refresh

    # or let the client do that dance:
    tokens.call("wx0123456789abcdef", "POST", "/cgi-bin/message/custom/send", touser=..., msgtype="text", ...)

    # an authorized account's web pages: wx.config's fields, and web login on its behalf
    config = tokens.jsapi_config("wx0123456789abcdef", "https://shop.example/h5/cart?id=7")
    link = tokens.oauth_url("wx0123456789abcdef", "https://shop.example/h5/login", "snsapi_userinfo", state)
    user = tokens.oauth_exchange("wx0123456789abcdef", code)  # openid, nickname, avatar

Tokens (and JS-SDK tickets) are kept in memory and reused while they are valid for more than
`safety_margin` seconds, and for at most `max_age` seconds (300 by default: a revoked account's
tokens and tickets leave every process within it); each request asks for
`min_validity = safety_margin`, so every answer is good for at least that. A token (or ticket)
WeChat rejected is reported at most once, however often WeChat keeps rejecting it: a rejection the
token center would not act on costs it nothing more.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from wxcomponent_client import web
from wxcomponent_client.wechat import (
    DEFAULT_API_BASE,
    TOKEN_REJECTED,
    HttpClient,
    WeChatHttp,
    checked,
    errcode_of,
)

if TYPE_CHECKING:
    from botocore.config import Config

DEFAULT_FUNCTION = "token_vending"
JSAPI_TICKET = "jsapi_ticket"
CARD_TICKET = "card_ticket"
JS_TICKET_KINDS = (JSAPI_TICKET, CARD_TICKET)
REMEMBERED_TOKENS = 256  # tokens handed out that report_invalid still recognises (and reports made)
WEB_LOGIN = "web_login"
RETRY_AFTER = 0.2  # seconds before the one retry of an answer marked retryable (a busy table)


class LambdaInvoker(Protocol):
    """The part of boto3's Lambda client used here."""

    def invoke(self, *, FunctionName: str, Payload: bytes) -> Mapping[str, Any]: ...


class TokenError(Exception):
    """The vending function refused: `code` is the contract's (`bad_request`, `not_authorized`,
    `ticket_missing`, `upstream_error`, `internal`), `errcode` WeChat's when there is one, and
    `retryable` true when nothing was decided (the table was busy) even after this client's retry.
    `reason` says why a `not_authorized` came, when the token center tells a caller allowed to ask
    (`unknown`, `revoked`, `needs_reauthorization`, `no_api_permission`, `component_appid`), and the
    message then says what to do next."""

    def __init__(
        self,
        code: str,
        message: str,
        errcode: int | None = None,
        *,
        retryable: bool = False,
        reason: str | None = None,
    ) -> None:
        named = f"{code} ({reason})" if reason else code
        super().__init__(f"{named}: {message}" + (f" (errcode {errcode})" if errcode is not None else ""))
        self.code = code
        self.message = message
        self.errcode = errcode
        self.retryable = retryable
        self.reason = reason


@dataclass(frozen=True)
class Token:
    """A vended token: `appid` is the component's or the authorizer's, `expires_at` epoch seconds."""

    access_token: str
    expires_at: int
    appid: str = ""

    def __repr__(self) -> str:
        return f"Token(access_token=<redacted>, expires_at={self.expires_at}, appid={self.appid!r})"


@dataclass(frozen=True)
class Ticket:
    """A vended JS-SDK ticket of an authorizer: `kind` is `jsapi_ticket` or `card_ticket`."""

    ticket: str
    expires_at: int
    appid: str
    kind: str = JSAPI_TICKET

    def __repr__(self) -> str:
        return f"Ticket(ticket=<redacted>, expires_at={self.expires_at}, appid={self.appid!r}, kind={self.kind!r})"


class _Report:
    """The one report of a token value: later reporters wait for it and take its answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.replacement: str | None = None  # None until the token center answered the report


class TokenClient:
    def __init__(
        self,
        function_name: str = DEFAULT_FUNCTION,
        *,
        lambda_client: LambdaInvoker | None = None,
        safety_margin: float = 120,
        max_age: float = 300,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        api_base: str = DEFAULT_API_BASE,
        http: HttpClient | None = None,
        open_base: str = web.DEFAULT_OPEN_BASE,
        component_appid: str | None = None,
    ) -> None:
        """`api_base` and `http` serve `call`: WeChat's API host (the sandbox locally) and a
        `urllib3.PoolManager` of your own, if you want one. `open_base` is web login's host (the
        sandbox locally); `component_appid`, which `oauth_url` puts in the link, is configuration:
        given here, else the environment variable `WECHAT_COMPONENT_APPID` (never a vend)."""
        if not 0 <= safety_margin <= 3600:
            raise ValueError("safety_margin must be between 0 and 3600 seconds")
        if not 0 <= max_age <= 7200:
            raise ValueError("max_age must be between 0 and 7200 seconds")
        self.function_name = function_name
        # How long a held token or ticket is used before the token center is asked again: a revoked
        # account's tokens and tickets (jsapi_config signs with them) leave every process within it.
        self._max_age = max_age
        self._fetched: dict[tuple[str, str], float] = {}
        self._client = lambda_client
        self._safety_margin = safety_margin
        self._clock = clock
        self._sleep = sleep
        self._wechat = WeChatHttp(api_base, http=http)
        if not open_base.startswith(("https://", "http://")):
            raise ValueError("open_base must be an http(s) URL")
        self._open_base = open_base
        self._component_appid = web.component_appid(component_appid)
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], Token] = {}
        self._owners: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._reports: OrderedDict[str, _Report] = OrderedDict()  # token value -> its one report

    def get_component_token(self) -> str:
        return self.get_token().access_token

    def get_authorizer_token(self, appid: str) -> str:
        return self.get_token(appid).access_token

    def get_token(self, appid: str | None = None) -> Token:
        """The authorizer's token (the component's without `appid`) with its expiry."""
        return self._get(("authorizer", appid) if appid else ("component", ""))

    def get_ticket(self, appid: str, kind: str = JSAPI_TICKET) -> Ticket:
        """The authorizer's JS-SDK ticket (`jsapi_ticket`, or `card_ticket` for coupons)."""
        if kind not in JS_TICKET_KINDS:
            raise ValueError(f"kind must be one of {', '.join(JS_TICKET_KINDS)}")
        held = self._get((kind, appid))
        return Ticket(held.access_token, held.expires_at, held.appid, kind)

    def report_invalid(self, token: str) -> str:
        """The replacement for a token WeChat rejected (40001/42001), or a ticket a page found
        rejected. Only the stored one is refreshed: if someone already replaced it, the newer one
        comes back without a refresh. Each value is reported at most once (M2): a second report of
        it gets the first one's answer, which may be the same token when the token center would
        not replace it (too young, say). `ValueError` for a value this client never handed out."""
        with self._lock:
            key = self._owners.get(token)
            if key is None:
                raise ValueError("this client never handed out that token")
            newer = self._newer(key, token)
            if newer is not None:
                return newer  # already replaced here
            report = self._reports.get(token)
            if report is None:
                report = self._reports[token] = _Report()
                while len(self._reports) > REMEMBERED_TOKENS:
                    self._reports.popitem(last=False)
        with report.lock:  # one report in flight per value; a report that failed may be made again
            if report.replacement is None:
                report.replacement = self._ask(key, invalid_token=token).access_token
        with self._lock:
            return self._newer(key, token) or report.replacement

    def _newer(self, key: tuple[str, str], token: str) -> str | None:
        """The token held for `key` when it is not `token` and still usable (the lock held)."""
        held = self._held.get(key)
        return held.access_token if held is not None and held.access_token != token and self._usable(held) else None

    # -- an authorized account's web pages --------------------------------------------------------

    def jsapi_config(self, appid: str, url: str) -> dict[str, Any]:
        """What the page at `url` passes to `wx.config` for the authorizer `appid`: `appId`,
        `timestamp`, `nonceStr`, `signature` (add your `jsApiList`). `url` is the page's whole URL as
        the browser has it (`location.href`); its `#fragment` is dropped, as the JS-SDK drops it."""
        web.page_url(url)  # refuse a bad URL before asking for a ticket
        ticket = self.get_ticket(appid, JSAPI_TICKET)
        return web.jsapi_config(appid, ticket.ticket, url, int(self._clock()))

    def oauth_url(self, appid: str, redirect_uri: str, scope: str, state: str) -> str:
        """The link that starts web login on the account's behalf (代公众号发起网页授权): WeChat sends
        the visitor back to `redirect_uri?code=…&state=…&appid=…`. `scope` is `snsapi_base` (the
        openid, silently) or `snsapi_userinfo` (also the nickname and avatar, after the user
        agrees). `state` is required: 16 to 128 letters and digits, random per visitor and kept in
        their session (`secrets.token_hex(16)`), checked on the way back: it is what proves the
        return is theirs (login CSRF). `redirect_uri` must be on the platform's page domain
        (网页开发域名). No vend and no secret: the component's appid is configuration."""
        if self._component_appid is None:
            raise ValueError(
                f"oauth_url needs the component's appid: TokenClient(component_appid=...) or {web.COMPONENT_APPID_ENV}"
            )
        return web.oauth_url(self._open_base, appid, redirect_uri, scope, state, self._component_appid)

    def oauth_exchange(self, appid: str, code: str, lang: str = "zh_CN") -> web.WebUser:
        """The visitor behind a web-login `code` (single use, 5 minutes), exchanged by the token
        center (a `web_login` vend: the component token never leaves it, and neither do the
        visitor's web tokens); with `snsapi_userinfo`, their nickname and avatar too, in `lang`
        (`zh_CN`, `zh_TW` or `en`). `OAuthCodeRejected` for a code WeChat will not exchange (used,
        expired, another account's); `TokenError` for any other refusal (`not_authorized` when the
        caller policy does not allow this caller web login for `appid`). A visitor in snapshot
        mode comes back with `is_snapshotuser` and no nickname or avatar."""
        if lang not in web.LANGS:
            raise ValueError(f"lang must be one of {', '.join(web.LANGS)}")
        try:
            answer = self._invoke({"kind": WEB_LOGIN, "appid": appid, "code": code, "lang": lang})
        except TokenError as error:
            if error.code == "bad_request" and error.errcode in web.CODE_REJECTED:
                errcode, errmsg = error.errcode or 0, error.message
                raise web.OAuthCodeRejected(errcode, errmsg, {"errcode": errcode, "errmsg": errmsg}) from None
            raise
        return web.WebUser(
            openid=str(answer["openid"]),
            scope=str(answer["scope"]),
            unionid=_optional(answer, "unionid"),
            nickname=_optional(answer, "nickname"),
            avatar=_optional(answer, "avatar"),
            is_snapshotuser=answer.get("is_snapshotuser") is True,
        )

    def component_appid(self) -> str | None:
        """The component's appid, as configured (`component_appid=` or `WECHAT_COMPONENT_APPID`)."""
        return self._component_appid

    # -- WeChat's APIs with these tokens -----------------------------------------------------------

    def call(self, appid: str, method: str, path: str, **body: Any) -> dict[str, Any]:
        """Calls a WeChat API on the authorizer's behalf, its token as the `access_token` query
        parameter; `body` is the JSON body of a POST or the query of a GET. On 40001, 42001 or 40014
        the token is reported (`report_invalid`) and the call made once more with the replacement.
        Returns WeChat's answer; raises `WeChatError` for any other errcode (or the second
        rejection), `TokenError` when the token center refuses."""
        return self._call(lambda: self.get_authorizer_token(appid), "access_token", method, path, body)

    def call_component(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        """As `call`, with the component's token as `component_access_token`."""
        return self._call(self.get_component_token, "component_access_token", method, path, body)

    def _call(
        self, token_of: Callable[[], str], parameter: str, method: str, path: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        token = token_of()
        answer = self._wechat.request(method, path, {parameter: token}, body)
        if errcode_of(answer) in TOKEN_REJECTED:
            replacement = self.report_invalid(token)
            # The same token back: the token center would not replace it, and WeChat would refuse
            # it again. Raised now, and never reported again (M2).
            if replacement != token:
                answer = self._wechat.request(method, path, {parameter: replacement}, body)
        return checked(answer)

    # -- the vending function ----------------------------------------------------------------------

    def _get(self, key: tuple[str, str]) -> Token:
        with self._lock:
            held = self._held.get(key)
            fresh = self._clock() - self._fetched.get(key, float("-inf")) < self._max_age
            if held is not None and fresh and self._usable(held):
                return held
        return self._ask(key)

    def _usable(self, held: Token) -> bool:
        return self._clock() + self._safety_margin < held.expires_at

    def _ask(self, key: tuple[str, str], invalid_token: str | None = None) -> Token:
        kind, appid = key
        request: dict[str, Any] = {"kind": kind, "min_validity": int(self._safety_margin)}
        if appid:
            request["appid"] = appid
        if invalid_token is not None:
            request["invalid_token"] = invalid_token
        answer = self._invoke(request)
        answered_appid = answer.get("appid")
        held = Token(  # a ticket is held as a token is: its value, expiry and owner
            str(answer["ticket" if kind in JS_TICKET_KINDS else "access_token"]),
            int(answer["expires_at"]),
            answered_appid if isinstance(answered_appid, str) else appid,
        )
        with self._lock:
            current = self._held.get(key)
            if current is None or current.expires_at <= held.expires_at or current.access_token == invalid_token:
                self._held[key] = held
                self._fetched[key] = self._clock()
            self._owners[held.access_token] = key
            self._owners.move_to_end(held.access_token)
            while len(self._owners) > REMEMBERED_TOKENS:
                self._owners.popitem(last=False)
        return held

    def _invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._invoke_once(request)
        except TokenError as error:
            if not error.retryable:
                raise
        self._sleep(RETRY_AFTER)
        return self._invoke_once(request)

    def _invoke_once(self, request: dict[str, Any]) -> dict[str, Any]:
        response = self._lambda().invoke(FunctionName=self.function_name, Payload=json.dumps(request).encode())
        payload = response.get("Payload")
        raw = payload.read() if payload is not None and hasattr(payload, "read") else payload or b"{}"
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise TokenError("internal", "the vending function answered something that is not JSON") from exc
        if response.get("FunctionError"):
            raise TokenError("internal", "the vending function failed: " + _text(body, "errorType"))
        if not isinstance(body, dict):
            raise TokenError("internal", "the vending function answered something that is not an object")
        error = body.get("error")
        if isinstance(error, dict):
            errcode, reason = error.get("errcode"), error.get("reason")
            raise TokenError(
                _text(error, "code"),
                _text(error, "message"),
                errcode if isinstance(errcode, int) else None,
                retryable=error.get("retryable") is True,
                reason=reason if isinstance(reason, str) and reason else None,
            )
        if request["kind"] == WEB_LOGIN:  # the visitor, never a token: nothing of the answer is repeated
            if not all(isinstance(body.get(key), str) and body[key] for key in ("openid", "scope")):
                raise TokenError("internal", "the vending function's web_login answer has no openid and scope")
            return body
        field = "ticket" if request["kind"] in JS_TICKET_KINDS else "access_token"
        if not isinstance(body.get(field), str) or not isinstance(body.get("expires_at"), int):
            raise TokenError("internal", f"the vending function's answer has no {field} and expires_at")
        return body

    def _lambda(self) -> LambdaInvoker:
        if self._client is None:
            import boto3  # noqa: PLC0415 - created on first use: importing the module costs nothing

            self._client = boto3.client("lambda", config=_config())
        return self._client


def _config() -> Config:
    from botocore.config import Config  # noqa: PLC0415

    # The read timeout outlasts the function's own (29 s), so botocore's one retry never runs beside
    # the invocation it replaces; `total_max_attempts` counts the first try (`max_attempts` does not).
    return Config(connect_timeout=2, read_timeout=32, retries={"total_max_attempts": 2, "mode": "standard"})


def _text(body: object, key: str) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else "unknown"


def _optional(answer: Mapping[str, Any], key: str) -> str | None:
    value = answer.get(key)
    return value if isinstance(value, str) and value else None
