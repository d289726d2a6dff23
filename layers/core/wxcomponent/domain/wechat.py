"""The WeChat API's answers and WeChat's errcodes as typed errors (docs/protocol.md §3). The port is
`wxcomponent.ports.WeChatApi`; the urllib3 adapter lives in `wxcomponent.adapters.wechat_http`.

Every answer's repr leaves tokens, refresh tokens and codes out, and every error's message is safe to
log: WeChat's errcode and errmsg, never a token, a secret or a request body.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from wxcomponent.domain.errors import VerifyTicketMissing, WxComponentError

REDACTED = "<redacted>"
# WeChat's pages give 7200 in every example; mature SDKs use it when an answer leaves expires_in out.
DEFAULT_EXPIRES_IN = 7200

OFFICIAL_ACCOUNT = "official_account"
MINI_PROGRAM = "mini_program"
CHANNELS = "channels"
SHOP = "shop"
TALENT = "talent"  # 带货助手
SUPPLIER = "supplier"


# -- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    """api_component_token's answer."""

    access_token: str
    expires_in: int

    def __repr__(self) -> str:
        return f"IssuedToken(access_token={REDACTED}, expires_in={self.expires_in})"


@dataclass(frozen=True)
class IssuedTicket:
    """getticket's answer: a JS-SDK ticket (jsapi or wx_card)."""

    ticket: str
    expires_in: int

    def __repr__(self) -> str:
        return f"IssuedTicket(ticket={REDACTED}, expires_in={self.expires_in})"


@dataclass(frozen=True)
class PreAuthCode:
    pre_auth_code: str
    expires_in: int

    def __repr__(self) -> str:
        return f"PreAuthCode(pre_auth_code={REDACTED}, expires_in={self.expires_in})"


@dataclass(frozen=True)
class AuthorizationInfo:
    """api_query_auth's `authorization_info`. WeChat gives the two tokens and `expires_in` only
    "when the authorized account has API permission" (docs/protocol.md §2): without it both are ""."""

    authorizer_appid: str
    authorizer_access_token: str
    expires_in: int
    authorizer_refresh_token: str
    func_info: list[dict[str, Any]]

    @property
    def has_api_permission(self) -> bool:
        return bool(self.authorizer_access_token and self.authorizer_refresh_token)

    def __repr__(self) -> str:
        return (
            f"AuthorizationInfo(authorizer_appid={self.authorizer_appid!r}, authorizer_access_token={REDACTED}, "
            f"expires_in={self.expires_in}, authorizer_refresh_token={REDACTED}, func_info={self.func_info!r})"
        )


@dataclass(frozen=True)
class AuthorizerToken:
    """api_authorizer_token's answer; `authorizer_refresh_token` is "" when WeChat leaves it out."""

    authorizer_access_token: str
    expires_in: int
    authorizer_refresh_token: str

    def __repr__(self) -> str:
        refresh = REDACTED if self.authorizer_refresh_token else "''"
        return (
            f"AuthorizerToken(authorizer_access_token={REDACTED}, expires_in={self.expires_in}, "
            f"authorizer_refresh_token={refresh})"
        )


@dataclass(frozen=True)
class AuthorizerProfile:
    """api_get_authorizer_info's `authorizer_info` (+ `authorization_info`). `raw` is the whole answer
    and may carry `authorization_info.authorizer_refresh_token`: neither appears in the repr.
    `service_type` and `verify_type` are None when WeChat leaves their objects out (Channels and
    shop accounts); `account_kind` is told by which info object the answer carries."""

    authorizer_appid: str
    nick_name: str
    head_img: str
    user_name: str
    alias: str
    principal_name: str
    service_type: int | None
    verify_type: int | None
    qrcode_url: str
    account_kind: str
    raw: dict[str, Any]
    authorizer_refresh_token: str = ""

    @property
    def is_mini_program(self) -> bool:
        return self.account_kind == MINI_PROGRAM

    def __repr__(self) -> str:
        return (
            f"AuthorizerProfile(authorizer_appid={self.authorizer_appid!r}, nick_name={self.nick_name!r}, "
            f"user_name={self.user_name!r}, principal_name={self.principal_name!r}, "
            f"service_type={self.service_type}, verify_type={self.verify_type}, "
            f"account_kind={self.account_kind!r})"
        )


@dataclass(frozen=True)
class AuthorizerListItem:
    authorizer_appid: str
    refresh_token: str
    auth_time: int

    def __repr__(self) -> str:
        return (
            f"AuthorizerListItem(authorizer_appid={self.authorizer_appid!r}, refresh_token={REDACTED}, "
            f"auth_time={self.auth_time})"
        )


