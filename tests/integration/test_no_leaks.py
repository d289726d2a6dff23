"""A whole flow with our logger at DEBUG: ticket, authorization through the browser's callback, a
vend of each kind (JS-SDK tickets too), a report, a refresh sweep, a message answered by the reply function, the release
checks. Nothing it handled that is secret may appear anywhere in what it printed: the component's
secret, token and key, tickets, codes, access and refresh tokens, what a user wrote, our reply."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest

from infra.local.devconfig import DEFAULTS
from infra.local.gateway import FakeLambdaContext
from tests.conftest import World
from tests.integration.conftest import load_function
from tests.support.browser import Browser
from tests.support.graph import age_stored_token, graph
from tests.support.pushes import account_message_xml, signed_message
from wxcomponent.keys import authorizer_key
from wxcomponent.observability import logger

ACCOUNT = "wx570bc396a51b8ff8"


def test_a_whole_flow_at_debug_prints_no_secret(
    world: World, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG, logger="wxcomponent")
    secrets: dict[str, str] = {
        name: DEFAULTS[name]
        for name in ("WECHAT_COMPONENT_APPSECRET", "WECHAT_COMPONENT_TOKEN", "WECHAT_COMPONENT_AES_KEY")
    }
    monkeypatch.setenv("MESSAGE_REPLY_FUNCTION_ARN", "ReplyEcho")
    secrets["ticket"] = world.push_ticket()
    code = world.control("POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    secrets["pushed auth code"] = code
    browser = Browser(world)
    browser.start()
    secrets["state"] = browser.callback_query["state"]
    second = world.control("POST", "update-authorization", {"appid": ACCOUNT})["auth_code"]
    secrets["second auth code"] = second
    assert browser.callback(second).status in (200, 400)
    grant = graph().authorizers.get_grant(ACCOUNT)
    assert grant is not None
    secrets["refresh token"] = grant.refresh_token

    vending = load_function("token_vending")
    for request in ({"kind": "component"}, {"kind": "authorizer", "appid": ACCOUNT}):
        answer = vending.lambda_handler(request, FakeLambdaContext("token_vending"))
        secrets[f"{request['kind']} token"] = answer["access_token"]
    age_stored_token(authorizer_key(ACCOUNT))
    reported = vending.lambda_handler(
        {"kind": "authorizer", "appid": ACCOUNT, "invalid_token": secrets["authorizer token"]},
        FakeLambdaContext("token_vending"),
    )
    secrets["replacement token"] = reported["access_token"]
    for kind in ("jsapi_ticket", "card_ticket"):  # fetched with the authorizer's token, then stored
        ticket = vending.lambda_handler({"kind": kind, "appid": ACCOUNT}, FakeLambdaContext("token_vending"))
        secrets[kind] = ticket["ticket"]
    load_function("token_refresher").lambda_handler({}, FakeLambdaContext("token_refresher", 60))

    words = "秘密的话 a user's private words 7731"
    gh = "gh_3c884a361561"
    push = signed_message(
        account_message_xml(gh, "oLeak", [("MsgType", "text"), ("Content", words), ("MsgId", "99")]), gh
    )
    answer = world.http.request(
        "POST", f"{world.gateway.url}/wechat/accounts/{ACCOUNT}/messages?{urlencode(push.query)}", body=push.body
    )
    assert answer.status == 200
    secrets["what the user wrote"] = words
    world.control("POST", "release-checks", {"wait": 10})

    out = capfd.readouterr()
    rendered = "\n".join(logger.registered_formatter.format(record) for record in caplog.records)
    printed = out.out + out.err + rendered
    assert len(caplog.records) >= 20 and ACCOUNT in rendered  # the logs were captured, appids and all
    leaked = {name for name, value in secrets.items() if value and value in printed}
    assert leaked == set(), leaked
