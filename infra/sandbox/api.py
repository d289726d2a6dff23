"""WeChat's API paths (docs/protocol.md §3): POST JSON in, WeChat's JSON shapes and errcodes out.

Every error answered ends its errmsg with a rid, and the call is kept under it for getRidInfo
(`answered`); every call an account's token or credentials let through spends that account's daily
quota of the API (state/quotas.py), which getApiQuota reports and clear_quota/v2 resets.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from urllib.parse import urlencode

from infra.sandbox.config import CUSTOMER_SERVICE_SETS, OFFICIAL_ACCOUNT, WEB_PAGES_SET
from infra.sandbox.pusher import Pusher
from infra.sandbox.state import JSON, WeChatError, World
from infra.sandbox.state.quotas import COMPONENT, LIMITS
from infra.sandbox.state.rids import RID_RE, SNS, RidRecord, new_rid, rid_in

# path -> the API's name (used by faults, counters and the call log)
API_PATHS: dict[str, str] = {
    "/cgi-bin/component/api_component_token": "api_component_token",
    "/cgi-bin/component/api_create_preauthcode": "api_create_preauthcode",
    "/cgi-bin/component/api_query_auth": "api_query_auth",
    "/cgi-bin/component/api_authorizer_token": "api_authorizer_token",
    "/cgi-bin/component/api_get_authorizer_info": "api_get_authorizer_info",
    "/cgi-bin/component/api_get_authorizer_list": "api_get_authorizer_list",
    "/cgi-bin/component/api_start_push_ticket": "api_start_push_ticket",
    "/cgi-bin/component/clear_quota/v2": "clear_quota",
    "/cgi-bin/message/custom/send": "custom_send",
    "/cgi-bin/openapi/rid/get": "rid_get",
    "/cgi-bin/openapi/quota/get": "quota_get",
}
# The APIs WeChat serves on GET (docs/protocol.md §7): the JS-SDK tickets, and web login's exchange
# and profile; same faults, counters and call log as the others.
GET_API_PATHS: dict[str, str] = {
    "/cgi-bin/ticket/getticket": "getticket",
    "/sns/oauth2/component/access_token": "sns_component_access_token",
    "/sns/userinfo": "sns_userinfo",
}

OK: JSON = {"errcode": 0, "errmsg": "ok"}
# Whose call each API is, for getRidInfo: the component's APIs are the component's; an account's
# (and the two openapi calls) are whoever's token they carry; web login's are refused (76022).
COMPONENT_APIS = frozenset(
    {
        "api_component_token",
        "api_create_preauthcode",
        "api_query_auth",
        "api_authorizer_token",
        "api_get_authorizer_info",
        "api_get_authorizer_list",
        "api_start_push_ticket",
        "clear_quota",
    }
)
SNS_APIS = frozenset({"sns_component_access_token", "sns_userinfo"})

Handler = Callable[[dict[str, str], JSON], JSON]


_OPENID_RE = re.compile(r"[A-Za-z0-9_-]{28}")
_MESSAGE_TYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "music",
        "news",
        "mpnews",
        "mpnewsarticle",
        "msgmenu",
        "wxcard",
        "miniprogrampage",
        "link",
    }
)
_MEDIA_TYPES = frozenset({"image", "voice", "video"})


class WeChatApi:
    """One method per API; each takes the query and the JSON body and returns the answer."""

    def __init__(self, world: World, pusher: Pusher) -> None:
        self.world = world
        self.pusher = pusher
        self.handlers: dict[str, Handler] = {
            "api_component_token": self.component_token,
            "api_create_preauthcode": self.create_preauthcode,
            "api_query_auth": self.query_auth,
            "api_authorizer_token": self.authorizer_token,
            "api_get_authorizer_info": self.get_authorizer_info,
            "api_get_authorizer_list": self.get_authorizer_list,
            "api_start_push_ticket": self.start_push_ticket,
            "clear_quota": self.clear_quota,
            "custom_send": self.custom_send,
            "getticket": self.getticket,
            "sns_component_access_token": self.sns_component_access_token,
            "sns_userinfo": self.sns_userinfo,
            "rid_get": self.rid_get,
            "quota_get": self.quota_get,
        }

    def handle(self, name: str, query: dict[str, str], body: JSON) -> JSON:
        try:
            return self.handlers[name](query, body)
        except WeChatError as exc:
            return exc.answer()

    def answered(
        self, name: str, query: dict[str, str], raw: bytes, answer: JSON, client_ip: str, started: float
    ) -> bytes:
        """`answer` as sent: an error's errmsg ends with a rid (one is added where a fault or the
        server gave none), and the call is kept under it for getRidInfo, with whose it was."""
        errcode = answer.get("errcode")
        rid = None
        if isinstance(errcode, int) and errcode != 0:
            errmsg = str(answer.get("errmsg") or "")
            rid = rid_in(errmsg)
            if rid is None:
                rid = new_rid()
                answer = {**answer, "errmsg": f"{errmsg} rid: {rid}"}
        payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        if rid is not None:
            now = self.world.clock.now()
            self.world.rids.record(
                RidRecord(
                    rid=rid,
                    api=name,
                    owner=self._owner(name, query),
                    invoke_time=started,
                    cost_in_ms=max(0, round((now - started) * 1000)),
                    request_url=urlencode(query),
                    request_body=raw.decode("utf-8", "replace"),
                    response_body=payload.decode("utf-8"),
                    client_ip=client_ip,
                )
            )
        return payload

    def _owner(self, name: str, query: dict[str, str]) -> str | None:
        if name in SNS_APIS:
            return SNS
        if name in COMPONENT_APIS:
            return self.world.config.component_appid
        token = query.get("access_token") or query.get("component_access_token")
        if self.world.component.owns_token(token):
            return self.world.config.component_appid
        return self.world.merchants.token_owner(token)

    def _caller(self, query: dict[str, str]) -> str:
        """The account whose live token asks (getRidInfo, getApiQuota): the component's or an
        authorizer's; 41001, 42001, 40001 as for any call."""
        token = query.get("access_token") or query.get("component_access_token")
        if token and self.world.component.owns_token(token):
            self.world.component.check_token(token)
            return self.world.config.component_appid
        return self.world.merchants.check_access_token(token)

    def _spend(self, account: str, name: str) -> None:
        """One call of `name` on `account`'s daily quota (45009 once it is spent)."""
        self.world.quotas.spend(account, name)

    def _component_call(self, query: dict[str, str], body: JSON, name: str) -> None:
        """Token in the query (41001 when only in the body or missing), then the component appid,
        then the component's quota of the API."""
        # The current docs name it access_token; the older ones component_access_token: both work.
        self.world.component.check_token(query.get("component_access_token") or query.get("access_token"))
        self.world.component.check_appid(body.get("component_appid"))
        self._spend(self.world.config.component_appid, name)

    def component_token(self, query: dict[str, str], body: JSON) -> JSON:
        self.world.component.check_credentials(
            body.get("component_appid"), body.get("component_appsecret"), wrong_secret=40125
        )
        self._spend(self.world.config.component_appid, "api_component_token")
        return self.world.component.issue_token(
            body.get("component_appid"), body.get("component_appsecret"), body.get("component_verify_ticket")
        )

    def create_preauthcode(self, query: dict[str, str], body: JSON) -> JSON:
        self._component_call(query, body, "api_create_preauthcode")
        return self.world.component.create_pre_auth_code()

    def query_auth(self, query: dict[str, str], body: JSON) -> JSON:
        self._component_call(query, body, "api_query_auth")
        return self.world.merchants.query_auth(body.get("authorization_code"))

    def authorizer_token(self, query: dict[str, str], body: JSON) -> JSON:
        self._component_call(query, body, "api_authorizer_token")
        return self.world.merchants.authorizer_token(body.get("authorizer_appid"), body.get("authorizer_refresh_token"))

    def get_authorizer_info(self, query: dict[str, str], body: JSON) -> JSON:
        self._component_call(query, body, "api_get_authorizer_info")
        return self.world.merchants.authorizer_info(body.get("authorizer_appid"), self.world.base_url)

    def get_authorizer_list(self, query: dict[str, str], body: JSON) -> JSON:
        self._component_call(query, body, "api_get_authorizer_list")
        return self.world.merchants.authorizer_list(body.get("offset", 0), body.get("count", 500))

    def start_push_ticket(self, query: dict[str, str], body: JSON) -> JSON:
        self.world.component.check_credentials(body.get("component_appid"), body.get("component_secret"))
        self._spend(self.world.config.component_appid, "api_start_push_ticket")
        self.pusher.push_ticket_in_background()
        return dict(OK)

    def clear_quota(self, query: dict[str, str], body: JSON) -> JSON:
        """clear_quota/v2: the AppSecret alone, no token (it works when the token APIs are spent)."""
        self.world.clear_quota(body.get("component_appid"), body.get("appsecret"), body.get("appid"))
        return dict(OK)

    # -- what WeChat saw, and the quotas (openapi) -------------------------------------------------

    def rid_get(self, query: dict[str, str], body: JSON) -> JSON:
        """getRidInfo: the call that answered with `rid`, for 7 days, to the account that made it."""
        caller = self._caller(query)
        rid = body.get("rid")
        if not isinstance(rid, str) or not RID_RE.fullmatch(rid):
            raise WeChatError(76002, "rid is error")
        record = self.world.rids.lookup(rid)
        if record is None:
            raise WeChatError(76001, "rid not found")
        if record.owner == SNS:
            raise WeChatError(76022, "could not query this rid,no permission")
        if record.owner != caller:
            raise WeChatError(76003, "could not query this rid,no permission")
        return {**OK, "request": record.request()}

    def quota_get(self, query: dict[str, str], body: JSON) -> JSON:
        """getApiQuota: one API's daily limit, today's use and what remains, for the asking account
        (the component's APIs with its token, an account's with the account's)."""
        caller = self._caller(query)
        path = body.get("cgi_path")
        limit = LIMITS.get(path) if isinstance(path, str) else None
        if limit is None:
            if isinstance(path, str) and "/sns/" in path:
                raise WeChatError(76022, "could not use this cgi_path,no permission")
            raise WeChatError(76021, "cgi_path not found, please check")
        mine = COMPONENT if caller == self.world.config.component_appid else "authorizer"
        if limit.kind != mine:
            raise WeChatError(76022, "could not use this cgi_path,no permission")
        return {**OK, "quota": self.world.quotas.quota(caller, limit.api)}

    def custom_send(self, query: dict[str, str], body: JSON) -> JSON:
        appid = self.world.merchants.check_access_token(query.get("access_token"))
        self._spend(appid, "custom_send")
        account, func_info = self.world.merchants.granted(appid)
        needed = CUSTOMER_SERVICE_SETS.get(account.kind)
        if needed is None or needed not in func_info:
            raise WeChatError(48001, "api unauthorized")
        touser, msgtype = body.get("touser"), body.get("msgtype")
        if not isinstance(touser, str) or not touser or not isinstance(msgtype, str) or not msgtype:
            raise WeChatError(44002, "empty post data: touser and msgtype are required")
        if not _OPENID_RE.fullmatch(touser):
            raise WeChatError(40003, "invalid openid")
        if msgtype not in _MESSAGE_TYPES:
            raise WeChatError(40008, "invalid message type")
        section = body.get(msgtype)
        content = section.get("content") if isinstance(section, dict) else None
        if msgtype == "text" and (not isinstance(content, str) or not content):
            raise WeChatError(44004, "text content is empty")
        if msgtype in _MEDIA_TYPES and not (
            isinstance(section, dict) and isinstance(section.get("media_id"), str) and section["media_id"]
        ):
            raise WeChatError(40007, "invalid media_id")
        self.world.journal.spend_customer_service(appid, touser, self.world.clock.now())  # 45015, 45047
        self.world.journal.record_message(
            {
                "appid": appid,
                "touser": touser,
                "msgtype": msgtype,
                "content": content,
                "body": body,
                "time": self.world.clock.now(),
                "wall_time": time.time(),
            }
        )
        return dict(OK)

    # -- what authorized accounts' web pages need (GET) ------------------------------------------

    def getticket(self, query: dict[str, str], body: JSON) -> JSON:
        """A JS-SDK ticket (`type=jsapi`) or card ticket (`type=wx_card`), with the authorizer's token."""
        appid = self.world.merchants.check_access_token(query.get("access_token"))
        self._spend(appid, "getticket")
        account, func_info = self.world.merchants.granted(appid)
        if account.kind != OFFICIAL_ACCOUNT:
            raise WeChatError(48001, "api unauthorized")  # Mini Programs and the newer kinds have no JS-SDK
        if WEB_PAGES_SET not in func_info:
            raise WeChatError(61007, "api is unauthorized to component")
        return self.world.web.issue_ticket(appid, query.get("type"))

    def sns_component_access_token(self, query: dict[str, str], body: JSON) -> JSON:
        """Web login's code, exchanged by the component for the visitor's openid and web token."""
        self.world.component.check_token(query.get("component_access_token"))
        self.world.component.check_appid(query.get("component_appid"))
        if query.get("grant_type") != "authorization_code":
            raise WeChatError(40002, "invalid grant_type")
        appid = query.get("appid")
        if not isinstance(appid, str) or not self.world.merchants.is_authorized(appid):
            raise WeChatError(61003, "component is not authorized by this account")
        return self.world.web.exchange_code(appid, query.get("code"))

    def sns_userinfo(self, query: dict[str, str], body: JSON) -> JSON:
        return self.world.web.userinfo(query.get("access_token"), query.get("openid"), self.world.base_url)
