"""A fresh deploy whose component secret still holds the placeholders `template.yaml` wrote (an
empty appid, token and key beside a generated secret): every door answers a clear 503 and stores
nothing, and the scheduled refresher reports it rather than failing (docs/deploy.md)."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from infra.local.bootstrap import create_component_secret
from infra.local.devconfig import DEFAULTS
from infra.local.emulator import Emulator
from infra.local.events import http_api_event
from infra.local.gateway import LOCAL_IAM, FakeLambdaContext
from tests.integration.conftest import load_function
from tests.support.pushes import signed_push, ticket_xml
from wxcomponent import bootstrap, settings

PLACEHOLDERS = {"component_appid": "", "token": "", "encoding_aes_key": "", "component_appsecret": "Gq8x2Yh3"}


@pytest.fixture
def placeholders(emulator: Emulator, table: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COMPONENT_SECRET_ID", create_component_secret(emulator.url, f"c-{table}", PLACEHOLDERS))
    settings.reset_caches()
    bootstrap.forget()
    yield
    settings.reset_caches()
    bootstrap.forget()


def items(table: str) -> list[dict[str, Any]]:
    return list(boto3.client("dynamodb").scan(TableName=table)["Items"])


@pytest.mark.usefixtures("placeholders")
def test_every_door_answers_503_and_stores_nothing(table: str) -> None:
    push = signed_push(ticket_xml("ticket@@@early", int(time.time())))
    event = http_api_event("POST", "/wechat/component/events", query=push.query, body=push.body)
    answer = load_function("component_events").lambda_handler(event, FakeLambdaContext("component_events"))
    assert answer["statusCode"] == 503 and answer["body"].startswith("not_configured: see the log"), answer

    vend = load_function("token_vending").lambda_handler
    invoked = vend({"kind": "component"}, FakeLambdaContext("token_vending"))
    assert invoked["error"]["code"] == "internal", invoked
    assert "component settings missing" in invoked["error"]["message"]
    event = http_api_event(
        "POST", "/tokens", headers={"content-type": "application/json"}, body='{"kind":"component"}', iam=LOCAL_IAM
    )
    over_http = vend(event, FakeLambdaContext("token_vending"))
    assert over_http["statusCode"] == 503, over_http

    start = load_function("authorization").lambda_handler(
        http_api_event("GET", "/wechat/authorize"), FakeLambdaContext("authorization")
    )
    assert start["statusCode"] == 503, start
    assert items(table) == []


@pytest.mark.usefixtures("placeholders")
def test_the_refresher_reports_an_unconfigured_platform_instead_of_failing() -> None:
    report = load_function("token_refresher").lambda_handler(
        {"source": "aws.events"}, FakeLambdaContext("token_refresher", 60)
    )
    assert report["failed"] == {"not_configured": 1} and report["due"] == 0
