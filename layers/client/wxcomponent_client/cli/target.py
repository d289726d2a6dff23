"""Which stack the CLI talks to, and the core's object graph built for it.

`--stack NAME`: the caller's AWS credentials; CloudFormation's DescribeStacks names the table, the
vending function, the bus and the component secret (the stack's outputs) and WeChat's API host
(its `WeChatApiBase` parameter). `--local`: `make dev`'s stack on loopback, with dummy credentials.

Every client is made here with an explicit endpoint, region and credentials (never through AWS_*
variables), and the core's stores, bus and secret are handed to its composition root
(`wxcomponent.bootstrap.Container`), so the CLI runs the same code as the functions.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import click
import urllib3
from botocore.config import Config

from wxcomponent_client.tokens import TokenClient

if TYPE_CHECKING:
    from wxcomponent.bootstrap import Container
    from wxcomponent.settings import ComponentSettings

LOCAL_GATEWAY = "http://127.0.0.1:3000"
LOCAL_SANDBOX = "http://127.0.0.1:3100"
LOCAL_EMULATOR = "http://127.0.0.1:8000"
LOCAL_TABLE = "wxcomponent-local"
LOCAL_BUS = "wxcomponent-local"
LOCAL_SECRET = "wxcomponent-local/component"  # noqa: S105 - a name
LOCAL_FUNCTION = "token_vending"
DEFAULT_API_BASE = "https://api.weixin.qq.com"
STACK_OUTPUTS = ("TableName", "TokenVendingFunctionName", "EventBusName", "ComponentSecretId")
# Bounded like the core's own clients; the vending function's read timeout outlasts its 29 s.
CLIENT_CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
# SQS's long poll lasts 20 s: the read waits past it (events --follow).
SQS_CONFIG = Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})
LAMBDA_CONFIG = Config(connect_timeout=3, read_timeout=32, retries={"total_max_attempts": 2, "mode": "standard"})
_COMPONENT_KEYS = ("component_appid", "component_appsecret", "token", "encoding_aes_key")


@dataclass(eq=False)
class Target:
    name: str
    table_name: str
    vending_function: str
    event_bus_name: str
    component_secret_id: str
    api_base: str
    session: boto3.Session = field(repr=False)
    endpoints: dict[str, str] = field(default_factory=dict)  # service -> URL (the local stack)
    # Where the core goes when api_base cannot be reached: a stack's WeChatApiFallbacks; None, the
    # core's default for api_base (WeChat's disaster-recovery host after WeChat's own hosts).
    api_fallbacks: tuple[str, ...] | None = None
    whitelist_output: str | None = None  # a stack's WhitelistIps output, as CloudFormation shows it

    def client(self, service: str) -> Any:
        config = {"lambda": LAMBDA_CONFIG, "sqs": SQS_CONFIG}.get(service, CLIENT_CONFIG)
        return self.session.client(service, endpoint_url=self.endpoints.get(service), config=config)  # type: ignore[call-overload]

    @property
    def local(self) -> bool:
        return bool(self.endpoints)

    def token_client(self) -> TokenClient:
        return TokenClient(self.vending_function, lambda_client=self.client("lambda"), api_base=self.api_base)

    def describe(self) -> dict[str, str]:
        return {
            "target": self.name,
            "table": self.table_name,
            "vending_function": self.vending_function,
            "event_bus": self.event_bus_name,
            "component_secret": self.component_secret_id,
            "wechat_api": self.api_base,
        }

    def whitelist(self) -> dict[str, Any]:
        """The addresses WeChat is told to accept, for `status`: a stack's WhitelistIps output;
        make dev's, the sandbox's whitelist (its console's), which by default checks no address."""
        if not self.local:
            text = self.whitelist_output or ""
            ips = [part.strip() for part in text.split(",") if _is_ip(part.strip())]
            note = None if ips else (text or "the stack has no WhitelistIps output")
            return {"source": "WhitelistIps", "ips": ips, "note": note}
        try:
            answer = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=3)).request(
                "GET", f"{self.api_base}/sandbox/whitelist"
            )
            ips = json.loads(answer.data).get("ips")
        except (urllib3.exceptions.HTTPError, ValueError, AttributeError):
            return {"source": "the sandbox's whitelist", "ips": [], "note": "the sandbox did not say"}
        note = None if ips is not None else "the sandbox checks no address"
        return {"source": "the sandbox's whitelist", "ips": list(ips or []), "note": note}

    # -- the core --------------------------------------------------------------------------------

    @functools.cached_property
    def container(self) -> Container:
        """The core's composition root over this stack's table, bus and secret."""
        core_importable()
        from wxcomponent.adapters.dynamodb import Table, Tables  # noqa: PLC0415 - the core is optional
        from wxcomponent.adapters.dynamodb.refresh_runs import RefreshRunTable  # noqa: PLC0415
        from wxcomponent.adapters.eventbridge import EventBridgePublisher  # noqa: PLC0415
        from wxcomponent.bootstrap import Container  # noqa: PLC0415
        from wxcomponent.settings import Settings, default_api_fallbacks  # noqa: PLC0415

        table = Table(self.table_name, client=self.client("dynamodb"))
        fallbacks = default_api_fallbacks(self.api_base) if self.api_fallbacks is None else self.api_fallbacks
        settings = Settings(
            table_name=self.table_name,
            event_bus_name=self.event_bus_name,
            component_secret_id=self.component_secret_id,
            api_base=self.api_base,
            api_fallbacks=fallbacks,
            whitelist_ips=tuple(self.whitelist()["ips"]) if not self.local else (),
        )
        return Container(
            settings,
            stores=Tables.on(table),
            refresh_runs=RefreshRunTable(table),
            publisher=EventBridgePublisher(self.event_bus_name, client=self.client("events")),
            component=lambda: self.component,
        )

    @functools.cached_property
    def component(self) -> ComponentSettings:
        """The component's appid and credentials, from the stack's secret."""
        from wxcomponent.settings import ComponentSettings  # noqa: PLC0415

        answer = self.client("secretsmanager").get_secret_value(SecretId=self.component_secret_id)
        try:
            secret = json.loads(answer.get("SecretString") or "")
        except ValueError:
            secret = None
        if not isinstance(secret, dict):
            raise click.ClickException(f"the component secret {self.component_secret_id} is not a JSON object")
        missing = [key for key in _COMPONENT_KEYS if not isinstance(secret.get(key), str) or not secret[key]]
        if missing:
            raise click.ClickException(f"the component secret lacks {', '.join(missing)} (see the README, Deployment)")
        known = ComponentSettings.__dataclass_fields__
        return ComponentSettings(**{k: v for k, v in secret.items() if k in known and isinstance(v, str)})


