"""`MessageReceipts`: `AUTHORIZER#<appid>` / `MESSAGE#<dedupe key>`.

The key is a hash of the message's MsgId (or sender, time and event), so no openid is stored; the
answer is what WeChat got: `success`, "" or the reply already encrypted. Items carry `ttl`, and
every read and condition checks the time itself, because TTL deletes late.
"""

from __future__ import annotations

from wxcomponent.adapters.dynamodb.table import Table
from wxcomponent.keys import authorizer_key, message_sort_key

PENDING = "pending"
ANSWERED = "answered"


class MessageReceiptTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def claim(self, authorizer_appid: str, key: str, now: int, lease: int, keep: int) -> bool:
        item = {
            "pk": {"S": authorizer_key(authorizer_appid)},
            "sk": {"S": message_sort_key(key)},
            "state": {"S": PENDING},
            "lease_until": {"N": str(now + lease)},
            "ttl": {"N": str(now + keep)},
        }
        return self._table.put_if(
            item,
            "attribute_not_exists(pk) OR #ttl < :now OR (#state = :pending AND lease_until < :now)",
            {":now": {"N": str(now)}, ":pending": {"S": PENDING}},
            {"#state": "state", "#ttl": "ttl"},
        )

    def record_answer(self, authorizer_appid: str, key: str, answer: str) -> None:
        self._table.update_if(
            authorizer_key(authorizer_appid),
            message_sort_key(key),
            "SET #state = :answered, answer = :answer REMOVE lease_until",
            "attribute_exists(pk)",
            {":answered": {"S": ANSWERED}, ":answer": {"S": answer}},
            {"#state": "state"},
        )

    def answer_of(self, authorizer_appid: str, key: str, now: int) -> str | None:
        item = self._table.get(authorizer_key(authorizer_appid), message_sort_key(key))
        if item is None or item["state"]["S"] != ANSWERED or int(item["ttl"]["N"]) < now:
            return None
        answer: str = item["answer"]["S"]
        return answer
