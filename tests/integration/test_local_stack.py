"""The sandbox and our side together, over real HTTP: its pushes are accepted and acted on."""

from __future__ import annotations

import json

from tests.integration.conftest import World
from tests.support.graph import graph
from tests.support.pushes import APPID


def test_a_sandbox_ticket_reaches_the_table_and_buys_a_component_token(world: World) -> None:
    ticket = world.push_ticket()
    stored = graph().verify_tickets.get_ticket(APPID)
    assert stored is not None and stored.ticket == ticket
    answer = world.http.request(
        "POST",
        f"{world.sandbox.url}/cgi-bin/component/api_component_token",
        body=json.dumps(
            {
                "component_appid": APPID,
                "component_appsecret": "sandbox-component-appsecret-0001",
                "component_verify_ticket": stored.ticket,
            }
        ),
    )
    assert "component_access_token" in json.loads(answer.data)


def test_authorization_events_from_the_sandbox_are_answered_success(world: World) -> None:
    world.push_ticket()
    # update-authorization changes the permission sets: with the same ones WeChat pushes nothing.
    for path, body in (("authorize", {}), ("update-authorization", {"func_info": [1, 4]}), ("revoke", {})):
        answer = world.control("POST", path, {"appid": "wx570bc396a51b8ff8", **body})
        assert answer["delivery"]["ok"] is True, (path, answer["delivery"])
        assert answer["delivery"]["attempts"][0]["body"] == "success"
    grant = graph().authorizers.get_grant("wx570bc396a51b8ff8")
    assert grant is not None and grant.status == "revoked"
    assert world.calls("api_query_auth") == 2
