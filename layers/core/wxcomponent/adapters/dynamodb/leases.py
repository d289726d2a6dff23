"""`LeaseStore`: `<pk of what is refreshed>` / `LEASE`, the single-flight refresh leases."""

from __future__ import annotations

from wxcomponent.adapters.dynamodb.keys import LEASE
from wxcomponent.adapters.dynamodb.table import Table

LEASE_GRACE = 60  # the item's TTL lags its expiry: expiry is checked by condition, TTL only tidies


class LeaseTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def acquire_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        expires_at = now + ttl
        item = {
            "pk": {"S": name},
            "sk": {"S": LEASE},
            "holder": {"S": holder},
            "expires_at": {"N": f"{expires_at:.3f}"},
            "ttl": {"N": str(int(expires_at) + LEASE_GRACE)},
        }
        # `holder = :holder`: botocore resends a claim whose answer was lost, and the table has
        # already applied it. The holder is unique to one flight, so only that resend matches.
        return self._table.put_if(
            item,
            "attribute_not_exists(pk) OR expires_at < :now OR holder = :holder",
            {":now": {"N": f"{now:.3f}"}, ":holder": {"S": holder}},
        )

    def release_lease(self, name: str, holder: str) -> None:
        self._table.delete_if(name, LEASE, "holder = :holder", {":holder": {"S": holder}})
