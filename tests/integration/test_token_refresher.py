"""The scheduled sweep against the sandbox and the emulator."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from infra.local.emulator import Emulator
from infra.local.gateway import FakeLambdaContext
from tests.conftest import World
from tests.integration.conftest import load_function
from tests.support.graph import graph
from tests.support.pushes import APPID
from wxcomponent.domain.grants import AUTHORIZED, NEEDS_REAUTHORIZATION
from wxcomponent.domain.verify_tickets import VerifyTicket
from wxcomponent.keys import REFRESH_SHARDS, authorizer_key, refresh_shard


def sweep() -> dict[str, Any]:
    report: dict[str, Any] = load_function("token_refresher").lambda_handler(
        {"source": "aws.events", "detail-type": "Scheduled Event"}, FakeLambdaContext("token_refresher", 60)
    )
    return report


def sandbox_accounts(world: World) -> list[str]:
    state = world.control("GET", "state")
    return [account["appid"] for account in state["accounts"]]


def authorize(world: World, count: int) -> list[str]:
    appids = sandbox_accounts(world)[:count]
    for appid in appids:
        assert world.control("POST", "authorize", {"appid": appid})["delivery"]["ok"]
    return appids


def age_token(emulator: Emulator, table: str, appid: str, left: int = 60) -> None:
    """Time passing: the stored token has `left` seconds and the grant is due."""
    client = boto3.client("dynamodb", endpoint_url=emulator.url)
    key = {"pk": {"S": authorizer_key(appid)}, "sk": {"S": "GRANT"}}  # the token is in the authorizer's item
    now = int(time.time())
    client.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET token_expires_at = :e, token_issued_at = :i",
        ExpressionAttributeValues={":e": {"N": str(now + left)}, ":i": {"N": str(now - 7000)}},
    )
    graph().authorizers.set_refresh_due(appid, now - 1)


def test_a_sweep_refreshes_exactly_the_due_grants_and_a_second_sweep_nothing(
    world: World, emulator: Emulator, table: str
) -> None:
    world.push_ticket()
    appids = authorize(world, 4)
    for appid in appids[:3]:
        age_token(emulator, table, appid)
    first = sweep()
    assert (first["due"], first["refreshed"], first["left_over"], dict(first["failed"])) == (3, 3, 0, {})
    assert first["component_token_ok"] is True
    assert world.calls("api_authorizer_token") == 3
    second = sweep()
    assert (second["due"], second["refreshed"]) == (0, 0)
    assert world.calls("api_authorizer_token") == 3
    for appid in appids:
        token = graph().authorizers.get_authorizer_token(appid)
        assert token is not None and token.valid_for(1200, time.time())


def test_rotated_refresh_tokens_are_kept_and_work_after_the_overlap(
    world: World, emulator: Emulator, table: str
) -> None:
    world.push_ticket()
    [appid] = authorize(world, 1)
    before = graph().authorizers.get_grant(appid)
    world.control("POST", f"accounts/{appid}/rotation", {"enabled": True})
    age_token(emulator, table, appid)
    assert sweep()["refreshed"] == 1
    rotated = graph().authorizers.get_grant(appid)
    assert rotated is not None and before is not None
    assert rotated.refresh_token and rotated.refresh_token != before.refresh_token
    world.control("POST", "clock", {"advance": 301})  # the old refresh token is dead now
    age_token(emulator, table, appid)
    report = sweep()
    assert (report["refreshed"], dict(report["failed"])) == (1, {})


def test_61023_recovers_the_refresh_token_from_the_authorizer_list(
    world: World, emulator: Emulator, table: str
) -> None:
    world.push_ticket()
    [appid] = authorize(world, 1)
    real = graph().authorizers.get_grant(appid)
    assert real is not None
    _replace_refresh_token(emulator, table, appid, "refreshtoken@@@lost-in-a-crash")
    age_token(emulator, table, appid)
    report = sweep()
    assert (report["refreshed"], dict(report["failed"])) == (1, {})
    recovered = graph().authorizers.get_grant(appid)
    assert recovered is not None and recovered.refresh_token == real.refresh_token
    assert recovered.status == AUTHORIZED
    assert world.calls("api_get_authorizer_list") == 1


def test_a_failed_recovery_marks_the_grant_and_keeps_its_refresh_token(
    world: World, emulator: Emulator, table: str
) -> None:
    world.push_ticket()
    [appid] = authorize(world, 1)
    world.fault("api_authorizer_token", "errcode", 61023, count=None)
    age_token(emulator, table, appid)
    report = sweep()
    assert dict(report["failed"]) == {"61023": 1}
    grant = graph().authorizers.get_grant(appid)
    assert grant is not None and grant.status == NEEDS_REAUTHORIZATION
    assert grant.refresh_token  # kept: never deleted, never overwritten by a worse value
    assert graph().authorizers.get_authorizer_token(appid) is None
    assert sweep()["due"] == 0  # out of the index until the merchant authorizes again


def test_a_revoked_authorization_found_by_the_sweep_is_marked_revoked(
    world: World, emulator: Emulator, table: str
) -> None:
    world.push_ticket()
    [appid] = authorize(world, 1)
    world.fault("api_authorizer_token", "errcode", 61003, count=None)
    age_token(emulator, table, appid)
    assert dict(sweep()["failed"]) == {"61003": 1}
    grant = graph().authorizers.get_grant(appid)
    # WeChat still lists the account: one 61003 is not believed, and nothing is lost (issue 10).
    assert grant is not None and grant.status == "authorized"
    # Nor asked again for 10 minutes, by the next sweeps or any vend (issue 19, M3).
    calls = (world.calls("api_authorizer_token"), world.calls("api_get_authorizer_list"))
    assert dict(sweep()["failed"]) == {"61003": 1}
    answer = load_function("token_vending").lambda_handler(
        {"kind": "authorizer", "appid": appid}, FakeLambdaContext("token_vending")
    )
    assert answer["error"]["errcode"] == 61003
    assert (world.calls("api_authorizer_token"), world.calls("api_get_authorizer_list")) == calls


def test_a_stale_ticket_asks_wechat_to_push_again_at_most_once_an_hour(quiet_world: World) -> None:
    now = int(time.time())
    ticket = quiet_world.control("POST", "push-ticket")["ticket"]  # pushed nowhere: WeChat "stopped"
    assert graph().verify_tickets.save_ticket(VerifyTicket(APPID, ticket, now - 3600, now - 3600, now + 11 * 3600))
    report = sweep()
    assert report["ticket_restart_requested"] is True
    assert report["verify_ticket_age"] is not None and report["verify_ticket_age"] >= 3600
    assert report["component_token_ok"] is True  # a stale ticket still works until its 12 hours are up
    assert quiet_world.calls("api_start_push_ticket") == 1
    assert sweep()["ticket_restart_requested"] is False
    assert quiet_world.calls("api_start_push_ticket") == 1


@pytest.mark.slow
def test_a_sweep_over_2000_grants_reads_only_the_100_due(quiet_world: World, emulator: Emulator, table: str) -> None:
    client = boto3.client("dynamodb", endpoint_url=emulator.url)
    now = int(time.time())
    requests = []
    for n in range(2000):
        appid = f"wx{n:016x}"
        due_at = now - 10 if n % 20 == 0 else now + 3600
        requests.append(
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": authorizer_key(appid)},
                        "sk": {"S": "GRANT"},
                        "component_appid": {"S": APPID},
                        "refresh_token": {"S": f"refreshtoken@@@{n}"},
                        "status": {"S": AUTHORIZED},
                        "authorized_at": {"N": str(now)},
                        "updated_at": {"N": str(now)},
                        "refresh_shard": {"S": refresh_shard(appid)},
                        "refresh_due": {"N": str(due_at)},
                    }
                }
            }
        )
    for start in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={table: requests[start : start + 25]})  # type: ignore[dict-item]
    grants = graph().authorizers
    due: list[str] = []
    read = 0
    for shard in range(REFRESH_SHARDS):
        appids, items = grants.due_authorizers(str(shard), now)
        due.extend(appids)
        read += items
    assert len(due) == 100 and read == 100
    assert {int(appid[2:], 16) % 20 for appid in due} == {0}


def _replace_refresh_token(emulator: Emulator, table: str, appid: str, value: str) -> None:
    boto3.client("dynamodb", endpoint_url=emulator.url).update_item(
        TableName=table,
        Key={"pk": {"S": authorizer_key(appid)}, "sk": {"S": "GRANT"}},
        UpdateExpression="SET refresh_token = :t",
        ExpressionAttributeValues={":t": {"S": value}},
    )
