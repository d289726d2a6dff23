"""The interfaces the core owns; adapters implement them, tests hand in fakes."""

from __future__ import annotations

from typing import Any, Protocol

from wxcomponent.grants import Grant, Profile
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.single_flight import LeaseStore
from wxcomponent.tickets import PushRecord, Ticket
from wxcomponent.tokens import AccessToken


class TicketStore(Protocol):
    def save_ticket(self, ticket: Ticket) -> bool:
        """Stores the ticket unless a ticket pushed later (or the same push) is already stored.
        Returns whether it was written."""
        ...

    def get_ticket(self, component_appid: str) -> Ticket | None:
        """The stored ticket, expired or not (the caller checks `is_valid`)."""
        ...

    def record_push(self, record: PushRecord) -> bool:
        """Keeps a record of a push, once per push; returns whether it was new."""
        ...


class GrantStore(LeaseStore, Protocol):
    def get_grant(self, authorizer_appid: str) -> Grant | None: ...

    def save_grant(self, grant: Grant, refresh_due: int) -> bool: ...

    def update_refresh_token(self, authorizer_appid: str, old: str, new: str, now: int) -> bool: ...

    def set_refresh_due(self, authorizer_appid: str, due: int) -> bool: ...

    def mark_needs_reauthorization(self, authorizer_appid: str, refresh_token: str, now: int) -> bool: ...

    def revoke_grant(self, authorizer_appid: str, revoked_at: int) -> bool: ...

    def get_authorizer_token(self, authorizer_appid: str) -> AccessToken | None: ...

    def save_authorizer_token(self, token: AccessToken) -> bool: ...

    def delete_authorizer_token(self, authorizer_appid: str) -> None: ...

    def save_profile(self, profile: Profile) -> None: ...

    def get_profile(self, authorizer_appid: str) -> Profile | None: ...

    def claim_code(self, code_hash: str, holder: str, now: float, ttl: float) -> bool: ...

    def finish_code(self, code_hash: str, holder: str, authorizer_appid: str) -> None: ...

    def abandon_code(self, code_hash: str, holder: str) -> None: ...

    def code_exchanged_for(self, code_hash: str) -> str | None: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Publishes one event for the vendor's services (EventBridge in AWS)."""
        ...


class MessageReceipts(Protocol):
    """Which account messages we have seen, so that WeChat's retries are acted on once and
    answered the same way. `key` is `AccountMessage.dedupe_key`."""

    def claim(self, authorizer_appid: str, key: str, now: int, lease: int, keep: int) -> bool:
        """True for the first sight of this message (or when an earlier attempt died: its claim
        is older than `lease` seconds). The record is kept for `keep` seconds."""
        ...

    def record_answer(self, authorizer_appid: str, key: str, answer: str) -> None:
        """What the message was answered with (an encrypted reply, "" or `success`)."""
        ...

    def answer_of(self, authorizer_appid: str, key: str, now: int) -> str | None:
        """The recorded answer; None while the first attempt is still at work (or unknown)."""
        ...


class TaskQueue(Protocol):
    def defer(self, task: dict[str, Any]) -> None:
        """Runs `task` in another invocation, after this one has answered (a Lambda is frozen
        once it answers). Raises when the task could not be handed over."""
        ...


class ReplyFunction(Protocol):
    def ask(self, request: dict[str, Any], timeout: float) -> object:
        """The vendor's reply function's answer to one message (a JSON value), within `timeout`
        seconds. Raises when it failed, timed out or answered something that is not JSON."""
        ...


def publish_best_effort(
    publisher: EventPublisher, component_appid: str, detail_type: str, detail: dict[str, Any]
) -> None:
    """The table is the truth and the bus a notification: a failed publish is logged and counted,
    never allowed to undo or fail what was stored."""
    try:
        publisher.publish(detail_type, {"component_appid": component_appid, **detail})
    except Exception:  # noqa: BLE001 - see above
        logger.exception("event not published", extra={"detail_type": detail_type})
        metrics.add_metric(name="EventPublishFailed", unit=MetricUnit.Count, value=1)
