"""The single table over boto3's low-level DynamoDB client (ARCHITECTURE.md, Data).

Keys: `COMPONENT#<appid>` / `TICKET` for the newest verify ticket; `COMPONENT#<appid>` /
`PUSH#<CreateTime>#<InfoType>#<AuthorizerAppid>` for records of other pushes. Items that may
expire carry `ttl` (epoch seconds), the attribute template.yaml enables TTL on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from wxcomponent import settings
from wxcomponent.tickets import PushRecord, Ticket

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PUSH_RECORD_LIFETIME = 30 * 24 * 3600
# Every call has a bound: a slow table must not hold a push past WeChat's 5-second wait.
CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 3, "mode": "standard"})


def component_key(appid: str) -> str:
    return f"COMPONENT#{appid}"


class DynamoDBStore:
    """Implements the core's store ports. The table name and the client are resolved on first
    use, so building one at import time reads no environment."""

    def __init__(self, table_name: str | None = None, client: DynamoDBClient | None = None) -> None:
        self._table_name = table_name
        self._client = client

    @property
    def table_name(self) -> str:
        if self._table_name is None:
            self._table_name = settings.table_name()
        return self._table_name

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
        # Strictly newer only: an older push never replaces a newer ticket, and a retried push
        # (same CreateTime) changes nothing.
        return self._put_if(
            item,
            "attribute_not_exists(pk) OR create_time < :create_time",
            {":create_time": {"N": str(ticket.create_time)}},
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

    # -- helpers ---------------------------------------------------------------------------------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        answer = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            ConsistentRead=True,
        )
        return answer.get("Item")

    def _put_if(self, item: dict[str, Any], condition: str, values: dict[str, Any] | None) -> bool:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": item,
            "ConditionExpression": condition,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            self.client.put_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
