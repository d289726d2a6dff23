"""The operator CLI, `wxcomponent --local …`, against the local stack: the gateway (Lambda's Invoke
API and the handlers), the sandbox (WeChat) and the emulator (table, secret, bus, queues), each on an
ephemeral port. Commands run through Click's runner in this process, and the console script itself
in a subprocess where a second process matters (`events --follow`, stdout that must be pure JSON)."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import boto3
import pytest
from click.testing import CliRunner, Result

from infra.local.devconfig import DEFAULTS
from infra.local.emulator import Emulator
from infra.local.gateway import FakeLambdaContext
from tests.conftest import World
from tests.integration.conftest import load_function
from tests.support.graph import age_stored_token, graph
from wxcomponent.domain.grants import AUTHORIZED, Grant
from wxcomponent.keys import authorizer_key
from wxcomponent_client.cli import cli

pytestmark = pytest.mark.usefixtures("cli_environment_restored")  # the CLI runs in process

ACCOUNT = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account
MINI_PROGRAM = "wxd101a85aa106f53e"  # its release-test Mini Program
COMPONENT_APPID = DEFAULTS["WECHAT_COMPONENT_APPID"]


def run(args: list[str], *command: str, code: int = 0) -> Result:
    result = CliRunner(mix_stderr=False).invoke(cli, [*args, *command], catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == code, (result.output, result.stderr)
    return result


def run_json(args: list[str], *command: str, code: int = 0) -> Any:
    return json.loads(run(["--json", *args], *command, code=code).output)


def sweep() -> dict[str, Any]:
    report: dict[str, Any] = load_function("token_refresher").lambda_handler(
        {"source": "aws.events", "detail-type": "Scheduled Event"}, FakeLambdaContext("token_refresher", 60)
    )
    return report


def authorize(world: World, appid: str = ACCOUNT) -> None:
    assert world.control("POST", "authorize", {"appid": appid})["delivery"]["ok"]


@pytest.fixture
def running(world: World) -> World:
    """A ticket, one authorized account, a refresher run: a stack as make dev has it after a minute."""
    world.push_ticket()
    authorize(world)
    sweep()
    return world


# -- status and authorizers --------------------------------------------------------------------------


def test_status_says_what_needs_attention_on_a_new_stack(world: World, local_args: list[str]) -> None:
    status = run_json(local_args, "status")
    assert status["ticket"] is None and status["component_token"] is None and status["grants"] == {}
    assert status["last_refresher_run"] is None
    assert any("no verify ticket" in p for p in status["problems"])
    assert "no refresher run recorded" in status["problems"]


def test_status_of_a_running_stack(running: World, local_args: list[str]) -> None:
    status = run_json(local_args, "status")
    assert status["component_appid"] == COMPONENT_APPID and status["target"] == "local"
    assert 0 <= status["ticket"]["age_seconds"] < 60
    assert 3600 < status["component_token"]["life_left_seconds"] <= 7200
    assert status["grants"] == {"authorized": 1}
    run_record = status["last_refresher_run"]
    assert run_record["failures"] == {} and run_record["report"]["component_token_ok"] is True
    assert 0 <= run_record["age_seconds"] < 60
    assert status["problems"] == [] and status["remembered_failures"] == []
    text = run(local_args, "status").output
    assert "ticket" in text and "authorized 1" in text and "nothing needs attention" in text


def test_status_shows_the_last_runs_failures_and_what_is_remembered(running: World, local_args: list[str]) -> None:
    graph().authorizers.set_refresh_due(ACCOUNT, int(time.time()) - 1)
    graph().authorizers.delete_authorizer_token(ACCOUNT)
    running.fault("api_authorizer_token", "errcode", 45009, count=None)
    sweep()
    status = run_json(local_args, "status")
    assert status["last_refresher_run"]["failures"] == {"45009": 1}
    (remembered,) = status["remembered_failures"]
    assert remembered["owner"] == authorizer_key(ACCOUNT) and remembered["errcode"] == 45009
    assert any("failures" in problem for problem in status["problems"])


def test_authorizers_lists_each_grant_with_its_profile_and_token(running: World, local_args: list[str]) -> None:
    authorize(running, MINI_PROGRAM)
    rows = run_json(local_args, "authorizers")
    assert [(r["appid"], r["type"], r["state"]) for r in rows] == [
        (ACCOUNT, "Official Account", "authorized"),
        (MINI_PROGRAM, "Mini Program", "authorized"),
    ]
    assert rows[0]["name"].startswith("全网发布测试号")
    assert all(r["token_expires_at"] and r["last_refresh"] for r in rows)
    assert "refresh_token" not in json.dumps(rows)
    running.control("POST", "revoke", {"appid": MINI_PROGRAM})
    assert [r["appid"] for r in run_json(local_args, "authorizers", "--state", "revoked")] == [MINI_PROGRAM]
    table = run(local_args, "authorizers").output
    assert ACCOUNT in table and "Mini Program" in table and "revoked" in table


def test_authorizers_shows_an_account_without_api_permission_and_a_channels_account(
    running: World, local_args: list[str]
) -> None:
    accounts = running.sandbox.world.merchants.accounts()
    no_api = next(a for a in accounts if not a.api_permission)
    channels = next(a for a in accounts if a.kind == "channels")
    authorize(running, no_api.appid)
    authorize(running, channels.appid)
    rows = {r["appid"]: r for r in run_json(local_args, "authorizers")}
    assert (rows[no_api.appid]["state"], rows[no_api.appid]["token_expires_at"]) == ("no_api_permission", None)
    assert (rows[channels.appid]["type"], rows[channels.appid]["state"]) == ("Channels", "authorized")
    listed = run_json(local_args, "authorizers", "--state", "no_api_permission")
    assert [r["appid"] for r in listed] == [no_api.appid]
    assert run_json(local_args, "status")["grants"] == {"authorized": 2, "no_api_permission": 1}


# -- vend and refresh -----------------------------------------------------------------------------------


def test_vend_masks_the_token_unless_asked_to_show_it(running: World, local_args: list[str]) -> None:
    stored = graph().authorizers.get_authorizer_token(ACCOUNT)
    assert stored is not None
    masked = run_json(local_args, "vend", ACCOUNT)
    assert masked["appid"] == ACCOUNT and masked["kind"] == "authorizer"
    assert stored.access_token not in masked["access_token"]
    assert masked["access_token"].startswith(stored.access_token[:4])
    assert stored.access_token not in run(local_args, "vend", ACCOUNT).output
    shown = run_json(local_args, "vend", ACCOUNT, "--show")
    assert shown["access_token"] == stored.access_token
    component = run_json(local_args, "vend")
    assert (component["kind"], component["appid"]) == ("component", COMPONENT_APPID)


def test_vend_of_an_account_that_never_authorized_is_one_clear_line(running: World, local_args: list[str]) -> None:
    result = CliRunner(mix_stderr=False).invoke(cli, [*local_args, "vend", MINI_PROGRAM])
    assert result.exit_code == 1
    assert "the token center refused: not_authorized" in result.stderr and "Traceback" not in result.stderr


def test_refresh_costs_one_call_and_keeps_a_token_younger_than_five_minutes(
    running: World, local_args: list[str]
) -> None:
    calls = running.calls("api_authorizer_token")
    (kept,) = run_json(local_args, "refresh", ACCOUNT)
    assert kept["outcome"] == "kept" and running.calls("api_authorizer_token") == calls
    age_stored_token(authorizer_key(ACCOUNT))
    before = graph().authorizers.get_authorizer_token(ACCOUNT)
    (refreshed,) = run_json(local_args, "refresh", ACCOUNT)
    assert refreshed["outcome"] == "refreshed" and running.calls("api_authorizer_token") == calls + 1
    after = graph().authorizers.get_authorizer_token(ACCOUNT)
    assert before is not None and after is not None and after.access_token != before.access_token


def test_refresh_all_and_the_component_and_a_failure(running: World, local_args: list[str]) -> None:
    authorize(running, MINI_PROGRAM)
    for appid in (ACCOUNT, MINI_PROGRAM):
        age_stored_token(authorizer_key(appid))
    results = run_json(local_args, "refresh", "--all", "--component", code=0)
    assert [(r["appid"], r["outcome"]) for r in results] == [
        (None, "kept"),  # the component token is minutes old
        (ACCOUNT, "refreshed"),
        (MINI_PROGRAM, "refreshed"),
    ]
    failed = run_json(local_args, "refresh", "wx0123456789abcdef", code=1)
    assert failed == [
        {
            "appid": "wx0123456789abcdef",
            "outcome": "failed",
            "error": "not_authorized",
            "errcode": None,
            "message": failed[0]["message"],
        }
    ]
    assert "refresh" in run(local_args, "refresh", code=2).stderr  # nothing named: a usage error


# -- reconcile -------------------------------------------------------------------------------------------


def stored_refresh_token(appid: str) -> str:
    grant = graph().authorizers.get_grant(appid)
    assert grant is not None
    return grant.refresh_token


def make_stale(table: str, appid: str) -> None:
    """A rotation whose answer was lost: our grant holds a refresh token WeChat no longer knows."""
    boto3.client("dynamodb").update_item(
        TableName=table,
        Key={"pk": {"S": authorizer_key(appid)}, "sk": {"S": "GRANT"}},
        UpdateExpression="SET refresh_token = :stale",
        ExpressionAttributeValues={":stale": {"S": "stale-refresh-token"}},
    )


def wechats_refresh_token(world: World, appid: str) -> str:
    token: str = next(a["refresh_token"] for a in world.control("GET", "state")["accounts"] if a["appid"] == appid)
    return token


def test_reconcile_repairs_a_stale_and_a_missing_grant_and_names_what_wechat_does_not_know(
    running: World, local_args: list[str], table: str
) -> None:
    make_stale(table, ACCOUNT)
    authorize(running, MINI_PROGRAM)  # then its grant is lost on our side
    boto3.client("dynamodb").delete_item(
        TableName=table, Key={"pk": {"S": authorizer_key(MINI_PROGRAM)}, "sk": {"S": "GRANT"}}
    )
    # A grant of ours for an account WeChat never listed (a restored backup of another stack, say).
    ghost = next(a["appid"] for a in running.control("GET", "state")["accounts"] if a["status"] == "never")
    now = int(time.time())
    graph().authorizers.save_grant(Grant(ghost, COMPONENT_APPID, "ghost-token", (), AUTHORIZED, now, now), now + 3600)

    dry = run_json(local_args, "reconcile", "--dry-run")
    assert (dry["listed"], dry["in_order"], dry["unknown_to_wechat"]) == (2, 0, [ghost])
    assert sorted((f["appid"], f["problem"], f["action"]) for f in dry["findings"]) == [
        (ACCOUNT, "stale_refresh_token", "would_repair"),
        (MINI_PROGRAM, "missing_grant", "would_repair"),
    ]
    assert stored_refresh_token(ACCOUNT) == "stale-refresh-token"  # a dry run changes nothing
    assert graph().authorizers.get_grant(MINI_PROGRAM) is None

    done = run_json(local_args, "reconcile")
    assert sorted((f["appid"], f["action"]) for f in done["findings"]) == [
        (ACCOUNT, "repaired"),
        (MINI_PROGRAM, "repaired"),
    ]
    assert done["unknown_to_wechat"] == [ghost]
    assert stored_refresh_token(ACCOUNT) == wechats_refresh_token(running, ACCOUNT)
    assert stored_refresh_token(MINI_PROGRAM) == wechats_refresh_token(running, MINI_PROGRAM)
    again = run_json(local_args, "reconcile")
    assert (again["in_order"], again["findings"]) == (2, [])
    # The repaired refresh token works: a refresh with it is accepted by WeChat.
    age_stored_token(authorizer_key(ACCOUNT))
    assert run_json(local_args, "refresh", ACCOUNT)[0]["outcome"] == "refreshed"


def test_reconcile_in_a_terminal_shows_a_table(running: World, local_args: list[str], table: str) -> None:
    make_stale(table, ACCOUNT)
    text = run(local_args, "reconcile").output
    assert "WeChat lists 1 account(s); 0 in order." in text and "stale_refresh_token" in text and "repaired" in text


# -- start-push-ticket --------------------------------------------------------------------------------


def test_start_push_ticket_asks_wechat_and_waits_for_the_new_ticket(running: World, local_args: list[str]) -> None:
    before = graph().verify_tickets.get_ticket(COMPONENT_APPID)
    answer = run_json(local_args, "start-push-ticket", "--wait", "30")
    assert answer["requested"] is True and answer["new_ticket_received_at"] is not None
    assert running.calls("api_start_push_ticket") == 1
    after = graph().verify_tickets.get_ticket(COMPONENT_APPID)
    assert before is not None and after is not None and after.ticket != before.ticket


# -- the console script ---------------------------------------------------------------------------------


SCRIPT = Path(sys.executable).parent / "wxcomponent"  # installed by the venv step (requirements-dev.txt)


def test_the_console_script_prints_pure_json(running: World, local_args: list[str]) -> None:
    done = subprocess.run(
        [str(SCRIPT), "--json", *local_args, "status"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["grants"] == {"authorized": 1}


def test_without_a_target_or_with_nothing_running_the_cli_says_so(emulator: Emulator) -> None:
    result = CliRunner(mix_stderr=False).invoke(cli, ["authorizers"])
    assert result.exit_code == 2 and "--local" in result.stderr and "--stack" in result.stderr
    dead = "http://127.0.0.1:9"
    result = CliRunner(mix_stderr=False).invoke(cli, ["--local", "--emulator-url", dead, "authorizers"])
    assert result.exit_code == 1 and f"nothing answers at {dead}" in result.stderr
    assert "Traceback" not in result.stderr


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def _next_line(lines: queue.Queue[str], deadline: float) -> str:
    return lines.get(timeout=max(0.0, deadline - time.monotonic()))


@pytest.fixture
def follower(local_args: list[str]) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str], queue.Queue[str]]]:
    command = [str(SCRIPT), "--json", *local_args, "events", "--follow", "--max-events", "3", "--timeout", "60"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    readers = [
        threading.Thread(target=_lines, args=(process.stdout, out), daemon=True),
        threading.Thread(target=_lines, args=(process.stderr, err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        yield process, out, err
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def test_events_follow_shows_the_bus_events_as_they_arrive_and_cleans_up(
    world: World,
    follower: tuple[subprocess.Popen[str], queue.Queue[str], queue.Queue[str]],
    emulator: Emulator,
    event_bus: str,
) -> None:
    process, out, err = follower
    deadline = time.monotonic() + 60
    assert _next_line(err, deadline).startswith("Following ")  # the rule and the queue are in place
    world.push_ticket()
    authorize(world)
    world.control("POST", "revoke", {"appid": ACCOUNT})
    received = [json.loads(_next_line(out, deadline)) for _ in range(3)]
    # The grant is announced, then its profile (fetched after), then the revocation; a standard
    # queue promises no order.
    assert sorted((e["detail-type"], e["detail"]["authorizer_appid"]) for e in received) == [
        ("authorized", ACCOUNT),
        ("profile", ACCOUNT),
        ("revoked", ACCOUNT),
    ]
    assert all(e["source"] == "wxcomponent" for e in received)
    assert process.wait(timeout=30) == 0  # --max-events 3
    events = boto3.client("events", endpoint_url=emulator.url)
    sqs = boto3.client("sqs", endpoint_url=emulator.url)
    assert events.list_rules(EventBusName=event_bus, NamePrefix="wxcomponent-cli-")["Rules"] == []
    assert sqs.list_queues(QueueNamePrefix="wxcomponent-cli-").get("QueueUrls", []) == []


def test_events_without_follow_is_a_usage_error(world: World, local_args: list[str]) -> None:
    assert "--follow" in run(local_args, "events", code=2).stderr
