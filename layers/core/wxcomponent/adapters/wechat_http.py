"""The WeChat API over urllib3 (docs/protocol.md §3): implements the port `wxcomponent.ports.WeChatApi`.

Every call is `POST base + path` with a JSON body, but getticket and web login's two calls, which
are `GET`s; a token goes in the query (`component_access_token`, or `access_token` for the
authorizer's and the visitor's calls), never in the body. urllib3's own retries are off: this
module retries -1, HTTP ≥ 500, non-JSON answers, timeouts and connection errors with full-jitter
exponential backoff, and nothing else. Logs carry the API's name, the host, errcode, WeChat's rid,
attempt and elapsed time, never a URL, a query, a body or a token.

Hosts (docs/protocol.md §9): `base_url` first, then `fallback_urls` (WeChat's disaster-recovery
host, api2.weixin.qq.com, by default: settings.py). A connection that could not be made (refused,
unresolved, or its connect timeout) never carried the request, so the same attempt goes on at
once to the next host, single-use calls too; a host that failed so is tried last for
`host_cooldown` seconds. Anything later (a read timeout, a reset, a 5xx) may have been seen by
WeChat and stays with that host: retried there, as above, unless the call is single-use.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import urllib3

from wxcomponent.domain.wechat import (
    CHANNELS,
    DEFAULT_EXPIRES_IN,
    MINI_PROGRAM,
    OFFICIAL_ACCOUNT,
    REDACTED,
    SHOP,
    SUPPLIER,
    TALENT,
    ApiQuota,
    AuthorizationInfo,
    AuthorizerListItem,
    AuthorizerListPage,
    AuthorizerProfile,
    AuthorizerToken,
    IssuedTicket,
    IssuedToken,
    PreAuthCode,
    RidInfo,
    SystemBusy,
    UpstreamError,
    UpstreamUnavailable,
    WebAccessToken,
    WebUserInfo,
    error_for,
    masked,
)
from wxcomponent.observability import logger

COMPONENT = "/cgi-bin/component/"
CUSTOM_SEND = "/cgi-bin/message/custom/send"
GETTICKET = "/cgi-bin/ticket/getticket"
SNS_ACCESS_TOKEN = "/sns/oauth2/component/access_token"  # noqa: S105 - a path, not a secret
SNS_USERINFO = "/sns/userinfo"
RID_GET = "/cgi-bin/openapi/rid/get"
QUOTA_GET = "/cgi-bin/openapi/quota/get"
CLEAR_QUOTA = COMPONENT + "clear_quota/v2"
# The name a call is logged under, where the path's last part would not say which API it is.
_API_NAMES = {
    CUSTOM_SEND: "custom_send",
    SNS_ACCESS_TOKEN: "sns_component_access_token",
    SNS_USERINFO: "sns_userinfo",
    RID_GET: "rid_get",
    QUOTA_GET: "quota_get",
    CLEAR_QUOTA: "clear_quota",
}
MAX_LIST_COUNT = 500
PRE_AUTH_CODE_EXPIRES_IN = 600
# Bounded calls: a slow WeChat must not hold a Lambda (or a vending caller) for long.
DEFAULT_TIMEOUT = urllib3.Timeout(connect=2.0, read=5.0)
POOL_MAXSIZE = 10
# A host that could not be connected to is tried after the others for this long: every call would
# otherwise wait out its connect timeout before reaching the host that answers.
HOST_COOLDOWN = 30.0
_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}


class Response(Protocol):
    """What we read of urllib3's `BaseHTTPResponse`."""

    @property
    def status(self) -> int: ...

    @property
    def data(self) -> bytes: ...


class Transport(Protocol):
    """What we call on `urllib3.PoolManager`; tests hand in a fake."""

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: urllib3.Timeout,
        retries: bool,
    ) -> Response: ...


_shared: urllib3.PoolManager | None = None
_shared_lock = threading.Lock()


