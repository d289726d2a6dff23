"""moto's TransactWriteItems without its whole-table backup when nothing can fail.

moto backs up every table a transaction touches with `copy.deepcopy`, once per action, before it
checks any condition, so that a failed condition can put everything back. On a table of 10,000
grants that is three copies of every item for each refresh's outcome: a 1,000-authorizer sweep
took minutes, all of it copying. DynamoDB pays nothing of the kind, so the emulator must not.

`install()` wraps `transact_write_items`: it first evaluates every action's condition on the
current items, as moto itself does (its own parser and its own `get_item`). If any fails, moto's
code runs unchanged, backup and all, and raises the same cancellation. If all hold, moto's code
runs with the table backup skipped: with no failed condition there is nothing to roll back. This
is sound only because the server runs one DynamoDB request at a time (`moto_serial.py`): nothing
can change between the check and the writes.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.dynamodb import models
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

_deepcopy = copy.deepcopy


class _NoTableBackup:
    """Stands in for the `copy` module inside moto.dynamodb.models: a Table is "copied" as itself,
    anything else (moto copies items for ReturnValues) as before."""

    skip_tables = False

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if self.skip_tables and isinstance(value, Table):
            return value
        return _deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


_shim = _NoTableBackup()


def _conditions_hold(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> bool:
    for item in transact_items:
        _, op = next(iter(item.items()))
        condition = op.get("ConditionExpression")
        if condition is None:
            continue
        table = backend.get_table(op["TableName"])
        if "Item" in op:
            attrs = op["Item"]
            key = {table.hash_key_attr: attrs[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attrs[table.range_key_attr]
        else:
            key = op["Key"]
        current = backend.get_item(op["TableName"], key)
        parsed = get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        )
        if not parsed.expr(current):
            return False
    return True


def install() -> None:
    original = DynamoDBBackend.transact_write_items
    if getattr(original, "_without_table_backup", False):
        return
    models.copy = _shim  # type: ignore[assignment,attr-defined]  # the module's own name for `copy`

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        try:
            skip = len(transact_items) <= 100 and _conditions_hold(self, transact_items)
        except Exception:  # noqa: BLE001 - anything odd: moto's own code decides, backup and all
            skip = False
        _shim.skip_tables = skip
        try:
            original(self, transact_items)
        finally:
            _shim.skip_tables = False

    transact_write_items._without_table_backup = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
