"""`AuthorizerReader`: an authorizer's grant and token in one request (BatchGetItem of
`AUTHORIZER#<appid>` / `GRANT` and `/ TOKEN`, read consistently), so a vend costs one round trip
and always sees a revocation."""

from __future__ import annotations

from typing import Any

from wxcomponent.adapters.dynamodb.grants import grant_from_item
from wxcomponent.adapters.dynamodb.keys import GRANT, TOKEN, authorizer_key
from wxcomponent.adapters.dynamodb.table import Table, key, storage_errors
from wxcomponent.adapters.dynamodb.tokens import token_from_item
from wxcomponent.domain.grants import Grant
from wxcomponent.domain.tokens import AccessToken


class AuthorizerReadTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def read_authorizer(self, authorizer_appid: str) -> tuple[Grant | None, AccessToken | None]:
        pk = authorizer_key(authorizer_appid)
        with storage_errors():
            answer = self._table.client.batch_get_item(
                RequestItems={self._table.name: {"Keys": [key(pk, GRANT), key(pk, TOKEN)], "ConsistentRead": True}}
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
        grant = items.get(GRANT)
        token = items.get(TOKEN)
        return (
            None if grant is None else grant_from_item(authorizer_appid, grant),
            None if token is None else token_from_item(authorizer_appid, token),
        )