def local_target(
    gateway: str = LOCAL_GATEWAY,
    sandbox: str = LOCAL_SANDBOX,
    emulator: str = LOCAL_EMULATOR,
    *,
    table: str = LOCAL_TABLE,
    bus: str = LOCAL_BUS,
    secret: str = LOCAL_SECRET,
) -> Target:
    """`make dev`'s stack: its gateway serves Lambda's Invoke API, the emulator the rest; the
    credentials are dummies (nothing on loopback checks them, but boto3 signs every request)."""
    session = boto3.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - a dummy, for loopback only
        region_name="us-east-1",
    )
    endpoints = {service: emulator for service in ("dynamodb", "secretsmanager", "events", "sqs")}
    endpoints["lambda"] = gateway
    return Target("local", table, LOCAL_FUNCTION, bus, secret, sandbox.rstrip("/"), session, endpoints)


def stack_target(name: str, *, region: str | None = None, profile: str | None = None) -> Target:
    """A deployed stack, found by name with the caller's credentials."""
    session = boto3.Session(region_name=region, profile_name=profile)
    cloudformation = session.client("cloudformation", config=CLIENT_CONFIG)
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [key for key in STACK_OUTPUTS if key not in outputs]
    if missing:
        raise click.ClickException(f"stack {name} has no output {', '.join(missing)}: is it a wxcomponent stack?")
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    return Target(
        name,
        outputs["TableName"],
        outputs["TokenVendingFunctionName"],
        outputs["EventBusName"],
        outputs["ComponentSecretId"],
        (parameters.get("WeChatApiBase") or DEFAULT_API_BASE).rstrip("/"),
        session,
        api_fallbacks=_fallbacks(parameters.get("WeChatApiFallbacks", "")),
        whitelist_output=outputs.get("WhitelistIps"),
    )


def _fallbacks(parameter: str) -> tuple[str, ...] | None:
    """The WeChatApiFallbacks parameter: empty, the core's default; "none", none; else the URLs."""
    if not parameter.strip():
        return None
    if parameter.strip() == "none":
        return ()
    return tuple(part.strip().rstrip("/") for part in parameter.split(",") if part.strip())


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


CORE_PYTHON = (3, 12)  # the core's, the Lambda runtime's: the rest of the CLI runs on 3.9 too


def core_importable() -> None:
    """The core package (layers/core/wxcomponent) is not on PyPI: the CLI uses the one of the
    checkout it was installed from (`pip install -e './layers/client[cli]'`), or PYTHONPATH's."""
    if sys.version_info < CORE_PYTHON:
        raise click.ClickException(
            "this command runs the token center's core, which needs Python 3.12 or newer (this is "
            f"{sys.version_info[0]}.{sys.version_info[1]}); vend, refresh, authorizers and events work here"
        )
    # Powertools reads these when the core's Logger and Metrics are made: an operator's terminal
    # wants warnings only, no traces and no metrics.
    for name, value in (
        ("POWERTOOLS_SERVICE_NAME", "wxcomponent-cli"),
        ("POWERTOOLS_LOG_LEVEL", "WARNING"),
        ("POWERTOOLS_TRACE_DISABLED", "true"),
        ("POWERTOOLS_METRICS_DISABLED", "true"),
        ("POWERTOOLS_METRICS_NAMESPACE", "WxComponent"),
    ):
        os.environ.setdefault(name, value)
    try:
        import wxcomponent  # noqa: F401, PLC0415
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parents[3] / "core"
        if not (checkout / "wxcomponent" / "__init__.py").is_file():
            raise click.ClickException(
                "this command needs the core package: install the CLI from a checkout of the repository "
                "(pip install -e './layers/client[cli]') or put <checkout>/layers/core on PYTHONPATH"
            ) from None
        sys.path.append(str(checkout))
