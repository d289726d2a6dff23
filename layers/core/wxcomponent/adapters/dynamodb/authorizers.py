"""`AuthorizerRecords`: an authorizer's items share its partition `AUTHORIZER#<appid>` (GRANT,
TOKEN, its refresh LEASE, REFRESH_FAILURE and FORCED_REFRESH), so they are read and written
together. A vend is one request (BatchGetItem of the grant, the token, any remembered refusal and
the token's forced-refresh budget); a refresh is three
(that read, the lease in a transaction that also checks the token, the outcome in another).
"""

from __future__ import annotations

import uuid
from typing import Any

from wxcomponent.adapters.dynamodb.failures import failure_from_item, forced_from_item
from wxcomponent.adapters.dynamodb.grants import STATUS_NAMES, grant_from_item
from wxcomponent.adapters.dynamodb.keys import (
    FORCED_REFRESH,
    GRANT,
    LEASE,
    REFRESH_FAILURE,
    TOKEN,
    authorizer_key,
    refresh_shard,
)
from wxcomponent.adapters.dynamodb.leases import FREE, lease_item, lease_values
from wxcomponent.adapters.dynamodb.table import Table, key, storage_errors
from wxcomponent.adapters.dynamodb.tokens import NOT_NEWER, token_from_item, token_item
from wxcomponent.domain.grants import AUTHORIZED
from wxcomponent.domain.tokens import AccessToken
from wxcomponent.ports import RefreshState


class AuthorizerTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def read_for_refresh(self, authorizer_appid: str) -> RefreshState:
        items = self._read(authorizer_appid, (GRANT, TOKEN, REFRESH_FAILURE, FORCED_REFRESH))
        grant, token, failure = items.get(GRANT), items.get(TOKEN), items.get(REFRESH_FAILURE)
        forced = items.get(FORCED_REFRESH)
        return RefreshState(
            None if grant is None else grant_from_item(authorizer_appid, grant),
            None if token is None else token_from_item(authorizer_appid, token),
            None if failure is None else failure_from_item(failure),
            None if forced is None else forced_from_item(forced),
        )

    def acquire_refresh_lease(
        self, authorizer_appid: str, seen: AccessToken | None, holder: str, now: float, ttl: float
    ) -> bool:
        pk = authorizer_key(authorizer_appid)
        if seen is None:
            unchanged, values = "attribute_not_exists(pk)", {}
        else:
            unchanged = "access_token = :seen AND issued_at = :seen_issued_at"
            values = {":seen": {"S": seen.access_token}, ":seen_issued_at": {"N": str(seen.issued_at)}}
        return self._table.transact_if(
            [
                {"ConditionCheck": {"Key": key(pk, TOKEN), "ConditionExpression": unchanged, **_values(values)}},
                {
                    "Put": {
                        "Item": lease_item(pk, holder, now, ttl),
                        "ConditionExpression": FREE,
                        "ExpressionAttributeValues": lease_values(holder, now),
                    }
                },
            ]
        )

    def store_refresh(
        self, authorizer_appid: str, used: str, rotated: str | None, token: AccessToken, due: int, holder: str
    ) -> bool:
        pk = authorizer_key(authorizer_appid)
        write_id = {"S": uuid.uuid4().hex}  # its own resend after a lost answer must pass (table.py)
        update = "SET refresh_due = :due, refresh_shard = :shard, #write_id = :write_id"
        values: dict[str, Any] = {
            ":due": {"N": str(due)},
            ":shard": {"S": refresh_shard(authorizer_appid)},
            ":authorized": {"S": AUTHORIZED},
            ":used": {"S": used},
            ":write_id": write_id,
        }
        if rotated and rotated != used:
            update += ", refresh_token = :rotated, updated_at = :now"
            values |= {":rotated": {"S": rotated}, ":now": {"N": str(token.issued_at)}}
        return self._table.transact_if(
            [
                {
                    "Update": {
                        "Key": key(pk, GRANT),
                        "UpdateExpression": update,
                        "ConditionExpression": "(#status = :authorized AND refresh_token = :used)"
                        " OR #write_id = :write_id",
                        "ExpressionAttributeValues": values,
                        "ExpressionAttributeNames": {**STATUS_NAMES, "#write_id": "write_id"},
                    }
                },
                {
                    "Put": {
                        "Item": token_item(pk, token),
                        "ConditionExpression": NOT_NEWER,
                        "ExpressionAttributeValues": {":issued_at": {"N": str(token.issued_at)}},
                    }
                },
                {  # gone already is fine: that is our own release, resent
                    "Delete": {
                        "Key": key(pk, LEASE),
                        "ConditionExpression": "attribute_not_exists(pk) OR holder = :holder",
                        "ExpressionAttributeValues": {":holder": {"S": holder}},
                    }
                },
            ]
        )

    def _read(self, authorizer_appid: str, sort_keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        pk = authorizer_key(authorizer_appid)
        with storage_errors():
            answer = self._table.client.batch_get_item(
                RequestItems={self._table.name: {"Keys": [key(pk, sk) for sk in sort_keys], "ConsistentRead": True}}
            )
        responses: dict[str, Any] = dict(answer.get("Responses", {}))
        items = {item["sk"]["S"]: item for item in responses.get(self._table.name, [])}
        # Under throttling DynamoDB may leave keys unprocessed: read those one by one.
        unprocessed_keys: dict[str, Any] = dict(answer.get("UnprocessedKeys", {}))
        for unprocessed in unprocessed_keys.get(self._table.name, {}).get("Keys", []):
            sk = unprocessed["sk"]["S"]
            item = self._table.get(pk, sk)
            if item is not None:
                items[sk] = item
        return items


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {"ExpressionAttributeValues": values} if values else {}
