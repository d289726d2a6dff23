"""`TokenStore`: `COMPONENT#<appid>` / `TOKEN`, with its `expires_at` and a TTL at expiry (TTL
deletes late: readers check `expires_at`). An authorizer's token lives in its item
(`authorizers.py`)."""

from __future__ import annotations

from typing import Any

from wxcomponent.adapters.dynamodb.table import Table
from wxcomponent.domain.tokens import AccessToken
from wxcomponent.keys import TOKEN, component_key


class TokenTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get_component_token(self, component_appid: str) -> AccessToken | None:
        return self._get(component_key(component_appid), component_appid)

    def save_component_token(self, token: AccessToken) -> bool:
        return self._save(component_key(token.owner), token)

    def _get(self, pk: str, owner: str) -> AccessToken | None:
        item = self._table.get(pk, TOKEN)
        return None if item is None else token_from_item(owner, item)

    def _save(self, pk: str, token: AccessToken) -> bool:
        # A holder whose lease ran out may finish late: the newer token wins.
        return self._table.put_if(token_item(pk, token), NOT_NEWER, {":issued_at": {"N": str(token.issued_at)}})


NOT_NEWER = "attribute_not_exists(pk) OR issued_at <= :issued_at"  # no token issued later is stored


def token_item(pk: str, token: AccessToken) -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "sk": {"S": TOKEN},
        "access_token": {"S": token.access_token},
        "issued_at": {"N": str(token.issued_at)},
        "expires_at": {"N": str(token.expires_at)},
        "ttl": {"N": str(token.expires_at)},
    }


def token_from_item(owner: str, item: dict[str, Any]) -> AccessToken:
    return AccessToken(owner, item["access_token"]["S"], int(item["issued_at"]["N"]), int(item["expires_at"]["N"]))
