"""`Authorizers`: the authorizer aggregate, one item `AUTHORIZER#<appid>` / `GRANT` holding the
grant (refresh token, status, func_info, timestamps, the sparse refresh-due index's keys), the
access token (`access_token`, `token_issued_at`, `token_expires_at`), the refresh lease
(`lease_holder`, `lease_expires_at`), the refusal remembered (`refusal`, a map) and the
forced-refresh budget (`forced_at`, `forced_version`). The item has no TTL, ever: the token's
expiry is an attribute, checked by every reader.

A vend is one strongly consistent GetItem; a refresh is two UpdateItems: the lease, taken with the
item returned (ReturnValues ALL_NEW), and the outcome, on condition of holding the lease. No
transaction on the hot path: the item is the consistency boundary. Only the JS-SDK tickets
(`js_tickets.py`) and the profile (`profiles.py`) are items of their own in the partition.
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from wxcomponent.adapters.dynamodb.table import Table, key, storage_errors
from wxcomponent.domain.grants import AUTHORIZED, NEEDS_REAUTHORIZATION, NO_API_PERMISSION, REVOKED, Grant
from wxcomponent.domain.tokens import AccessToken, ForcedRefreshes
from wxcomponent.domain.wechat import RefreshFailure
from wxcomponent.keys import (
    GRANT,
    JS_TICKET_SORT_KEYS,
    REFRESH_INDEX,
    authorizer_key,
    authorizer_of,
    js_ticket_kind,
    refresh_shard,
    refresh_shards,
)
from wxcomponent.ports import DueRefreshes, RefreshState

STATUS_NAMES = {"#status": "status"}
TOKEN_ATTRIBUTES = "access_token, token_issued_at, token_expires_at"  # noqa: S105 - names, not a token
NOT_NEWER = "(attribute_not_exists(token_issued_at) OR token_issued_at <= :issued_at)"
# `lease_holder = :holder`: botocore resends a claim whose answer was lost, and the table has
# already applied it. The holder is unique to one flight, so only that resend matches.
LEASE_FREE = "(attribute_not_exists(lease_holder) OR lease_expires_at < :now OR lease_holder = :holder)"


class AuthorizerTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- the grant ------------------------------------------------------------------------------

    def get_grant(self, authorizer_appid: str) -> Grant | None:
        return self.read_for_refresh(authorizer_appid).grant

    def save_grant(self, grant: Grant, refresh_due: int) -> bool:
        """Writes an authorization's grant unless a later authorization is already stored. Never a
        TTL; never an empty refresh token (the Grant refuses to exist without one). `refresh_due`
        puts it in the sparse refresh-due index. The token, lease and refusal the item holds stay."""
        if grant.status != AUTHORIZED or not grant.refresh_token:
            raise ValueError("only an authorized grant with a refresh token is saved")
        update = (
            "SET component_appid = :component, refresh_token = :refresh_token, #status = :status,"
            " authorized_at = :authorized_at, updated_at = :updated_at, refresh_shard = :shard, refresh_due = :due"
        )
        values: dict[str, Any] = {
            ":component": {"S": grant.component_appid},
            ":refresh_token": {"S": grant.refresh_token},
            ":status": {"S": grant.status},
            ":authorized_at": {"N": str(grant.authorized_at)},
            ":updated_at": {"N": str(grant.updated_at)},
            ":shard": {"S": refresh_shard(grant.authorizer_appid)},
            ":due": {"N": str(refresh_due)},
        }
        if grant.func_info:
            update += ", func_info = :func_info REMOVE revoked_at"
            values[":func_info"] = {"NS": [str(n) for n in grant.func_info]}
        else:
            update += " REMOVE revoked_at, func_info"
        return self._table.update_if(
            authorizer_key(grant.authorizer_appid),
            GRANT,
            update,
            "attribute_not_exists(pk) OR authorized_at <= :authorized_at",
            values,
            STATUS_NAMES,
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
                if appid is None:  # the index holds authorizers' items only
                    continue
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

    # -- the token ------------------------------------------------------------------------------

    def get_authorizer_token(self, authorizer_appid: str) -> AccessToken | None:
        return self.read_for_refresh(authorizer_appid).token

    def save_authorizer_token(self, token: AccessToken) -> bool:
        # A holder whose lease ran out may finish late: the newer token wins.
        return self._table.update_if(
            authorizer_key(token.owner),
            GRANT,
            "SET access_token = :token, token_issued_at = :issued_at, token_expires_at = :expires_at",
            f"attribute_exists(#status) AND {NOT_NEWER}",
            _token_values(token),
            STATUS_NAMES,
        )

    def delete_authorizer_token(self, authorizer_appid: str) -> None:
        pk = authorizer_key(authorizer_appid)
        # Unconditional deletes of the JS-SDK tickets: what is gone already stays gone, so a resend
        # changes nothing. The token's attributes go from the item only where there is one.
        js_tickets = [{"Delete": {"Key": key(pk, sk)}} for sk in JS_TICKET_SORT_KEYS]
        token = {
            "Update": {
                "Key": key(pk, GRANT),
                "UpdateExpression": f"REMOVE {TOKEN_ATTRIBUTES}",
                "ConditionExpression": "attribute_exists(pk)",
            }
        }
        if not self._table.transact_if([token, *js_tickets]):
            self._table.transact_if(js_tickets)

    # -- the refresh ----------------------------------------------------------------------------

    def read_for_refresh(self, authorizer_appid: str) -> RefreshState:
        item = self._table.get(authorizer_key(authorizer_appid), GRANT)
        return state_from_item(authorizer_appid, item)

    def acquire_refresh_lease(self, authorizer_appid: str, holder: str, now: float, ttl: float) -> RefreshState | None:
        kwargs: dict[str, Any] = {
            "TableName": self._table.name,
            "Key": key(authorizer_key(authorizer_appid), GRANT),
            "UpdateExpression": "SET lease_holder = :holder, lease_expires_at = :expires_at",
            "ConditionExpression": f"#status = :authorized AND {LEASE_FREE}",
            "ExpressionAttributeValues": {
                ":holder": {"S": holder},
                ":now": {"N": f"{now:.3f}"},
                ":expires_at": {"N": f"{now + ttl:.3f}"},
                ":authorized": {"S": AUTHORIZED},
            },
            "ExpressionAttributeNames": STATUS_NAMES,
            "ReturnValues": "ALL_NEW",
        }
        try:
            with storage_errors():
                answer = self._table.client.update_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return state_from_item(authorizer_appid, answer.get("Attributes"))

    def release_refresh_lease(self, authorizer_appid: str, holder: str) -> None:
        self._table.update_if(
            authorizer_key(authorizer_appid),
            GRANT,
            "REMOVE lease_holder, lease_expires_at",
            "lease_holder = :holder",
            {":holder": {"S": holder}},
        )

    def store_refresh(
        self, authorizer_appid: str, used: str, rotated: str | None, token: AccessToken, due: int, holder: str
    ) -> bool:
        update = (
            "SET refresh_due = :due, refresh_shard = :shard,"
            " access_token = :token, token_issued_at = :issued_at, token_expires_at = :expires_at"
        )
        values: dict[str, Any] = {
            ":due": {"N": str(due)},
            ":shard": {"S": refresh_shard(authorizer_appid)},
            ":authorized": {"S": AUTHORIZED},
            ":used": {"S": used},
            ":holder": {"S": holder},
            **_token_values(token),
        }
        if rotated and rotated != used:
            update += ", refresh_token = :rotated, updated_at = :issued_at"
            values[":rotated"] = {"S": rotated}
        return self._table.update_if(
            authorizer_key(authorizer_appid),
            GRANT,
            update + " REMOVE lease_holder, lease_expires_at",
            f"#status = :authorized AND refresh_token = :used AND lease_holder = :holder AND {NOT_NEWER}",
            values,
            STATUS_NAMES,
        )

    def remember_failure(self, authorizer_appid: str, failure: RefreshFailure) -> None:
        refusal: dict[str, Any] = {
            "kind": {"S": failure.kind},
            "message": {"S": failure.message},
            "until": {"N": f"{failure.until:.3f}"},
        }
        if failure.errcode is not None:
            refusal["errcode"] = {"N": str(failure.errcode)}
        self._table.update_if(
            authorizer_key(authorizer_appid),
            GRANT,
            "SET refusal = :refusal",
            "attribute_exists(#status)",
            {":refusal": {"M": refusal}},
            STATUS_NAMES,
        )

    def record_forced_refresh(
        self, authorizer_appid: str, seen: ForcedRefreshes | None, forced: ForcedRefreshes
    ) -> bool:
        unchanged = "attribute_not_exists(forced_version)" if seen is None else "forced_version = :seen"
        values: dict[str, Any] = {
            ":at": {"L": [{"N": str(made)} for made in forced.at]},
            ":version": {"S": uuid.uuid4().hex},
        }
        if seen is not None:
            values[":seen"] = {"S": seen.version}
        return self._table.update_if(
            authorizer_key(authorizer_appid),
            GRANT,
            "SET forced_at = :at, forced_version = :version",
            f"attribute_exists(#status) AND {unchanged}",
            values,
            STATUS_NAMES,
        )


def _token_values(token: AccessToken) -> dict[str, Any]:
    return {
        ":token": {"S": token.access_token},
        ":issued_at": {"N": str(token.issued_at)},
        ":expires_at": {"N": str(token.expires_at)},
    }


def state_from_item(authorizer_appid: str, item: dict[str, Any] | None) -> RefreshState:
    """The item as a refresh reads it (None: nothing stored)."""
    if item is None:
        return RefreshState(None, None, None, None)
    return RefreshState(
        grant_from_item(authorizer_appid, item),
        token_from_item(authorizer_appid, item),
        failure_from_item(item),
        forced_from_item(item),
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


def token_from_item(authorizer_appid: str, item: dict[str, Any]) -> AccessToken | None:
    if "access_token" not in item:
        return None
    issued_at, expires_at = int(item["token_issued_at"]["N"]), int(item["token_expires_at"]["N"])
    return AccessToken(authorizer_appid, item["access_token"]["S"], issued_at, expires_at)


def failure_from_item(item: dict[str, Any]) -> RefreshFailure | None:
    if "refusal" not in item:
        return None
    refusal = item["refusal"]["M"]
    errcode = int(refusal["errcode"]["N"]) if "errcode" in refusal else None
    return RefreshFailure(refusal["kind"]["S"], errcode, refusal["message"]["S"], float(refusal["until"]["N"]))


def forced_from_item(item: dict[str, Any]) -> ForcedRefreshes | None:
    if "forced_version" not in item:
        return None
    return ForcedRefreshes(tuple(int(made["N"]) for made in item["forced_at"]["L"]), item["forced_version"]["S"])
