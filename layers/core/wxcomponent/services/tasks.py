"""Work after the answer (a Lambda is frozen once it answers), run in another invocation of the
function that deferred it (docs/decisions.md, "Work after the answer"). One runner serves every
kind of task, so any function that defers one can also run it:
- `authorization.exchange`: the code of an `authorized` push, exchanged outside WeChat's 5 seconds;
- `authorization.profile`: a profile WeChat would not give during the exchange;
- `release.query_auth_code`: the deferred half of a full-network release check.

A task that raises is retried by Lambda twice, so a task raises only while a retry can help and
nothing has been done twice: a busy or unreachable WeChat, a code still claimed elsewhere.
"""

from __future__ import annotations

import re
from typing import Any

from wxcomponent.domain.errors import BadRequest, WxComponentError
from wxcomponent.domain.grants import APPID_RE
from wxcomponent.domain.release import QUERY_AUTH_CODE_TASK
from wxcomponent.domain.wechat import AuthorizationCodeRejected, SystemBusy, UpstreamError, UpstreamUnavailable
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.services.authorization import (
    AUTH_CODE_RE,
    EXCHANGE_TASK,
    PROFILE_TASK,
    AuthorizationInProgress,
    AuthorizationService,
)
from wxcomponent.services.release_tasks import ReleaseTasks

RETRYABLE = (UpstreamUnavailable, SystemBusy, AuthorizationInProgress)
_INFO_TYPE_RE = re.compile(r"authorized|updateauthorized")


class TaskRunner:
    def __init__(self, authorizations: AuthorizationService, release: ReleaseTasks) -> None:
        self._authorizations = authorizations
        self._release = release

    def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        kind = payload.get("task")
        if kind == QUERY_AUTH_CODE_TASK:
            return self._release.run(payload)
        try:
            if kind == EXCHANGE_TASK:
                return self._exchange(payload)
            if kind == PROFILE_TASK:
                return self._profile(payload)
        except BadRequest as exc:
            logger.warning("task refused", extra={"reason": exc.message})
            return {"done": False, "error": exc.code}
        logger.warning("unknown task refused")
        return {"done": False, "error": BadRequest.code}

    def _exchange(self, payload: dict[str, Any]) -> dict[str, Any]:
        code, info_type = payload.get("auth_code"), payload.get("info_type")
        if not isinstance(code, str) or not AUTH_CODE_RE.fullmatch(code):
            raise BadRequest("the task has no valid authorization code")
        if not isinstance(info_type, str) or not _INFO_TYPE_RE.fullmatch(info_type):
            raise BadRequest("the task has no valid info_type")
        pre_auth_code = payload.get("pre_auth_code", "")
        if not isinstance(pre_auth_code, str) or (pre_auth_code and not AUTH_CODE_RE.fullmatch(pre_auth_code)):
            raise BadRequest("the task's pre_auth_code is malformed")
        appid = payload.get("authorizer_appid")
        try:
            self._authorizations.complete_pushed(code, info_type, pre_auth_code)
        except RETRYABLE:
            raise  # the claim was given back: Lambda's retry exchanges it
        except AuthorizationCodeRejected as exc:
            # Used: maybe by us, on a try whose answer was lost. WeChat's list knows the outcome.
            if isinstance(appid, str) and APPID_RE.fullmatch(appid) and self._authorizations.reconcile(appid):
                return {"done": True, "reconciled": True}
            logger.warning("pushed code not exchanged", extra={"error": type(exc).__name__, "errcode": exc.errcode})
            metrics.add_metric(name="PushedCodeNotExchanged", unit=MetricUnit.Count, value=1)
            return {"done": False, "error": exc.code}
        except WxComponentError as exc:  # refused otherwise: no retry can help
            logger.warning("pushed code not exchanged", extra={"error": type(exc).__name__, "errcode": exc.errcode})
            metrics.add_metric(name="PushedCodeNotExchanged", unit=MetricUnit.Count, value=1)
            return {"done": False, "error": exc.code}
        return {"done": True}

    def _profile(self, payload: dict[str, Any]) -> dict[str, Any]:
        appid = payload.get("authorizer_appid")
        if not isinstance(appid, str) or not APPID_RE.fullmatch(appid):
            raise BadRequest("the task has no valid authorizer appid")
        try:
            self._authorizations.fetch_profile(appid)
        except UpstreamError:
            metrics.add_metric(name="ProfileNotFetched", unit=MetricUnit.Count, value=1)
            raise  # Lambda tries twice more, minutes apart
        return {"done": True, "authorizer_appid": appid}
