"""Diagnosing like WeChat's staff (issue 22), against the sandbox over HTTP: a rid in every error a
vend answers and every failure the refresher logs, which `wxcomponent rid` resolves with getRidInfo
(masked); `wxcomponent quota` with getApiQuota, for the component and for an account;
`wxcomponent clear-quota` with clear_quota/v2, after asking, counting the month's clears and letting
the token center past a 45009 at once; and `status` naming the address WeChat saw beside the
whitelist."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from click.testing import CliRunner, Result

from infra.local.devconfig import DEFAULTS
from infra.local.gateway import FakeLambdaContext
from tests.conftest import World
from tests.integration.conftest import load_function
from tests.support.graph import graph
from wxcomponent.keys import authorizer_key
from wxcomponent_client.cli import cli

ACCOUNT = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account
COMPONENT_APPID = DEFAULTS["WECHAT_COMPONENT_APPID"]

pytestmark = pytest.mark.usefixtures("cli_environment_restored")  # the CLI runs in process


def run(args: list[str], *command: str, code: int = 0, answer: str | None = None) -> Result:
    result = CliRunner(mix_stderr=False).invoke(
        cli, [*args, *command], input=answer, catch_exceptions=False, env={"COLUMNS": "200"}
    )
    assert result.exit_code == code, (result.output, result.stderr)
    return result


def run_json(args: list[str], *command: str, code: int = 0, answer: str | None = None) -> Any:
    return json.loads(run(["--json", *args], *command, code=code, answer=answer).output)


def vend(**payload: Any) -> dict[str, Any]:
    answer: dict[str, Any] = load_function("token_vending").lambda_handler(payload, FakeLambdaContext("token_vending"))
    return answer


def sweep() -> None:
    load_function("token_refresher").lambda_handler(
        {"source": "aws.events", "detail-type": "Scheduled Event"}, FakeLambdaContext("token_refresher", 60)
    )


def log_lines(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, Any]]:
    """The core's log records of `message`, with their fields."""
    return [record.__dict__ for record in caplog.records if record.getMessage() == message]


@pytest.fixture
def running(world: World) -> World:
    world.push_ticket()
    assert world.control("POST", "authorize", {"appid": ACCOUNT})["delivery"]["ok"]
    return world


def refresh_token_of(appid: str) -> str:
    grant = graph().authorizers.get_grant(appid)
    assert grant is not None
    return grant.refresh_token


# -- rid -------------------------------------------------------------------------------------------------


