"""JS-SDK tickets end to end: the real token_vending handler (direct invoke and `POST /tokens`), the
sandbox playing getticket and the JS-SDK's config check, the emulator holding the table.

The worker below runs in spawned processes, which must keep the environment the test gave them:
nothing at this module's top level sets any.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from infra.local.gateway import LOCAL_IAM, FakeLambdaContext
from tests.integration.conftest import load_function
from tests.support.graph import age_js_ticket, age_stored_token, graph
from tests.support.sigv4 import post_tokens
from tests.support.workers import run_in_processes
from wxcomponent.keys import authorizer_key, refresh_shard
from wxcomponent.settings import Settings

if TYPE_CHECKING:
    from tests.conftest import World

ACCOUNT = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account


def invoke(module: ModuleType, payload: Any) -> dict[str, Any]:
    result: dict[str, Any] = module.lambda_handler(payload, FakeLambdaContext("token_vending"))
    return result


def authorize(world: World, appid: str = ACCOUNT) -> None:
    world.push_ticket()
    delivered = world.control("POST", "authorize", {"appid": appid})
    assert delivered["delivery"]["ok"], delivered["delivery"]


def vend_tickets_in_process(barrier: Barrier, results: Queue[list[Any]], threads: int, appid: str) -> None:
    """One container in a spawned process: `threads` concurrent ticket vends."""
    module = load_function("token_vending")
    local = threading.Barrier(threads)

    def one(_: int) -> Any:
        local.wait(timeout=30)
        return invoke(module, {"kind": "jsapi_ticket", "appid": appid})

    barrier.wait(timeout=60)
    with ThreadPoolExecutor(threads) as pool:
        results.put(list(pool.map(one, range(threads))))


def js_sdk_signature(ticket: str, noncestr: str, timestamp: str, url: str) -> str:
    """docs/protocol.md §7, written here again: the four pairs in ASCII order, raw, SHA-1 hex."""
    return hashlib.sha1(
        f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}".encode(), usedforsecurity=False
    ).hexdigest()


def config_check(world: World, ticket: str, appid: str = ACCOUNT) -> Any:
    """The sandbox's JS-SDK config check of a config signed with `ticket` for a page of ours."""
    url = f"{world.gateway.url}/h5/pay?order=42"
    nonce, timestamp = "Wm3WZYTPz0wzccnW", str(int(time.time()))
    signature = js_sdk_signature(ticket, nonce, timestamp, url)
    body = {"appId": appid, "nonceStr": nonce, "timestamp": timestamp, "url": url, "signature": signature}
    return world.control("POST", "jsapi-verify", body)


def test_thirty_concurrent_ticket_vends_from_three_processes_cost_one_getticket(world: World) -> None:
    authorize(world)
    results = run_in_processes(vend_tickets_in_process, 3, 10, ACCOUNT)
    bodies = [body for batch in results for body in batch]
    assert len(bodies) == 30 and all("error" not in body for body in bodies), [b for b in bodies if "error" in b][:3]
    assert {body["kind"] for body in bodies} == {"jsapi_ticket"} and {body["appid"] for body in bodies} == {ACCOUNT}
    assert len({body["ticket"] for body in bodies}) == 1
    assert world.calls("getticket") == 1
    assert world.calls("api_authorizer_token") == 0  # the token stored by the authorization served
    assert config_check(world, bodies[0]["ticket"]) == {"valid": True, "errMsg": "config:ok"}


def test_a_ticket_fetch_with_a_superseded_authorizer_token_recovers_with_one_refresh(world: World) -> None:
    authorize(world)
    # Someone else refreshed the account's token at WeChat more than 5 minutes ago: ours is dead.
    refresh_token = next(a for a in world.control("GET", "state")["accounts"] if a["appid"] == ACCOUNT)["refresh_token"]
    component_token = graph().component_tokens.token().access_token
    superseded = world.http.request(
        "POST",
        f"{world.sandbox.url}/cgi-bin/component/api_authorizer_token?component_access_token={component_token}",
        body=json.dumps(
            {
                "component_appid": graph().component().component_appid,
                "authorizer_appid": ACCOUNT,
                "authorizer_refresh_token": refresh_token,
            }
        ).encode(),
    )
    assert "authorizer_access_token" in json.loads(superseded.data)
    world.control("POST", "clock", {"advance": 301})
    age_stored_token(authorizer_key(ACCOUNT))  # and ours was issued that long ago too
    refreshes, fetches = world.calls("api_authorizer_token"), world.calls("getticket")
    body = invoke(load_function("token_vending"), {"kind": "jsapi_ticket", "appid": ACCOUNT})
    assert "ticket" in body, body
    assert world.calls("api_authorizer_token") == refreshes + 1  # one refresh
    assert world.calls("getticket") == fetches + 2  # refused once, then the retry
    errcodes = [call["errcode"] for call in world.control("GET", "calls?api=getticket")["calls"]]
    assert errcodes[-2:] == [40001, 0]
    assert config_check(world, body["ticket"])["valid"] is True


