"""`RefreshFailures`: `<lease name>` / `REFRESH_FAILURE`, a refresh WeChat refused and until when
every caller gets that answer without a call (TTL tidies; reads check `until` themselves)."""

from __future__ import annotations

from typing import Any

from wxcomponent.adapters.dynamodb.keys import REFRESH_FAILURE
from wxcomponent.adapters.dynamodb.table import Table, storage_errors
from wxcomponent.domain.wechat import RefreshFailure

GRACE = 60


class RefreshFailureTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def remember_failure(self, name: str, failure: RefreshFailure) -> None:
        item: dict[str, Any] = {
            "pk": {"S": name},
            "sk": {"S": REFRESH_FAILURE},
            "kind": {"S": failure.kind},
            "message": {"S": failure.message},
            "until": {"N": f"{failure.until:.3f}"},
            "ttl": {"N": str(int(failure.until) + GRACE)},
        }
        if failure.errcode is not None:
            item["errcode"] = {"N": str(failure.errcode)}
        with storage_errors():
            self._table.client.put_item(TableName=self._table.name, Item=item)

    def recent_failure(self, name: str, now: float) -> RefreshFailure | None:
        item = self._table.get(name, REFRESH_FAILURE)
        failure = None if item is None else failure_from_item(item)
        return failure if failure is not None and failure.until > now else None


def failure_from_item(item: dict[str, Any]) -> RefreshFailure:
    errcode = int(item["errcode"]["N"]) if "errcode" in item else None
    return RefreshFailure(item["kind"]["S"], errcode, item["message"]["S"], float(item["until"]["N"]))
