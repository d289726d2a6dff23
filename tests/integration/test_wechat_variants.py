"""WeChat's documented variants end to end (issue 18): the sandbox answers as WeChat's pages say, our
handlers over HTTP, the table in the emulator. An account without API permission is recorded and told
apart; Channels, shop and talent accounts keep their profiles."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from infra.local.emulator import Emulator
from infra.local.gateway import FakeLambdaContext
from infra.sandbox.config import CHANNELS, STORE, TALENT, MerchantAccount
from tests.integration.conftest import World, load_function
from tests.support.browser import Browser
from tests.support.bus_queue import BusQueue
from tests.support.graph import graph
from wxcomponent.domain.grants import AUTHORIZED, NO_API_PERMISSION
from wxcomponent.keys import authorizer_key


def account_where(world: World, **wanted: Any) -> MerchantAccount:
    return next(
        a for a in world.sandbox.world.merchants.accounts() if all(getattr(a, k) == v for k, v in wanted.items())
    )


def items_of(emulator: Emulator, table: str, appid: str) -> dict[str, dict[str, Any]]:
    client = boto3.client("dynamodb", endpoint_url=emulator.url)
    answer = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": authorizer_key(appid)}},
        ConsistentRead=True,
    )
    return {item["sk"]["S"]: item for item in answer["Items"]}


def vend(payload: dict[str, Any]) -> dict[str, Any]:
    """A direct Lambda Invoke of token_vending, as a vendor's service makes it."""
    module = load_function("token_vending")
    result: dict[str, Any] = module.lambda_handler(payload, FakeLambdaContext("token_vending"))
    return result


class Bus(BusQueue):
    def detail_types(self) -> list[str]:
        return [event["detail-type"] for event in self.drain()]


@pytest.fixture
def bus(world: World, event_bus: str) -> Bus:
    return Bus.subscribed(event_bus, f"variants-{event_bus}")


def test_an_account_without_api_permission_is_recorded_told_apart_and_later_upgraded(
    world: World, emulator: Emulator, table: str, bus: Bus
) -> None:
    world.push_ticket()
    account = account_where(world, api_permission=False)
    browser = Browser(world)
    browser.start()
    code = world.sandbox.world.merchants.confirm(account.appid, None).code  # the admin confirmed on WeChat's page
    pushed = world.sandbox.pusher.push_authorized(account.appid, code.value, code.expires_at, browser.pre_auth_code)
    assert pushed["ok"] and world.gateway.wait_for_async()  # the push exchanges it
    items = items_of(emulator, table, account.appid)
    assert items["GRANT"]["status"]["S"] == NO_API_PERMISSION
    assert "refresh_token" not in items["GRANT"] and "refresh_due" not in items["GRANT"]
    assert "access_token" not in items["GRANT"] and items["PROFILE"]["nick_name"]["S"] == account.nick_name
    assert world.calls("api_query_auth") == 1 and world.calls("api_authorizer_token") == 0
    assert "authorized_without_api_permission" in bus.detail_types()
    # The merchant's browser lands after the push: the page says what happened, not "managed".
    page = browser.callback(code.value).data.decode()
    assert 'id="no-api-permission"' in page and "can now manage this account" not in page
    # A vend names why, never `internal`, and costs WeChat nothing.
    for kind in ("authorizer", "jsapi_ticket"):
        answer = vend({"kind": kind, "appid": account.appid})
        assert answer["error"]["code"] == "not_authorized" and answer["error"]["reason"] == "no_api_permission"
    assert world.calls("api_authorizer_token") == 0 and world.calls("getticket") == 0
    # The account gains API permission and authorizes again: a normal grant, tokens vended.
    world.sandbox.world.merchants.set_api_permission(account.appid, True)
    world.control("POST", "update-authorization", {"appid": account.appid, "func_info": [1, 2, 3]})
    grant = graph().authorizers.get_grant(account.appid)
    assert grant is not None and grant.status == AUTHORIZED and grant.refresh_token
    assert vend({"kind": "authorizer", "appid": account.appid})["access_token"]


@pytest.mark.parametrize(("kind", "core_kind"), [(CHANNELS, "channels"), (STORE, "shop"), (TALENT, "talent")])
def test_newer_account_kinds_keep_their_profile_without_service_or_verify_type(
    world: World, emulator: Emulator, table: str, kind: str, core_kind: str
) -> None:
    world.push_ticket()
    account = account_where(world, kind=kind)
    world.control("POST", "authorize", {"appid": account.appid})
    profile = graph().profiles.get_profile(account.appid)
    assert profile is not None and profile.nick_name == account.nick_name
    assert profile.service_type is None and profile.verify_type is None
    assert profile.account_kind == core_kind and not profile.is_mini_program
    assert "service_type" not in items_of(emulator, table, account.appid)["PROFILE"]