@dataclass(frozen=True)
class AuthorizerListPage:
    total_count: int
    items: list[AuthorizerListItem]

    def __repr__(self) -> str:  # the items' own reprs redact their refresh tokens
        return f"AuthorizerListPage(total_count={self.total_count}, items={self.items!r})"


@dataclass(frozen=True)
class WebAccessToken:
    """sns/oauth2/component/access_token's answer (web login on an account's behalf): the visitor's
    web token, kept only to ask sns/userinfo and never vended (nor is its refresh token, which is
    not kept at all), their `openid`, the `scope` they granted, `unionid` ("" unless given) and
    WeChat's snapshot-mode flag (a virtual openid)."""

    access_token: str
    openid: str
    scope: str
    unionid: str = ""
    is_snapshotuser: bool = False

    def __repr__(self) -> str:
        return (
            f"WebAccessToken(access_token={REDACTED}, openid=<visitor>, scope={self.scope!r}, "
            f"is_snapshotuser={self.is_snapshotuser})"
        )


@dataclass(frozen=True)
class WebUserInfo:
    """sns/userinfo's answer: the visitor's nickname and avatar (`headimgurl`; either may be "")."""

    openid: str
    nickname: str
    headimgurl: str
    unionid: str = ""

    def __repr__(self) -> str:
        return "WebUserInfo(<visitor>)"


@dataclass(frozen=True)
class RidInfo:
    """getRidInfo's `request`: what WeChat saw of one call that answered with this rid. The URL's
    query and the two bodies come with every token, secret, ticket and code replaced by REDACTED
    (`masked`), whatever the call was."""

    rid: str
    invoke_time: int
    cost_in_ms: int
    request_url: str
    request_body: str
    response_body: str
    client_ip: str


@dataclass(frozen=True)
class ApiQuota:
    """getApiQuota's `quota` for one API (`cgi_path`), today: the limit, what was used, what remains."""

    cgi_path: str
    daily_limit: int
    used: int
    remain: int


# -- rids, and the address WeChat saw ------------------------------------------------------------

# WeChat ends an error's errmsg with its request id: `… rid: 61725984-6126f6f9-040f19c4`
# (getRidInfo's page); getRidInfo answers for it for 7 days, to the account that made the call.
RID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}")
RID_DAYS = 7
_RID_IN_TEXT = re.compile(r"\brid:\s*([0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8})(?![0-9a-f-])")
# 61004 (component APIs) says `access clientip is not registered requestIP: 1.2.3.4`, 40164 (the
# accounts' APIs) `invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist`.
WHITELIST_ERRCODES = frozenset({61004, 40164})
_INVALID_IP = re.compile(r"invalid ip ([0-9A-Fa-f.:]*)(?: ipv6 ([0-9A-Fa-f.:]+))?")
_REQUEST_IP = re.compile(r"requestIP:\s*([0-9A-Fa-f.:]+)")
# What a call may send or be answered that must never be shown: tokens, secrets, tickets, codes.
_SECRET_FIELDS = (
    "access_token",
    "component_access_token",
    "authorizer_access_token",
    "authorizer_refresh_token",
    "refresh_token",
    "component_appsecret",
    "appsecret",
    "component_secret",
    "secret",
    "component_verify_ticket",
    "ticket",
    "authorization_code",
    "auth_code",
    "code",
    "pre_auth_code",
    "encoding_aes_key",
)
_FIELDS = "|".join(_SECRET_FIELDS)
_QUERY_FIELD = re.compile(rf"(?<![A-Za-z0-9_])({_FIELDS})=[^&\s\"'#]*", re.IGNORECASE)
_JSON_FIELD = re.compile(rf'("(?:{_FIELDS})"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)
_XML_FIELD = re.compile(rf"<({_FIELDS})>.*?</\1>", re.IGNORECASE | re.DOTALL)


def rid_in(text: str) -> str | None:
    """The rid a WeChat errmsg (or a message quoting one) ends with, or None."""
    found = _RID_IN_TEXT.search(text)
    return found.group(1) if found else None


def client_ip_in(errmsg: str) -> str | None:
    """The address a 61004/40164 errmsg says WeChat saw (an IPv4 one for `::ffff:` mapped), or None."""
    candidates: list[str] = []
    invalid = _INVALID_IP.search(errmsg)
    if invalid:
        candidates += [group for group in invalid.groups() if group]
    requested = _REQUEST_IP.search(errmsg)
    if requested:
        candidates.append(requested.group(1))
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate.rstrip(".:"))
        except ValueError:
            continue
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return str(mapped or address)
    return None


