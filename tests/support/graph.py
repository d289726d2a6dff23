"""The composition root as the tests reach it: the same graph the handlers build, from the
environment the fixtures set (table, sandbox, bus)."""

from __future__ import annotations

import boto3

from wxcomponent.bootstrap import Container, container
from wxcomponent.domain.tokens import MIN_REFRESH_AGE
from wxcomponent.settings import Settings


def graph() -> Container:
    return container()


def age_stored_token(pk: str, seconds: int = MIN_REFRESH_AGE + 1) -> None:
    """Makes the stored token (`COMPONENT#…` or `AUTHORIZER#…`) look issued `seconds` earlier: a
    report of a younger one is answered with it and never refreshed (docs/SECURITY.md)."""
    table = Settings.from_environment().table_name
    boto3.client("dynamodb").update_item(
        TableName=table,
        Key={"pk": {"S": pk}, "sk": {"S": "TOKEN"}},
        UpdateExpression="SET issued_at = issued_at - :seconds",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":seconds": {"N": str(seconds)}},
    )
