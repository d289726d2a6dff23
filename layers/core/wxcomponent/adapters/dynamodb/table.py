"""One DynamoDB table: its name, one boto3 client made on first use, and the conditional-write
helpers every store shares. Every call is bounded: a slow table must not hold a push past
WeChat's 5-second wait."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 3, "mode": "standard"})


class Table:
    def __init__(self, name: str, client: DynamoDBClient | None = None) -> None:
        self.name = name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = boto3.client("dynamodb", config=CLIENT_CONFIG)
        return self._client

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """One item, read consistently (a refresh just written elsewhere must be seen)."""
        answer = self.client.get_item(TableName=self.name, Key=key(pk, sk), ConsistentRead=True)
        return answer.get("Item")

    def put_if(
        self,
        item: dict[str, Any],
        condition: str,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> bool:
        """Writes `item` if `condition` holds; False when it does not."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": item, "ConditionExpression": condition}
        if values:
            kwargs["ExpressionAttributeValues"] = values
        if names:
            kwargs["ExpressionAttributeNames"] = names
        return _unless_condition_failed(lambda: self.client.put_item(**kwargs))

    def update_if(
        self,
        pk: str,
        sk: str,
        update: str,
        condition: str,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> bool:
        """Updates the item if `condition` holds; False when it does not."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": key(pk, sk),
            "UpdateExpression": update,
            "ConditionExpression": condition,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        if names:
            kwargs["ExpressionAttributeNames"] = names
        return _unless_condition_failed(lambda: self.client.update_item(**kwargs))

    def delete_if(
        self,
        pk: str,
        sk: str,
        condition: str | None = None,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> bool:
        """Deletes the item (if `condition` holds); False when it does not."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": key(pk, sk)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = values
        if names:
            kwargs["ExpressionAttributeNames"] = names
        return _unless_condition_failed(lambda: self.client.delete_item(**kwargs))


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _unless_condition_failed(call: Any) -> bool:
    try:
        call()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
