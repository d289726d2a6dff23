"""WeChat's API paths (docs/protocol.md §3): POST JSON in, WeChat's JSON shapes and errcodes out."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from infra.sandbox.config import CUSTOMER_SERVICE_SETS, OFFICIAL_ACCOUNT, WEB_PAGES_SET
from infra.sandbox.pusher import Pusher
from infra.sandbox.state import JSON, WeChatError, World

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
}
# The APIs WeChat serves on GET (docs/protocol.md §7): the JS-SDK tickets, and web login's exchange
# and profile; same faults, counters and call log as the others.
GET_API_PATHS: dict[str, str] = {
    "/cgi-bin/ticket/getticket": "getticket",
    "/sns/oauth2/component/access_token": "sns_component_access_token",
    "/sns/userinfo": "sns_userinfo",
}

OK: JSON = {"errcode": 0, "errmsg": "ok"}

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
        }

    def handle(self, name: str, query: dict[str, str], body: JSON) -> JSON:
        try:
            return self.handlers[name](query, body)
        except WeChatError as exc:
            return exc.answer()

    def _component_call(self, query: dict[str, str], body: JSON) -> None:
        """Token in the query (41001 when only in the body or missing), then the component appid."""
        # The current docs name it access_token; the older ones component_access_token: both work.
        self.world.component.check_token(query.get("component_access_token") or query.get("access_token"))
        self.world.component.check_appid(body.get("component_appid"))

    def component_token(self, query: dict[str, str], body: JSON) -> JSON:
        return self.world.component.issue_token(
            body.get("component_appid"), body.get("component_appsecret"), body.get("component_verify_ticket")
        )

    def create_preauthcode(self, query: dict[str, str], body: JSON) -> JSON:
        self._component_call(query, body)
        return self.world.component.create_pre_auth_code()

    def query_auth(self, query: dict[str, str], body: JSON) -> JSON:
        self._component_call(query, body)
        return self.world.merchants.query_auth(body.get("authorization_code"))

    def authorizer_token(self, query: dict[str, str], body: JSON) -> JSON:
        self._component_call(query, body)
        return self.world.merchants.authorizer_token(body.get("authorizer_appid"), body.get("authorizer_refresh_token"))

    def get_authorizer_info(self, query: dict[str, str], body: JSON) -> JSON:
        self._component_call(query, body)
        return self.world.merchants.authorizer_info(body.get("authorizer_appid"), self.world.base_url)

    def get_authorizer_list(self, query: dict[str, str], body: JSON) -> JSON:
        self._component_call(query, body)
        return self.world.merchants.authorizer_list(body.get("offset", 0), body.get("count", 500))

    def start_push_ticket(self, query: dict[str, str], body: JSON) -> JSON:
        self.world.component.check_credentials(body.get("component_appid"), body.get("component_secret"))
        self.pusher.push_ticket_in_background()
        return dict(OK)

    def clear_quota(self, query: dict[str, str], body: JSON) -> JSON:
        self.world.clear_quota(body.get("component_appid"), body.get("appsecret"))
        return dict(OK)

    def custom_send(self, query: dict[str, str], body: JSON) -> JSON:
        appid = self.world.merchants.check_access_token(query.get("access_token"))
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
