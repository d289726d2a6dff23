"""`WeChatApi` in memory, for unit tests of the services: WeChat's behaviour where the services
depend on it (a new component token per call, single-use codes, refresh-token rotation), every
call counted, and any failure scriptable per API (`fail(api, error, times)`)."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from typing import Any

from wxcomponent.domain.wechat import (
    ApiQuota,
    AuthorizationCodeRejected,
    AuthorizationInfo,
    AuthorizerListItem,
    AuthorizerListPage,
    AuthorizerProfile,
    AuthorizerToken,
    IssuedTicket,
    IssuedToken,
    PermissionRejected,
    PreAuthCode,
    RefreshTokenRejected,
    RidInfo,
    TokenRejected,
    UnknownWeChatError,
    UpstreamError,
    UpstreamUnavailable,
    WebAccessToken,
    WebLoginCodeRejected,
    WebUserInfo,
)


@dataclass(frozen=True)
class WebVisit:
    """A web login WeChat's page gave a code for: whose account, which visitor, what they granted."""

    authorizer_appid: str
    openid: str
    scope: str
    snapshot: bool = False
    nickname: str = ""
    unionid: str = ""


class FakeWeChat:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.failures: defaultdict[str, deque[UpstreamError]] = defaultdict(deque)
        self._serial = itertools.count(1)
        self.component_tokens: list[str] = []
        self.codes: dict[str, str] = {}  # authorization code -> authorizer appid (unused ones)
        self.refresh_tokens: dict[str, str] = {}  # authorizer appid -> its current refresh token
        self.rotate: set[str] = set()  # authorizers whose refresh token changes on every refresh
        self.listed: dict[str, str] = {}  # what api_get_authorizer_list says (appid -> refresh token)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.lose_answers: Counter[str] = Counter()  # WeChat did the work, but its answer is lost
        self.authorizer_tokens: dict[str, str] = {}  # authorizer appid -> its newest access token
        self.js_tickets: list[tuple[str, str, str]] = []  # (authorizer appid, type, ticket), as issued
        self.without_api_permission: set[str] = set()  # api_query_auth answers these without tokens
        self.info_refresh_tokens: dict[str, str] = {}  # api_get_authorizer_info's authorization_info
        self.profile_info: dict[str, dict[str, Any]] = {}  # appid -> its authorizer_info, when not the default
        self.same_js_ticket = False  # getticket answers the ticket it gave last (observed, F8)
        self.expires_in: dict[str, int] = {}  # api -> the expires_in it answers, when not 7200
        self.web_codes: dict[str, WebVisit] = {}  # web-login code -> the visit it was given for
        self.used_web_codes: set[str] = set()
        self.web_tokens: dict[str, WebVisit] = {}  # the visitors' web tokens, as issued
        self.userinfo_langs: list[str] = []

    def fail(self, api: str, error: UpstreamError, times: int = 1) -> None:
        self.failures[api].extend([error] * times)

    def revoke(self, authorizer_appid: str) -> None:
        """The merchant revokes: WeChat forgets the refresh token and stops listing the account."""
        self.refresh_tokens.pop(authorizer_appid, None)
        self.listed.pop(authorizer_appid, None)

    def new_code(self, authorizer_appid: str) -> str:
        code = f"queryauthcode@@@{next(self._serial)}"
        self.codes[code] = authorizer_appid
        return code

    def new_web_code(
        self,
        authorizer_appid: str,
        openid: str,
        scope: str,
        *,
        snapshot: bool = False,
        nickname: str = "",
        unionid: str = "",
    ) -> str:
        """A visitor's web-login code, as WeChat's redirect would carry it."""
        code = f"webcode{next(self._serial):025d}"
        self.web_codes[code] = WebVisit(authorizer_appid, openid, scope, snapshot, nickname, unionid)
        return code

    # -- the port --------------------------------------------------------------------------------

    def component_token(self, component_appid: str, component_appsecret: str, ticket: str) -> IssuedToken:
        self._call("api_component_token")
        self.component_tokens.append(f"component-token-{next(self._serial)}")
        return IssuedToken(self.component_tokens[-1], self.expires_in.get("api_component_token", 7200))

    def create_preauthcode(self, component_token: str, component_appid: str) -> PreAuthCode:
        self._call("api_create_preauthcode", component_token)
        return PreAuthCode(f"preauthcode@@@{next(self._serial)}", self.expires_in.get("api_create_preauthcode", 600))

    def query_auth(self, component_token: str, component_appid: str, authorization_code: str) -> AuthorizationInfo:
        self._call("api_query_auth", component_token)
        appid = self.codes.pop(authorization_code, None)
        if appid is None:
            raise AuthorizationCodeRejected("api_query_auth: errcode 61010: code is expired", errcode=61010)
        func_info = [{"funcscope_category": {"id": 1}}, {"funcscope_category": {"id": 15}}]
        if appid in self.without_api_permission:  # WeChat's page: no tokens without API permission
            self.refresh_tokens.pop(appid, None)
            self.listed[appid] = ""
            return AuthorizationInfo(appid, "", 7200, "", func_info)
        refresh = f"refresh@@@{next(self._serial)}"
        self.refresh_tokens[appid] = refresh
        self.listed[appid] = refresh
        if self.lose_answers["api_query_auth"] > 0:
            self.lose_answers["api_query_auth"] -= 1
            raise UpstreamUnavailable("api_query_auth: ReadTimeoutError")
        return AuthorizationInfo(appid, self._authorizer_token(appid), 7200, refresh, func_info)

    def authorizer_token(
        self, component_token: str, component_appid: str, authorizer_appid: str, refresh_token: str
    ) -> AuthorizerToken:
        self._call("api_authorizer_token", component_token)
        if self.refresh_tokens.get(authorizer_appid) != refresh_token:
            raise RefreshTokenRejected("api_authorizer_token: errcode 61023: invalid refresh token", errcode=61023)
        if authorizer_appid in self.rotate:
            self.refresh_tokens[authorizer_appid] = f"refresh@@@{next(self._serial)}"
            self.listed[authorizer_appid] = self.refresh_tokens[authorizer_appid]
        token, expires_in = self._authorizer_token(authorizer_appid), self.expires_in.get("api_authorizer_token", 7200)
        return AuthorizerToken(token, expires_in, self.refresh_tokens[authorizer_appid])

    def get_authorizer_info(
        self, component_token: str, component_appid: str, authorizer_appid: str
    ) -> AuthorizerProfile:
        self._call("api_get_authorizer_info", component_token)
        info = self.profile_info.get(authorizer_appid)
        if info is not None:
            kind = "channels" if "channels_info" in info else "shop" if "store_info" in info else "official_account"
            return AuthorizerProfile(
                authorizer_appid,
                info.get("nick_name", ""),
                "",
                info.get("user_name", ""),
                "",
                info.get("principal_name", ""),
                None,
                None,
                "",
                kind,
                {"authorizer_info": info},
            )
        return AuthorizerProfile(
            authorizer_appid,
            "星河咖啡",
            "http://img",
            "gh_0123456789ab",
            "galaxy",
            "星河咖啡有限公司",
            2,
            0,
            "",
            "official_account",
            {},
            authorizer_refresh_token=self.info_refresh_tokens.get(authorizer_appid, ""),
        )

    def get_authorizer_list(
        self, component_token: str, component_appid: str, offset: int, count: int
    ) -> AuthorizerListPage:
        self._call("api_get_authorizer_list", component_token)
        items = [AuthorizerListItem(appid, token, 0) for appid, token in sorted(self.listed.items())]
        return AuthorizerListPage(len(items), items[offset : offset + count])

    def start_push_ticket(self, component_appid: str, component_secret: str) -> None:
        self._call("api_start_push_ticket")

    def send_custom_message(self, authorizer_token: str, message: dict[str, Any]) -> None:
        self._call("custom_send")
        self.sent.append((authorizer_token, message))

    def get_ticket(self, authorizer_token: str, ticket_type: str) -> IssuedTicket:
        self._call("getticket")
        owner = next((appid for appid, token in self.authorizer_tokens.items() if token == authorizer_token), None)
        if owner is None:  # only each authorizer's newest token is good here (the harsher case)
            raise TokenRejected("getticket: errcode 40001: invalid credential", errcode=40001)
        last = [t for appid, kind, t in self.js_tickets if appid == owner and kind == ticket_type]
        if self.same_js_ticket and last:
            return IssuedTicket(last[-1], 7200)  # the same ticket, its life told as 7200 again
        ticket = f"{ticket_type}-ticket-{next(self._serial)}"
        self.js_tickets.append((owner, ticket_type, ticket))
        return IssuedTicket(ticket, self.expires_in.get("getticket", 7200))

    def oauth2_component_access_token(
        self, component_token: str, component_appid: str, authorizer_appid: str, code: str
    ) -> WebAccessToken:
        self._call("sns_component_access_token", component_token)
        if code in self.used_web_codes:
            raise WebLoginCodeRejected("sns_component_access_token: errcode 40163: code been used", errcode=40163)
        visit = self.web_codes.get(code)
        if visit is None or visit.authorizer_appid != authorizer_appid:
            raise WebLoginCodeRejected("sns_component_access_token: errcode 40029: invalid code", errcode=40029)
        del self.web_codes[code]
        self.used_web_codes.add(code)
        token = f"web-token-{next(self._serial)}"
        self.web_tokens[token] = visit
        return WebAccessToken(token, visit.openid, visit.scope, visit.unionid, is_snapshotuser=visit.snapshot)

    def sns_userinfo(self, web_access_token: str, openid: str, lang: str) -> WebUserInfo:
        self._call("sns_userinfo")
        self.userinfo_langs.append(lang)
        visit = self.web_tokens.get(web_access_token)
        if visit is None or visit.openid != openid:
            raise TokenRejected("sns_userinfo: errcode 40001: invalid credential", errcode=40001)
        if visit.scope != "snsapi_userinfo" or visit.snapshot:
            raise PermissionRejected("sns_userinfo: errcode 48001: api unauthorized", errcode=48001)
        return WebUserInfo(openid, visit.nickname, f"https://thirdwx.qlogo.cn/{openid}/132", visit.unionid)

    # -- diagnosis (issue 22): the services never call these; the operator CLI does, over HTTP ------

    def get_rid_info(self, access_token: str, rid: str) -> RidInfo:
        self._call("rid_get")
        raise UnknownWeChatError(f"rid_get: errcode 76001: rid not found rid: {rid}", errcode=76001)

    def get_api_quota(self, access_token: str, cgi_path: str) -> ApiQuota:
        self._call("quota_get")
        return ApiQuota(cgi_path, daily_limit=10000, used=self.calls[cgi_path.rsplit("/", 1)[-1]], remain=0)

    def clear_quota(self, component_appid: str, component_appsecret: str, authorizer_appid: str = "") -> None:
        self._call("clear_quota")

    def _authorizer_token(self, authorizer_appid: str) -> str:
        self.authorizer_tokens[authorizer_appid] = f"authorizer-token-{next(self._serial)}"
        return self.authorizer_tokens[authorizer_appid]

    def _call(self, api: str, component_token: str | None = None) -> None:
        self.calls[api] += 1
        if self.failures[api]:
            raise self.failures[api].popleft()
        if component_token is not None and self.component_tokens and component_token != self.component_tokens[-1]:
            # WeChat keeps a replaced token alive a few minutes; here only the newest is good,
            # which is the harsher case for compare-and-refresh.
            raise TokenRejected(f"{api}: errcode 40001: invalid credential", errcode=40001)
