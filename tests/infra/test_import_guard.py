"""A regression guard for cold starts (issue 13, docs/BENCHMARKS.md): importing a handler, in a fresh
process, pulls in nothing on a short deny list and makes no AWS client; a direct Invoke of
token_vending makes the DynamoDB client only and never loads the HTTP resolver.

Each process runs the dev venv's interpreter with `-I` (none of the caller's environment) and the
function's folder and the core ahead on its path, as Lambda has /var/task and /opt/python. Clients
are counted by wrapping botocore's `Session.create_client` before anything is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from infra.local.devconfig import DEFAULTS
from infra.local.emulator import Emulator
from infra.local.template import ROOT
from tests.support.graph import graph
from wxcomponent.domain.grants import AUTHORIZED, Grant
from wxcomponent.domain.tokens import AccessToken

FUNCTIONS = ["component_events", "authorization", "account_messages", "token_vending", "token_refresher"]
# Packages no handler may import, and why each is here (what we measured, docs/BENCHMARKS.md):
DENIED = {
    # Tracing is Lambda's own (docs/decisions.md, "Tracing by Lambda alone"): the X-Ray SDK cost
    # 70 ms of CPU at a cold start and 125 µs on every AWS call, and builds a botocore session of
    # its own outside Lambda; wrapt came with it only.
    "aws_xray_sdk": "X-Ray SDK",
    "wrapt": "the X-Ray SDK's patching",
    "opentelemetry": "an OpenTelemetry SDK (slower still: 130 ms at a cold start, 250 µs a call)",
    # Powertools' extras we do not use: pydantic (its parser, and models we replaced with
    # dataclasses: docs/STYLE) and fastjsonschema (its validator) cost tens of ms to import.
    "pydantic": "pydantic (Powertools' parser extra)",
    "fastjsonschema": "fastjsonschema (Powertools' validation extra)",
}
# What a direct Invoke of token_vending, the usual door, must not pay for: Powertools' HTTP resolver
# (its package imports every resolver it has, asyncio among them: about 45 ms of CPU), the merchant
# authorization's service, and Powertools' parameters (a vend never reads the secret).
DENIED_FOR_AN_INVOKE = {
    "aws_lambda_powertools.event_handler": "the HTTP resolver",
    "aws_lambda_powertools.utilities.data_classes": "the resolver's event classes",
    "asyncio": "asyncio (Powertools' AppSync resolver)",
    "wxcomponent.services.caller_policy": "the HTTP route's caller policy",
    "wxcomponent.services.authorization": "the merchant authorization's service",
    "aws_lambda_powertools.utilities.parameters": "Powertools' parameters (the secret is not read)",
}
PROBE = """
import json, os, sys
spec = json.loads(sys.stdin.read())
sys.path[:0] = spec["path"]
import botocore.session
made = []
create_client = botocore.session.Session.create_client
def counting(self, service_name, *args, **kwargs):
    made.append(service_name)
    return create_client(self, service_name, *args, **kwargs)
botocore.session.Session.create_client = counting
import app
report = {"imported": sorted(sys.modules), "clients_at_import": list(made)}
if spec.get("event") is not None:
    class Context:
        function_name = "probe"
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"
        memory_limit_in_mb = 512
        aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
        def get_remaining_time_in_millis(self):
            return 10000
    report["answer"] = sorted(app.lambda_handler(spec["event"], Context()))
    report["served"] = sorted(sys.modules)
report["clients"] = made
sys.stdout.write("\\nPROBE " + json.dumps(report) + "\\n")
"""


def _probe(function: str, env: dict[str, str], event: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = {"path": [str(ROOT / "functions" / function), str(ROOT / "layers" / "core")], "event": event}
    done = subprocess.run(  # the dev venv's interpreter, isolated from the caller's environment
        [sys.executable, "-I", "-c", PROBE],
        input=json.dumps(spec),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [line] = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    report: dict[str, Any] = json.loads(line.removeprefix("PROBE "))
    return report


def _denied(modules: list[str], denied: dict[str, str]) -> dict[str, str]:
    return {m: denied[p] for m in modules for p in denied if m == p or m.startswith(p + ".")}


def _lambda_env(**extra: str) -> dict[str, str]:
    """Lambda's variables and the template's Powertools settings, nothing of the caller's."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_FUNCTION_NAME": "probe",
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "wxcomponent",
        "POWERTOOLS_METRICS_NAMESPACE": "WxComponent",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        **extra,
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_importing_a_handler_pulls_in_nothing_denied_and_makes_no_client(function: str) -> None:
    report = _probe(function, _lambda_env())
    assert "app" in report["imported"] and "wxcomponent.bootstrap" in report["imported"]  # it did import
    assert _denied(report["imported"], DENIED) == {}
    assert report["clients_at_import"] == []  # every client is made on first use
    if function == "token_vending":
        assert _denied(report["imported"], DENIED_FOR_AN_INVOKE) == {}


def test_the_guard_sees_what_it_denies() -> None:
    """The probe would report a denied import: the X-Ray SDK's own import, through the same path."""
    modules = ["aws_xray_sdk", "aws_xray_sdk.core", "wrapt.wrappers", "asyncio.events", "json"]
    assert set(_denied(modules, DENIED)) == {"aws_xray_sdk", "aws_xray_sdk.core", "wrapt.wrappers"}
    assert set(_denied(modules, DENIED_FOR_AN_INVOKE)) == {"asyncio.events"}


def test_a_direct_invoke_of_token_vending_makes_the_table_client_only(table: str, emulator: Emulator) -> None:
    """A vend from the table: one DynamoDB client, no Secrets Manager, EventBridge or Lambda client,
    and still no HTTP resolver."""
    appid, now = "wx0123456789abcdef", int(time.time())
    stores = graph()
    stores.authorizers.save_grant(
        Grant(appid, DEFAULTS["WECHAT_COMPONENT_APPID"], "refresh@@@guard", (1,), AUTHORIZED, now, now),
        refresh_due=now + 6000,
    )
    stores.authorizers.save_authorizer_token(AccessToken.issued(appid, "guard-token", 7200, now))
    env = _lambda_env(
        AWS_ENDPOINT_URL=emulator.url, TABLE_NAME=table, EVENT_BUS_NAME="default", COMPONENT_SECRET_ID="unused"
    )
    report = _probe("token_vending", env, {"kind": "authorizer", "appid": appid})
    assert "access_token" in report["answer"] and "error" not in report["answer"]
    assert report["clients"] == ["dynamodb"]
    assert _denied(report["served"], {**DENIED, **DENIED_FOR_AN_INVOKE}) == {}
