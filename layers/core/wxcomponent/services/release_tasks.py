"""The deferred half of the QUERY_AUTH_CODE release check, run in its own invocation (a Lambda
is frozen once it answers): exchange the code exactly once, then send `<code>_from_api` to the
user with the new authorizer's token (docs/messages.md).

Only for WeChat's test accounts: the task is reachable by Lambda Invoke, where anyone allowed to
invoke can name a test account and hand in any code. The rule that matters is on the code's own
account, known only once it is exchanged: not a test account, nothing is sent."""

from __future__ import annotations

from typing import Any

from wxcomponent.domain.errors import BadRequest, WxComponentError
from wxcomponent.domain.release import QUERY_AUTH_CODE_TASK, RELEASE_TEST_ACCOUNTS, QueryAuthCode
from wxcomponent.domain.wechat import SystemBusy, TokenRejected, UpstreamUnavailable
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.ports import Authorizations, AuthorizerTokens, WeChatApi
from wxcomponent.services.authorization import AuthorizationInProgress

# Worth another invocation (Lambda retries an asynchronous invocation that raised): nothing was
# changed at WeChat, or the claim on the code makes a second try harmless.
RETRYABLE = (UpstreamUnavailable, SystemBusy, AuthorizationInProgress)


class ReleaseTasks:
    """The deferred half of the QUERY_AUTH_CODE check, run in its own invocation."""

    def __init__(self, authorizations: Authorizations, tokens: AuthorizerTokens, api: WeChatApi) -> None:
        self._authorizations = authorizations
        self._tokens = tokens
        self._api = api

    def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Exchanges the code (exactly once, through the code's claim, so a retried message or a
        retried invocation cannot spend it twice), then sends `<code>_from_api` to the user.
        Raises only what a retry can cure, and only before the message was sent."""
        if payload.get("task") != QUERY_AUTH_CODE_TASK:
            logger.warning("unknown task refused")
            return {"sent": False, "error": BadRequest.code}
        try:
            check = QueryAuthCode.from_task(payload)
        except BadRequest as exc:
            logger.warning("task refused", extra={"reason": exc.message})
            return {"sent": False, "error": exc.code}
        log = {"authorizer_appid": check.authorizer_appid}
        try:
            appid = self._authorizations.complete(check.auth_code).authorizer_appid
            if appid not in RELEASE_TEST_ACCOUNTS:
                return self._refuse_foreign_code(appid)
            token = self._tokens.token(appid)
        except RETRYABLE:
            raise
        except WxComponentError as exc:
            logger.warning("release check failed", extra={**log, "error": type(exc).__name__, "errcode": exc.errcode})
            metrics.add_metric(name="ReleaseCheckFailed", unit=MetricUnit.Count, value=1)
            return {"sent": False, "error": exc.code}
        message = {"touser": check.openid, "msgtype": "text", "text": {"content": f"{check.auth_code}_from_api"}}
        try:
            try:
                self._api.send_custom_message(token.access_token, message)
            except TokenRejected:
                fresh = self._tokens.replace_rejected(appid, token.access_token)
                self._api.send_custom_message(fresh.access_token, message)
        except WxComponentError as exc:  # the message may have gone out: never sent twice by a retry
            logger.warning("release check reply not sent", extra={**log, "error": type(exc).__name__})
            metrics.add_metric(name="ReleaseCheckFailed", unit=MetricUnit.Count, value=1)
            return {"sent": False, "error": exc.code}
        logger.info("release check custom message sent", extra={"authorizer_appid": appid})
        return {"sent": True, "authorizer_appid": appid}

    @staticmethod
    def _refuse_foreign_code(appid: str) -> dict[str, Any]:
        """A merchant's code in a release task: WeChat's check only ever sends a test account's own
        code, so this came through Invoke. Whether the exchange was ours just now or earlier (the
        merchant's push, then no call), nothing is sent with the merchant's token."""
        logger.warning("release task with a code of another account refused", extra={"authorizer_appid": appid})
        metrics.add_metric(name="ReleaseTaskRefused", unit=MetricUnit.Count, value=1)
        return {"sent": False, "error": BadRequest.code}
