"""One DynamoDB table: its name, one boto3 client made on first use, and the conditional-write
helpers every store shares. Every call is bounded: a slow table must not hold a push past
WeChat's 5-second wait.

Every conditional write carries a `write_id` of its own and also succeeds where the item already
holds that id. When the table applied a write but the answer was lost, botocore sends the same
request again; without the id, that resend meets its own success as "condition failed", and a
revocation would go unpublished or a message be taken for WeChat's retry
(tests/integration/test_lost_answers.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError  # noqa: A004 - botocore's name

from wxcomponent.domain.errors import StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 3, "mode": "standard"})
# What DynamoDB answers when it is busy or unwell, rather than when we asked for something wrong.
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


@contextmanager
def storage_errors() -> Iterator[None]:
    """The table's transient failures, once botocore's own attempts are spent, as the domain's
    `StorageUnavailable` (retryable); anything else (a bug, a missing table) goes up as it is."""
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES:
            raise StorageUnavailable("the table is briefly unavailable; retry") from exc
        raise
    except (ConnectionError, HTTPClientError) as exc:
        raise StorageUnavailable("the table could not be reached; retry") from exc


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
        with storage_errors():
            answer = self.client.get_item(TableName=self.name, Key=key(pk, sk), ConsistentRead=True)
        return answer.get("Item")

    def get_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Up to 100 items in one request (BatchGetItem), read consistently, by (pk, sk); missing
        ones are absent. Keys DynamoDB leaves unprocessed (throttling) are read one by one."""
        with storage_errors():
            answer = self.client.batch_get_item(
                RequestItems={self.name: {"Keys": [key(pk, sk) for pk, sk in keys], "ConsistentRead": True}}
            )
        responses: dict[str, Any] = dict(answer.get("Responses", {}))
        items = {(item["pk"]["S"], item["sk"]["S"]): item for item in responses.get(self.name, [])}
        unprocessed: dict[str, Any] = dict(answer.get("UnprocessedKeys", {}))
        for left in unprocessed.get(self.name, {}).get("Keys", []):
            pk, sk = left["pk"]["S"], left["sk"]["S"]
            item = self.get(pk, sk)
            if item is not None:
                items[(pk, sk)] = item
        return items

    def put_if(
        self,
        item: dict[str, Any],
        condition: str,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> bool:
        """Writes `item` if `condition` holds; False when it does not."""
        write_id = {"S": uuid.uuid4().hex}
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Item": {**item, "write_id": write_id},
            "ConditionExpression": _or_our_own(condition),
            "ExpressionAttributeValues": {**(values or {}), ":write_id": write_id},
            "ExpressionAttributeNames": {**(names or {}), "#write_id": "write_id"},
        }
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
        write_id = {"S": uuid.uuid4().hex}
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": key(pk, sk),
            "UpdateExpression": _setting_write_id(update),
            "ConditionExpression": _or_our_own(condition),
            "ExpressionAttributeValues": {**(values or {}), ":write_id": write_id},
            "ExpressionAttributeNames": {**(names or {}), "#write_id": "write_id"},
        }
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

    def transact_if(self, actions: list[dict[str, Any]]) -> bool:
        """TransactWriteItems, all or nothing: False when a condition failed (nothing written).
        Each action is one of DynamoDB's (`{"Put": {...}}`…); the table name is filled in here."""
        items: Any = [{kind: {"TableName": self.name, **body} for kind, body in action.items()} for action in actions]
        try:
            with storage_errors():
                self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            codes = {reason.get("Code") for reason in exc.response.get("CancellationReasons", [])} - {None, "None"}
            if codes <= {"ConditionalCheckFailed"}:
                return False
            if codes & {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}:
                raise StorageUnavailable("the table is briefly unavailable; retry") from exc
            raise
        return True


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _or_our_own(condition: str) -> str:
    """The condition, or the item is what this very write left (its resend after a lost answer)."""
    return f"({condition}) OR #write_id = :write_id"


def _setting_write_id(update: str) -> str:
    if update.startswith("SET "):
        return "SET #write_id = :write_id, " + update[len("SET ") :]
    return "SET #write_id = :write_id " + update


def _unless_condition_failed(call: Any) -> bool:
    try:
        with storage_errors():
            call()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