def rid_of(error: BaseException) -> str | None:
    """The rid behind `error`: its own, or that of the WeChat error it was raised from (a
    `NotAuthorized` from a 61023, a `VerifyTicketMissing` from a 61006), or the one its message quotes
    (a refusal remembered from an earlier call)."""
    seen: BaseException | None = error
    for _ in range(8):  # a chain of causes is short; never loop on a cycle
        if seen is None:
            break
        if isinstance(seen, UpstreamError) and seen.rid:
            return seen.rid
        if isinstance(seen, WxComponentError) and (quoted := rid_in(seen.message)):
            return quoted
        seen = seen.__cause__ or seen.__context__
    return None


def masked(text: str) -> str:
    """`text` (a query string, a JSON, XML or form body) with the value of every token, secret,
    ticket or code field replaced by REDACTED."""
    text = _QUERY_FIELD.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _JSON_FIELD.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    return _XML_FIELD.sub(lambda m: f"<{m.group(1)}>{REDACTED}</{m.group(1)}>", text)


# -- errors --------------------------------------------------------------------------------------


class UpstreamError(WxComponentError):
    """WeChat refused or could not answer. `errcode` is WeChat's, or None when no answer came;
    `rid` is the request id WeChat ended its errmsg with (what `getRidInfo` looks up), or None."""

    code = "upstream_error"

    def __init__(self, message: str, *, errcode: int | None = None, rid: str | None = None) -> None:
        super().__init__(message, errcode=errcode)
        self.rid = rid if rid is not None else rid_in(message)

    @property
    def client_ip(self) -> str | None:
        """61004/40164: the address WeChat saw the call come from, as its errmsg names it."""
        return client_ip_in(self.message) if self.errcode in WHITELIST_ERRCODES else None


class SystemBusy(UpstreamError):
    """-1: WeChat is busy; retried with backoff before this is raised, but never on a single-use
    call (WeChat may have acted before it answered -1)."""


class TokenRejected(UpstreamError):
    """40001, 40014, 42001: the token is invalid, expired or superseded (on api_component_token: a
    wrong secret). Refresh once, retry once."""


class ConfigurationRejected(UpstreamError):
    """40013, 61011 (appid/component), 40125 (wrong AppSecret), 41004 (AppSecret missing), 61004 and
    40164 (IP not whitelisted), 41001 (token not in the query: a bug). An operator must act; never
    retried."""


class QuotaExceeded(UpstreamError):
    """45009: the daily quota is spent. Stop and alarm."""


class AccountRevokedAuthorization(UpstreamError):
    """61003: the account has not authorized (or has revoked) the component."""


class RevocationNotConfirmed(AccountRevokedAuthorization):
    """61003 for an account `api_get_authorizer_list` still lists: not believed (the grant stays),
    and remembered like any refusal an operator must look at (issue 19, M3)."""


class VerifyTicketRejected(UpstreamError):
    """61005, 61006: the verify ticket is expired or invalid; wait for the next push."""


class AuthorizationCodeRejected(UpstreamError):
    """61009, 61010: the authorization code is invalid or expired; the merchant must authorize again."""


class WebLoginCodeRejected(UpstreamError):
    """40029 (invalid, expired, or another account's), 40163 (already used): a visitor's web-login
    code WeChat will not exchange. The caller's to fix (send the visitor through web login again),
    so the contract's `bad_request`, never retried and never remembered."""

    code = "bad_request"


class RefreshTokenRejected(UpstreamError):
    """61023: the refresh token is invalid; recover it from api_get_authorizer_list, else revoked."""


class PermissionRejected(UpstreamError):
    """48001 (API not authorized), 61007 (the account did not grant the component this permission
    set): the merchant must grant it; asking again soon changes nothing."""


class CustomerServiceLimit(UpstreamError):
    """45015 (outside the 48-hour window), 45047 (over the count for the window): WeChat will not
    deliver this customer-service message to this user now."""


class RequestRejected(UpstreamError):
    """An argument WeChat refuses (40097, 47001, 44002, 40003, 40008, 44004, 40007, 43001, 43002,
    40002): our request is wrong; sending it again changes nothing."""


class UnknownWeChatError(UpstreamError):
    """Any other non-zero errcode."""


