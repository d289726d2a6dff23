"""`LeaseStore`: `<pk of what is refreshed>` / `LEASE`, the single-flight refresh leases."""

from __future__ import annotations

from typing import Any

from wxcomponent.adapters.dynamodb.table import Table
from wxcomponent.keys import LEASE

LEASE_GRACE = 60  # the item's TTL lags its expiry: expiry is checked by condition, TTL only tidies


class LeaseTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def acquire_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        return self._table.put_if(lease_item(name, holder, now, ttl), FREE, lease_values(holder, now))

    def release_lease(self, name: str, holder: str) -> None:
        self._table.delete_if(name, LEASE, "holder = :holder", {":holder": {"S": holder}})


# `holder = :holder`: botocore resends a claim whose answer was lost, and the table has already
# applied it. The holder is unique to one flight, so only that resend matches.
FREE = "attribute_not_exists(pk) OR expires_at < :now OR holder = :holder"


def lease_item(name: str, holder: str, now: float, ttl: float) -> dict[str, Any]:
    expires_at = now + ttl
    return {
        "pk": {"S": name},
        "sk": {"S": LEASE},
        "holder": {"S": holder},
        "expires_at": {"N": f"{expires_at:.3f}"},
        "ttl": {"N": str(int(expires_at) + LEASE_GRACE)},
    }


def lease_values(holder: str, now: float) -> dict[str, Any]:
    return {":now": {"N": f"{now:.3f}"}, ":holder": {"S": holder}}
