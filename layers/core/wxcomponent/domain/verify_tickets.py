"""The component verify ticket: what we keep of it, and how long it is good for (docs/protocol.md §2)."""

from __future__ import annotations

from dataclasses import dataclass

TICKET_LIFETIME = 12 * 3600


@dataclass(frozen=True)
class VerifyTicket:
    component_appid: str
    ticket: str
    create_time: int  # WeChat's CreateTime: orders pushes
    received_at: int
    expires_at: int  # received_at + 12 h; also the item's TTL

    def __repr__(self) -> str:  # the ticket value stays out of logs
        return f"VerifyTicket(component_appid={self.component_appid!r}, create_time={self.create_time})"

    @classmethod
    def received(cls, component_appid: str, ticket: str, create_time: int, now: int) -> VerifyTicket:
        return cls(component_appid, ticket, create_time, now, now + TICKET_LIFETIME)

    def is_valid(self, now: float) -> bool:
        """DynamoDB's TTL deletes late, so every read checks the expiry itself."""
        return now < self.expires_at


@dataclass(frozen=True)
class PushRecord:
    """What we keep of a push we do not act on yet: no codes, nothing secret."""

    component_appid: str
    info_type: str
    create_time: int
    authorizer_appid: str
    received_at: int