class UpstreamUnavailable(UpstreamError):
    """No usable answer: HTTP ≥ 500, not JSON, malformed, a timeout or a connection error."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errcode=None)


_ERRORS: dict[int, type[UpstreamError]] = {
    -1: SystemBusy,
    40001: TokenRejected,
    40014: TokenRejected,
    42001: TokenRejected,
    40013: ConfigurationRejected,
    40125: ConfigurationRejected,
    40164: ConfigurationRejected,
    41001: ConfigurationRejected,
    41004: ConfigurationRejected,
    61004: ConfigurationRejected,
    61011: ConfigurationRejected,
    48001: PermissionRejected,
    61007: PermissionRejected,
    45015: CustomerServiceLimit,
    45047: CustomerServiceLimit,
    **dict.fromkeys((40002, 40003, 40007, 40008, 40097, 43001, 43002, 44002, 44004, 47001), RequestRejected),
    45009: QuotaExceeded,
    61003: AccountRevokedAuthorization,
    61005: VerifyTicketRejected,
    61006: VerifyTicketRejected,
    61009: AuthorizationCodeRejected,
    61010: AuthorizationCodeRejected,
    61023: RefreshTokenRejected,
    40029: WebLoginCodeRejected,
    40163: WebLoginCodeRejected,
}
MAX_ERRMSG = 200


def error_for(errcode: int, errmsg: str, *, api: str = "") -> UpstreamError:
    """The typed error for a non-zero errcode. `errmsg` is WeChat's text, shortened; the caller
    removes any value it sent before passing it (the adapter does). Its rid is read from the whole
    text, which WeChat ends with it."""
    cls = _ERRORS.get(errcode, UnknownWeChatError)
    where = f"{api}: " if api else ""
    return cls(f"{where}errcode {errcode}: {errmsg[:MAX_ERRMSG]}", errcode=errcode, rid=rid_in(errmsg))


# -- failed refreshes, remembered ------------------------------------------------------------------

_CONFIGURATION_RETRY_AFTER = 600  # an operator must act (IP whitelist, appid, secret): ask again rarely
_QUOTA_RETRY_AFTER = 3600  # the day's quota is spent: asking again only spends what is left of nothing
_TICKET_RETRY_AFTER = 60  # the next push brings a new ticket within 10 minutes
_TRANSIENT_RETRY_AFTER = 10  # busy, down, or an answer we could not read


@dataclass(frozen=True)
class RefreshFailure:
    """A refresh WeChat refused, kept so that every caller in every container gets the same answer
    until `until`, without asking WeChat again (docs/SECURITY.md, quota)."""

    kind: str  # the error's class name
    errcode: int | None
    message: str
    until: float

    @classmethod
    def of(cls, error: WxComponentError, now: float) -> RefreshFailure | None:
        """The failure to remember for `error`, or None for an error that must not be remembered."""
        retry_after = _retry_after(error)
        if retry_after is None:
            return None
        message, rid = error.message, rid_of(error)
        if rid and rid not in message:  # the caller told later can still look the first refusal up
            message = f"{message} rid: {rid}"
        return cls(type(error).__name__, error.errcode, message, now + retry_after)

    def error(self) -> WxComponentError:
        """The same typed error again (its message says it is remembered)."""
        cls = _REMEMBERED.get(self.kind, UnknownWeChatError)
        message = f"{self.message} (remembered: WeChat is asked again later)"
        if cls is UpstreamUnavailable:
            return UpstreamUnavailable(message)
        return cls(message, errcode=self.errcode)


def _retry_after(error: WxComponentError) -> int | None:
    if isinstance(error, QuotaExceeded):
        return _QUOTA_RETRY_AFTER
    if isinstance(
        error, ConfigurationRejected | TokenRejected | PermissionRejected | RequestRejected | RevocationNotConfirmed
    ):
        return _CONFIGURATION_RETRY_AFTER  # on a refresh, 40001 is a wrong secret; the rest need a person
    if isinstance(error, VerifyTicketRejected) or (error.code == "ticket_missing" and error.errcode is not None):
        return _TICKET_RETRY_AFTER
    if isinstance(error, SystemBusy | UpstreamUnavailable | UnknownWeChatError):
        return _TRANSIENT_RETRY_AFTER
    return None  # 61023, a confirmed 61003, 61009/61010, 45015/45047 (handled where they happen), or no call made


def _remembered_classes() -> dict[str, type[WxComponentError]]:
    classes: list[type[WxComponentError]] = [
        QuotaExceeded,
        ConfigurationRejected,
        TokenRejected,
        PermissionRejected,
        RequestRejected,
        RevocationNotConfirmed,
        VerifyTicketRejected,
        VerifyTicketMissing,
        SystemBusy,
        UpstreamUnavailable,
        UnknownWeChatError,
    ]
    return {cls.__name__: cls for cls in classes}


_REMEMBERED = _remembered_classes()
