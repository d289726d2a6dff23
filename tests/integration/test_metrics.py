"""Metrics are an operational contract (docs/observability.md lists them, alarms watch them): each handler,
run over the real wires with metrics switched on, prints the EMF blob CloudWatch reads, in our
namespace, with the metrics it promises."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from infra.local.gateway import FakeLambdaContext
from tests.conftest import World
from tests.integration.conftest import load_function
from tests.support.browser import Browser
from tests.support.pushes import account_message_xml, signed_message, signed_push, ticket_xml
from wxcomponent.observability import metrics

NAMESPACE = "WxComponent"


@pytest.fixture(autouse=True)
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # While disabled, Powertools keeps what earlier tests added: start from nothing (its own advice).
    metrics.clear_metrics()
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # Powertools reads it at each flush


def emf(out: str) -> dict[str, Any]:
    """Every metric value of every EMF blob printed, by name (values of repeated names summed)."""
    values: dict[str, Any] = {}
    for line in out.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        blob = json.loads(line)
        [directive] = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE
        assert ["service"] in directive["Dimensions"]
        for metric in directive["Metrics"]:
            value = blob[metric["Name"]]
            values[metric["Name"]] = values.get(metric["Name"], 0) + (sum(value) if isinstance(value, list) else value)
    return values


def test_component_events_counts_the_stored_ticket(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    push = signed_push(ticket_xml("ticket@@@metrics", int(time.time())))
    answer = world.http.request(
        "POST", f"{world.gateway.url}/wechat/component/events?{urlencode(push.query)}", body=push.body
    )
    assert answer.data == b"success"
    assert emf(capsys.readouterr().out)["TicketStored"] == 1


def test_authorization_counts_the_stored_authorization(quiet_world: World, capsys: pytest.CaptureFixture[str]) -> None:
    quiet_world.push_ticket_to_table()
    code = quiet_world.control("POST", "authorize", {"appid": "wx570bc396a51b8ff8"})["auth_code"]
    browser = Browser(quiet_world)
    browser.start()
    page = browser.callback(code)
    assert page.status == 200
    assert emf(capsys.readouterr().out)["AuthorizationStored"] == 1


def test_token_vending_counts_the_vend(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.push_ticket()
    module = load_function("token_vending")
    answer = module.lambda_handler({"kind": "component"}, FakeLambdaContext("token_vending"))
    assert "access_token" in answer
    assert emf(capsys.readouterr().out)["TokenVended"] == 1


def test_the_refresher_reports_the_sweep(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.push_ticket()
    module = load_function("token_refresher")
    module.lambda_handler({"source": "aws.events"}, FakeLambdaContext("token_refresher", 60))
    metrics = emf(capsys.readouterr().out)
    assert metrics["AuthorizersDue"] == 0 and "TicketAge" in metrics and metrics["ComponentTokenRefreshed"] == 1
    assert 7000 < metrics["ComponentTokenLifeLeft"] <= 7200  # just refreshed: about its 2 hours


def test_account_messages_counts_the_published_message(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.push_ticket()
    account = next(a for a in world.control("GET", "state")["accounts"] if a["kind"] == "official_account")
    world.control("POST", "authorize", {"appid": account["appid"]})
    capsys.readouterr()
    gh = account["user_name"]
    push = signed_message(
        account_message_xml(gh, "oMetrics", [("MsgType", "text"), ("Content", "hi"), ("MsgId", "77")]), gh
    )
    url = f"{world.gateway.url}/wechat/accounts/{account['appid']}/messages?{urlencode(push.query)}"
    assert world.http.request("POST", url, body=push.body).data == b"success"
    assert emf(capsys.readouterr().out)["AccountMessagePublished"] == 1