def test_card_tickets_and_jsapi_tickets_are_two_tickets(world: World) -> None:
    authorize(world)
    module = load_function("token_vending")
    jsapi = invoke(module, {"kind": "jsapi_ticket", "appid": ACCOUNT})
    card = invoke(module, {"kind": "card_ticket", "appid": ACCOUNT})
    assert jsapi["ticket"] != card["ticket"] and card["kind"] == "card_ticket"
    types = [call["query"]["type"] for call in world.control("GET", "calls?api=getticket")["calls"]]
    assert types == ["jsapi", "wx_card"]
    assert config_check(world, card["ticket"])["valid"] is False  # a card ticket signs no config
    assert invoke(module, {"kind": "card_ticket", "appid": ACCOUNT}) == card  # stored: no second call
    assert world.calls("getticket") == 2


def test_a_revoked_authorizers_tickets_go_with_its_token(world: World) -> None:
    authorize(world)
    module = load_function("token_vending")
    assert "ticket" in invoke(module, {"kind": "jsapi_ticket", "appid": ACCOUNT})
    assert "ticket" in invoke(module, {"kind": "card_ticket", "appid": ACCOUNT})
    assert world.control("POST", "revoke", {"appid": ACCOUNT})["delivery"]["ok"]
    for kind in ("jsapi_ticket", "card_ticket"):
        state = graph().stores.js_tickets.read_for_ticket(ACCOUNT, kind)
        assert state.ticket is None and state.token is None
        assert invoke(module, {"kind": kind, "appid": ACCOUNT})["error"]["code"] == "not_authorized"
    assert world.calls("getticket") == 2


