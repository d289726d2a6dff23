"""The control API: faults, the call log, reset, determinism, release checks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from infra.sandbox import Sandbox, seeded_accounts
from infra.sandbox.config import RELEASE_TEST_ACCOUNT
from tests.sandbox.helpers import Client, Received, Receiver, Wx, make_config

PREAUTH = "/cgi-bin/component/api_create_preauthcode"


def fault(client: Client, **body: Any) -> Any:
    return client.post("/sandbox/faults", body)


def test_errcode_fault_for_n_calls_then_normal(wx: Wx, client: Client) -> None:
    wx.token  # noqa: B018
    fault(client, api="api_create_preauthcode", kind="errcode", value=-1, count=2)
    faulted = wx.call("api_create_preauthcode")
    assert faulted["errcode"] == -1 and faulted["errmsg"].startswith("fault injected by the sandbox rid: ")
    assert wx.call("api_create_preauthcode")["errcode"] == -1
    assert "pre_auth_code" in wx.call("api_create_preauthcode")
    calls = client.get_json("/sandbox/calls?api=api_create_preauthcode")
    assert [c["errcode"] for c in calls["calls"]] == [-1, -1, 0]
    assert calls["calls"][0]["fault"]["kind"] == "errcode"
    assert calls["counters"]["api_create_preauthcode"] == 3


def test_http_status_fault_and_clear(wx: Wx, client: Client) -> None:
    wx.token  # noqa: B018
    fault(client, api="api_create_preauthcode", kind="http_status", value=502, count=None)
    for _ in range(2):
        status, _, body = client.post_raw(PREAUTH, {"component_appid": wx.appid}, component_access_token=wx.token)
        assert status == 502 and b"502" in body
    assert client.get_json("/sandbox/faults")["faults"][0]["remaining"] is None
    assert client.request("DELETE", "/sandbox/faults")[0] == 200
    assert "pre_auth_code" in wx.call("api_create_preauthcode")


def test_wildcard_fault(wx: Wx, client: Client) -> None:
    wx.token  # noqa: B018
    fault(client, api="*", kind="http_status", value=500, count=1)
    assert client.post_raw(PREAUTH, {"component_appid": wx.appid}, component_access_token=wx.token)[0] == 500
    assert "pre_auth_code" in wx.call("api_create_preauthcode")


def test_latency_fault(wx: Wx, client: Client) -> None:
    wx.token  # noqa: B018
    fault(client, api="api_create_preauthcode", kind="latency", value=0.3, count=1)
    started = time.monotonic()
    assert "pre_auth_code" in wx.call("api_create_preauthcode")
    assert time.monotonic() - started >= 0.3


def test_timeout_fault_closes_unanswered(wx: Wx, client: Client) -> None:
    token = wx.token
    fault(client, api="api_create_preauthcode", kind="timeout", value=1.0, count=1)
    with pytest.raises(TimeoutError):
        client.post_raw(PREAUTH, {"component_appid": wx.appid}, timeout=0.2, component_access_token=token)
    assert "pre_auth_code" in wx.call("api_create_preauthcode")


@pytest.mark.parametrize(
    "body",
    [
        {"api": "x", "kind": "bogus", "value": 1},
        {"api": "x", "kind": "errcode", "value": 1, "count": 0},
        {"api": "x", "kind": "errcode", "value": "1"},
        {"kind": "errcode", "value": 1},
    ],
)
def test_bad_fault_requests(client: Client, body: dict[str, Any]) -> None:
    assert client.post_raw("/sandbox/faults", body)[0] == 400


def test_control_errors(client: Client) -> None:
    assert client.post_raw("/sandbox/nope", {})[0] == 404
    assert client.post_raw("/sandbox/authorize", {})[0] == 400
    assert client.post_raw("/sandbox/authorize", {"appid": "wx0000000000000000"})[0] == 404
    assert client.post_raw("/sandbox/accounts/wx0000000000000000/rotation", {"enabled": True})[0] == 404
    assert client.request("POST", "/sandbox/clock", b"[1", {})[0] == 400
    assert client.request("PUT", "/sandbox/state")[0] == 501


def test_counters_and_calls(wx: Wx, client: Client) -> None:
    wx.call("api_create_preauthcode")
    wx.call("api_create_preauthcode")
    log = client.get_json("/sandbox/calls")
    assert log["counters"] == {"api_component_token": 1, "api_create_preauthcode": 2}
    first = log["calls"][0]
    assert first["api"] == "api_component_token"
    assert first["body"]["component_appid"] == wx.appid and first["errcode"] == 0
    assert log["calls"][1]["query"] == {"component_access_token": wx.token}


def test_reset_returns_to_the_seeded_state(wx: Wx, client: Client) -> None:
    appid = wx.accounts()[0]["appid"]
    wx.token  # noqa: B018
    wx.authorize(appid)
    fault(client, api="custom_send", kind="errcode", value=-1)
    client.post("/sandbox/clock", {"advance": 100})
    state = client.post("/sandbox/reset")["state"]
    assert state["faults"] == [] and state["tickets"] == [] and state["clock_offset"] == 0
    assert state["component_access_token"] is None
    assert all(a["status"] == "never" for a in state["accounts"])
    assert client.get_json("/sandbox/calls")["counters"] == {}
    assert wx.call("api_create_preauthcode")["errcode"] == 40001  # the old token is forgotten too
    old_ticket = {
        "component_appid": wx.appid,
        "component_appsecret": wx.sandbox.config.component_appsecret,
        "component_verify_ticket": wx.ticket(),
    }
    assert client.post("/cgi-bin/component/api_component_token", old_ticket)["errcode"] == 61006


def test_state_shows_grants_and_tokens(wx: Wx, client: Client) -> None:
    appid = wx.accounts()[0]["appid"]
    wx.call("api_query_auth", {"authorization_code": wx.authorize(appid)})
    state = client.get_json("/sandbox/state")
    assert state["component_access_token"] == wx.token
    account = next(a for a in state["accounts"] if a["appid"] == appid)
    assert account["status"] == "authorized" and account["authorizer_access_token"]
    assert any(a["appid"] == RELEASE_TEST_ACCOUNT.appid for a in state["accounts"])


def test_same_seed_same_world(receiver: Receiver) -> None:
    def first_ticket(seed: int) -> tuple[str, list[str]]:
        config = make_config(receiver, seed=seed, push_ticket_on_start=False)
        with Sandbox(config) as sb:
            ticket = Client(sb.url).post("/sandbox/push-ticket")["ticket"]
            return ticket, [a.appid for a in sb.world.merchants.accounts()]

    assert first_ticket(7) == first_ticket(7)
    assert first_ticket(7) != first_ticket(8)
    assert seeded_accounts(3) == seeded_accounts(3)
    accounts = seeded_accounts(3)
    assert len({a.appid for a in accounts}) == 9
    assert all(len(a.appid) == 18 and len(a.user_name) == 15 for a in accounts)


def system_playing_release(wx: Wx, receiver: Receiver, sandbox: Sandbox) -> None:
    """Makes the receiver answer the release checks as our system must."""
    client = Client(sandbox.url)

    def answer(item: Received) -> tuple[int, bytes]:
        f = item.fields
        if f.get("MsgType") == "event":
            content = f["Event"] + "from_callback"
        elif f.get("Content", "").startswith("QUERY_AUTH_CODE:"):
            code = f["Content"].split(":", 1)[1]

            def later() -> None:
                info = wx.call("api_query_auth", {"authorization_code": code})["authorization_info"]
                client.post(
                    "/cgi-bin/message/custom/send",
                    {"touser": f["FromUserName"], "msgtype": "text", "text": {"content": code + "_from_api"}},
                    access_token=info["authorizer_access_token"],
                )

            threading.Thread(target=later, daemon=True).start()
            return 200, b""
        else:
            content = f["Content"] + "_callback"
        return 200, receiver.passive_reply(
            [
                ("ToUserName", f["FromUserName"]),
                ("FromUserName", f["ToUserName"]),
                ("CreateTime", 1),
                ("MsgType", "text"),
                ("Content", content),
            ]
        )

    receiver.on_message = answer


def test_release_checks_pass(wx: Wx, client: Client, receiver: Receiver, sandbox: Sandbox) -> None:
    wx.token  # noqa: B018 - the system holds a component token before the checks start
    system_playing_release(wx, receiver, sandbox)
    result = client.post("/sandbox/release-checks", {"wait": 5})
    assert [(c["name"], c["passed"]) for c in result["checks"]] == [
        ("ticket", True),
        ("text", True),
        ("query_auth_code", True),
        ("mini_program", True),
        ("event", True),
    ], [c["detail"] for c in result["checks"]]
    assert result["passed"] is True
    assert result["appid"] == RELEASE_TEST_ACCOUNT.appid
    # Which check passed, by name, in a few words (issue 21: `grep passed` printed five bare `true`s).
    assert list(result)[:2] == ["passed", "summary"]
    assert result["summary"] == {
        "ticket": "passed: answered success",
        "text": "passed: the encrypted text reply 'TESTCOMPONENT_MSG_TYPE_TEXT_callback'",
        "query_auth_code": "passed: custom message received (api_query_auth on the code: 1 call, 1 accepted)",
        "mini_program": "passed: custom message received (api_query_auth on the code: 1 call, 1 accepted)",
        "event": "passed (not required): the text reply 'LOCATIONfrom_callback'",
    }
    got = receiver.wait_for(lambda r: r.fields.get("Content") == "TESTCOMPONENT_MSG_TYPE_TEXT")
    assert got.envelope["ToUserName"] == RELEASE_TEST_ACCOUNT.user_name


def test_release_checks_fail_without_the_system(client: Client, receiver: Receiver) -> None:
    result = client.post("/sandbox/release-checks", {"wait": 0.1})
    assert result["passed"] is False
    by_name = {c["name"]: c["passed"] for c in result["checks"]}
    assert by_name == {"ticket": True, "text": False, "query_auth_code": False, "mini_program": False, "event": False}
    assert result["summary"]["text"].startswith("failed: expected an encrypted text reply")


def test_release_checks_in_text_and_on_the_console_name_each_check(receiver: Receiver) -> None:
    """`?format=text` answers the summary a person reads; `make dev` prints it in its console."""
    reported: list[str] = []
    with Sandbox(make_config(receiver, report=reported.append)) as sandbox:
        status, headers, data = Client(sandbox.url).post_raw("/sandbox/release-checks", {"wait": 0.1}, format="text")
    assert status == 200 and headers["Content-Type"] == "text/plain; charset=utf-8"
    lines = data.decode().splitlines()
    assert lines[0] == f"release checks for {RELEASE_TEST_ACCOUNT.appid}: failed"
    assert [line.split()[:2] for line in lines[1:]] == [
        ["ticket", "passed"],
        ["text", "FAILED"],
        ["query_auth_code", "FAILED"],
        ["mini_program", "FAILED"],
        ["event", "FAILED"],
    ]
    assert "answered success" in lines[1] and "(not required)" in lines[5]
    assert reported == [f"sandbox: {line}" for line in lines]


def test_update_authorization_and_func_info(wx: Wx, client: Client, receiver: Receiver) -> None:
    appid = wx.accounts()[0]["appid"]
    assert client.post_raw("/sandbox/update-authorization", {"appid": appid})[0] == 409
    wx.authorize(appid)
    answer = client.post("/sandbox/update-authorization", {"appid": appid, "func_info": [1, 2]})
    pushed = receiver.wait_info("updateauthorized")
    assert pushed.fields["AuthorizationCode"] == answer["auth_code"]
    info = wx.call("api_query_auth", {"authorization_code": answer["auth_code"]})["authorization_info"]
    assert info["func_info"] == [{"funcscope_category": {"id": 1}}, {"funcscope_category": {"id": 2}}]
    assert client.post_raw("/sandbox/authorize", {"appid": appid, "func_info": ["x"]})[0] == 400


def test_command_line_runs_and_stops_on_sigterm() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "layers" / "core"), str(root)])}
    args = [
        sys.executable,
        "-m",
        "infra.sandbox",
        "--port",
        "0",
        "--ticket-interval",
        "0",
        "--seed",
        "1",
        "--component-events-url",
        "http://127.0.0.1:9/none",
        "--push-timeout",
        "0.5",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env, cwd=root)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("WeChat sandbox on http://127.0.0.1:")
        url = first.split()[3]
        state = Client(url).get_json("/sandbox/state")
        assert len(state["accounts"]) == 11  # nine seeded, two release test accounts
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
