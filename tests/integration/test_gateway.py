"""The local gateway over real HTTP: routes from template.yaml, payload-v2 events, real answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlencode

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
