"""The interfaces the core owns; adapters implement them, tests hand in fakes."""

from __future__ import annotations

from typing import Protocol

from wxcomponent.tickets import PushRecord, Ticket


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
