"""In-memory fakes of the core's ports, with the same conditional semantics as the adapters."""

from __future__ import annotations

from typing import Any

from wxcomponent.grants import Grant
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


class MemoryMessageReceipts:
    """`MessageReceipts` with the adapter's conditions: a claim wins when nothing is recorded, the
    record outlived `keep`, or a pending claim outlived its lease."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def claim(self, authorizer_appid: str, key: str, now: int, lease: int, keep: int) -> bool:
        item = self.items.get((authorizer_appid, key))
        if item is not None and item["ttl"] >= now and not (item["state"] == "pending" and item["lease_until"] < now):
            return False
        self.items[(authorizer_appid, key)] = {"state": "pending", "lease_until": now + lease, "ttl": now + keep}
        return True

    def record_answer(self, authorizer_appid: str, key: str, answer: str) -> None:
        self.items[(authorizer_appid, key)].update(state="answered", answer=answer)

    def answer_of(self, authorizer_appid: str, key: str, now: int) -> str | None:
        item = self.items.get((authorizer_appid, key))
        if item is None or item["state"] != "answered" or item["ttl"] < now:
            return None
        answer: str = item["answer"]
        return answer


class MemoryPublisher:
    def __init__(self, *, fail: bool = False) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("the bus is down")
        self.events.append((detail_type, detail))


class MemoryTaskQueue:
    def __init__(self, *, fail: bool = False) -> None:
        self.tasks: list[dict[str, Any]] = []
        self.fail = fail

    def defer(self, task: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("Lambda throttled the invocation")
        self.tasks.append(task)


class MemoryGrants:
    def __init__(self, *grants: Grant) -> None:
        self.grants = {grant.authorizer_appid: grant for grant in grants}

    def get_grant(self, authorizer_appid: str) -> Grant | None:
        return self.grants.get(authorizer_appid)
