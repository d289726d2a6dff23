"""`RefreshRuns`: `COMPONENT#<appid>` / `REFRESH_RUN`, the last refresher run: when it started and
finished, and its report as JSON (never a token: the report holds counts and errcodes). One item,
replaced by every run; no TTL, since "no run for a day" is exactly what an operator must see."""

from __future__ import annotations

import json

from wxcomponent.adapters.dynamodb.table import Table, storage_errors
from wxcomponent.domain.refresh_runs import RefreshRun
from wxcomponent.keys import REFRESH_RUN, component_key


class RefreshRunTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def record_run(self, component_appid: str, run: RefreshRun) -> None:
        with storage_errors():
            self._table.client.put_item(
                TableName=self._table.name,
                Item={
                    "pk": {"S": component_key(component_appid)},
                    "sk": {"S": REFRESH_RUN},
                    "started_at": {"N": str(run.started_at)},
                    "finished_at": {"N": str(run.finished_at)},
                    "summary": {"S": json.dumps(run.summary, sort_keys=True)},
                },
            )

    def last_run(self, component_appid: str) -> RefreshRun | None:
        item = self._table.get(component_key(component_appid), REFRESH_RUN)
        if item is None:
            return None
        return RefreshRun(int(item["started_at"]["N"]), int(item["finished_at"]["N"]), json.loads(item["summary"]["S"]))
