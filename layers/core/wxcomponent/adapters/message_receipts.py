"""`MessageReceipts` on the single table: `AUTHORIZER#<appid>` / `MESSAGE#<dedupe key>`.

The key is a hash of the message's MsgId (or sender, time and event), so no openid is stored; the
answer is what WeChat got: `success`, "" or the reply already encrypted. Items carry `ttl`, and
every read and condition checks the time itself, because TTL deletes late.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from wxcomponent.adapters.dynamodb import DynamoDBStore, authorizer_key

PENDING = "pending"
ANSWERED = "answered"


def message_sort_key(key: str) -> str:
    return f"MESSAGE#{key}"


class DynamoDBMessageReceipts:
    """Shares the store's table and client (created on first use)."""

    def __init__(self, store: DynamoDBStore) -> None:
        self._store = store

    def claim(self, authorizer_appid: str, key: str, now: int, lease: int, keep: int) -> bool:
        try:
            self._store.client.put_item(
                TableName=self._store.table_name,
                Item={
                    "pk": {"S": authorizer_key(authorizer_appid)},
                    "sk": {"S": message_sort_key(key)},
                    "state": {"S": PENDING},
                    "lease_until": {"N": str(now + lease)},
                    "ttl": {"N": str(now + keep)},
                },
                ConditionExpression=(
                    "attribute_not_exists(pk) OR #ttl < :now OR (#state = :pending AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#state": "state", "#ttl": "ttl"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":pending": {"S": PENDING}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def record_answer(self, authorizer_appid: str, key: str, answer: str) -> None:
        self._store.client.update_item(
            TableName=self._store.table_name,
            Key={"pk": {"S": authorizer_key(authorizer_appid)}, "sk": {"S": message_sort_key(key)}},
            UpdateExpression="SET #state = :answered, answer = :answer REMOVE lease_until",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":answered": {"S": ANSWERED}, ":answer": {"S": answer}},
        )

    def answer_of(self, authorizer_appid: str, key: str, now: int) -> str | None:
        item = self._store.client.get_item(
            TableName=self._store.table_name,
            Key={"pk": {"S": authorizer_key(authorizer_appid)}, "sk": {"S": message_sort_key(key)}},
            ConsistentRead=True,
        ).get("Item")
        if item is None or item["state"]["S"] != ANSWERED or int(item["ttl"]["N"]) < now:
            return None
        answer: str = item["answer"]["S"]
        return answer
