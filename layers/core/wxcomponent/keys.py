"""Every name the table's items are found by, in one place: partition keys, sort keys, the
refresh-due index, and the names of the refresh leases and remembered refusals.

Used by the adapters (`wxcomponent.adapters.dynamodb`), the services (lease names), the operator
CLI (`wxcomponent_client.keys` is this very file, linked, so that the CLI reads the table on Python
3.9 without the core), bench and the tests. It imports nothing of the core's, and stays valid
Python 3.9, for that reason (tests/unit/test_keys.py).
"""

from __future__ import annotations

import hashlib

REFRESH_INDEX = "RefreshDue"
REFRESH_SHARDS = 8  # spreads the sparse index's keys so no one partition is hot

VERIFY_TICKET = "TICKET"
VERIFY_TICKET_RESTART = "TICKET_RESTART"
REFRESH_RUN = "REFRESH_RUN"
TOKEN = "TOKEN"  # noqa: S105 - a sort key, not a token
GRANT = "GRANT"
PROFILE = "PROFILE"
LEASE = "LEASE"
REFRESH_FAILURE = "REFRESH_FAILURE"
FORCED_REFRESH = "FORCED_REFRESH"  # beside REFRESH_FAILURE: the refreshes reports forced (their budget)
EXCHANGE = "EXCHANGE"
STATE = "STATE"  # an authorization state the start page issued (`AUTHSTATE#<sha256 of the state>`)
QUOTA_CLEARS = "QUOTA_CLEARS"  # `QUOTA_CLEARS#<YYYY-MM>`: the operator CLI's clear-quota calls this month
# An authorizer's JS-SDK tickets, one item each, by kind (`jsapi_ticket`, `card_ticket`): the sort
# key is the kind's name in capitals, made here and nowhere else.
JSAPI_TICKET = "JSAPI_TICKET"
CARD_TICKET = "CARD_TICKET"
JS_TICKET_SORT_KEYS = (JSAPI_TICKET, CARD_TICKET)


def component_key(appid: str) -> str:
    return f"COMPONENT#{appid}"


def authorizer_key(appid: str) -> str:
    return f"AUTHORIZER#{appid}"


def authorizer_of(pk: str) -> str | None:
    """The authorizer appid of an authorizer's partition key (`AUTHORIZER#<appid>`); None for any
    other key, a JS-SDK ticket's lease name (`AUTHORIZER#<appid>#JSAPI_TICKET`) included."""
    prefix = authorizer_key("")
    appid = pk[len(prefix) :] if pk.startswith(prefix) else ""
    return appid if appid and "#" not in appid else None


def js_ticket_sort_key(kind: str) -> str:
    """`jsapi_ticket` → `JSAPI_TICKET`, `card_ticket` → `CARD_TICKET`."""
    return kind.upper()


def js_ticket_kind(sort_key: str) -> str:
    return sort_key.lower()


# Lease names: a refresh's lease, its remembered refusal and its forced-refresh budget are found by
# the name of what it refreshes. The authorizer's own token keeps all three in its item; the others
# are items of their own (`<name>` / `LEASE`, `REFRESH_FAILURE`, `FORCED_REFRESH`).
def component_lease(component_appid: str) -> str:
    return component_key(component_appid)


def authorizer_lease(authorizer_appid: str) -> str:
    return authorizer_key(authorizer_appid)


def js_ticket_lease(authorizer_appid: str, kind: str) -> str:
    """A JS-SDK ticket fetch's: `AUTHORIZER#<appid>#JSAPI_TICKET`."""
    return f"{authorizer_key(authorizer_appid)}#{js_ticket_sort_key(kind)}"


# Beside the component's or an authorizer's partition key: the operator CLI's count of its
# clear-quota calls in one Beijing month (`YYYY-MM`).
def quota_clears_sort_key(month: str) -> str:
    return f"QUOTA_CLEARS#{month}"


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
