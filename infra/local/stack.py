"""The whole system on loopback (`make dev`): emulator, table, WeChat sandbox, gateway, schedule."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from infra.local import devconfig
from infra.local.bootstrap import create_component_secret, create_event_bus, create_table
from infra.local.bus import BusTail
from infra.local.emulator import Emulator, start_emulator
from infra.local.gateway import Gateway
from infra.local.template import http_routes, load_template

TABLE_NAME = "wxcomponent-local"
EVENT_BUS_NAME = "wxcomponent-local"
SECRET_NAME = "wxcomponent-local/component"  # noqa: S105 - a name, not a secret
# The example reply function (examples/message_reply), invocable locally as if deployed.
REPLY_EXAMPLE = "MessageReplyExample"
REPLY_EXAMPLE_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{REPLY_EXAMPLE}"


@dataclass
class StackPorts:
    gateway: int = devconfig.GATEWAY_PORT
    sandbox: int = devconfig.SANDBOX_PORT
    emulator: int = devconfig.EMULATOR_PORT

    @classmethod
    def from_environment(cls) -> StackPorts:
        return cls(
            gateway=int(os.environ.get("GATEWAY_PORT", devconfig.GATEWAY_PORT)),
            sandbox=int(os.environ.get("SANDBOX_PORT", devconfig.SANDBOX_PORT)),
            emulator=int(os.environ.get("EMULATOR_PORT", devconfig.EMULATOR_PORT)),
        )


def local_environment(emulator_url: str, sandbox_url: str, gateway_url: str) -> dict[str, str]:
    """What the handlers' environment holds locally in place of the template's references."""
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": emulator_url,
        "TABLE_NAME": TABLE_NAME,
        "COMPONENT_SECRET_ID": SECRET_NAME,
        "WECHAT_API_BASE": sandbox_url,
        "WECHAT_MP_BASE": sandbox_url,
        "EVENT_BUS_NAME": EVENT_BUS_NAME,
        "PUBLIC_BASE_URL": gateway_url,
        # Lambda Invoke (our asynchronous tasks, the reply function) goes to the local gateway.
        "AWS_ENDPOINT_URL_LAMBDA": gateway_url,
        "TASKS_FUNCTION": "ComponentEventsFunction",  # the template's !Ref, as the gateway names it
        "MESSAGE_REPLY_FUNCTION_ARN": REPLY_EXAMPLE_ARN,
        "PRODUCT_NAME": "Demo SaaS (local)",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        **devconfig.component_settings(),
    }


def apply_template_defaults(template: dict[str, Any]) -> None:
    """The template's own environment values where the local stack has none: plain strings as
    declared, and references to parameters as their defaults."""
    parameters = template.get("Parameters", {})
    for route in http_routes(template):
        for name, declared in route.environment.items():
            value = declared
            if isinstance(declared, dict) and set(declared) == {"Ref"} and declared["Ref"] in parameters:
                value = parameters[declared["Ref"]].get("Default")
            if isinstance(value, str):
                os.environ.setdefault(name, value)


@dataclass
class Stack:
    emulator: Emulator
    gateway: Gateway
    sandbox: Any  # infra.sandbox.Sandbox, when present
    schedule: Schedule

    def describe(self) -> str:
        lines = [
            "wxcomponent-serverless, running locally:",
            f"  gateway (HTTP API, payload v2)  {self.gateway.url}",
        ]
        for route in self.gateway.routes:
            lines.append(f"      {route.method:6} {self.gateway.url}{route.path}  → {route.function}")
        if self.sandbox is not None:
            sandbox = self.sandbox.url
            lines.append(f"  WeChat sandbox                  {sandbox}  (control page: {sandbox}/sandbox/)")
        lines.append(f"  moto server (DynamoDB, Secrets Manager, EventBridge)  {self.emulator.url}")
        lines.append(f"  schedule: token_refresher every {self.schedule.interval:g} s (EventBridge in AWS)")
        lines.append(f"  Lambda Invoke: boto3.client('lambda', endpoint_url='{self.gateway.url}')")
        lines.append(f"  reply function: {REPLY_EXAMPLE} (examples/message_reply); bus events are echoed as 'bus: …'")
        lines.append(f"  table {TABLE_NAME}, secret {SECRET_NAME}")
        return "\n".join(lines)


class Schedule:
    """Plays the EventBridge schedule: invokes the refresher every `interval` seconds."""

    def __init__(self, gateway: Gateway, function: str, interval: float) -> None:
        self._gateway = gateway
        self._function = function
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedule", daemon=True)
        self.runs = 0

    def start(self) -> Schedule:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        function = self._gateway.function(self._function)
        if function is None:
            return
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        while not self._stop.wait(self.interval):
            try:
                self._gateway.invoke_function(function, event)
            except Exception as exc:  # noqa: BLE001 - a failed run is logged; the next one comes
                sys.stderr.write(f"schedule: {self._function} raised {type(exc).__name__}\n")
            self.runs += 1


@contextmanager
def run_stack(
    ports: StackPorts,
    *,
    ticket_interval: float = 10.0,
    refresh_interval: float = 30.0,
    echo_emulator: bool = False,
) -> Iterator[Stack]:
    with ExitStack() as stack:
        emulator = stack.enter_context(start_emulator(port=ports.emulator, echo=echo_emulator))
        sandbox_url = f"http://127.0.0.1:{ports.sandbox}"
        gateway_url = f"http://127.0.0.1:{ports.gateway}"
        os.environ.update(local_environment(emulator.url, sandbox_url, gateway_url))
        apply_template_defaults(load_template())
        create_table(emulator.url, TABLE_NAME)
        create_event_bus(emulator.url, EVENT_BUS_NAME)
        create_component_secret(
            emulator.url,
            SECRET_NAME,
            {
                "component_appid": os.environ["WECHAT_COMPONENT_APPID"],
                "component_appsecret": os.environ["WECHAT_COMPONENT_APPSECRET"],
                "token": os.environ["WECHAT_COMPONENT_TOKEN"],
                "encoding_aes_key": os.environ["WECHAT_COMPONENT_AES_KEY"],
            },
        )
        gateway = stack.enter_context(
            Gateway(port=ports.gateway, extra_functions={REPLY_EXAMPLE: "examples/message_reply"})
        )
        bus_tail = BusTail(emulator.url, EVENT_BUS_NAME).start()
        stack.callback(bus_tail.stop)
        sandbox = _start_sandbox(stack, ports, gateway.url, ticket_interval)
        schedule = Schedule(gateway, "token_refresher", refresh_interval).start()
        stack.callback(schedule.stop)
        yield Stack(emulator, gateway, sandbox, schedule)


def _start_sandbox(stack: ExitStack, ports: StackPorts, gateway_url: str, ticket_interval: float) -> Any:
    try:
        from infra.sandbox import Sandbox, SandboxConfig  # noqa: PLC0415 - the sandbox is optional
    except ImportError:
        return None
    config = SandboxConfig(
        port=ports.sandbox,
        ticket_interval=ticket_interval,
        component_events_url=f"{gateway_url}/wechat/component/events",
        account_messages_url=gateway_url + "/wechat/accounts/{appid}/messages",
        start_domain=gateway_url,
    )
    sandbox = Sandbox(config)
    sandbox.start()
    stack.callback(sandbox.stop)
    return sandbox
