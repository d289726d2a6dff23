"""The local gateway over real HTTP: routes from template.yaml, payload-v2 events, real answers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import boto3
import pytest
import urllib3

from infra.local.gateway import Gateway
from infra.local.template import http_routes, load_template
from tests.support.pushes import signed_push, ticket_xml


@pytest.fixture
def gateway(table: str, component_env: None) -> Iterator[Gateway]:
    with Gateway(port=0) as running:
        yield running


def test_every_http_api_route_in_the_template_is_served(gateway: Gateway) -> None:
    declared = {(r.method, r.path) for r in http_routes(load_template())}
    assert ("POST", "/wechat/component/events") in declared
    assert {(r.method, r.path) for r in gateway.routes} == declared


def test_unsigned_post_is_4xx_and_a_genuine_push_is_success(gateway: Gateway) -> None:
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=10), retries=False)
    url = f"{gateway.url}/wechat/component/events"
    unsigned = http.request("POST", url, body=b"<xml><Encrypt>x</Encrypt></xml>", headers={"Content-Type": "text/xml"})
    assert unsigned.status == 400
    push = signed_push(ticket_xml("ticket@@@via-gateway", int(time.time())))
    genuine = http.request(
        "POST", f"{url}?{urlencode(push.query)}", body=push.body, headers={"Content-Type": "text/xml"}
    )
    assert (genuine.status, genuine.data) == (200, b"success")
    assert http.request("GET", f"{gateway.url}/no/such/route").status == 404
    assert http.request("GET", url).status == 404  # method is part of the route


@pytest.mark.parametrize(("succeed_on", "tries"), [(1, 1), (3, 3), (9, 3)])
def test_an_asynchronous_invoke_is_answered_202_and_retried_twice_like_lambda(
    tmp_path: Path, succeed_on: int, tries: int
) -> None:
    with Gateway(port=0, extra_functions={"Flaky": "tests/support/functions/flaky"}) as gateway:
        client = boto3.client("lambda", endpoint_url=gateway.url, region_name="us-east-1")
        log = tmp_path / "tries"
        payload = json.dumps({"path": str(log), "succeed_on": succeed_on}).encode()
        answer = client.invoke(FunctionName="Flaky", InvocationType="Event", Payload=payload)
        assert answer["StatusCode"] == 202
        assert gateway.wait_for_async(timeout=30)
        assert len(log.read_text().splitlines()) == tries  # one try, then Lambda's two retries at most
