"""Web login on an authorized account's behalf, inside the token center (issue 19, H1).

The code exchange needs the component token, which lists every merchant's refresh token and mints
any authorizer's token: handing it to a page server made that server every merchant. So the page
server sends the visitor's code (a `web_login` vend, scoped by the caller policy to the authorizer
appids it may use) and the exchange happens here: the component token and the visitor's web tokens
never leave. Costs: one read of the grant (an unknown or revoked account costs WeChat nothing),
one `sns/oauth2/component/access_token`, and for `snsapi_userinfo` one `sns/userinfo`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from wxcomponent.domain.grants import require_active
from wxcomponent.domain.web_login import CODE_REJECTED, WebLogin
from wxcomponent.domain.wechat import WebAccessToken, WebLoginCodeRejected
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.ports import Authorizers, ComponentCalls, WeChatApi
from wxcomponent.settings import ComponentSettings


class WebLoginService:
    def __init__(
        self,
        grants: Authorizers,
        api: WeChatApi,
        component_tokens: ComponentCalls,
        *,
        component: Callable[[], ComponentSettings],
    ) -> None:
        self._grants = grants
        self._api = api
        self._component_tokens = component_tokens
        self._component = component

    def exchange(self, authorizer_appid: str, code: str, lang: str) -> WebLogin:
        """The visitor behind `code`. `NotAuthorized` for an account we do not hold (no WeChat
        call); `WebLoginCodeRejected` (bad_request) for a code WeChat will not exchange; any other
        refusal as WeChat gave it (a rejected component token is compare-and-refreshed once)."""
        require_active(self._grants.get_grant(authorizer_appid))
        component_appid = self._component().component_appid

        def exchange(component_token: str) -> WebAccessToken:
            return self._api.oauth2_component_access_token(component_token, component_appid, authorizer_appid, code)

        try:
            web = self._component_tokens.call(exchange)
        except WebLoginCodeRejected as exc:
            metrics.add_metric(name="WebLoginCodeRejected", unit=MetricUnit.Count, value=1)
            raise WebLoginCodeRejected(
                f"{CODE_REJECTED} (WeChat's errcode {exc.errcode})", errcode=exc.errcode
            ) from exc
        login = WebLogin(authorizer_appid, web.openid, web.scope, web.unionid or None, web.is_snapshotuser)
        if login.wants_profile:
            profile = self._api.sns_userinfo(web.access_token, web.openid, lang)
            login = replace(
                login,
                unionid=login.unionid or profile.unionid or None,
                nickname=profile.nickname or None,
                avatar=profile.headimgurl or None,
            )
        logger.info(
            "web login exchanged",
            extra={"authorizer_appid": authorizer_appid, "scope": login.scope, "snapshot": login.is_snapshotuser},
        )
        metrics.add_metric(name="WebLoginExchanged", unit=MetricUnit.Count, value=1)
        return login
