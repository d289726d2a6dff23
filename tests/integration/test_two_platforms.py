"""Several platforms: one stack each (docs/decisions.md, "Several platforms: one stack each"). Two
`make dev`s side by side, each with its own ports, state file and component (appid, AppSecret,
token, key), never see each other's tickets, grants or events; the operator CLI (`--local` with
GATEWAY_PORT, SANDBOX_PORT, EMULATOR_PORT) and the client (its gateway) address the one they name."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from tests.support.make_dev import MakeDev
from wxcomponent_client import TokenClient, TokenError
from wxcomponent_client.cli import cli
from wxcomponent_client.cli.follow import BusFollower

pytestmark = pytest.mark.slow

PLATFORM_B = {  # a second component, every value of its own
    "WECHAT_COMPONENT_APPID": "wx0b0b0b0b0b0b0b0b",
    "WECHAT_COMPONENT_APPSECRET": "second-platform-appsecret-0002",
    "WECHAT_COMPONENT_TOKEN": "secondtoken",
    "WECHAT_COMPONENT_AES_KEY": "SecondPlatformAESKey0123456789abcdefghijklm",
}
PLATFORM_A_APPID = "wx5a0d8c0ffee5a4d1"  # make dev's default component
NAMES = ("GATEWAY_PORT", "SANDBOX_PORT", "EMULATOR_PORT")


@pytest.fixture(autouse=True)
def environment_restored() -> Iterator[None]:
    """The CLI sets Powertools' variables for an operator's terminal (log level WARNING among them)
    when it runs; run in process, that must not outlive the test (a later make dev's INFO lines vanished)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def six_free_ports() -> tuple[dict[str, int], dict[str, int]]:
    """Two stacks' ports, all six distinct: every probe stays bound until each has its port."""
    probes = [socket.socket() for _ in range(6)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        ports = [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()
    return dict(zip(NAMES, ports[:3], strict=True)), dict(zip(NAMES, ports[3:], strict=True))


@pytest.fixture
def platforms(tmp_path: Path) -> Iterator[tuple[MakeDev, MakeDev]]:
    ports_a, ports_b = six_free_ports()
    a = MakeDev(tmp_path / "platform-a.json", ports_a)
    b = MakeDev(tmp_path / "platform-b.json", ports_b, env=PLATFORM_B)
    with a, b:
        yield a, b
        assert a.stop() == 0 and b.stop() == 0


def clients(dev: MakeDev) -> tuple[Any, Any, Any]:
    """The stack's emulator as boto3 reaches it: DynamoDB, EventBridge, SQS."""
    made = [
        boto3.client(
            service,
            endpoint_url=dev.emulator,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        for service in ("dynamodb", "events", "sqs")
    ]
    return made[0], made[1], made[2]


def first_event(follower: BusFollower) -> dict[str, Any]:
    for event in follower.events(deadline=time.monotonic() + 60):
        return event
    raise AssertionError("no event on the bus within 60 s")


def wxcomponent(dev: MakeDev, *command: str) -> Any:
    """The CLI as an operator runs it against one of the two: `--local` and that stack's ports."""
    env = {name: str(port) for name, port in dev.ports.items()}
    result = CliRunner(mix_stderr=False).invoke(cli, ["--local", "--json", *command], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.output)


def test_two_platforms_side_by_side_never_see_each_others_tickets_grants_or_events(
    platforms: tuple[MakeDev, MakeDev],
) -> None:
    a, b = platforms
    merchant = next(x for x in a.control("state")["accounts"] if x["kind"] == "official_account")["appid"]
    other = next(x for x in b.control("state")["accounts"] if x["kind"] == "mini_program")["appid"]
    assert b.control("state")["component_appid"] == PLATFORM_B["WECHAT_COMPONENT_APPID"]
    with ExitStack() as stack:
        followers = [stack.enter_context(BusFollower(*clients(dev)[1:], "wxcomponent-local", poll=0)) for dev in (a, b)]
        # Each sandbox pushes its ticket to its own stack, encrypted for its own component.
        tickets = [dev.control("push-ticket", {})["ticket"] for dev in (a, b)]
        assert a.control("authorize", {"appid": merchant})["delivery"]["ok"]
        assert b.control("authorize", {"appid": other})["delivery"]["ok"]  # after a's: a leak would come first
        seen = [first_event(follower) for follower in followers]
    assert [(e["detail-type"], e["detail"]["component_appid"], e["detail"]["authorizer_appid"]) for e in seen] == [
        ("authorized", PLATFORM_A_APPID, merchant),
        ("authorized", PLATFORM_B["WECHAT_COMPONENT_APPID"], other),
    ]
    owners = ((a, PLATFORM_A_APPID, tickets[0], merchant), (b, PLATFORM_B["WECHAT_COMPONENT_APPID"], tickets[1], other))
    for dev, component, ticket, account in owners:
        items = dev.table()
        # Both sandboxes have seed 0, so their values coincide: what tells them apart is whose they are.
        held = {(item["pk"]["S"], item["ticket"]["S"]) for item in items if item["sk"]["S"] == "TICKET"}
        assert held == {(f"COMPONENT#{component}", ticket)}
        grants = {item["pk"]["S"] for item in items if item["sk"]["S"] == "GRANT"}
        assert grants == {f"AUTHORIZER#{account}"}

    # The operator CLI addresses the stack whose ports it is given.
    status_a, status_b = wxcomponent(a, "status"), wxcomponent(b, "status")
    assert (status_a["component_appid"], status_a["grants"]) == (PLATFORM_A_APPID, {"authorized": 1})
    assert (status_b["component_appid"], status_b["grants"]) == (
        PLATFORM_B["WECHAT_COMPONENT_APPID"],
        {"authorized": 1},
    )
    assert [row["appid"] for row in wxcomponent(a, "authorizers")] == [merchant]
    assert [row["appid"] for row in wxcomponent(b, "authorizers")] == [other]

    # The client addresses the stack whose token_vending it invokes.
    def token_client(dev: MakeDev) -> TokenClient:
        lambda_client = boto3.client(
            "lambda",
            endpoint_url=dev.gateway,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        return TokenClient("token_vending", lambda_client=lambda_client, api_base=dev.sandbox)

    tokens_a, tokens_b = token_client(a), token_client(b)
    assert tokens_a.get_token().appid == PLATFORM_A_APPID
    assert tokens_b.get_token().appid == PLATFORM_B["WECHAT_COMPONENT_APPID"]
    assert tokens_a.get_token(merchant).appid == merchant
    with pytest.raises(TokenError) as refused:
        tokens_b.get_token(merchant)  # authorized platform a, not b
    assert refused.value.code == "not_authorized"
