"""`JsTicketRecords`: an authorizer's JS-SDK tickets, `AUTHORIZER#<appid>` / `JSAPI_TICKET` and
`CARD_TICKET`, each with `expires_at`, a TTL at expiry, its vend mark (`vended_at`) and, while it is
worth renewing, its place in the refresh-due index (`refresh_shard`, `refresh_due`) beside the
grants'. A fetch's lease, remembered refusal and forced-refresh budget are `<js_ticket_lease>` /
`LEASE`, `REFRESH_FAILURE` and `FORCED_REFRESH`, as `LeaseStore` and `RefreshFailures` keep every
other. A ticket getticket answered again (the same one) carries when it did (`fetched_at`).

A vend is one request (the authorizer's item, with its grant and token, the ticket, the refusal
and the budget in one BatchGetItem); a
fetch three (that read, the lease in a transaction that also checks the ticket read, the outcome
in another that also checks the grant is still authorized).
"""

from __future__ import annotations

import uuid
from typing import Any

from wxcomponent.adapters.dynamodb.authorizers import STATUS_NAMES, state_from_item
from wxcomponent.adapters.dynamodb.failures import failure_from_item, forced_from_item
from wxcomponent.adapters.dynamodb.leases import FREE, lease_item, lease_values
from wxcomponent.adapters.dynamodb.table import Table, key
from wxcomponent.domain.grants import AUTHORIZED
from wxcomponent.domain.js_tickets import HOT_FOR, VENDED_MARK_EVERY, JsTicket
from wxcomponent.keys import (
    FORCED_REFRESH,
    GRANT,
    LEASE,
    REFRESH_FAILURE,
    authorizer_key,
    js_ticket_lease,
    js_ticket_sort_key,
    refresh_shard,
)
from wxcomponent.ports import JsTicketState


class JsTicketTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def read_for_ticket(self, authorizer_appid: str, kind: str) -> JsTicketState:
        pk, sk, name = _keys(authorizer_appid, kind)
        items = self._table.get_many([(pk, GRANT), (pk, sk), (name, REFRESH_FAILURE), (name, FORCED_REFRESH)])
        authorizer, ticket = state_from_item(authorizer_appid, items.get((pk, GRANT))), items.get((pk, sk))
        failure, forced = items.get((name, REFRESH_FAILURE)), items.get((name, FORCED_REFRESH))
        return JsTicketState(
            authorizer.grant,
            authorizer.token,
            None if ticket is None else ticket_from_item(authorizer_appid, kind, ticket),
            None if failure is None else failure_from_item(failure),
            None if forced is None else forced_from_item(forced),
        )

    def acquire_ticket_lease(
        self, authorizer_appid: str, kind: str, seen: JsTicket | None, holder: str, now: float, ttl: float
    ) -> bool:
        pk, sk, name = _keys(authorizer_appid, kind)
        unchanged: dict[str, Any]
        if seen is None:
            unchanged = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            unchanged = {
                "ConditionExpression": "#ticket = :seen AND issued_at = :seen_issued_at",
                "ExpressionAttributeNames": {"#ticket": "ticket"},
                "ExpressionAttributeValues": {":seen": {"S": seen.ticket}, ":seen_issued_at": _n(seen.issued_at)},
            }
        return self._table.transact_if(
            [
                {"ConditionCheck": {"Key": key(pk, sk), **unchanged}},
                {
                    "Put": {
                        "Item": lease_item(name, holder, now, ttl),
                        "ConditionExpression": FREE,
                        "ExpressionAttributeValues": lease_values(holder, now),
                    }
                },
            ]
        )

    def store_ticket(self, ticket: JsTicket, holder: str, due: int, *, vended: bool) -> bool:
        pk, sk, name = _keys(ticket.owner, ticket.kind)
        write_id = {"S": uuid.uuid4().hex}  # its own resend after a lost answer must pass (table.py)
        update = (
            "SET #ticket = :ticket, issued_at = :issued_at, expires_at = :expires_at, #ttl = :expires_at,"
            " refresh_due = :due, refresh_shard = :shard, #write_id = :write_id"
        )
        values: dict[str, Any] = {
            ":ticket": {"S": ticket.ticket},
            ":issued_at": _n(ticket.issued_at),
            ":expires_at": _n(ticket.expires_at),
            ":due": _n(due),
            ":shard": {"S": refresh_shard(ticket.owner)},
            ":write_id": write_id,
        }
        if vended:
            if ticket.vended_at is None:
                raise ValueError("a vended ticket carries its vend mark")
            update += ", vended_at = :vended_at"
            values[":vended_at"] = _n(ticket.vended_at)
        if ticket.fetched_at is not None:
            update += ", fetched_at = :fetched_at"
            values[":fetched_at"] = _n(ticket.fetched_at)
        else:  # a new ticket, fetched when it was issued
            update += " REMOVE fetched_at"
        return self._table.transact_if(
            [
                {
                    "ConditionCheck": {
                        "Key": key(pk, GRANT),
                        "ConditionExpression": "#status = :authorized",
                        "ExpressionAttributeNames": STATUS_NAMES,
                        "ExpressionAttributeValues": {":authorized": {"S": AUTHORIZED}},
                    }
                },
                {
                    "Update": {
                        "Key": key(pk, sk),
                        "UpdateExpression": update,
                        "ConditionExpression": "attribute_not_exists(pk) OR issued_at <= :issued_at"
                        " OR #write_id = :write_id",
                        "ExpressionAttributeValues": values,
                        "ExpressionAttributeNames": {"#ticket": "ticket", "#ttl": "ttl", "#write_id": "write_id"},
                    }
                },
                {  # gone already is fine: that is our own release, resent
                    "Delete": {
                        "Key": key(name, LEASE),
                        "ConditionExpression": "attribute_not_exists(pk) OR holder = :holder",
                        "ExpressionAttributeValues": {":holder": {"S": holder}},
                    }
                },
            ]
        )

    def mark_vended(self, authorizer_appid: str, kind: str, now: int, due: int) -> bool:
        pk, sk, _ = _keys(authorizer_appid, kind)
        return self._table.update_if(
            pk,
            sk,
            "SET vended_at = :now, refresh_due = :due, refresh_shard = :shard",
            "attribute_exists(pk) AND (attribute_not_exists(vended_at) OR vended_at <= :marked_before)",
            {
                ":now": _n(now),
                ":due": _n(due),
                ":shard": {"S": refresh_shard(authorizer_appid)},
                ":marked_before": _n(now - VENDED_MARK_EVERY),
            },
        )

    def drop_from_renewal(self, authorizer_appid: str, kind: str, issued_at: int, now: int) -> bool:
        pk, sk, _ = _keys(authorizer_appid, kind)
        return self._table.update_if(
            pk,
            sk,
            "REMOVE refresh_due, refresh_shard",
            "issued_at = :issued_at AND (attribute_not_exists(vended_at) OR vended_at <= :cold_since)",
            {":issued_at": _n(issued_at), ":cold_since": _n(now - HOT_FOR)},
        )


def ticket_from_item(authorizer_appid: str, kind: str, item: dict[str, Any]) -> JsTicket:
    vended, fetched = item.get("vended_at", {}).get("N"), item.get("fetched_at", {}).get("N")
    return JsTicket(
        authorizer_appid,
        kind,
        item["ticket"]["S"],
        int(item["issued_at"]["N"]),
        int(item["expires_at"]["N"]),
        None if vended is None else int(vended),
        None if fetched is None else int(fetched),
    )


def _keys(authorizer_appid: str, kind: str) -> tuple[str, str, str]:
    """The ticket's partition and sort key, and the name of its fetch's lease and refusal."""
    return authorizer_key(authorizer_appid), js_ticket_sort_key(kind), js_ticket_lease(authorizer_appid, kind)


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}
