"""`GrantStore`: `AUTHORIZER#<appid>` / `GRANT`, with the sparse refresh-due index's keys.

A grant has no TTL, ever, and its refresh token is never overwritten by an empty or older value
(compare-and-set). Only authorized grants carry `refresh_shard`/`refresh_due`, so the index holds
exactly what the refresher may have to do; so do the JS-SDK tickets still worth renewing
(`js_tickets.py`), in the same shards, so that one read of a shard finds both.
"""

from __future__ import annotations

from typing import Any

from wxcomponent.adapters.dynamodb.keys import (
    GRANT,
    JS_TICKET_SORT_KEYS,
    REFRESH_INDEX,
    authorizer_key,
    authorizer_of,
    js_ticket_kind,
    refresh_shard,
    refresh_shards,
)
from wxcomponent.adapters.dynamodb.table import Table, storage_errors
from wxcomponent.domain.grants import AUTHORIZED, NEEDS_REAUTHORIZATION, NO_API_PERMISSION, REVOKED, Grant
from wxcomponent.ports import DueRefreshes

STATUS_NAMES = {"#status": "status"}


class GrantTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get_grant(self, authorizer_appid: str) -> Grant | None:
        item = self._table.get(authorizer_key(authorizer_appid), GRANT)
        return None if item is None else grant_from_item(authorizer_appid, item)

    def save_grant(self, grant: Grant, refresh_due: int) -> bool:
        """Writes an authorization's grant unless a later authorization is already stored. Never a
        TTL; never an empty refresh token (the Grant refuses to exist without one). `refresh_due`
        puts it in the sparse refresh-due index."""
        if grant.status != AUTHORIZED or not grant.refresh_token:
            raise ValueError("only an authorized grant with a refresh token is saved")
        item: dict[str, Any] = {
            "pk": {"S": authorizer_key(grant.authorizer_appid)},
            "sk": {"S": GRANT},
            "component_appid": {"S": grant.component_appid},
            "refresh_token": {"S": grant.refresh_token},
            "status": {"S": grant.status},
            "authorized_at": {"N": str(grant.authorized_at)},
            "updated_at": {"N": str(grant.updated_at)},
            "refresh_shard": {"S": refresh_shard(grant.authorizer_appid)},
            "refresh_due": {"N": str(refresh_due)},
        }
        if grant.func_info:
            item["func_info"] = {"NS": [str(n) for n in grant.func_info]}
        return self._table.put_if(
            item,
            "attribute_not_exists(pk) OR authorized_at <= :authorized_at",
            {":authorized_at": {"N": str(grant.authorized_at)}},
        )

    def save_grant_without_api_permission(self, grant: Grant) -> bool:
        """An authorization WeChat answered without tokens (no API permission), unless a later
        authorization is stored. Out of the refresh-due index; a refresh token stored by an earlier
        authorization is kept (never replaced by nothing), though no longer used."""
        if grant.status != NO_API_PERMISSION:
            raise ValueError("only a grant without API permission is recorded here")
        update = (
            "SET #status = :status, component_appid = :component, authorized_at = :authorized_at,"
            " updated_at = :updated_at"
        )
        values: dict[str, Any] = {
            ":status": {"S": NO_API_PERMISSION},
            ":component": {"S": grant.component_appid},
            ":authorized_at": {"N": str(grant.authorized_at)},
            ":updated_at": {"N": str(grant.updated_at)},
        }
        if grant.func_info:
            update += ", func_info = :func_info"
            values[":func_info"] = {"NS": [str(n) for n in grant.func_info]}
        update += " REMOVE refresh_due, refresh_shard, revoked_at" + ("" if grant.func_info else ", func_info")
        return self._table.update_if(
            authorizer_key(grant.authorizer_appid),
            GRANT,
            update,
            "attribute_not_exists(pk) OR authorized_at <= :authorized_at",
            values,
            STATUS_NAMES,
        )

    def revoke_grant(self, authorizer_appid: str, revoked_at: int) -> bool:
        """Marks the grant revoked, unless it was authorized again after `revoked_at` or is revoked
        already (WeChat retries the push: the second must change nothing and publish nothing)."""
        return self._table.update_if(
            authorizer_key(authorizer_appid),
            GRANT,
            "SET #status = :revoked, updated_at = :at, revoked_at = :at"
            " REMOVE refresh_token, refresh_due, refresh_shard",
            "attribute_exists(pk) AND authorized_at <= :at AND #status <> :revoked",
            {":revoked": {"S": REVOKED}, ":at": {"N": str(revoked_at)}},
            STATUS_NAMES,
        )

    def update_refresh_token(self, authorizer_appid: str, old: str, new: str, now: int) -> bool:
        """Compare-and-set: replaces `old` by a non-empty `new` on an authorized grant only."""
        if not new or new == old:
            return False
        return self._authorized_update(
            authorizer_appid,
            "SET refresh_token = :new, updated_at = :now",
            "refresh_token = :old",
            {":new": {"S": new}, ":old": {"S": old}, ":now": {"N": str(now)}},
        )

    def set_refresh_due(self, authorizer_appid: str, due: int) -> bool:
        """When this authorizer's token is next due for refresh (authorized grants only)."""
        return self._authorized_update(
            authorizer_appid,
            "SET refresh_due = :due, refresh_shard = :shard",
            None,
            {":due": {"N": str(due)}, ":shard": {"S": refresh_shard(authorizer_appid)}},
        )

    def revoke_unlisted(self, authorizer_appid: str, refresh_token: str, now: int) -> bool:
        """61003 confirmed by the authorizer list: revoked, the refresh token kept (only the signed
        `unauthorized` push deletes one), out of the refresh-due index."""
        return self._authorized_update(
            authorizer_appid,
            "SET #status = :revoked, updated_at = :now, revoked_at = :now REMOVE refresh_due, refresh_shard",
            "refresh_token = :token",
            {":revoked": {"S": REVOKED}, ":now": {"N": str(now)}, ":token": {"S": refresh_token}},
        )

    def mark_needs_reauthorization(self, authorizer_appid: str, refresh_token: str, now: int) -> bool:
        """WeChat refused the refresh token and no other could be found. Kept (not deleted): the
        merchant's re-authorization replaces it; out of the refresh-due index meanwhile."""
        return self._authorized_update(
            authorizer_appid,
            "SET #status = :needs, updated_at = :now REMOVE refresh_due, refresh_shard",
            "refresh_token = :token",
            {":needs": {"S": NEEDS_REAUTHORIZATION}, ":now": {"N": str(now)}, ":token": {"S": refresh_token}},
        )

    def refresh_shards(self) -> list[str]:
        return refresh_shards()

    def due_authorizers(self, shard: str, now: int) -> tuple[list[str], int]:
        """Authorizer appids whose refresh is due in one shard of the sparse index, and the number
        of index items read (only due ones: the key condition bounds the read)."""
        due = self.due_refreshes(shard, now)
        return due.authorizers, due.read

    def due_refreshes(self, shard: str, now: int) -> DueRefreshes:
        """What is due in one shard: grants and JS-SDK tickets, told apart by their sort key (the
        index projects the table's keys)."""
        due = DueRefreshes([], [], 0)
        kwargs: dict[str, Any] = {
            "TableName": self._table.name,
            "IndexName": REFRESH_INDEX,
            "KeyConditionExpression": "refresh_shard = :shard AND refresh_due <= :now",
            "ExpressionAttributeValues": {":shard": {"S": shard}, ":now": {"N": str(now)}},
        }
        read = 0
        while True:
            with storage_errors():
                page = self._table.client.query(**kwargs)
            read += page.get("ScannedCount", 0)
            for item in page.get("Items", []):
                appid, sk = authorizer_of(item["pk"]["S"]), item["sk"]["S"]
                if sk == GRANT:
                    due.authorizers.append(appid)
                elif sk in JS_TICKET_SORT_KEYS:
                    due.js_tickets.append((appid, js_ticket_kind(sk)))
            if "LastEvaluatedKey" not in page:
                return DueRefreshes(due.authorizers, due.js_tickets, read)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _authorized_update(
        self, authorizer_appid: str, update: str, condition: str | None, values: dict[str, Any]
    ) -> bool:
        """An update of an authorized grant only (and `condition`, when given)."""
        full = "#status = :authorized" + (f" AND {condition}" if condition else "")
        return self._table.update_if(
            authorizer_key(authorizer_appid),
            GRANT,
            update,
            full,
            {":authorized": {"S": AUTHORIZED}, **values},
            STATUS_NAMES,
        )


def grant_from_item(authorizer_appid: str, item: dict[str, Any]) -> Grant:
    return Grant(
        authorizer_appid=authorizer_appid,
        component_appid=item["component_appid"]["S"],
        refresh_token=item.get("refresh_token", {}).get("S", ""),
        func_info=tuple(int(n) for n in item.get("func_info", {}).get("NS", [])),
        status=item["status"]["S"],
        authorized_at=int(item["authorized_at"]["N"]),
        updated_at=int(item["updated_at"]["N"]),
    )
