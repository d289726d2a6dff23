"""The quota clears made through this CLI, counted in the stack's table (`wxcomponent clear-quota`).

WeChat allows each account 10 clears a month, its console's and the API's together, and no API says
how many are left: 48006 is the only answer once they are spent. So the CLI keeps its own count,
per cleared account and Beijing month, in one small item beside the account's others
(`COMPONENT#<appid>` or `AUTHORIZER#<appid>`, sort key `QUOTA_CLEARS#<YYYY-MM>`, gone with the
table's TTL two months later), and says "at most N left": clears made elsewhere are not in it.
Written and read with the operator's own credentials, as `status` reads the table
(docs/operator-cli.md, docs/decisions.md).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from wxcomponent_client.keys import quota_clears_sort_key

CLEARS_PER_MONTH = 10
KEEP_FOR = 62 * 86400  # past the month's end, then the table's TTL removes the item
_BEIJING = timezone(timedelta(hours=8))


def month_of(now: float) -> str:
    """WeChat's month: Beijing's (UTC+8)."""
    return datetime.fromtimestamp(now, _BEIJING).strftime("%Y-%m")


def _key(partition: str, month: str) -> dict[str, Any]:
    return {"pk": {"S": partition}, "sk": {"S": quota_clears_sort_key(month)}}


def clears_made(dynamodb: Any, table: str, partition: str, now: float | None = None) -> int:
    """The clears this CLI made for the account this month."""
    month = month_of(time.time() if now is None else now)
    item = dynamodb.get_item(TableName=table, Key=_key(partition, month), ConsistentRead=True).get("Item") or {}
    return int(item.get("clears", {}).get("N", "0"))


def record_clear(dynamodb: Any, table: str, partition: str, now: float | None = None) -> int:
    """Counts one clear WeChat accepted; the month's count so far."""
    moment = time.time() if now is None else now
    answer = dynamodb.update_item(
        TableName=table,
        Key=_key(partition, month_of(moment)),
        UpdateExpression="ADD clears :one SET #ttl = :ttl",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":ttl": {"N": str(int(moment) + KEEP_FOR)}},
        ReturnValues="UPDATED_NEW",
    )
    return int(answer["Attributes"]["clears"]["N"])


def record_spent(dynamodb: Any, table: str, partition: str, now: float | None = None) -> None:
    """WeChat answered 48006: this month's clears are spent, whoever spent them."""
    moment = time.time() if now is None else now
    dynamodb.update_item(
        TableName=table,
        Key=_key(partition, month_of(moment)),
        UpdateExpression="SET clears = :all, #ttl = :ttl",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":all": {"N": str(CLEARS_PER_MONTH)}, ":ttl": {"N": str(int(moment) + KEEP_FOR)}},
    )
