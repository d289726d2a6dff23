"""In-memory fakes of the core's ports, with the same conditional semantics as the adapters."""

from __future__ import annotations

from wxcomponent.tickets import PushRecord, Ticket


class MemoryTicketStore:
    def __init__(self) -> None:
        self.tickets: dict[str, Ticket] = {}
        self.records: dict[tuple[str, int, str, str], PushRecord] = {}
        self.writes = 0

    def save_ticket(self, ticket: Ticket) -> bool:
        current = self.tickets.get(ticket.component_appid)
        if current is not None and (
            current.create_time > ticket.create_time
            or (current.create_time == ticket.create_time and current.ticket == ticket.ticket)
        ):
            return False
        self.tickets[ticket.component_appid] = ticket
        self.writes += 1
        return True

    def get_ticket(self, component_appid: str) -> Ticket | None:
        return self.tickets.get(component_appid)

    def record_push(self, record: PushRecord) -> bool:
        key = (record.component_appid, record.create_time, record.info_type, record.authorizer_appid)
        if key in self.records:
            return False
        self.records[key] = record
        self.writes += 1
        return True
