"""Moving a live platform here, rehearsed over the wires (docs/deploy.md, "Moving a live platform
here"): the sandbox plays WeChat and the previous platform, live and refreshing on the sandbox's
clock; the operator CLI (`wxcomponent --local`) and our functions play this one, against the
emulator. The cut-over is made in the guide's order, and afterwards every account vends a token
WeChat accepts, with no merchant authorizing again. Made in the wrong order, the same move hands
out tokens WeChat refuses: the order is what the rehearsal proves. Then the way back."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from infra.local.emulator import Emulator
from infra.local.gateway import FakeLambdaContext
from infra.sandbox.previous import EVENTS_PATH
from tests.conftest import World
from tests.integration.conftest import load_function
from tests.support.graph import graph
from wxcomponent.domain.grants import AUTHORIZED
from wxcomponent_client import TokenClient
from wxcomponent_client.cli import cli
from wxcomponent_client.cli.follow import BusFollower

INTERVAL = 1800  # the previous platform refreshes every 30 minutes of the sandbox's clock
OVERLAP = 300  # a superseded token lives 5 more minutes
REFUSED = (40001, 42001)

pytestmark = pytest.mark.usefixtures("cli_environment_restored")  # the CLI runs in process


def wxcomponent(args: list[str], *command: str) -> Any:
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["--json", *args, *command], catch_exceptions=False, env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, (result.output, result.stderr)
    return json.loads(result.output)


def sweep() -> dict[str, Any]:
    """One run of our refresher, as its schedule makes it."""
    report: dict[str, Any] = load_function("token_refresher").lambda_handler(
        {"source": "aws.events", "detail-type": "Scheduled Event"}, FakeLambdaContext("token_refresher", 60)
    )
    return report


class Move:
    """The rehearsal's parts: the sandbox's accounts, the previous platform, our vends."""

    def __init__(self, world: World) -> None:
        self.world = world
        merchants = world.sandbox.world.merchants.accounts()
        self.official = [a.appid for a in merchants[:3]]  # three Official Accounts
        self.mini_program = merchants[3].appid
        self.hidden = self.official[1]  # WeChat shows its refresh token nowhere: only the file has it
        self.late = merchants[4].appid  # a Mini Program that authorizes while the previous platform runs
        self.accounts = [*self.official, self.mini_program]
        lambda_client = boto3.client(
            "lambda",
            endpoint_url=world.gateway.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self.tokens = TokenClient("token_vending", lambda_client=lambda_client, api_base=world.sandbox.url)

    def previous(self) -> dict[str, Any]:
        state: dict[str, Any] = self.world.control("GET", "previous-platform")
        return state

    def advance(self, seconds: float) -> None:
        self.world.control("POST", "clock", {"advance": seconds})

    def set_up_previous_platform(self) -> None:
        self.world.control(
            "POST",
            "previous-platform",
            {"accounts": self.accounts, "hidden": [self.hidden], "interval": INTERVAL},
        )
        assert self.world.control("POST", "authorize", {"appid": self.late})["delivery"]["ok"]  # pushed to it
        self.advance(INTERVAL)  # live: its refresher sweeps, superseding every token
        state = self.previous()
        assert state["sweeps"] == 1 and state["receiving"] and state["refreshing"]
        assert set(state["refresh_tokens"]) == {*self.accounts, self.late}

    def old_tokens_file(self, directory: Path) -> Path:
        """What the previous platform hands over: its appid → refresh token, as CSV."""
        path = directory / "old-refresh-tokens.csv"
        rows = self.previous()["refresh_tokens"].items()
        path.write_text("authorizer_appid,refresh_token\n" + "".join(f"{a},{t}\n" for a, t in rows))
        return path

    def point_the_urls_here(self) -> None:
        gateway = self.world.gateway.url
        self.world.control(
            "POST",
            "urls",
            {
                "component_events_url": f"{gateway}/wechat/component/events",
                "account_messages_url": f"{gateway}/wechat/accounts/$APPID$/messages",  # the MessageUrl output
            },
        )

    def wechat_says(self, appid: str, token: str) -> int:
        """WeChat's errcode for an API called with `token`: getticket for an Official Account, a
        customer-service message for a Mini Program (to a user who just wrote to it)."""
        http = self.world.http
        if appid == self.mini_program or appid == self.late:
            user = "oMigrationUser00000000000001"  # 28 characters, as WeChat's openids
            sent = self.world.control("POST", "send-message", {"appid": appid, "openid": user, "content": "hi"})
            assert sent["ok"], sent
            body = {"touser": user, "msgtype": "text", "text": {"content": "你好"}}
            url = f"{self.world.sandbox.url}/cgi-bin/message/custom/send?access_token={token}"
            answer = http.request("POST", url, body=json.dumps(body).encode())
        else:
            url = f"{self.world.sandbox.url}/cgi-bin/ticket/getticket?access_token={token}&type=jsapi"
            answer = http.request("GET", url)
        return int(json.loads(answer.data)["errcode"])

    def vend_and_use_each(self) -> dict[str, int]:
        """Each account's token from our token center, used at once: WeChat's errcode for each."""
        return {
            appid: self.wechat_says(appid, self.tokens.get_token(appid).access_token)
            for appid in [*self.accounts, self.late]
        }

    def authorizations(self) -> dict[str, int]:
        """When each account last authorized, as WeChat knows it: a merchant who authorized again
        would show a later time."""
        return {a["appid"]: a["auth_time"] for a in self.world.control("GET", "state")["accounts"] if a["auth_time"]}


@pytest.fixture
def move(world: World) -> Move:
    return Move(world)


def test_the_move_in_the_guides_order_leaves_every_account_vending_tokens_wechat_accepts(
    move: Move, world: World, local_args: list[str], table: str, event_bus: str, emulator: Emulator, tmp_path: Path
) -> None:
    move.set_up_previous_platform()
    authorized_at = move.authorizations()
    assert wxcomponent(local_args, "status")["ticket"] is None  # WeChat's pushes go to the previous platform

    # 1. The previous platform's refresher stops; its tokens stay valid, nobody supersedes them now.
    world.control("POST", "previous-platform/stop")
    # 2. WeChat's two URLs point here; 3. a ticket now, rather than within ten minutes.
    move.point_the_urls_here()
    assert wxcomponent(local_args, "start-push-ticket", "--wait", "60")["new_ticket_received_at"] is not None
    old_file = move.old_tokens_file(tmp_path)

    # 4. The dry run: the plan, and nothing written.
    plan = wxcomponent(local_args, "migrate", "--dry-run", "--tokens", str(old_file))
    planned = {row["appid"]: (row["plan"], row["source"]) for row in plan["accounts"]}
    assert planned == {
        **{appid: ("import", "authorizer_list") for appid in [*move.accounts, move.late]},
        move.hidden: ("import", "file"),  # WeChat lists it without a refresh token: the file has it
    }
    assert (plan["listed"], plan["file_entries"], plan["plan"]) == (5, 5, {"import": 5})
    assert wxcomponent(local_args, "authorizers") == []

    # 5. The move itself; the bus says `migrated` for each account, never `authorized`.
    events_client = boto3.client(
        "events", endpoint_url=emulator.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    sqs = boto3.client(
        "sqs", endpoint_url=emulator.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with BusFollower(events_client, sqs, event_bus, poll=0) as follower:
        done = wxcomponent(local_args, "migrate", "--tokens", str(old_file))
        assert done["imported"] == 5 and {row["outcome"] for row in done["accounts"]} == {"imported"}
        seen: list[dict[str, Any]] = []
        for event in follower.events(deadline=time.monotonic() + 60):
            seen.append(event)
            if len(seen) == 5:
                break
    assert {(e["detail-type"], e["detail"]["authorizer_appid"]) for e in seen} == {
        ("migrated", appid) for appid in [*move.accounts, move.late]
    }
    rows = {row["appid"]: row for row in wxcomponent(local_args, "authorizers")}
    assert {appid: row["state"] for appid, row in rows.items()} == dict.fromkeys(
        [*move.accounts, move.late], AUTHORIZED
    )
    assert all(row["name"] for row in rows.values())  # the profiles came with them
    # 6. Our refresher's next run fetches every token (each supersedes the previous platform's).
    assert sweep()["refreshed"] == 5

    # After the cut-over: past the previous platform's next sweep and every overlap, each vend
    # hands out a token WeChat accepts, and nobody authorized again.
    move.advance(INTERVAL + OVERLAP + 1)
    assert move.vend_and_use_each() == dict.fromkeys([*move.accounts, move.late], 0)
    assert move.previous()["sweeps"] == 1  # it stayed stopped
    assert move.authorizations() == authorized_at
    pushes = world.control("GET", "pushes")["pushes"]
    assert not [
        p for p in pushes if p["info_type"] in ("authorized", "updateauthorized") and EVENTS_PATH not in p["url"]
    ]
    # The previous platform's own tokens were superseded by ours: it is retired for good.
    old_token = move.previous()["authorizer_access_tokens"][move.official[0]]
    assert move.wechat_says(move.official[0], old_token) == 40001
    assert graph().authorizers.get_grant(move.hidden) is not None


def test_the_same_move_with_the_previous_refresher_still_running_hands_out_tokens_wechat_refuses(
    move: Move, world: World, local_args: list[str], tmp_path: Path
) -> None:
    move.set_up_previous_platform()
    move.point_the_urls_here()  # everything as above, except that the previous refresher runs on
    assert wxcomponent(local_args, "start-push-ticket", "--wait", "60")["new_ticket_received_at"] is not None
    assert wxcomponent(local_args, "migrate", "--tokens", str(move.old_tokens_file(tmp_path)))["imported"] == 5
    assert sweep()["refreshed"] == 5
    assert move.vend_and_use_each() == dict.fromkeys([*move.accounts, move.late], 0)  # fine, for now
    move.advance(INTERVAL)  # its next sweep supersedes every token we hold
    assert move.previous()["sweeps"] == 2
    move.advance(OVERLAP + 1)
    refused = move.vend_and_use_each()
    assert refused == dict.fromkeys([*move.accounts, move.late], 40001)  # our store still thinks them fresh


def test_going_back_restores_the_previous_platform(
    move: Move, world: World, local_args: list[str], tmp_path: Path
) -> None:
    move.set_up_previous_platform()
    world.control("POST", "previous-platform/stop")
    move.point_the_urls_here()
    assert wxcomponent(local_args, "start-push-ticket", "--wait", "60")["new_ticket_received_at"] is not None
    assert wxcomponent(local_args, "migrate", "--tokens", str(move.old_tokens_file(tmp_path)))["imported"] == 5
    assert sweep()["refreshed"] == 5
    # Something went wrong: services go back to the previous platform, our schedule is switched off
    # (no sweep below), WeChat's URLs point at it again, and its refresher starts with a sweep.
    base = world.sandbox.url
    world.control(
        "POST",
        "urls",
        {
            "component_events_url": base + EVENTS_PATH,
            "account_messages_url": base + "/sandbox/previous-platform/accounts/$APPID$/messages",
        },
    )
    state = world.control("POST", "previous-platform/start")
    assert state["sweeps"] == 2 and state["errors"] == []  # its component token was superseded: renewed first
    pushed = world.control("POST", "push-ticket")["delivery"]
    assert pushed["ok"] and pushed["url"].endswith(EVENTS_PATH)  # the tickets are its again
    move.advance(OVERLAP + 1)
    old = move.previous()["authorizer_access_tokens"]
    assert {appid: move.wechat_says(appid, token) for appid, token in old.items()} == dict.fromkeys(old, 0)
    stored = graph().authorizers.get_authorizer_token(move.official[0])
    assert stored is not None and move.wechat_says(move.official[0], stored.access_token) in REFUSED


def test_a_bad_file_is_refused_before_anything_is_asked_and_the_plan_reads_in_a_terminal(
    move: Move, world: World, local_args: list[str], tmp_path: Path
) -> None:
    move.set_up_previous_platform()
    world.control("POST", "previous-platform/stop")
    move.point_the_urls_here()
    assert wxcomponent(local_args, "start-push-ticket", "--wait", "60")["new_ticket_received_at"] is not None
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{move.official[0]},refreshtoken@@@secret,extra\n")
    result = CliRunner(mix_stderr=False).invoke(cli, [*local_args, "migrate", "--tokens", str(bad)])
    assert result.exit_code == 2 and "line 1: two columns" in result.stderr and "secret" not in result.stderr
    assert world.calls("api_get_authorizer_list") == 0
    # At 80 columns (a pipe, a CI log) the plan is a table an appid is never cut in, and its notes.
    result = CliRunner(mix_stderr=False).invoke(cli, [*local_args, "migrate", "--dry-run"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.output.splitlines()
    assert any(move.hidden in line and "no_token" in line for line in lines)  # no file: nobody has its token
    assert any(move.official[0] in line and "import" in line and "list" in line for line in lines)
    assert "WeChat lists 5 account(s); the file has 0. Plan: import 4, no_token 1." in result.output
    assert "1 no refresh token in WeChat's list nor the file" in result.output
    assert "Dry run: nothing was written." in result.output and all(len(line) <= 80 for line in lines)