def test_a_vend_wechat_refused_names_the_rid_and_rid_shows_what_wechat_saw_masked(
    running: World, local_args: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    graph().authorizers.delete_authorizer_token(ACCOUNT)  # the next vend must ask WeChat
    running.fault("api_authorizer_token", "errcode", 45009)
    with caplog.at_level("INFO", logger="wxcomponent"):
        refused = vend(kind="authorizer", appid=ACCOUNT)["error"]
    assert refused["errcode"] == 45009
    rid = refused["rid"]
    [failed] = log_lines(caplog, "wechat call failed")
    assert failed["rid"] == rid and failed["api"] == "api_authorizer_token"

    seen = run_json(local_args, "rid", rid)
    assert seen["rid"] == rid and seen["asked_as"] == "component" and seen["client_ip"] == "127.0.0.1"
    assert json.loads(seen["response_body"])["errcode"] == 45009
    body = json.loads(seen["request_body"])
    assert body["authorizer_appid"] == ACCOUNT and body["authorizer_refresh_token"] == "<redacted>"
    assert seen["request_url"] == "component_access_token=<redacted>"
    text = run(local_args, "rid", rid.upper()).output  # pasted as WeChat's page shows it, any case
    assert refresh_token_of(ACCOUNT) not in text
    assert f"rid {rid}" in text and "<redacted>" in text


def test_the_refreshers_failure_lines_carry_the_rid(
    running: World, local_args: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    graph().authorizers.set_refresh_due(ACCOUNT, int(time.time()) - 1)
    graph().authorizers.delete_authorizer_token(ACCOUNT)
    running.fault("api_authorizer_token", "errcode", -1, count=None)  # busy on every attempt
    with caplog.at_level("INFO", logger="wxcomponent"):
        sweep()
    [line] = log_lines(caplog, "authorizer not refreshed")
    assert line["errcode"] == -1 and line["rid"]
    running.control("DELETE", "faults")
    assert json.loads(run_json(local_args, "rid", line["rid"])["response_body"])["errcode"] == -1


def test_an_accounts_rid_is_looked_up_with_its_own_token(running: World, local_args: list[str]) -> None:
    token = vend(kind="authorizer", appid=ACCOUNT)["access_token"]
    answer = running.http.request(
        "POST", f"{running.sandbox.url}/cgi-bin/message/custom/send?access_token={token}", body=b'{"touser": "o"}'
    )
    refused = json.loads(answer.data)
    assert refused["errcode"] == 44002
    rid = refused["errmsg"].rsplit("rid: ", 1)[1]
    denied = run(local_args, "rid", rid, code=1)
    assert "--appid" in denied.stderr and "76003" in denied.stderr
    seen = run_json(local_args, "rid", rid, "--appid", ACCOUNT)
    assert seen["asked_as"] == ACCOUNT and seen["request_url"] == "access_token=<redacted>"
    assert token not in json.dumps(seen)


def test_rid_refuses_what_is_not_a_rid_and_explains_an_unknown_one(running: World, local_args: list[str]) -> None:
    assert "three groups of 8 hex digits" in run(local_args, "rid", "not-a-rid", code=2).stderr
    assert "--appid" in run(local_args, "rid", "61725984-6126f6f9-040f19c4", "--appid", "wx1", code=2).stderr
    unknown = run(local_args, "rid", "61725984-6126f6f9-040f19c4", code=1).stderr
    assert "older than 7 days" in unknown and "76001" in unknown
    assert running.calls("rid_get") == 1  # the refused arguments asked WeChat nothing


# -- quota and clear-quota ------------------------------------------------------------------------------


def test_quota_shows_each_api_the_component_and_an_account_call(running: World, local_args: list[str]) -> None:
    vend(kind="authorizer", appid=ACCOUNT)
    component = run_json(local_args, "quota")
    rows = {row["api"]: row for row in component["apis"]}
    assert component["account"] == COMPONENT_APPID and len(rows) == 7
    assert rows["/cgi-bin/component/api_component_token"]["used"] == 1
    assert rows["/cgi-bin/component/api_query_auth"]["used"] == 1  # the authorized push's exchange
    token_row = rows["/cgi-bin/component/api_component_token"]
    assert token_row["remain"] == token_row["daily_limit"] - 1
    assert component["clears"] == {"per_month": 10, "made_here_this_month": 0, "left_at_most": 10}
    account = run_json(local_args, "quota", "--appid", ACCOUNT)
    assert [row["api"] for row in account["apis"]] == ["/cgi-bin/message/custom/send", "/cgi-bin/ticket/getticket"]
    assert all(row["used"] == 0 for row in account["apis"])
    text = run(local_args, "quota").output
    assert "api_component_token" in text and "at most 10 of 10 clears left" in text


def test_quota_of_a_path_wechat_does_not_know_says_so_and_a_bad_path_is_refused(
    running: World, local_args: list[str]
) -> None:
    unknown = run_json(local_args, "quota", "--api", "/cgi-bin/nope", code=1)
    assert unknown["apis"][0]["errcode"] == 76021 and unknown["apis"][0]["rid"]
    for bad in ("/sns/userinfo", "https://api.weixin.qq.com/cgi-bin/x", "cgi-bin/x"):
        assert "an API's path" in run(local_args, "quota", "--api", bad, code=2).stderr


def test_clear_quota_asks_first_and_says_how_many_clears_are_left(running: World, local_args: list[str]) -> None:
    declined = run(local_args, "clear-quota", answer="n\n", code=1)
    assert "spends one of its 10 clears" in declined.stderr
    assert running.calls("clear_quota") == 0
    cleared = run(local_args, "clear-quota", answer="y\n")
    assert "cleared today's API quotas" in cleared.output and "at most 9 of 10 clears left" in cleared.output
    assert running.control("GET", "quotas")["clears"] == {COMPONENT_APPID: 1}
    again = run_json(local_args, "clear-quota", "--yes")
    assert again["cleared"] is True and again["clears"]["left_at_most"] == 8
    account = run_json(local_args, "clear-quota", "--appid", ACCOUNT, "--yes")
    assert account["account"] == ACCOUNT and account["clears"]["left_at_most"] == 9  # each account has its own
    assert running.control("GET", "quotas")["clears"] == {COMPONENT_APPID: 2, ACCOUNT: 1}


def test_past_the_months_clears_wechat_refuses_and_none_are_said_left(running: World, local_args: list[str]) -> None:
    secret = DEFAULTS["WECHAT_COMPONENT_APPSECRET"]
    for _ in range(10):  # the month's clears spent elsewhere (the console, another tool)
        body = json.dumps({"component_appid": COMPONENT_APPID, "appsecret": secret}).encode()
        running.http.request("POST", f"{running.sandbox.url}/cgi-bin/component/clear_quota/v2", body=body)
    refused = run_json(local_args, "clear-quota", "--yes", code=1)
    assert refused["errcode"] == 48006 and refused["rid"] and refused["clears"]["left_at_most"] == 0
    assert run_json(local_args, "quota")["clears"]["left_at_most"] == 0


def test_clearing_the_quota_lets_the_token_center_past_a_45009_at_once(running: World, local_args: list[str]) -> None:
    graph().authorizers.delete_authorizer_token(ACCOUNT)
    running.fault("api_authorizer_token", "errcode", 45009, count=None)  # the day's quota is spent
    assert vend(kind="authorizer", appid=ACCOUNT)["error"]["errcode"] == 45009
    assert "remembered" in vend(kind="authorizer", appid=ACCOUNT)["error"]["message"]  # no call for an hour
    assert running.calls("api_authorizer_token") == 1
    cleared = run_json(local_args, "clear-quota", "--yes")
    assert cleared["forgotten_refusals"] == [authorizer_key(ACCOUNT)]
    assert vend(kind="authorizer", appid=ACCOUNT)["access_token"]  # WeChat asked again, and answered
    assert running.calls("api_authorizer_token") == 2


# -- the whitelist ----------------------------------------------------------------------------------------


def test_status_names_the_address_wechat_saw_beside_the_whitelist(running: World, local_args: list[str]) -> None:
    running.control("POST", "whitelist", {"ips": ["203.0.113.7"]})  # the console holds another address
    graph().authorizers.delete_authorizer_token(ACCOUNT)
    assert vend(kind="authorizer", appid=ACCOUNT)["error"]["errcode"] == 61004
    status = run_json(local_args, "status")
    whitelist = status["whitelist"]
    assert whitelist["ips"] == ["203.0.113.7"] and whitelist["refused"] == [
        {"errcode": 61004, "client_ip": "127.0.0.1"}
    ]
    [problem] = [p for p in status["problems"] if "127.0.0.1" in p]
    assert "203.0.113.7" in problem and "61004" in problem
    text = run(local_args, "status").output
    assert "WeChat saw" in text and "127.0.0.1" in text and "203.0.113.7" in text


def test_status_shows_the_whitelist_with_nothing_refused(running: World, local_args: list[str]) -> None:
    status = run_json(local_args, "status")
    assert status["whitelist"]["refused"] == [] and status["whitelist"]["note"] == "the sandbox checks no address"
    assert not [p for p in status["problems"] if "whitelist" in p]
