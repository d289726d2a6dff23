"""Refusals that say what to do next, end to end (issue 21): the real token_vending handler by direct
Invoke and by signed `POST /tokens` through the local gateway, the table in the emulator, the
sandbox playing the merchants. A caller allowed to ask for an appid learns why it gets nothing (never
authorized here, revoked, must authorize again, the component's own appid); a caller the policy does
not allow gets the one vague answer, whatever the appid."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from infra.local.gateway import LOCAL_IAM, FakeLambdaContext
from tests.integration.conftest import load_function
from tests.support.graph import graph
from tests.support.pushes import APPID
from tests.support.sigv4 import post_tokens
from wxcomponent.services.vending import NOT_AUTHORIZED_MESSAGE

if TYPE_CHECKING:
    from tests.conftest import World

ACCOUNT = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account
NEVER = "wx0123456789abcdef"  # an appid no merchant authorized here
CALLER = str(LOCAL_IAM["userArn"])
VAGUE = {"error": {"code": "not_authorized", "message": NOT_AUTHORIZED_MESSAGE}}


def invoke(payload: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = load_function("token_vending").lambda_handler(payload, FakeLambdaContext("token_vending"))
    return answer


def post(world: World, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = post_tokens(world.http, world.gateway.url, payload)
    return answer.status, json.loads(answer.data)


def refusal(world: World, payload: dict[str, Any]) -> dict[str, Any]:
    """The error of both doors, which must agree: over HTTP a 404."""
    invoked = invoke(payload)
    status, body = post(world, payload)
    assert status == 404 and body == invoked, (status, body, invoked)
    error: dict[str, Any] = body["error"]
    assert error["code"] == "not_authorized"
    return error


def authorize(world: World, appid: str = ACCOUNT) -> None:
    world.push_ticket()
    assert world.control("POST", "authorize", {"appid": appid})["delivery"]["ok"]


def test_an_appid_never_authorized_here_sends_the_merchant_to_the_start_page(world: World) -> None:
    world.push_ticket()
    never = refusal(world, {"kind": "authorizer", "appid": NEVER})
    assert never["reason"] == "unknown" and "/wechat/authorize" in never["message"]
    # A sandbox account that exists at WeChat but never authorized us reads the same: we cannot tell.
    assert refusal(world, {"kind": "jsapi_ticket", "appid": ACCOUNT}) == never
    assert world.calls("api_authorizer_token") == 0


def test_a_revoked_account_must_authorize_again(world: World) -> None:
    authorize(world)
    assert world.control("POST", "revoke", {"appid": ACCOUNT})["delivery"]["ok"]
    for kind in ("authorizer", "jsapi_ticket", "card_ticket"):
        revoked = refusal(world, {"kind": kind, "appid": ACCOUNT})
        assert revoked["reason"] == "revoked", revoked
        assert "revoked" in revoked["message"] and "/wechat/authorize" in revoked["message"]
    # Authorizing again is the way back.
    authorize(world)
    assert invoke({"kind": "authorizer", "appid": ACCOUNT})["appid"] == ACCOUNT


def test_an_account_whose_refresh_token_wechat_refuses_must_authorize_again(world: World) -> None:
    authorize(world)
    held = graph().authorizers.get_grant(ACCOUNT)
    assert held is not None
    assert graph().authorizers.mark_needs_reauthorization(ACCOUNT, held.refresh_token, int(time.time()))
    again = refusal(world, {"kind": "authorizer", "appid": ACCOUNT})
    assert again["reason"] == "needs_reauthorization" and "/wechat/authorize" in again["message"]


@pytest.mark.parametrize("kind", ["authorizer", "jsapi_ticket", "card_ticket"])
def test_the_components_own_appid_sent_as_an_authorizer_is_told_to_ask_for_kind_component(
    world: World, kind: str
) -> None:
    world.push_ticket()
    mistaken = refusal(world, {"kind": kind, "appid": APPID})
    assert mistaken["reason"] == "component_appid" and '"kind": "component"' in mistaken["message"]
    assert invoke({"kind": "component"})["appid"] == APPID  # which is what it should have asked


def test_web_login_with_the_components_appid_or_an_unknown_one_says_why(world: World) -> None:
    world.push_ticket()
    request = {"kind": "web_login", "code": "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"}
    assert refusal(world, {**request, "appid": APPID})["reason"] == "component_appid"
    assert refusal(world, {**request, "appid": NEVER})["reason"] == "unknown"
    assert world.calls("sns_component_access_token") == 0  # refused before WeChat sees the code


def test_a_caller_the_policy_does_not_allow_learns_nothing_about_the_appid(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    authorize(world)
    assert world.control("POST", "revoke", {"appid": ACCOUNT})["delivery"]["ok"]
    # Allowed one kind of one appid: told why for that, and for nothing else.
    monkeypatch.setenv("CALLER_POLICY", json.dumps({CALLER: [f"{ACCOUNT}:jsapi_ticket"]}))
    status, allowed = post(world, {"kind": "jsapi_ticket", "appid": ACCOUNT})
    assert status == 404 and allowed["error"]["reason"] == "revoked"
    for request in (
        {"kind": "authorizer", "appid": ACCOUNT},  # revoked, but not this caller's to know
        {"kind": "jsapi_ticket", "appid": NEVER},  # never authorized
        {"kind": "authorizer", "appid": APPID},  # the component's own
        {"kind": "web_login", "appid": APPID, "code": "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"},
    ):
        assert post(world, request) == (404, VAGUE), request
    # Nobody at all: the same.
    monkeypatch.setenv("CALLER_POLICY", "{}")
    assert post(world, {"kind": "jsapi_ticket", "appid": ACCOUNT}) == (404, VAGUE)
