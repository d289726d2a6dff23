"""Receipt of pushes to the authorization-event URL: verify, decrypt, dispatch (docs/protocol.md §1-2).

Every refusal is a `BadRequest` raised before anything is stored, so bad input changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from wxcomponent.domain.errors import AppIdMismatch, BadRequest
from wxcomponent.domain.push import (
    UNAUTHORIZED,
    AuthorizationPush,
    ComponentPush,
    VerifyTicketPush,
    parse_component_push,
)
from wxcomponent.domain.signed import MAX_BODY_BYTES, SignedPush, component_crypto, open_signed_push
from wxcomponent.domain.verify_tickets import PushRecord, VerifyTicket
from wxcomponent.domain.wechat import AuthorizationCodeRejected
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.ports import Authorizations, TaskQueue, VerifyTicketStore
from wxcomponent.services.authorization import AUTH_CODE_RE, EXCHANGE_TASK
from wxcomponent.settings import ComponentSettings

SUCCESS = "success"

__all__ = ["MAX_BODY_BYTES", "SUCCESS", "ComponentEventService", "SignedPush", "open_signed_push"]


class ComponentEventService:
    """Handles one push to the authorization-event URL and returns the body to answer with."""

    def __init__(
        self,
        verify_tickets: VerifyTicketStore,
        authorizations: Authorizations | None = None,
        *,
        tasks: TaskQueue | None = None,
        component: Callable[[], ComponentSettings],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._verify_tickets = verify_tickets
        self._authorizations = authorizations
        self._tasks = tasks
        self._component = component
        self._clock = clock

    def handle(self, signed: SignedPush) -> str:
        component = self._component()
        crypto = component_crypto(component)
        now = self._clock()
        push = parse_component_push(open_signed_push(signed, crypto, now))
        if push.appid != component.component_appid:
            raise AppIdMismatch("push is for another component")
        if isinstance(push, VerifyTicketPush):
            self._store_ticket(push, int(now))
            return SUCCESS
        self._record(push, int(now))
        if isinstance(push, AuthorizationPush) and self._authorizations is not None:
            self._authorization(push, self._authorizations)
        return SUCCESS

    def _authorization(self, push: AuthorizationPush, authorizations: Authorizations) -> None:
        if push.info_type == UNAUTHORIZED:
            authorizations.revoke(push.authorizer_appid, push.create_time)
            return
        if not AUTH_CODE_RE.fullmatch(push.authorization_code):
            raise BadRequest("the pushed authorization code is malformed")
        # The PreAuthCode binds the code to the start page the admin came from; one we cannot read
        # costs only that browser's result page, never the exchange, so it is dropped, not refused.
        pre_auth_code = push.pre_auth_code if AUTH_CODE_RE.fullmatch(push.pre_auth_code) else ""
        if self._tasks is not None:
            # WeChat wants `success` within 5 s, and an exchange with the profile fetch can take
            # longer: another invocation does it. If it cannot be handed over, the push fails and
            # WeChat sends it again.
            task = {
                "task": EXCHANGE_TASK,
                "auth_code": push.authorization_code,
                "info_type": push.info_type,
                "pre_auth_code": pre_auth_code,
                "authorizer_appid": push.authorizer_appid,  # to reconcile from WeChat's list if need be
            }
            self._tasks.defer(task)
            return
        try:
            authorizations.complete_pushed(push.authorization_code, push.info_type, pre_auth_code)
        except AuthorizationCodeRejected as exc:
            # Final (expired or already used): WeChat retrying the push cannot help.
            logger.warning("pushed authorization code refused", extra={"errcode": exc.errcode})

    def _store_ticket(self, push: VerifyTicketPush, now: int) -> None:
        stored = self._verify_tickets.save_ticket(VerifyTicket.received(push.appid, push.ticket, push.create_time, now))
        logger.info(
            "verify ticket received",
            extra={"info_type": push.info_type, "create_time": push.create_time, "stored": stored},
        )
        metrics.add_metric(name="TicketStored" if stored else "TicketNotNewer", unit=MetricUnit.Count, value=1)

    def _record(self, push: ComponentPush, now: int) -> None:
        authorizer_appid = getattr(push, "authorizer_appid", "")
        new = self._verify_tickets.record_push(
            PushRecord(push.appid, push.info_type, push.create_time, authorizer_appid, now)
        )
        logger.info(
            "push recorded",
            extra={
                "info_type": push.info_type,
                "create_time": push.create_time,
                "authorizer_appid": authorizer_appid,
                "new": new,
            },
        )
        metrics.add_metric(name="PushRecorded", unit=MetricUnit.Count, value=1)
