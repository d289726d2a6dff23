"""Receipt of pushes to the authorization-event URL: verify, decrypt, dispatch (PROTOCOL.md §1-2).

Every refusal is a `BadRequest` raised before anything is stored, so bad input changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from wxcomponent import settings as config
from wxcomponent.crypto import MessageCrypto
from wxcomponent.errors import AppIdMismatch, BadRequest, MalformedMessage, PayloadTooLarge, StaleTimestamp
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.ports import TicketStore
from wxcomponent.push import (
    UNAUTHORIZED,
    AuthorizationPush,
    ComponentPush,
    VerifyTicketPush,
    parse_component_push,
)
from wxcomponent.tickets import PushRecord, Ticket
from wxcomponent.wechat import AuthorizationCodeRejected
from wxcomponent.xmlparse import parse_flat_xml

SUCCESS = "success"
MAX_BODY_BYTES = 64 * 1024
MAX_CLOCK_SKEW = 300  # seconds between the push's timestamp and now, either way


@dataclass(frozen=True)
class SignedPush:
    """A push as it arrives: the raw body and the query parameters WeChat signs with."""

    body: bytes
    signature: str | None
    timestamp: str | None
    nonce: str | None
    msg_signature: str | None
    encrypt_type: str | None = "aes"


def open_signed_push(push: SignedPush, crypto: MessageCrypto, now: float) -> dict[str, str]:
    """Checks size, timestamp and both signatures, decrypts, and parses the inner document."""
    if len(push.body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body over {MAX_BODY_BYTES} bytes")
    if not push.body:
        raise MalformedMessage("empty body")
    if push.encrypt_type not in (None, "aes"):
        raise BadRequest("only encrypt_type=aes is accepted")
    timestamp, nonce = push.timestamp or "", push.nonce or ""
    if not timestamp.isdigit() or len(timestamp) > 12 or not nonce:
        raise BadRequest("timestamp and nonce are required")
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW:
        raise StaleTimestamp("timestamp too far from now")
    crypto.verify_signature(push.signature, timestamp, nonce)
    encrypt = parse_flat_xml(push.body).get("Encrypt", "")
    if not encrypt:
        raise MalformedMessage("no Encrypt element")
    crypto.verify_msg_signature(push.msg_signature, timestamp, nonce, encrypt)
    return parse_flat_xml(crypto.decrypt(encrypt).message)


class Authorizations(Protocol):
    """What the authorization service does for pushes (see `authorization.AuthorizationService`)."""

    def complete(self, auth_code: str, *, info_type: str = ..., wait: bool = ...) -> object: ...

    def revoke(self, authorizer_appid: str, revoked_at: int) -> bool: ...


class ComponentEventService:
    """Handles one push to the authorization-event URL and returns the body to answer with."""

    def __init__(
        self,
        store: TicketStore,
        authorizations: Authorizations | None = None,
        component: Callable[[], config.ComponentSettings] = config.component_settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._authorizations = authorizations
        self._component = component
        self._clock = clock

    def handle(self, signed: SignedPush) -> str:
        component = self._component()
        crypto = MessageCrypto(
            component.token,
            [component.encoding_aes_key, component.previous_encoding_aes_key],
            component.component_appid,
        )
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
        try:
            # Never wait on the callback's exchange here: WeChat wants an answer within 5 s.
            authorizations.complete(push.authorization_code, info_type=push.info_type, wait=False)
        except AuthorizationCodeRejected as exc:
            # Final (expired or already used): WeChat retrying the push cannot help.
            logger.warning("pushed authorization code refused", extra={"errcode": exc.errcode})

    def _store_ticket(self, push: VerifyTicketPush, now: int) -> None:
        stored = self._store.save_ticket(Ticket.received(push.appid, push.ticket, push.create_time, now))
        logger.info(
            "verify ticket received",
            extra={"info_type": push.info_type, "create_time": push.create_time, "stored": stored},
        )
        metrics.add_metric(name="TicketStored" if stored else "TicketNotNewer", unit=MetricUnit.Count, value=1)

    def _record(self, push: ComponentPush, now: int) -> None:
        authorizer_appid = getattr(push, "authorizer_appid", "")
        new = self._store.record_push(PushRecord(push.appid, push.info_type, push.create_time, authorizer_appid, now))
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
