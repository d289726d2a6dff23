"""Receipt of what users send to authorized accounts, on the message-and-event URL (docs/messages.md).

Every refusal is a `BadRequest` raised before anything is stored or published. A genuine message
is answered within `ANSWER_BUDGET` (WeChat waits 5 s, then retries, 3 tries in all):
- a full-network release check is answered as WeChat's automated test expects (`release`);
- a message for an account we hold no active grant for is dropped (logged and counted);
- everything else is published on the bus as `message` or `event`, once however often WeChat
  retries it, and, when the vendor configured a reply function, answered with that function's
  reply, encrypted; on its timeout, error or silence, with `success`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wxcomponent.domain.crypto import MessageCrypto
from wxcomponent.domain.errors import BadRequest
from wxcomponent.domain.grants import APPID_RE
from wxcomponent.domain.messages import EVENT, AccountMessage
from wxcomponent.domain.release import QueryAuthCode, ReplyNow, release_check
from wxcomponent.domain.replies import (
    MAX_ARTICLES,
    MAX_ARTICLES_TO_A_MESSAGE,
    InvalidReply,
    PassiveReply,
    reply_from,
    seal,
)
from wxcomponent.domain.signed import SignedPush, component_crypto, open_signed
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.ports import (
    Authorizers,
    EventPublisher,
    MessageReceipts,
    ReplyFunction,
    TaskQueue,
)
from wxcomponent.services.best_effort import publish_best_effort
from wxcomponent.settings import ComponentSettings

SUCCESS = "success"
ANSWER_BUDGET = 4.0  # seconds from receipt to our answer; WeChat gives up at 5
REPLY_MARGIN = 0.5  # kept back from the budget for sealing the reply and recording it
MAX_REPLY_WAIT = 3.0  # the most a reply function is given
MIN_REPLY_WAIT = 0.2  # below this, the reply function is not asked at all
CLAIM_LEASE = 10  # seconds: the function's timeout, so an older pending claim died with its invocation
RECEIPT_LIFETIME = 600  # seconds a message is remembered; WeChat's retries come within ~15 s
DUPLICATE_WAIT = 2.0  # a retry arriving while the first attempt is at work waits this long for its answer
XML = "application/xml"
TEXT = "text/plain"


@dataclass(frozen=True)
class MessageAnswer:
    """What WeChat gets: `success`, an empty body, or an encrypted reply (XML)."""

    body: str

    @property
    def content_type(self) -> str:
        return XML if self.body.startswith("<xml>") else TEXT


class AccountMessageService:
    def __init__(
        self,
        receipts: MessageReceipts,
        grants: Authorizers,
        publisher: EventPublisher,
        tasks: TaskQueue,
        reply_function: Callable[[], ReplyFunction | None] = lambda: None,
        *,
        component: Callable[[], ComponentSettings],
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._receipts = receipts
        self._grants = grants
        self._publisher = publisher
        self._tasks = tasks
        self._reply_function = reply_function
        self._component = component
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep

    def handle(self, authorizer_appid: str, signed: SignedPush) -> MessageAnswer:
        deadline = self._monotonic() + ANSWER_BUDGET
        if not APPID_RE.fullmatch(authorizer_appid):
            raise BadRequest("the path's appid must look like wx followed by 16 hex digits")
        component = self._component()
        crypto = component_crypto(component)
        now = self._clock()
        opened = open_signed(signed, crypto, now)
        message = AccountMessage.parse(opened.message)
        log = {"authorizer_appid": authorizer_appid, "msg_type": message.msg_type, "event": message.event}
        check = release_check(authorizer_appid, message)
        if check is None and not self._authorized(authorizer_appid):
            logger.warning("message for an account without an active grant dropped", extra=log)
            metrics.add_metric(name="AccountMessageDropped", unit=MetricUnit.Count, value=1)
            return MessageAnswer(SUCCESS)
        key = message.dedupe_key
        if not self._receipts.claim(authorizer_appid, key, int(now), CLAIM_LEASE, RECEIPT_LIFETIME):
            logger.info("message retried by WeChat", extra=log)
            metrics.add_metric(name="AccountMessageDuplicate", unit=MetricUnit.Count, value=1)
            return MessageAnswer(self._earlier_answer(authorizer_appid, key, deadline))
        if isinstance(check, ReplyNow):
            body = _sealed(check.reply, message, crypto, opened.key_index, now)
            logger.info("release check answered", extra=log)
            metrics.add_metric(name="ReleaseCheckAnswered", unit=MetricUnit.Count, value=1)
        elif isinstance(check, QueryAuthCode):
            body = self._defer_query_auth_code(check, log)
        else:
            detail = message.detail(component.component_appid, authorizer_appid)
            publish_best_effort(self._publisher, component.component_appid, message.kind, detail)
            logger.info("account message published", extra=log)
            metrics.add_metric(name="AccountMessagePublished", unit=MetricUnit.Count, value=1)
            reply = self._ask_for_reply(message.kind, detail, deadline, log)
            body = _sealed(reply, message, crypto, opened.key_index, now) if reply else SUCCESS
        self._receipts.record_answer(authorizer_appid, key, body)
        return MessageAnswer(body)

    # -- steps -----------------------------------------------------------------------------------

    def _authorized(self, authorizer_appid: str) -> bool:
        grant = self._grants.get_grant(authorizer_appid)
        return grant is not None and grant.active

    def _earlier_answer(self, authorizer_appid: str, key: str, deadline: float) -> str:
        """A retry gets what the first attempt answered; if that is still at work, we wait a
        little for it, then say `success` (WeChat keeps only one answer anyway)."""
        wait_until = min(deadline - REPLY_MARGIN, self._monotonic() + DUPLICATE_WAIT)
        delay = 0.05
        while True:
            answer = self._receipts.answer_of(authorizer_appid, key, int(self._clock()))
            if answer is not None:
                return answer
            if self._monotonic() + delay > wait_until:
                return SUCCESS
            self._sleep(delay)
            delay = min(delay * 2, 0.4)

    def _defer_query_auth_code(self, check: QueryAuthCode, log: dict[str, str]) -> str:
        try:
            self._tasks.defer(check.task())
        except Exception:  # noqa: BLE001 - WeChat still gets its answer; the check can be run again
            logger.exception("release check not handed over", extra=log)
            metrics.add_metric(name="ReleaseCheckFailed", unit=MetricUnit.Count, value=1)
        else:
            logger.info("release check handed over", extra=log)
            metrics.add_metric(name="ReleaseCheckAnswered", unit=MetricUnit.Count, value=1)
        return ""  # the check wants an empty answer at once

    def _ask_for_reply(
        self, kind: str, detail: dict[str, Any], deadline: float, log: dict[str, str]
    ) -> PassiveReply | None:
        function = self._reply_function()
        if function is None:
            return None
        wait = min(MAX_REPLY_WAIT, deadline - REPLY_MARGIN - self._monotonic())
        if wait < MIN_REPLY_WAIT:
            logger.warning("no time left to ask the reply function", extra=log)
            metrics.add_metric(name="MessageReplyFailed", unit=MetricUnit.Count, value=1)
            return None
        request = {"source": "wxcomponent", "detail-type": kind, "detail": detail, "deadline_ms": int(wait * 1000)}
        try:
            most = MAX_ARTICLES if kind == EVENT else MAX_ARTICLES_TO_A_MESSAGE
            reply = reply_from(function.ask(request, wait), max_articles=most)
        except InvalidReply as exc:
            logger.warning("reply function answered no valid reply", extra={**log, "reason": str(exc)})
            metrics.add_metric(name="MessageReplyFailed", unit=MetricUnit.Count, value=1)
            return None
        except Exception as exc:  # noqa: BLE001 - timeout, error, throttling: WeChat gets `success`
            logger.warning("reply function failed", extra={**log, "error": type(exc).__name__})
            metrics.add_metric(name="MessageReplyFailed", unit=MetricUnit.Count, value=1)
            return None
        if reply is not None:
            metrics.add_metric(name="MessageReplied", unit=MetricUnit.Count, value=1)
        return reply


def _sealed(reply: PassiveReply, message: AccountMessage, crypto: MessageCrypto, key_index: int, now: float) -> str:
    """The reply from the account to the user, encrypted with the key that opened the message."""
    document = reply.xml(message.from_user_name, message.to_user_name, int(now))
    return seal(crypto, document, key_index=key_index, timestamp=int(now))
