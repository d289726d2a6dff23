"""The composition root as the tests reach it: the same graph the handlers build, from the
environment the fixtures set (table, sandbox, bus)."""

from __future__ import annotations

import time

import boto3

from wxcomponent.bootstrap import Container, container
from wxcomponent.domain.tokens import MIN_REFRESH_AGE
from wxcomponent.keys import authorizer_key
from wxcomponent.settings import Settings


def graph() -> Container:
    return container()


def age_stored_token(pk: str, seconds: int = MIN_REFRESH_AGE + 1) -> None:
    """Makes the stored token (`COMPONENT#…` or `AUTHORIZER#…`) look issued `seconds` earlier: a
    report of a younger one is answered with it and never refreshed (docs/SECURITY.md)."""
    table = Settings.from_environment().table_name
    authorizer = pk.startswith("AUTHORIZER#")  # an authorizer's token is in its item (GRANT)
    issued_at = "token_issued_at" if authorizer else "issued_at"
    boto3.client("dynamodb").update_item(
        TableName=table,
        Key={"pk": {"S": pk}, "sk": {"S": "GRANT" if authorizer else "TOKEN"}},
        UpdateExpression=f"SET {issued_at} = {issued_at} - :seconds",
        ConditionExpression=f"attribute_exists({issued_at})",
        ExpressionAttributeValues={":seconds": {"N": str(seconds)}},
    )


def age_js_ticket(appid: str, kind: str, *, left: int, vended_ago: int | None = None) -> None:
    """Makes the stored ticket look fetched long ago: `left` seconds of life, due for renewal now,
    and (with `vended_ago`) last vended that long ago."""
    now = int(time.time())
    values = {":expires": {"N": str(now + left)}, ":due": {"N": str(now - 1)}}
    update = "SET expires_at = :expires, refresh_due = :due"
    if vended_ago is not None:
        update += ", vended_at = :vended"
        values[":vended"] = {"N": str(now - vended_ago)}
    boto3.client("dynamodb").update_item(
        TableName=Settings.from_environment().table_name,
        Key={"pk": {"S": authorizer_key(appid)}, "sk": {"S": kind.upper()}},
        UpdateExpression=update,
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues=values,
    )
