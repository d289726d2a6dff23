"""Every key of the table, in one place: partition keys, sort keys, the refresh-due index."""

from __future__ import annotations

import hashlib

REFRESH_INDEX = "RefreshDue"
REFRESH_SHARDS = 8  # spreads the sparse index's keys so no one partition is hot

TICKET = "TICKET"
TICKET_RESTART = "TICKET_RESTART"
REFRESH_RUN = "REFRESH_RUN"
TOKEN = "TOKEN"  # noqa: S105 - a sort key, not a token
GRANT = "GRANT"
PROFILE = "PROFILE"
LEASE = "LEASE"
REFRESH_FAILURE = "REFRESH_FAILURE"
FORCED_REFRESH = "FORCED_REFRESH"  # beside REFRESH_FAILURE: the refreshes reports forced (their budget)
EXCHANGE = "EXCHANGE"
STATE = "STATE"  # an authorization state the start page issued (`AUTHSTATE#<sha256 of the state>`)
JSAPI_TICKET = "JSAPI_TICKET"  # an authorizer's JS-SDK tickets, by kind (`jsapi_ticket`, `card_ticket`)
CARD_TICKET = "CARD_TICKET"
JS_TICKET_SORT_KEYS = (JSAPI_TICKET, CARD_TICKET)


def component_key(appid: str) -> str:
    return f"COMPONENT#{appid}"


def authorizer_key(appid: str) -> str:
    return f"AUTHORIZER#{appid}"


def authorizer_of(pk: str) -> str:
    """The authorizer appid of an `AUTHORIZER#…` partition key."""
    return pk.removeprefix("AUTHORIZER#")


def js_ticket_sort_key(kind: str) -> str:
    """`jsapi_ticket` → `JSAPI_TICKET`, `card_ticket` → `CARD_TICKET`."""
    return kind.upper()


def js_ticket_kind(sort_key: str) -> str:
    return sort_key.lower()


def code_key(code_hash: str) -> str:
    return f"AUTHCODE#{code_hash}"


def state_key(state_hash: str) -> str:
    return f"AUTHSTATE#{state_hash}"


def push_sort_key(create_time: int, info_type: str, authorizer_appid: str) -> str:
    return f"PUSH#{create_time}#{info_type}#{authorizer_appid}"


def message_sort_key(dedupe_key: str) -> str:
    return f"MESSAGE#{dedupe_key}"


def refresh_shard(appid: str) -> str:
    """A stable shard of the refresh-due index for this authorizer."""
    return str(int(hashlib.sha256(appid.encode()).hexdigest(), 16) % REFRESH_SHARDS)


def refresh_shards() -> list[str]:
    return [str(shard) for shard in range(REFRESH_SHARDS)]
