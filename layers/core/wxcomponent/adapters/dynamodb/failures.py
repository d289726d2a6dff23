"""`RefreshFailures`: `<lease name>` / `REFRESH_FAILURE`, a refresh WeChat refused and until when
every caller gets that answer without a call (TTL tidies; reads check `until` themselves); and
`<lease name>` / `FORCED_REFRESH`, when reports last forced a refresh of that token or ticket (its
budget: `domain.tokens.FORCED_REFRESHES_PER_WINDOW`), written by compare-and-set on the write that
stored it, and tidied by TTL once the last of them leaves the window."""

from __future__ import annotations

from typing import Any

from wxcomponent.adapters.dynamodb.table import Table, storage_errors
from wxcomponent.domain.tokens import FORCED_REFRESH_WINDOW, ForcedRefreshes
from wxcomponent.domain.wechat import RefreshFailure
from wxcomponent.keys import FORCED_REFRESH, REFRESH_FAILURE

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

    def forced_refreshes(self, name: str) -> ForcedRefreshes | None:
        item = self._table.get(name, FORCED_REFRESH)
        return None if item is None else forced_from_item(item)

    def record_forced_refresh(self, name: str, seen: ForcedRefreshes | None, forced: ForcedRefreshes) -> bool:
        item: dict[str, Any] = {
            "pk": {"S": name},
            "sk": {"S": FORCED_REFRESH},
            "at": {"L": [{"N": str(made)} for made in forced.at]},
            "ttl": {"N": str(max(forced.at, default=0) + FORCED_REFRESH_WINDOW + GRACE)},
        }
        if seen is None:
            return self._table.put_if(item, "attribute_not_exists(pk)")
        # `put_if` names the item's `write_id` `#write_id`: the one `seen` was read with.
        return self._table.put_if(item, "#write_id = :seen", {":seen": {"S": seen.version}})


def failure_from_item(item: dict[str, Any]) -> RefreshFailure:
    errcode = int(item["errcode"]["N"]) if "errcode" in item else None
    return RefreshFailure(item["kind"]["S"], errcode, item["message"]["S"], float(item["until"]["N"]))


def forced_from_item(item: dict[str, Any]) -> ForcedRefreshes:
    return ForcedRefreshes(tuple(int(made["N"]) for made in item["at"]["L"]), item["write_id"]["S"])
