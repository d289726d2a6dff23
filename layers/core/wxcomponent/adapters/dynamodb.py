"""The single table over boto3's low-level DynamoDB client (docs/architecture.md, Data).

Keys:
- `COMPONENT#<appid>` / `TICKET`: the newest verify ticket; `/ TOKEN`: the component token;
  `/ PUSH#<CreateTime>#<InfoType>#<AuthorizerAppid>`: records of other pushes.
- `AUTHORIZER#<appid>` / `GRANT` (never a TTL), `/ TOKEN`, `/ PROFILE`.
- `<pk of what is refreshed>` / `LEASE`: single-flight leases.
- `AUTHCODE#<sha256 of the code>` / `EXCHANGE`: who is exchanging an authorization code.
Items that may expire carry `ttl` (epoch seconds), the attribute template.yaml enables TTL on;
every read checks `expires_at` itself because TTL deletes late.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from wxcomponent.grants import AUTHORIZED, NEEDS_REAUTHORIZATION, REVOKED, Grant, Profile
from wxcomponent.tickets import PushRecord, Ticket
from wxcomponent.tokens import AccessToken

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PUSH_RECORD_LIFETIME = 30 * 24 * 3600
# Every call has a bound: a slow table must not hold a push past WeChat's 5-second wait.
CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 3, "mode": "standard"})


REFRESH_INDEX = "RefreshDue"
REFRESH_SHARDS = 8  # spreads the sparse index's keys so no one partition is hot
LEASE_GRACE = 60  # the lease item's TTL lags its expiry: expiry is checked by condition, TTL only tidies
CODE_CLAIM_LIFETIME = 24 * 3600


def component_key(appid: str) -> str:
    return f"COMPONENT#{appid}"


def authorizer_key(appid: str) -> str:
    return f"AUTHORIZER#{appid}"


def refresh_shard(appid: str) -> str:
    """A stable shard of the refresh-due index for this authorizer."""
    return str(int(hashlib.sha256(appid.encode()).hexdigest(), 16) % REFRESH_SHARDS)


def code_key(code_hash: str) -> str:
    return f"AUTHCODE#{code_hash}"


class DynamoDBStore:
    """Implements the core's store ports on `table_name`. The client is made on first use."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = boto3.client("dynamodb", config=CLIENT_CONFIG)
        return self._client

    # -- tickets ---------------------------------------------------------------------------------

    def save_ticket(self, ticket: Ticket) -> bool:
        item = {
            "pk": {"S": component_key(ticket.component_appid)},
            "sk": {"S": "TICKET"},
            "ticket": {"S": ticket.ticket},
            "create_time": {"N": str(ticket.create_time)},
            "received_at": {"N": str(ticket.received_at)},
            "expires_at": {"N": str(ticket.expires_at)},
            "ttl": {"N": str(ticket.expires_at)},
        }
        # An older push never replaces a newer ticket, and a retried push (same CreateTime, same
        # ticket) changes nothing; two different tickets of the same second: the later arrival.
        return self._put_if(
            item,
            "attribute_not_exists(pk) OR create_time < :create_time"
            " OR (create_time = :create_time AND ticket <> :ticket)",
            {":create_time": {"N": str(ticket.create_time)}, ":ticket": {"S": ticket.ticket}},
        )

    def get_ticket(self, component_appid: str) -> Ticket | None:
        item = self._get(component_key(component_appid), "TICKET")
        if item is None:
            return None
        return Ticket(
            component_appid=component_appid,
            ticket=item["ticket"]["S"],
            create_time=int(item["create_time"]["N"]),
            received_at=int(item["received_at"]["N"]),
            expires_at=int(item["expires_at"]["N"]),
        )

    # -- push records ----------------------------------------------------------------------------

    def record_push(self, record: PushRecord) -> bool:
        sk = f"PUSH#{record.create_time}#{record.info_type}#{record.authorizer_appid}"
        item = {
            "pk": {"S": component_key(record.component_appid)},
            "sk": {"S": sk},
            "info_type": {"S": record.info_type},
            "create_time": {"N": str(record.create_time)},
            "authorizer_appid": {"S": record.authorizer_appid},
            "received_at": {"N": str(record.received_at)},
            "ttl": {"N": str(record.received_at + PUSH_RECORD_LIFETIME)},
        }
        return self._put_if(item, "attribute_not_exists(pk)", None)

    # -- access tokens ---------------------------------------------------------------------------

    def get_component_token(self, component_appid: str) -> AccessToken | None:
        return self._get_token(component_key(component_appid), component_appid)

    def save_component_token(self, token: AccessToken) -> bool:
        return self._save_token(component_key(token.owner), token)

    def get_authorizer_token(self, authorizer_appid: str) -> AccessToken | None:
        return self._get_token(authorizer_key(authorizer_appid), authorizer_appid)

    def save_authorizer_token(self, token: AccessToken) -> bool:
        return self._save_token(authorizer_key(token.owner), token)

    def delete_authorizer_token(self, authorizer_appid: str) -> None:
        self.client.delete_item(
            TableName=self.table_name, Key={"pk": {"S": authorizer_key(authorizer_appid)}, "sk": {"S": "TOKEN"}}
        )

    def _get_token(self, pk: str, owner: str) -> AccessToken | None:
        item = self._get(pk, "TOKEN")
        if item is None:
            return None
        return AccessToken(owner, item["access_token"]["S"], int(item["issued_at"]["N"]), int(item["expires_at"]["N"]))

    def _save_token(self, pk: str, token: AccessToken) -> bool:
        item = {
            "pk": {"S": pk},
            "sk": {"S": "TOKEN"},
            "access_token": {"S": token.access_token},
            "issued_at": {"N": str(token.issued_at)},
            "expires_at": {"N": str(token.expires_at)},
            "ttl": {"N": str(token.expires_at)},
        }
        # A holder whose lease ran out may finish late: the newer token wins.
        return self._put_if(
            item,
            "attribute_not_exists(pk) OR issued_at <= :issued_at",
            {":issued_at": {"N": str(token.issued_at)}},
        )

    # -- leases ----------------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        expires_at = now + ttl
        item = {
            "pk": {"S": name},
            "sk": {"S": "LEASE"},
            "holder": {"S": holder},
            "expires_at": {"N": f"{expires_at:.3f}"},
            "ttl": {"N": str(int(expires_at) + LEASE_GRACE)},
        }
        return self._put_if(item, "attribute_not_exists(pk) OR expires_at < :now", {":now": {"N": f"{now:.3f}"}})

    def release_lease(self, name: str, holder: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": name}, "sk": {"S": "LEASE"}},
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise

    # -- grants ----------------------------------------------------------------------------------

    def get_grant(self, authorizer_appid: str) -> Grant | None:
        item = self._get(authorizer_key(authorizer_appid), "GRANT")
        if item is None:
            return None
        return Grant(
            authorizer_appid=authorizer_appid,
            component_appid=item["component_appid"]["S"],
            refresh_token=item.get("refresh_token", {}).get("S", ""),
            func_info=tuple(int(n) for n in item.get("func_info", {}).get("NS", [])),
            status=item["status"]["S"],
            authorized_at=int(item["authorized_at"]["N"]),
            updated_at=int(item["updated_at"]["N"]),
        )

    def save_grant(self, grant: Grant, refresh_due: int) -> bool:
        """Writes an authorization's grant unless a later authorization is already stored. Never a
        TTL; never an empty refresh token (the Grant refuses to exist without one). `refresh_due`
        puts it in the sparse refresh-due index."""
        if grant.status != AUTHORIZED or not grant.refresh_token:
            raise ValueError("only an authorized grant with a refresh token is saved")
        item: dict[str, Any] = {
            "pk": {"S": authorizer_key(grant.authorizer_appid)},
            "sk": {"S": "GRANT"},
            "component_appid": {"S": grant.component_appid},
            "refresh_token": {"S": grant.refresh_token},
            "status": {"S": grant.status},
            "authorized_at": {"N": str(grant.authorized_at)},
            "updated_at": {"N": str(grant.updated_at)},
        }
        if grant.func_info:
            item["func_info"] = {"NS": [str(n) for n in grant.func_info]}
        item["refresh_shard"] = {"S": refresh_shard(grant.authorizer_appid)}
        item["refresh_due"] = {"N": str(refresh_due)}
        return self._put_if(
            item,
            "attribute_not_exists(pk) OR authorized_at <= :authorized_at",
            {":authorized_at": {"N": str(grant.authorized_at)}},
        )

    def revoke_grant(self, authorizer_appid: str, revoked_at: int) -> bool:
        """Marks the grant revoked, unless it was authorized again after `revoked_at`."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": authorizer_key(authorizer_appid)}, "sk": {"S": "GRANT"}},
                UpdateExpression=(
                    "SET #status = :revoked, updated_at = :at, revoked_at = :at "
                    "REMOVE refresh_token, refresh_due, refresh_shard"
                ),
                ConditionExpression="attribute_exists(pk) AND authorized_at <= :at",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":revoked": {"S": REVOKED}, ":at": {"N": str(revoked_at)}},
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def update_refresh_token(self, authorizer_appid: str, old: str, new: str, now: int) -> bool:
        """Compare-and-set: replaces `old` by a non-empty `new` on an authorized grant only."""
        if not new or new == old:
            return False
        return self._update_grant(
            authorizer_appid,
            "SET refresh_token = :new, updated_at = :now",
            "#status = :authorized AND refresh_token = :old",
            {":new": {"S": new}, ":old": {"S": old}, ":now": {"N": str(now)}},
        )

    def set_refresh_due(self, authorizer_appid: str, due: int) -> bool:
        """When this authorizer's token is next due for refresh (authorized grants only)."""
        return self._update_grant(
            authorizer_appid,
            "SET refresh_due = :due, refresh_shard = :shard",
            "#status = :authorized",
            {":due": {"N": str(due)}, ":shard": {"S": refresh_shard(authorizer_appid)}},
        )

    def mark_needs_reauthorization(self, authorizer_appid: str, refresh_token: str, now: int) -> bool:
        """WeChat refused the refresh token and no other could be found. Kept (not deleted): the
        merchant's re-authorization replaces it; out of the refresh-due index meanwhile."""
        return self._update_grant(
            authorizer_appid,
            "SET #status = :needs, updated_at = :now REMOVE refresh_due, refresh_shard",
            "#status = :authorized AND refresh_token = :token",
            {":needs": {"S": NEEDS_REAUTHORIZATION}, ":now": {"N": str(now)}, ":token": {"S": refresh_token}},
        )

    def due_authorizers(self, shard: str, now: int) -> tuple[list[str], int]:
        """Authorizer appids whose refresh is due in one shard of the sparse index, and the number
        of index items read (only due ones: the key condition bounds the read)."""
        appids: list[str] = []
        read = 0
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": REFRESH_INDEX,
            "KeyConditionExpression": "refresh_shard = :shard AND refresh_due <= :now",
            "ExpressionAttributeValues": {":shard": {"S": shard}, ":now": {"N": str(now)}},
        }
        while True:
            page = self.client.query(**kwargs)
            read += page.get("ScannedCount", 0)
            appids.extend(item["pk"]["S"].removeprefix("AUTHORIZER#") for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return appids, read
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim_ticket_restart(self, component_appid: str, now: int, every: int) -> bool:
        """At most one `api_start_push_ticket` per `every` seconds, across containers."""
        item = {
            "pk": {"S": component_key(component_appid)},
            "sk": {"S": "TICKET_RESTART"},
            "requested_at": {"N": str(now)},
            "ttl": {"N": str(now + every + LEASE_GRACE)},
        }
        return self._put_if(
            item,
            "attribute_not_exists(pk) OR requested_at <= :before",
            {":before": {"N": str(now - every)}},
        )

    def _update_grant(self, authorizer_appid: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": authorizer_key(authorizer_appid)}, "sk": {"S": "GRANT"}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":authorized": {"S": AUTHORIZED}, **values}
                if ":authorized" in condition
                else values,
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    # -- profiles --------------------------------------------------------------------------------

    def save_profile(self, profile: Profile) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": authorizer_key(profile.authorizer_appid)},
                "sk": {"S": "PROFILE"},
                "nick_name": {"S": profile.nick_name},
                "head_img": {"S": profile.head_img},
                "user_name": {"S": profile.user_name},
                "alias": {"S": profile.alias},
                "principal_name": {"S": profile.principal_name},
                "service_type": {"N": str(profile.service_type)},
                "verify_type": {"N": str(profile.verify_type)},
                "qrcode_url": {"S": profile.qrcode_url},
                "is_mini_program": {"BOOL": profile.is_mini_program},
                "updated_at": {"N": str(profile.updated_at)},
                "extra": {"S": json.dumps(profile.extra, ensure_ascii=False)},
            },
        )

    def get_profile(self, authorizer_appid: str) -> Profile | None:
        item = self._get(authorizer_key(authorizer_appid), "PROFILE")
        if item is None:
            return None
        return Profile(
            authorizer_appid=authorizer_appid,
            nick_name=item["nick_name"]["S"],
            head_img=item["head_img"]["S"],
            user_name=item["user_name"]["S"],
            alias=item["alias"]["S"],
            principal_name=item["principal_name"]["S"],
            service_type=int(item["service_type"]["N"]),
            verify_type=int(item["verify_type"]["N"]),
            qrcode_url=item["qrcode_url"]["S"],
            is_mini_program=item["is_mini_program"]["BOOL"],
            updated_at=int(item["updated_at"]["N"]),
            extra=json.loads(item["extra"]["S"]),
        )

    # -- authorization-code claims ---------------------------------------------------------------

    def claim_code(self, code_hash: str, holder: str, now: float, ttl: float) -> bool:
        """Takes the right to exchange a code, unless someone exchanged it or is doing so now."""
        item = {
            "pk": {"S": code_key(code_hash)},
            "sk": {"S": "EXCHANGE"},
            "state": {"S": "pending"},
            "holder": {"S": holder},
            "expires_at": {"N": f"{now + ttl:.3f}"},
            "ttl": {"N": str(int(now) + CODE_CLAIM_LIFETIME)},
        }
        return self._put_if(
            item,
            "attribute_not_exists(pk) OR (#state = :pending AND expires_at < :now)",
            {":pending": {"S": "pending"}, ":now": {"N": f"{now:.3f}"}},
            names={"#state": "state"},
        )

    def finish_code(self, code_hash: str, holder: str, authorizer_appid: str) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": code_key(code_hash)}, "sk": {"S": "EXCHANGE"}},
            UpdateExpression="SET #state = :done, authorizer_appid = :appid",
            ConditionExpression="holder = :holder",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":done": {"S": "done"},
                ":appid": {"S": authorizer_appid},
                ":holder": {"S": holder},
            },
        )

    def abandon_code(self, code_hash: str, holder: str) -> None:
        """Lets another try the code again (our exchange failed before anything was stored)."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": code_key(code_hash)}, "sk": {"S": "EXCHANGE"}},
                ConditionExpression="holder = :holder AND #state = :pending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":holder": {"S": holder}, ":pending": {"S": "pending"}},
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise

    def code_exchanged_for(self, code_hash: str) -> str | None:
        """The authorizer appid a finished exchange of this code produced; None while pending."""
        item = self._get(code_key(code_hash), "EXCHANGE")
        if item is None or item["state"]["S"] != "done":
            return None
        appid: str = item["authorizer_appid"]["S"]
        return appid

    # -- helpers ---------------------------------------------------------------------------------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        answer = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            ConsistentRead=True,
        )
        return answer.get("Item")

    def _put_if(
        self,
        item: dict[str, Any],
        condition: str,
        values: dict[str, Any] | None,
        *,
        names: dict[str, str] | None = None,
    ) -> bool:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": item,
            "ConditionExpression": condition,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            self.client.put_item(**kwargs)
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
