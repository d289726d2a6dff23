"""Reaching WeChat when its main host cannot be reached (issue 22), against the sandbox over HTTP: a
connection the main host refused carried nothing, so the call goes on to the disaster-recovery host
(the sandbox's second listener, or the sandbox itself behind a dead main address), single-use calls
too; a call the main host may have seen is never sent anywhere a second time."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from infra.local.gateway import FakeLambdaContext
from infra.sandbox import Sandbox, SandboxConfig
from tests.conftest import World
from tests.integration.conftest import load_function
from wxcomponent.adapters.wechat_http import WeChatHttpApi
from wxcomponent.domain.wechat import UpstreamUnavailable

ACCOUNT = "wx570bc396a51b8ff8"


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback port bound and never listened on: a connection to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def sandbox(dead_url: str) -> Iterator[Sandbox]:
    """The sandbox with its disaster-recovery listener; its pushes go nowhere."""
    config = SandboxConfig(
        port=0,
        dr_port=0,
        ticket_interval=0,
        push_ticket_on_start=False,
        component_events_url=f"{dead_url}/events",
        account_messages_url=f"{dead_url}/messages/{{appid}}",
        push_tries=1,
        push_timeout=1.0,
    )
    with Sandbox(config) as running:
        yield running


def control(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    answer = urllib3.request(method, f"{url}/sandbox/{path}", body=json.dumps(body or {}).encode(), retries=False)
    assert answer.status == 200, answer.data
    return json.loads(answer.data)


def calls(sandbox: Sandbox, api: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = control(sandbox.dr_url, "GET", f"calls?api={api}")["calls"]
    return found


def api_over(sandbox: Sandbox, sleeps: list[float], read: float = 5.0) -> WeChatHttpApi:
    return WeChatHttpApi(
        sandbox.url,
        fallback_urls=(sandbox.dr_url,),
        http=urllib3.PoolManager(retries=False),
        timeout=urllib3.Timeout(connect=1.0, read=read),
        sleep=sleeps.append,
    )


def test_with_the_main_host_down_the_call_goes_to_the_dr_host_at_once(sandbox: Sandbox) -> None:
    config = sandbox.config
    ticket = control(sandbox.url, "POST", "push-ticket")["ticket"]
    control(sandbox.dr_url, "POST", "listeners", {"main": False})
    sleeps: list[float] = []
    api = api_over(sandbox, sleeps)
    token = api.component_token(config.component_appid, config.component_appsecret, ticket)
    assert token.access_token and sleeps == []  # no backoff: the main host was never sent anything
    assert [c["listener"] for c in calls(sandbox, "api_component_token")] == ["dr"]
    code = control(sandbox.dr_url, "POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    info = api.query_auth(token.access_token, config.component_appid, code)  # single use, never sent: safe
    assert info.authorizer_appid == ACCOUNT
    assert [c["listener"] for c in calls(sandbox, "api_query_auth")] == ["dr"]
    control(sandbox.dr_url, "POST", "listeners", {"main": True})


def test_a_single_use_call_the_main_host_may_have_seen_is_never_sent_to_the_dr_host(sandbox: Sandbox) -> None:
    config = sandbox.config
    ticket = control(sandbox.url, "POST", "push-ticket")["ticket"]
    sleeps: list[float] = []
    api = api_over(sandbox, sleeps, read=0.5)
    token = api.component_token(config.component_appid, config.component_appsecret, ticket).access_token
    code = control(sandbox.url, "POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    control(sandbox.url, "POST", "faults", {"api": "api_query_auth", "kind": "timeout", "value": 5, "count": 1})
    with pytest.raises(UpstreamUnavailable, match="ReadTimeoutError"):
        api.query_auth(token, config.component_appid, code)
    assert [c["listener"] for c in calls(sandbox, "api_query_auth")] == ["main"]  # WeChat may have used the code


def test_a_vend_reaches_wechat_through_the_fallback_host(
    world: World, dead_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WECHAT_API_BASE", dead_url)  # the main host cannot be reached
    monkeypatch.setenv("WECHAT_API_FALLBACKS", world.sandbox.url)  # the sandbox plays the DR host
    world.push_ticket()
    with caplog.at_level("INFO", logger="wxcomponent"):
        answer = load_function("token_vending").lambda_handler(
            {"kind": "component"}, FakeLambdaContext("token_vending")
        )
    assert answer["access_token"], answer
    lines = [(r.getMessage(), r.__dict__.get("host")) for r in caplog.records if "wechat" in r.getMessage()]
    assert lines == [
        ("wechat host unreachable", dead_url.removeprefix("http://")),
        ("wechat call", world.sandbox.url.removeprefix("http://")),
    ]
