"""The whole system on loopback (`make dev`): emulator, table, WeChat sandbox, gateway, schedule."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.local import devconfig, saved_state
from infra.local.bootstrap import create_component_secret, create_event_bus, create_table
from infra.local.bus import BusTail
from infra.local.emulator import Emulator, EmulatorFailed, start_emulator
from infra.local.events import LOCAL_TOKENS_DOOR
from infra.local.gateway import CORE, Gateway
from infra.local.ports import EMULATOR, GATEWAY, SANDBOX, PortInUse, PortProblem, check_ports, read_port
from infra.local.saved_state import Keeper, StateUnusable, shown
from infra.local.sigv4 import LOCAL_ACCESS_KEY, LOCAL_REGION, LOCAL_SECRET_KEY
from infra.local.template import Route, http_routes, load_template

TABLE_NAME = "wxcomponent-local"
EVENT_BUS_NAME = "wxcomponent-local"
SECRET_NAME = "wxcomponent-local/component"  # noqa: S105 - a name, not a secret
# The example reply function (examples/message_reply), invocable locally as if deployed.
REPLY_EXAMPLE = "MessageReplyExample"
REPLY_EXAMPLE_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{REPLY_EXAMPLE}"
# A vendor's H5 page (examples/web_login): web login and wx.config for an authorized account.
WEB_LOGIN_DEMO = "WebLoginDemo"
WEB_LOGIN_DEMO_PATH = "/demo/web-login"
DEMO_ROUTES = [
    Route("GET", path, WEB_LOGIN_DEMO, "examples/web_login", "app.lambda_handler")
    for path in (WEB_LOGIN_DEMO_PATH, f"{WEB_LOGIN_DEMO_PATH}/config")
]


@dataclass
class StackPorts:
    gateway: int = devconfig.GATEWAY_PORT
    sandbox: int = devconfig.SANDBOX_PORT
    emulator: int = devconfig.EMULATOR_PORT

    @classmethod
    def from_environment(cls) -> StackPorts:
        """GATEWAY_PORT, SANDBOX_PORT, EMULATOR_PORT (0: any free port); PortProblem when one is not a port."""
        return cls(gateway=read_port(GATEWAY), sandbox=read_port(SANDBOX), emulator=read_port(EMULATOR))

    def problems(self) -> list[PortProblem]:
        """Every port that is taken or given twice, checked before anything starts."""
        return check_ports({GATEWAY: self.gateway, SANDBOX: self.sandbox, EMULATOR: self.emulator})


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
        "TOKENS_DOOR": LOCAL_TOKENS_DOOR,  # the stage variable the local gateway adds, as API Gateway would
        "POWERTOOLS_SERVICE_NAME": "wxcomponent",  # a stack's name in AWS (the template's !Ref AWS::StackName)
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
    notes: list[str] = field(default_factory=list)  # what happened to the saved state, for the console

    def describe(self) -> str:
        lines = [
            "wxcomponent-serverless, running locally:",
            f"  gateway (HTTP API, payload v2)  {self.gateway.url}",
        ]
        for route in self.gateway.routes:
            if route in DEMO_ROUTES:  # not the stack's: announced below
                continue
            lines.append(f"      {route.method:6} {self.gateway.url}{route.path}  → {route.function}")
        if self.sandbox is not None:
            sandbox = self.sandbox.url
            lines.append(f"  WeChat sandbox                  {sandbox}  (control page: {sandbox}/sandbox/)")
        lines.append(
            f"  moto server (DynamoDB, Secrets Manager, EventBridge)  {self.emulator.url}  (pid {self.emulator.pid})"
        )
        lines.append(f"  schedule: token_refresher every {self.schedule.interval:g} s (EventBridge in AWS)")
        lines.append(f"  Lambda Invoke: boto3.client('lambda', endpoint_url='{self.gateway.url}')")
        lines.append(
            f"  credentials: access key {LOCAL_ACCESS_KEY}, secret {LOCAL_SECRET_KEY}, region {LOCAL_REGION}"
            " (POST /tokens checks the SigV4 signature: docs/callers.md)"
        )
        lines.append(f"  reply function: {REPLY_EXAMPLE} (examples/message_reply); bus events are echoed as 'bus: …'")
        lines.append(
            f"  demo page: {self.gateway.url}{WEB_LOGIN_DEMO_PATH}?appid=wx570bc396a51b8ff8"
            " (examples/web_login: web login and wx.config, once that account has authorized)"
        )
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
    state: Path | None = None,
    save_interval: float = 2.0,
    on_failure: Callable[[str], None] | None = None,
    out: IO[str] | None = None,
) -> Iterator[Stack]:
    """The whole stack, until the block ends. `state`: the file the table, the secret and the
    sandbox's world are restored from and saved to (None: nothing is kept). `on_failure` hears, in
    one line, that a part died on its own (the emulator, the gateway, the sandbox). A busy port is
    PortInUse, before anything else starts when it can be seen first."""
    console = out or sys.stdout
    stopping = threading.Event()
    with ExitStack() as stack:
        emulator = stack.enter_context(_start_emulator(ports.emulator, echo_emulator))
        sandbox_url = f"http://127.0.0.1:{ports.sandbox}"
        gateway_url = f"http://127.0.0.1:{ports.gateway}"
        os.environ.update(local_environment(emulator.url, sandbox_url, gateway_url))
        apply_template_defaults(load_template())
        component = devconfig.component_settings()
        sandbox = _sandbox(ports, gateway_url, ticket_interval, console)
        world = sandbox.world if sandbox is not None else None
        create_table(emulator.url, TABLE_NAME)
        create_event_bus(emulator.url, EVENT_BUS_NAME)
        secret: dict[str, Any] = {}
        notes: list[str] = []
        keeper: Keeper | None = None
        if state is not None:
            keeper = Keeper(
                state, emulator.url, TABLE_NAME, SECRET_NAME, component["WECHAT_COMPONENT_APPID"], lambda: world
            )
            secret, notes = _restore(keeper, emulator.url, world)
        # The four component values come from the environment (the sandbox plays that component);
        # anything else a developer put in the secret (caller_policy) is kept.
        secret.update(
            {
                "component_appid": component["WECHAT_COMPONENT_APPID"],
                "component_appsecret": component["WECHAT_COMPONENT_APPSECRET"],
                "token": component["WECHAT_COMPONENT_TOKEN"],
                "encoding_aes_key": component["WECHAT_COMPONENT_AES_KEY"],
            }
        )
        create_component_secret(emulator.url, SECRET_NAME, secret)
        if keeper is not None:  # registered here, so it runs once the parts below have stopped
            stack.callback(_save_at_stop, keeper, emulator, console)
        gateway = stack.enter_context(_gateway(ports.gateway))
        if keeper is not None:
            stack.callback(gateway.wait_for_async, 10.0)  # an authorization's exchange lands before the save
        bus_tail = BusTail(emulator.url, EVENT_BUS_NAME).start()
        stack.callback(bus_tail.stop)
        if sandbox is not None:
            _start(sandbox, ports.sandbox)
            stack.callback(sandbox.stop)
        schedule = Schedule(gateway, "token_refresher", refresh_interval).start()
        stack.callback(schedule.stop)
        if keeper is not None:
            keeper.save_every(save_interval, console)
            stack.callback(keeper.stop_saving)
        if on_failure is not None:
            _watch(lambda: _exit_status(emulator), "the DynamoDB emulator (moto server)", stopping, on_failure)
            _watch(gateway.join, "the local gateway", stopping, on_failure)
            if sandbox is not None:
                _watch(sandbox.join, "the WeChat sandbox", stopping, on_failure)
        stack.callback(stopping.set)  # first thing on the way out: parts stopping now are not failures
        yield Stack(emulator, gateway, sandbox, schedule, notes)


def _start_emulator(port: int, echo: bool) -> Emulator:
    try:
        return start_emulator(port=port, echo=echo)
    except EmulatorFailed as exc:
        if exc.address_in_use:
            raise PortInUse(EMULATOR, port) from None
        raise


def _gateway(port: int) -> Gateway:
    try:
        return Gateway(port=port, extra_functions={REPLY_EXAMPLE: "examples/message_reply"}, extra_routes=DEMO_ROUTES)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(GATEWAY, port) from None
        raise


def _sandbox(ports: StackPorts, gateway_url: str, ticket_interval: float, console: IO[str]) -> Any:
    """The WeChat sandbox, built but not started (its world may be restored first); what it reports
    (the release checks' outcome) goes to the console."""
    if str(CORE) not in sys.path:  # the sandbox seals its pushes with the core's crypto
        sys.path.insert(0, str(CORE))
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
        report=lambda line: print(line, file=console, flush=True),
    )
    return Sandbox(config)