def test_tickets_go_through_post_tokens_and_the_caller_policy(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    authorize(world)
    caller = str(LOCAL_IAM["userArn"])
    monkeypatch.setenv("CALLER_POLICY", json.dumps({caller: [ACCOUNT]}))

    def post(payload: dict[str, Any]) -> tuple[int, Any]:
        answer = post_tokens(world.http, world.gateway.url, payload)  # signed, as the gateway checks
        return answer.status, json.loads(answer.data)

    status, body = post({"kind": "jsapi_ticket", "appid": ACCOUNT})
    assert status == 200 and set(body) == {"kind", "appid", "ticket", "expires_at"}
    other = next(a["appid"] for a in world.control("GET", "state")["accounts"] if a["appid"] != ACCOUNT)
    authorize(world, other)
    status, refused = post({"kind": "card_ticket", "appid": other})
    assert status == 404 and refused["error"]["code"] == "not_authorized"
    status, bad = post({"kind": "jsapi_ticket"})
    assert status == 400 and bad["error"]["code"] == "bad_request"
    assert world.calls("getticket") == 1


def test_the_refresher_renews_a_ticket_vended_today_and_lets_one_unused_for_a_day_expire(world: World) -> None:
    authorize(world)
    module = load_function("token_vending")
    hot = invoke(module, {"kind": "jsapi_ticket", "appid": ACCOUNT})
    cold = invoke(module, {"kind": "card_ticket", "appid": ACCOUNT})
    age_js_ticket(ACCOUNT, "jsapi_ticket", left=600)  # vended a moment ago
    age_js_ticket(ACCOUNT, "card_ticket", left=600, vended_ago=25 * 3600)  # no page asked for a day
    fetches = world.calls("getticket")
    load_function("token_refresher").lambda_handler({"source": "aws.events"}, FakeLambdaContext("token_refresher", 120))
    assert world.calls("getticket") == fetches + 1
    assert world.control("GET", "calls?api=getticket")["calls"][-1]["query"]["type"] == "jsapi"
    records = graph().stores.js_tickets
    renewed = records.read_for_ticket(ACCOUNT, "jsapi_ticket").ticket
    assert renewed is not None and renewed.ticket != hot["ticket"] and renewed.valid_for(7000, time.time())
    assert config_check(world, renewed.ticket)["valid"] is True
    left = records.read_for_ticket(ACCOUNT, "card_ticket").ticket
    assert left is not None and left.ticket == cold["ticket"]  # kept for the 10 minutes it has left
    due = graph().authorizers.due_refreshes(refresh_shard(ACCOUNT), int(time.time()) + 10**6).js_tickets
    assert due == [(ACCOUNT, "jsapi_ticket")]  # the card ticket left the index
    run = graph().refresh_runs.last_run(graph().component().component_appid)
    assert run is not None
    assert (run.summary["js_tickets_renewed"], run.summary["tickets_left_cold"]) == (1, 1)
    # The renewed ticket is what the next vend gets, from the table.
    assert invoke(module, {"kind": "jsapi_ticket", "appid": ACCOUNT})["ticket"] == renewed.ticket
    assert world.calls("getticket") == fetches + 1


def test_a_getticket_that_answers_the_same_ticket_never_extends_its_life(world: World) -> None:
    """WeChat has been seen answering the live ticket again with expires_in 7200 (the sandbox's
    `same` mode, docs/sandbox.md): the ticket's life runs from when we first had it."""
    authorize(world)
    assert world.control("POST", "ticket-mode", {"mode": "same"})["mode"] == "same"
    module = load_function("token_vending")
    first = invoke(module, {"kind": "jsapi_ticket", "appid": ACCOUNT})
    age_js_ticket(ACCOUNT, "jsapi_ticket", left=200)  # short of the vend's 300 s: fetched again
    issued_long_ago(ACCOUNT, "jsapi_ticket")  # (one fetched in the last 30 minutes would serve: S2)
    again = invoke(module, {"kind": "jsapi_ticket", "appid": ACCOUNT})
    assert again["ticket"] == first["ticket"] and world.calls("getticket") == 2
    assert again["expires_at"] <= time.time() + 200  # not 7200 s from the second getticket
    stored = graph().stores.js_tickets.read_for_ticket(ACCOUNT, "jsapi_ticket").ticket
    assert stored is not None and stored.expires_at == again["expires_at"]
    # Asked again only once it has run out (issue 19, S2): not by every vend until then.
    for _ in range(5):
        assert invoke(module, {"kind": "jsapi_ticket", "appid": ACCOUNT})["ticket"] == first["ticket"]
    assert world.calls("getticket") == 2
    assert stored.fetched_at is not None and stored.fetched_at > stored.issued_at


def test_reports_refetch_a_ticket_twice_per_lifetime_and_then_get_the_stored_one(world: World) -> None:
    """Issue 19, M2, over the wires: the ticket's own budget, in the table."""
    authorize(world)
    module = load_function("token_vending")
    answers = [invoke(module, {"kind": "jsapi_ticket", "appid": ACCOUNT})]
    for _ in range(3):
        issued_long_ago(ACCOUNT, "jsapi_ticket")  # old enough to have been superseded
        report = {"kind": "jsapi_ticket", "appid": ACCOUNT, "invalid_token": answers[-1]["ticket"]}
        answers.append(invoke(module, report))
    assert [a.get("refresh_refused") for a in answers[1:]] == [None, None, "budget"]
    assert len({a["ticket"] for a in answers}) == 3 and answers[3]["ticket"] == answers[2]["ticket"]
    assert world.calls("getticket") == 3


def issued_long_ago(appid: str, kind: str) -> None:
    """Makes the stored ticket look issued (and so fetched) 2 hours ago."""
    boto3.client("dynamodb").update_item(
        TableName=Settings.from_environment().table_name,
        Key={"pk": {"S": authorizer_key(appid)}, "sk": {"S": kind.upper()}},
        UpdateExpression="SET issued_at = issued_at - :ago",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":ago": {"N": "7200"}},
    )
