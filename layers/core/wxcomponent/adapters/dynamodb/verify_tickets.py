"""`VerifyTicketStore`: `COMPONENT#<appid>` / `TICKET` (the newest verify ticket), `/ PUSH#…` (a
record of each other push, never its code) and `/ TICKET_RESTART` (at most one api_start_push_ticket
an hour)."""

from __future__ import annotations

from wxcomponent.adapters.dynamodb.table import Table
from wxcomponent.domain.verify_tickets import PushRecord, VerifyTicket
from wxcomponent.keys import VERIFY_TICKET, VERIFY_TICKET_RESTART, component_key, push_sort_key

PUSH_RECORD_LIFETIME = 30 * 24 * 3600
RESTART_GRACE = 60  # the restart marker's TTL lags its window: the window is checked by condition


class VerifyTicketTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def save_ticket(self, ticket: VerifyTicket) -> bool:
        item = {
            "pk": {"S": component_key(ticket.component_appid)},
            "sk": {"S": VERIFY_TICKET},
            "ticket": {"S": ticket.ticket},
            "create_time": {"N": str(ticket.create_time)},
            "received_at": {"N": str(ticket.received_at)},
            "expires_at": {"N": str(ticket.expires_at)},
            "ttl": {"N": str(ticket.expires_at)},
        }
        # An older push never replaces a newer ticket, and a retried push (same CreateTime, same
        # ticket) changes nothing; two different tickets of the same second: the later arrival.
        return self._table.put_if(
            item,
            "attribute_not_exists(pk) OR create_time < :create_time"
            " OR (create_time = :create_time AND ticket <> :ticket)",
            {":create_time": {"N": str(ticket.create_time)}, ":ticket": {"S": ticket.ticket}},
        )

    def get_ticket(self, component_appid: str) -> VerifyTicket | None:
        item = self._table.get(component_key(component_appid), VERIFY_TICKET)
        if item is None:
            return None
        return VerifyTicket(
            component_appid=component_appid,
            ticket=item["ticket"]["S"],
            create_time=int(item["create_time"]["N"]),
            received_at=int(item["received_at"]["N"]),
            expires_at=int(item["expires_at"]["N"]),
        )

    def record_push(self, record: PushRecord) -> bool:
        item = {
            "pk": {"S": component_key(record.component_appid)},
            "sk": {"S": push_sort_key(record.create_time, record.info_type, record.authorizer_appid)},
            "info_type": {"S": record.info_type},
            "create_time": {"N": str(record.create_time)},
            "authorizer_appid": {"S": record.authorizer_appid},
            "received_at": {"N": str(record.received_at)},
            "ttl": {"N": str(record.received_at + PUSH_RECORD_LIFETIME)},
        }
        return self._table.put_if(item, "attribute_not_exists(pk)")

    def claim_ticket_restart(self, component_appid: str, now: int, every: int) -> bool:
        """At most one `api_start_push_ticket` per `every` seconds, across containers."""
        item = {
            "pk": {"S": component_key(component_appid)},
            "sk": {"S": VERIFY_TICKET_RESTART},
            "requested_at": {"N": str(now)},
            "ttl": {"N": str(now + every + RESTART_GRACE)},
        }
        return self._table.put_if(
            item, "attribute_not_exists(pk) OR requested_at <= :before", {":before": {"N": str(now - every)}}
        )