def _start(sandbox: Any, port: int) -> None:
    try:
        sandbox.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(SANDBOX, port) from None
        raise


def _restore(keeper: Keeper, emulator_url: str, world: Any) -> tuple[dict[str, Any], list[str]]:
    """Restores the saved state into the new table and the sandbox's world, all or nothing; the
    saved secret, and a few lines for the console that say what happened and what is kept."""
    path = keeper.path
    kept = (
        "state: kept: the table, the secret, the sandbox's grants, tokens, tickets, customer-service "
        "allowances and switches; not kept: bus events in flight, the sandbox's faults and its logs "
        "(calls, pushes, messages); make dev-reset forgets it"
    )
    try:
        saved = saved_state.read(path, keeper.component_appid)
        if saved is None:
            return {}, [f"state: none saved yet; saved to {shown(path)} as it changes and at stop", kept]
        if world is not None and saved.sandbox is not None:
            world.restore(saved.sandbox)
        keeper.restore_items(saved.items)
    except (StateUnusable, ValueError) as exc:
        if world is not None:
            world.reset()
        _recreate_table(emulator_url)
        bad = saved_state.set_aside(path)
        return {}, [f"state: {shown(path)} cannot be restored ({exc}); moved to {shown(bad)}, starting fresh", kept]
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(saved.saved_at))
    what = f"{len(saved.items)} table item{'' if len(saved.items) == 1 else 's'}"
    if world is not None and saved.sandbox is not None:
        authorized = sum(1 for account in world.merchants.states() if account["status"] == "authorized")
        what += f", {authorized} authorized sandbox account{'' if authorized == 1 else 's'}"
        if any(ticket["expires_at"] > world.clock.now() for ticket in world.component.tickets()):
            # WeChat does not push a ticket because a service restarted: the next one comes on schedule.
            world.config.push_ticket_on_start = False
    elif world is not None:
        what += "; the sandbox's world was not saved, so it starts fresh"
    return dict(saved.secret or {}), [f"state: restored from {shown(path)}, saved {when} ({what})", kept]


