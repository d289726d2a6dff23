"""The sandbox and our side together, over real HTTP: its pushes are accepted and stored."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import urllib3

from infra.local.gateway import Gateway
from infra.sandbox import Sandbox, SandboxConfig
from tests.support.pushes import APPID
from wxcomponent.adapters.dynamodb import DynamoDBStore

HTTP = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=20), retries=False)


@pytest.fixture
def stack(table: str, component_env: None) -> Iterator[tuple[Gateway, Sandbox]]:
    with Gateway(port=0) as gateway:
        config = SandboxConfig(
            port=0,
            ticket_interval=0,
            push_ticket_on_start=False,
            component_events_url=f"{gateway.url}/wechat/component/events",
            start_domain=gateway.url,
        )
        with Sandbox(config) as sandbox:
            yield gateway, sandbox


def test_a_sandbox_ticket_reaches_the_table_and_buys_a_component_token(stack: tuple[Gateway, Sandbox]) -> None:
    _, sandbox = stack
    pushed = json.loads(HTTP.request("POST", f"{sandbox.url}/sandbox/push-ticket").data)
    assert pushed["delivery"]["ok"] is True
    stored = DynamoDBStore().get_ticket(APPID)
    assert stored is not None and stored.ticket == pushed["ticket"]
    answer = HTTP.request(
        "POST",
        f"{sandbox.url}/cgi-bin/component/api_component_token",
        body=json.dumps(
            {
                "component_appid": APPID,
                "component_appsecret": "sandbox-component-appsecret-0001",
                "component_verify_ticket": stored.ticket,
            }
        ),
    )
    assert "component_access_token" in json.loads(answer.data)


def test_authorization_events_from_the_sandbox_are_answered_success(stack: tuple[Gateway, Sandbox]) -> None:
    _, sandbox = stack
    for path in ("authorize", "update-authorization", "revoke"):
        answer = json.loads(
            HTTP.request("POST", f"{sandbox.url}/sandbox/{path}", body=json.dumps({"appid": "wx570bc396a51b8ff8"})).data
        )
        assert answer["delivery"]["ok"] is True, (path, answer["delivery"])
        assert answer["delivery"]["attempts"][0]["body"] == "success"