def shared_pool() -> urllib3.PoolManager:
    """One connection pool per container, made on first use and kept across invocations."""
    global _shared  # noqa: PLW0603 - the per-container pool is the point
    with _shared_lock:
        if _shared is None:
            _shared = urllib3.PoolManager(maxsize=POOL_MAXSIZE, block=False, retries=False)
        return _shared


class WeChatHttpApi:
    """`WeChatApi` over HTTP at `base_url` (WeChat's, or the sandbox's), then `fallback_urls` when
    it cannot be reached. Building one connects to nothing: the shared pool is made on the first
    call. `whitelist_ips` (the stack's `WhitelistIps`) is logged beside the address WeChat saw when
    it refuses a call as off its whitelist."""

    def __init__(
        self,
        base_url: str,
        *,
        fallback_urls: Sequence[str] = (),
        http: Transport | None = None,
        timeout: urllib3.Timeout = DEFAULT_TIMEOUT,
        max_attempts: int = 3,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        host_cooldown: float = HOST_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
        whitelist_ips: Sequence[str] = (),
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        bases = [self.base_url]
        for url in fallback_urls:
            if url.rstrip("/") not in bases:
                bases.append(url.rstrip("/"))
        self.base_urls: tuple[str, ...] = tuple(bases)
        self._http = http
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not secrets
        self._host_cooldown = host_cooldown
        self._clock = clock
        self._whitelist_ips = list(whitelist_ips)
        self._unreachable: dict[str, float] = {}  # base URL -> until when it is tried last
        self._unreachable_lock = threading.Lock()

    @property
    def http(self) -> Transport:
        if self._http is None:
            self._http = shared_pool()
        return self._http

    # -- the component APIs ----------------------------------------------------------------------

    def component_token(self, component_appid: str, component_appsecret: str, ticket: str) -> IssuedToken:
        answer = self._call(
            COMPONENT + "api_component_token",
            {},
            {
                "component_appid": component_appid,
                "component_appsecret": component_appsecret,
                "component_verify_ticket": ticket,
            },
            secrets=(component_appsecret, ticket),
        )
        return IssuedToken(_str(answer, "component_access_token"), _expires_in(answer))

    def create_preauthcode(self, component_token: str, component_appid: str) -> PreAuthCode:
        answer = self._call(
            COMPONENT + "api_create_preauthcode",
            {"component_access_token": component_token},
            {"component_appid": component_appid},
            secrets=(component_token,),
        )
        # The page's text says 1800 s, its example answer 600: absent, assume the shorter.
        return PreAuthCode(_str(answer, "pre_auth_code"), _expires_in(answer, default=PRE_AUTH_CODE_EXPIRES_IN))

    def query_auth(self, component_token: str, component_appid: str, authorization_code: str) -> AuthorizationInfo:
        answer = self._call(
            COMPONENT + "api_query_auth",
            {"component_access_token": component_token},
            {"component_appid": component_appid, "authorization_code": authorization_code},
            secrets=(component_token, authorization_code),
            single_use=True,
        )
        info = _dict(answer, "authorization_info")
        # The two tokens and expires_in come only when the account has API permission (WeChat's
        # api_query_auth page): their absence is an answer, never a malformed one.
        return AuthorizationInfo(
            authorizer_appid=_str(info, "authorizer_appid"),
            authorizer_access_token=_str(info, "authorizer_access_token", default=""),
            expires_in=_expires_in(info),
            authorizer_refresh_token=_str(info, "authorizer_refresh_token", default=""),
            func_info=_func_info(info),
        )

    def authorizer_token(
        self, component_token: str, component_appid: str, authorizer_appid: str, refresh_token: str
    ) -> AuthorizerToken:
        answer = self._call(
            COMPONENT + "api_authorizer_token",
            {"component_access_token": component_token},
            {
                "component_appid": component_appid,
                "authorizer_appid": authorizer_appid,
                "authorizer_refresh_token": refresh_token,
            },
            secrets=(component_token, refresh_token),
        )
        return AuthorizerToken(
            authorizer_access_token=_str(answer, "authorizer_access_token"),
            expires_in=_expires_in(answer),
            authorizer_refresh_token=_str(answer, "authorizer_refresh_token", default=""),
        )

    def get_authorizer_info(
        self, component_token: str, component_appid: str, authorizer_appid: str
    ) -> AuthorizerProfile:
        answer = self._call(
            COMPONENT + "api_get_authorizer_info",
            {"component_access_token": component_token},
            {"component_appid": component_appid, "authorizer_appid": authorizer_appid},
            secrets=(component_token,),
        )
        info = _dict(answer, "authorizer_info")
        authorization = answer.get("authorization_info")
        authorization = authorization if isinstance(authorization, dict) else {}
        granted_to = authorization.get("authorizer_appid")
        refresh_token = authorization.get("authorizer_refresh_token")
        return AuthorizerProfile(
            authorizer_appid=granted_to if isinstance(granted_to, str) and granted_to else authorizer_appid,
            nick_name=_text(info, "nick_name"),
            head_img=_text(info, "head_img"),
            user_name=_text(info, "user_name"),
            alias=_text(info, "alias"),
            principal_name=_text(info, "principal_name"),
            # Channels and shop accounts come without these objects (WxJava reads them only if present).
            service_type=_type_id(info, "service_type_info"),
            verify_type=_type_id(info, "verify_type_info"),
            qrcode_url=_text(info, "qrcode_url"),
            account_kind=_account_kind(info),
            raw=answer,
            authorizer_refresh_token=refresh_token if isinstance(refresh_token, str) else "",
        )

    def get_authorizer_list(
        self, component_token: str, component_appid: str, offset: int, count: int
    ) -> AuthorizerListPage:
        if offset < 0 or not 1 <= count <= MAX_LIST_COUNT:
            raise ValueError(f"offset must be ≥ 0 and count within 1..{MAX_LIST_COUNT}")
        answer = self._call(
            COMPONENT + "api_get_authorizer_list",
            {"component_access_token": component_token},
            {"component_appid": component_appid, "offset": offset, "count": count},
            secrets=(component_token,),
        )
        rows = answer.get("list", [])
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise _Malformed("list")
        items = [
            AuthorizerListItem(
                authorizer_appid=_str(row, "authorizer_appid"),
                refresh_token=_str(row, "refresh_token", default=""),
                auth_time=_int(row, "auth_time", default=0),
            )
            for row in rows
        ]
        return AuthorizerListPage(total_count=_int(answer, "total_count"), items=items)

    def start_push_ticket(self, component_appid: str, component_secret: str) -> None:
        self._call(
            COMPONENT + "api_start_push_ticket",
            {},
            {"component_appid": component_appid, "component_secret": component_secret},
            secrets=(component_secret,),
        )

    def send_custom_message(self, authorizer_token: str, message: dict[str, Any]) -> None:
        self._call(
            CUSTOM_SEND, {"access_token": authorizer_token}, message, secrets=(authorizer_token,), single_use=True
        )

    def get_ticket(self, authorizer_token: str, ticket_type: str) -> IssuedTicket:
        answer = self._call(
            GETTICKET,
            {"access_token": authorizer_token, "type": ticket_type},
            {},
            secrets=(authorizer_token,),
            method="GET",
        )
        return IssuedTicket(_str(answer, "ticket"), _expires_in(answer))

    # -- web login on an authorizer's behalf (GET, everything in the query) ------------------------

    def oauth2_component_access_token(
        self, component_token: str, component_appid: str, authorizer_appid: str, code: str
    ) -> WebAccessToken:
        answer = self._call(
            SNS_ACCESS_TOKEN,
            {
                "appid": authorizer_appid,
                "code": code,
                "grant_type": "authorization_code",
                "component_appid": component_appid,
                "component_access_token": component_token,
            },
            {},
            secrets=(component_token, code),
            single_use=True,  # the code serves once: never sent again once WeChat may have seen it
            method="GET",
        )
        # The visitor's refresh token is left in the answer: nothing here ever uses it.
        return WebAccessToken(
            access_token=_str(answer, "access_token"),
            openid=_str(answer, "openid"),
            scope=_str(answer, "scope"),
            unionid=_text(answer, "unionid"),
            is_snapshotuser=answer.get("is_snapshotuser") in (1, "1"),
        )

    # -- diagnosis: what WeChat saw, and the daily quotas -----------------------------------------

    def get_rid_info(self, access_token: str, rid: str) -> RidInfo:
        answer = self._call(RID_GET, {"access_token": access_token}, {"rid": rid}, secrets=(access_token,))
        request = _dict(answer, "request")

        def shown(key: str) -> str:  # what WeChat saw may hold any token: masked, and ours scrubbed
            return _scrub(masked(_text(request, key)), (access_token,))

        return RidInfo(
            rid=rid,
            invoke_time=_int(request, "invoke_time", default=0),
            cost_in_ms=_int(request, "cost_in_ms", default=0),
            request_url=shown("request_url"),
            request_body=shown("request_body"),
            response_body=shown("response_body"),
            client_ip=_text(request, "client_ip"),
        )

    def get_api_quota(self, access_token: str, cgi_path: str) -> ApiQuota:
        answer = self._call(QUOTA_GET, {"access_token": access_token}, {"cgi_path": cgi_path}, secrets=(access_token,))
        quota = _dict(answer, "quota")
        return ApiQuota(
            cgi_path=cgi_path,
            daily_limit=_int(quota, "daily_limit"),
            used=_int(quota, "used"),
            remain=_int(quota, "remain"),
        )

    def clear_quota(self, component_appid: str, component_appsecret: str, authorizer_appid: str = "") -> None:
        body = {"component_appid": component_appid, "appsecret": component_appsecret}
        if authorizer_appid:
            body["appid"] = authorizer_appid
        # A clear spends one of 10 a month: never sent twice once WeChat may have seen it.
        self._call(CLEAR_QUOTA, {}, body, secrets=(component_appsecret,), single_use=True)

    def sns_userinfo(self, web_access_token: str, openid: str, lang: str) -> WebUserInfo:
        answer = self._call(
            SNS_USERINFO,
            {"access_token": web_access_token, "openid": openid, "lang": lang},
            {},
            secrets=(web_access_token,),
            method="GET",
        )
        return WebUserInfo(
            openid=_str(answer, "openid"),
            nickname=_text(answer, "nickname"),
            headimgurl=_text(answer, "headimgurl"),
            unionid=_text(answer, "unionid"),
        )

    # -- one call, with our retries --------------------------------------------------------------

    def _call(
        self,
        path: str,
        query: dict[str, str],
        body: dict[str, Any],
        *,
        secrets: tuple[str, ...],
        single_use: bool = False,
        method: str = "POST",
    ) -> dict[str, Any]:
        """POSTs `body` to `path` (a `GET` sends none); the success answer, or the typed error once
        retrying is over.
        `secrets` are the values sent in this call, kept out of error messages. A `single_use`
        call (an authorization code, a message to a user) is retried only when WeChat cannot have
        seen it, a failed connection; never after a read timeout, a 5xx or a -1 (WeChat documents
        -1 as "busy", not as "nothing done")."""
        api = _API_NAMES.get(path) or path.rsplit("/", 1)[-1]
        target = path + (f"?{urlencode(query)}" if query else "")
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8") if method == "POST" else None
        for attempt in range(1, self._max_attempts + 1):
            started = time.monotonic()
            host, outcome = self._attempt_hosts(api, method, target, payload, secrets, single_use)
            elapsed_ms = round((time.monotonic() - started) * 1000)
            if isinstance(outcome, dict):
                logger.info(
                    "wechat call",
                    extra={"api": api, "host": host, "errcode": 0, "attempt": attempt, "elapsed_ms": elapsed_ms},
                )
                return outcome
            retry = isinstance(outcome, _Retryable) and attempt < self._max_attempts
            error = outcome.error if isinstance(outcome, _Retryable) else outcome
            logger.warning(
                "wechat call failed", extra=self._failure_fields(api, host, error, attempt, elapsed_ms, retry)
            )
            if not retry:
                raise error
            # Full jitter: the n-th wait is uniform in [0, backoff * 2**(n-1)].
            self._sleep(self._rng.uniform(0, self._backoff * 2 ** (attempt - 1)))
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises

    def _failure_fields(
        self, api: str, host: str, error: UpstreamError, attempt: int, elapsed_ms: int, retry: bool
    ) -> dict[str, Any]:
        """What "wechat call failed" says: WeChat's rid, and for 61004/40164 the address WeChat saw
        beside the ones the stack asked to be whitelisted."""
        fields: dict[str, Any] = {
            "api": api,
            "host": host,
            "errcode": error.errcode,
            "rid": error.rid,
            "error": type(error).__name__,
            "reason": error.message,
            "attempt": attempt,
            "elapsed_ms": elapsed_ms,
            "retrying": retry,
        }
        if error.client_ip is not None:
            fields["client_ip"] = error.client_ip
            fields["whitelist_ips"] = self._whitelist_ips
        return fields

    def _attempt_hosts(
        self, api: str, method: str, target: str, payload: bytes | None, secrets: tuple[str, ...], single_use: bool
    ) -> tuple[str, dict[str, Any] | _Retryable | UpstreamError]:
        """One attempt: at each host in turn while none could be connected to (the request went
        nowhere, so sending it to the next host is never a second send); the host that answered
        (or the last tried), and its outcome."""
        hosts = self._hosts_in_order()
        for index, base in enumerate(hosts):
            outcome = self._attempt(api, method, base + target, payload, secrets, single_use)
            if not isinstance(outcome, _Unsent) or len(self.base_urls) == 1:
                return _host(base), outcome
            self._mark_unreachable(base)
            if index + 1 < len(hosts):
                logger.warning(
                    "wechat host unreachable",
                    extra={
                        "api": api,
                        "host": _host(base),
                        "next_host": _host(hosts[index + 1]),
                        "reason": outcome.error.message,
                    },
                )
        return _host(hosts[-1]), outcome

    def _hosts_in_order(self) -> list[str]:
        """The configured order, hosts recently unreachable last (still tried: they may be back)."""
        now = self._clock()
        with self._unreachable_lock:
            down = {base for base, until in self._unreachable.items() if until > now}
        return [b for b in self.base_urls if b not in down] + [b for b in self.base_urls if b in down]

    def _mark_unreachable(self, base: str) -> None:
        with self._unreachable_lock:
            self._unreachable[base] = self._clock() + self._host_cooldown

    def _attempt(
        self, api: str, method: str, url: str, payload: bytes | None, secrets: tuple[str, ...], single_use: bool
    ) -> dict[str, Any] | _Retryable | UpstreamError:
        """One request: the success answer, a retryable failure, or a final error."""
        try:
            response = self.http.request(
                method, url, body=payload, headers=_HEADERS, timeout=self._timeout, retries=False
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # Only the exception's class: its text may name the URL, and the URL holds the token.
            unsent = UpstreamUnavailable(f"{api}: {type(exc).__name__}")
            if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):  # incl. NewConnectionError
                return _Unsent(unsent)  # no connection, so nothing was sent: safe to send anywhere
            return unsent if single_use else _Retryable(unsent)
        if response.status >= 500:
            failed = UpstreamUnavailable(f"{api}: HTTP {response.status}")
            return failed if single_use else _Retryable(failed)
        try:
            answer = json.loads(response.data)
        except ValueError:
            return _Retryable(UpstreamUnavailable(f"{api}: answer is not JSON (HTTP {response.status})"))
        if not isinstance(answer, dict):
            return _Retryable(UpstreamUnavailable(f"{api}: answer is not a JSON object"))
        errcode = _errcode(answer.get("errcode", 0))
        if errcode is None:
            return UpstreamUnavailable(f"{api}: malformed answer (errcode)")
        if errcode != 0:
            error = error_for(errcode, _scrub(answer.get("errmsg"), secrets), api=api)
            return _Retryable(error) if isinstance(error, SystemBusy) and not single_use else error
        if not 200 <= response.status < 300:
            return UpstreamUnavailable(f"{api}: HTTP {response.status}")
        return answer


class _Retryable:
    """A failure worth another attempt; `error` is raised when the attempts run out."""

    __slots__ = ("error",)

    def __init__(self, error: UpstreamError) -> None:
        self.error = error


class _Unsent(_Retryable):
    """No connection could be made: the request went nowhere (another host may take it)."""

    __slots__ = ()


def _host(base_url: str) -> str:
    """A base URL's host (and port), for the logs: never a path or a query."""
    return urlsplit(base_url).netloc


class _Malformed(UpstreamUnavailable):
    """A success answer without a field we need."""

    def __init__(self, field: str) -> None:
        super().__init__(f"malformed answer: no valid {field}")


def _scrub(errmsg: object, secrets: tuple[str, ...]) -> str:
    """WeChat's errmsg without any value we sent (defence in depth: it should never echo one)."""
    text = errmsg if isinstance(errmsg, str) else ""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


_MISSING: Any = object()


def _dict(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise _Malformed(key)
    return value


def _str(obj: dict[str, Any], key: str, *, default: str = _MISSING) -> str:
    value = obj.get(key, default)
    if value is _MISSING or not isinstance(value, str) or (default is _MISSING and not value):
        raise _Malformed(key)
    return value


def _int(obj: dict[str, Any], key: str, *, default: int = _MISSING) -> int:
    value = obj.get(key, default)
    if value is _MISSING or not isinstance(value, int) or isinstance(value, bool):
        raise _Malformed(key)
    return value


_ERRCODE_RE = re.compile(r"-?[0-9]{1,9}")


def _errcode(value: object) -> int | None:
    """WeChat's errcode: a number, or a numeric string as SDKs accept it (wechatpy int()s it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _ERRCODE_RE.fullmatch(value):
        return int(value)
    return None


def _expires_in(obj: dict[str, Any], *, default: int = DEFAULT_EXPIRES_IN) -> int:
    """A lifetime in seconds: absent is WeChat's 7200 (as SDKs assume); present, a positive number
    (or its numeric string)."""
    value = obj.get("expires_in", default)
    if isinstance(value, str) and _ERRCODE_RE.fullmatch(value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise _Malformed("expires_in")
    return value


def _text(obj: dict[str, Any], key: str) -> str:
    """An optional display string: anything but a string is ""."""
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _type_id(info: dict[str, Any], key: str) -> int | None:
    """`service_type_info.id` / `verify_type_info.id`: None when absent or not a number."""
    value = info.get(key)
    ident = value.get("id") if isinstance(value, dict) else None
    if isinstance(ident, str) and _ERRCODE_RE.fullmatch(ident):
        return int(ident)
    return ident if isinstance(ident, int) and not isinstance(ident, bool) else None


def _account_kind(info: dict[str, Any]) -> str:
    """What kind of account the profile describes: the info object WeChat adds for it tells."""
    if "MiniProgramInfo" in info:
        return MINI_PROGRAM
    if "channels_info" in info:
        return CHANNELS
    if "store_info" in info:
        return SHOP
    if "talent_info" in info:
        return TALENT
    if "supplier_info" in info:
        return SUPPLIER
    return OFFICIAL_ACCOUNT


def _func_info(info: dict[str, Any]) -> list[dict[str, Any]]:
    value = info.get("func_info", [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _Malformed("func_info")
    return value
