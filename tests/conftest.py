"""Shared fixtures: the emulator (moto's server mode, a child process) and a fresh table per test."""

from __future__ import annotations

import os

# The environment first: Powertools reads it when Logger and Metrics are made, at import time.
# Never reach real AWS from tests, whatever the developer's shell holds.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "wxcomponent",
        "POWERTOOLS_METRICS_NAMESPACE": "WxComponent",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        # A required setting; moto always has a bus of this name. The `event_bus` fixture makes its own.
        "EVENT_BUS_NAME": "default",
        # POST /tokens trusts an event that carries this stage variable: the local gateway's, as in make dev.
        "TOKENS_DOOR": "local-stack-tokens-door",
    }
)
# A test that forgets to point us at the sandbox gets "connection refused", never WeChat. A loopback
# value is kept: processes a test spawns inherit the sandbox's address and import this file too.
for _name in ("WECHAT_API_BASE", "WECHAT_MP_BASE"):
    if not os.environ.get(_name, "").startswith("http://127.0.0.1:"):
        os.environ[_name] = "http://127.0.0.1:9"


import json  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402
import urllib3  # noqa: E402
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

from infra.local.bootstrap import create_event_bus, create_table  # noqa: E402
from infra.local.devconfig import DEFAULTS  # noqa: E402
from infra.local.emulator import Emulator, start_emulator  # noqa: E402
from infra.local.gateway import Gateway  # noqa: E402
from infra.sandbox import Sandbox, SandboxConfig  # noqa: E402
from tests.support.graph import graph  # noqa: E402
from wxcomponent import settings  # noqa: E402
from wxcomponent.domain.verify_tickets import VerifyTicket  # noqa: E402

# Hypothesis times each example (200 ms by default) and fails one that took longer: a guess from
# wall time, which a busy machine breaks (an AES round trip took 296 ms beside two CPU-bound
# processes). The properties are about what is answered, never how fast: no deadline, no too_slow.
hypothesis_settings.register_profile("wxcomponent", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("wxcomponent")


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with start_emulator() as running:
        yield running


@pytest.fixture
def table(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A table with the template's schema, named uniquely, wired into the environment."""
    name = f"wxcomponent-test-{uuid.uuid4().hex[:12]}"
    create_table(emulator.url, name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.url)
    monkeypatch.setenv("TABLE_NAME", name)
    yield name
    boto3.client("dynamodb", endpoint_url=emulator.url).delete_table(TableName=name)


@pytest.fixture
def component_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in DEFAULTS.items():
        monkeypatch.setenv(name, value)
    settings.reset_caches()
    yield
    settings.reset_caches()


@dataclass
class World:
    """Our side (gateway, handlers, table) and WeChat's (the sandbox), wired as in `make dev`."""

    gateway: Gateway
    sandbox: Sandbox
    http: urllib3.PoolManager

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.request(method, f"{self.sandbox.url}/sandbox/{path}", body=json.dumps(body or {}).encode())
        assert answer.status < 300, (path, answer.status, answer.data[:500])
        # A push answers at once and exchanges the code in an asynchronous invocation: join those,
        # so that what the push started is done when the test looks (a join, never a sleep).
        assert self.gateway.wait_for_async(timeout=60)
        return json.loads(answer.data)

    def calls(self, api: str) -> int:
        counters: dict[str, int] = self.control("GET", f"calls?api={api}")["counters"]
        return counters.get(api, 0)

    def push_ticket(self) -> str:
        pushed = self.control("POST", "push-ticket")
        assert pushed["delivery"]["ok"], pushed["delivery"]
        ticket: str = pushed["ticket"]
        return ticket

    def push_ticket_to_table(self) -> None:
        """Where the sandbox's pushes go nowhere: its ticket, stored as component_events would."""
        pushed = self.control("POST", "push-ticket")
        appid = DEFAULTS["WECHAT_COMPONENT_APPID"]
        now = int(time.time())
        graph().verify_tickets.save_ticket(VerifyTicket.received(appid, pushed["ticket"], now, now))

    def fault(self, api: str, kind: str, value: Any, count: int | None = 1) -> None:
        self.control("POST", "faults", {"api": api, "kind": kind, "value": value, "count": count})


# Functions that are not ours (vendors' reply functions, a flaky one), invocable through the gateway.
REPLY_FUNCTIONS = {
    name: f"tests/support/functions/{folder}"
    for name, folder in {"ReplyEcho": "echo", "ReplySlow": "slow", "ReplyFailing": "failing", "Flaky": "flaky"}.items()
}


def _start_world(monkeypatch: pytest.MonkeyPatch, events_url: str | None) -> Iterator[World]:
    gateway = Gateway(port=0, extra_functions=REPLY_FUNCTIONS).start()
    try:
        config = SandboxConfig(
            port=0,
            ticket_interval=0,
            push_ticket_on_start=False,
            component_events_url=events_url or f"{gateway.url}/wechat/component/events",
            account_messages_url=gateway.url + "/wechat/accounts/{appid}/messages",
            start_domain=gateway.url,
            push_tries=1 if events_url else 3,
            push_timeout=1.0 if events_url else 10.0,
            push_retry_interval=1.0,  # WeChat's is 5 s; a second still makes a retry a late one
        )
        with Sandbox(config) as sandbox:
            monkeypatch.setenv("WECHAT_API_BASE", sandbox.url)
            monkeypatch.setenv("WECHAT_MP_BASE", sandbox.url)
            monkeypatch.setenv("PUBLIC_BASE_URL", gateway.url)
            monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", gateway.url)  # our tasks and reply functions
            monkeypatch.setenv("TASKS_FUNCTION", "ComponentEventsFunction")
            monkeypatch.delenv("MESSAGE_REPLY_FUNCTION_ARN", raising=False)
            http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=30), retries=False)
            yield World(gateway, sandbox, http)
    finally:
        gateway.stop()


@pytest.fixture
def event_bus(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"bus-{uuid.uuid4().hex[:8]}"
    create_event_bus(emulator.url, name)
    monkeypatch.setenv("EVENT_BUS_NAME", name)
    return name


@pytest.fixture
def world(table: str, component_env: None, event_bus: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Sandbox pushes reach our component_events through the gateway."""
    yield from _start_world(monkeypatch, None)


@pytest.fixture
def quiet_world(table: str, component_env: None, event_bus: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The sandbox's pushes go nowhere: only what the test does reaches our side."""
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/nowhere"
    yield from _start_world(monkeypatch, dead)