def _recreate_table(emulator_url: str) -> None:
    client = boto3.client("dynamodb", endpoint_url=emulator_url, region_name="us-east-1")
    client.delete_table(TableName=TABLE_NAME)
    client.get_waiter("table_not_exists").wait(TableName=TABLE_NAME, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    create_table(emulator_url, TABLE_NAME)


def _save_at_stop(keeper: Keeper, emulator: Emulator, out: IO[str]) -> None:
    """The last save, once nothing else runs; a dead emulator leaves the last periodic save."""
    keeper.stop_saving()
    if emulator.process.poll() is None:
        try:
            keeper.save()
            out.write(f"state: saved to {shown(keeper.path)}\n")
            out.flush()
            return
        except (BotoCoreError, ClientError, OSError, ValueError) as exc:
            reason = type(exc).__name__
    else:
        reason = "the emulator is gone"
    last = time.strftime("%H:%M:%S", time.localtime(keeper.saved_at)) if keeper.saved_at else None
    if last:
        kept = f"the save of {last} is kept"
    else:
        kept = "the state it started from is kept" if keeper.path.exists() else "nothing is saved"
    out.write(f"state: not saved at stop ({reason}); {kept}\n")
    out.flush()


def _exit_status(emulator: Emulator) -> str:
    code = emulator.wait()
    if code < 0:
        return f"was killed by {signal.Signals(-code).name} (pid {emulator.pid})"
    return f"exited with code {code} (pid {emulator.pid})"


def _watch(wait: Callable[[], str | None], part: str, stopping: threading.Event, report: Callable[[str], None]) -> None:
    """Reports `part` dead when `wait` returns while the stack is not stopping."""

    def run() -> None:
        how = wait() or "stopped serving"
        if not stopping.is_set():
            report(f"{part} {how}")

    threading.Thread(target=run, name=f"watch: {part}", daemon=True).start()
