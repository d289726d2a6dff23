"""token_vending end to end: the real handler by direct invoke, over `POST /tokens` through the local
gateway, and through boto3's Lambda client (the gateway's Invoke API) with TokenClient; the sandbox
plays WeChat and the emulator holds the table.

Nothing at this module's top level imports the test conftests: the worker below runs in spawned
processes, which must keep the environment the test gave them.
"""

from __future__ import annotations

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
from tests.support.graph import age_stored_token, graph
from tests.support.pushes import APPID
from tests.support.sigv4 import post_tokens as signed_post
from tests.support.workers import run_in_processes
from wxcomponent.client import TokenClient, TokenError
from wxcomponent.domain.tokens import AccessToken
from wxcomponent.keys import authorizer_key, component_key
from wxcomponent.services.vending import NOT_AUTHORIZED_MESSAGE

if TYPE_CHECKING:
    from tests.conftest import World

ACCOUNT = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account
UNKNOWN = "wx0123456789abcdef"
CALLER = str(LOCAL_IAM["userArn"])  # who the local gateway says signed an AWS_IAM request


def container(name: str = "token_vending") -> ModuleType:
    """functions/<name>/app.py imported afresh: a new Lambda container."""
    return load_function(name)


def invoke(module: ModuleType, payload: Any) -> dict[str, Any]:
    """A direct Lambda Invoke: the event is the payload."""
    result: dict[str, Any] = module.lambda_handler(payload, FakeLambdaContext("token_vending"))
    return result


def post_tokens(world: World, payload: Any, **headers: str) -> tuple[int, dict[str, str], Any]:
    """Signed as make dev's documented credentials sign it: the gateway checks SigV4, as AWS does."""
    answer = signed_post(world.http, world.gateway.url, payload, **{"Content-Type": "application/json", **headers})
    return answer.status, {k.lower(): v for k, v in answer.headers.items()}, json.loads(answer.data)


def lambda_client(world: World) -> Any:
    return boto3.client("lambda", endpoint_url=world.gateway.url, region_name="us-east-1")


def authorize(world: World, appid: str = ACCOUNT) -> None:
    world.push_ticket()
    delivered = world.control("POST", "authorize", {"appid": appid})
    assert delivered["delivery"]["ok"], delivered["delivery"]


def vend_in_process(barrier: Barrier, results: Queue[list[Any]], threads: int) -> None:
    """One container in a spawned process: `threads` concurrent direct invokes of the handler."""
    module = container()
    local = threading.Barrier(threads)

    def one(_: int) -> Any:
        local.wait(timeout=30)
        return invoke(module, {"kind": "component"})

    barrier.wait(timeout=60)
    with ThreadPoolExecutor(threads) as pool:
        results.put(list(pool.map(one, range(threads))))


# -- the component token, three ways in ----------------------------------------------------------


def test_component_token_by_direct_invoke(world: World) -> None:
    world.push_ticket()
    before = int(time.time())
    body = invoke(container(), {"kind": "component"})
    assert set(body) == {"kind", "appid", "access_token", "expires_at"}
    assert body["kind"] == "component" and body["appid"] == APPID
    assert isinstance(body["expires_at"], int) and body["expires_at"] >= before + 7000
    stored = graph().tokens.get_component_token(APPID)
    assert stored is not None and stored.access_token == body["access_token"]
    assert world.calls("api_component_token") == 1


def test_component_token_over_post_tokens(world: World) -> None:
    world.push_ticket()
    status, headers, body = post_tokens(world, {"kind": "component"})
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert body["appid"] == APPID and body["access_token"]
    # Another container reads the same stored token: still one call to WeChat.
    assert invoke(container(), {"kind": "component"})["access_token"] == body["access_token"]
    # A base64-encoded body (as API Gateway passes binary content types) is read the same way.
    status, _, again = post_tokens(world, b'{"kind":"component"}', **{"Content-Type": "application/octet-stream"})
    assert status == 200 and again["access_token"] == body["access_token"]
    assert world.calls("api_component_token") == 1


def test_boto3_lambda_invoke_and_token_client_through_the_gateway(world: World) -> None:
    authorize(world)
    client = lambda_client(world)
    for name in ("token_vending", "TokenVendingFunction"):
        answer = client.invoke(FunctionName=name, Payload=json.dumps({"kind": "component"}).encode())
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer
        body = json.loads(answer["Payload"].read())
        assert body["appid"] == APPID
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="no_such_function", Payload=b"{}")
    # A refusal is an answer, not a failed invoke.
    refused = client.invoke(FunctionName="token_vending", Payload=json.dumps({"kind": "nonsense"}).encode())
    assert "FunctionError" not in refused
    assert json.loads(refused["Payload"].read())["error"]["code"] == "bad_request"

    tokens = TokenClient("token_vending", lambda_client=client)
    component = tokens.get_component_token()
    assert component == body["access_token"]
    authorizer = tokens.get_authorizer_token(ACCOUNT)
    assert authorizer and authorizer != component
    assert world.calls("api_authorizer_token") == 0  # the token stored by the authorization itself
    age_stored_token(authorizer_key(ACCOUNT))  # a younger one is never refreshed on a report
    replacement = tokens.report_invalid(authorizer)
    assert replacement != authorizer and tokens.get_authorizer_token(ACCOUNT) == replacement
    assert world.calls("api_authorizer_token") == 1
    with pytest.raises(TokenError) as raised:
        tokens.get_authorizer_token(UNKNOWN)
    assert raised.value.code == "not_authorized"


def test_deeply_nested_json_by_invoke_is_refused_never_a_crash(world: World) -> None:
    """L2, the Invoke door: JSON nested deeper than a parser allows never reaches the handler (the
    gateway refuses it as Lambda refuses JSON it cannot parse); as deep as reaches it is bad_request."""
    client = lambda_client(world)
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="token_vending", Payload=b"[" * 100_000 + b"]" * 100_000)
    nested = b'{"kind": ' + b"[" * 500 + b"]" * 500 + b"}"
    answer = client.invoke(FunctionName="token_vending", Payload=nested)
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read())["error"]["code"] == "bad_request"


# -- one refresh, however many callers ---------------------------------------------------------------


def test_thirty_concurrent_vends_from_three_processes_cost_one_call(world: World) -> None:
    world.push_ticket()
    results = run_in_processes(vend_in_process, 3, 10)
    bodies = [body for batch in results for body in batch]
    assert len(bodies) == 30 and all("error" not in body for body in bodies), bodies[:3]
    assert len({body["access_token"] for body in bodies}) == 1
    assert world.calls("api_component_token") == 1


def test_twenty_reports_of_the_same_bad_token_cost_one_refresh_and_a_stale_one_none(world: World) -> None:
    authorize(world)
    module = container()
    twenty_reports(world, module, {"kind": "component"}, "api_component_token")
    twenty_reports(world, module, {"kind": "authorizer", "appid": ACCOUNT}, "api_authorizer_token")


def twenty_reports(world: World, module: ModuleType, request: dict[str, Any], api: str) -> None:
    bad = invoke(module, request)["access_token"]
    age_stored_token(authorizer_key(request["appid"]) if "appid" in request else component_key(APPID))
    calls = world.calls(api)
    start = threading.Barrier(20)

    def report(_: int) -> Any:
        start.wait(timeout=30)
        return invoke(module, {**request, "invalid_token": bad})

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(report, range(20)))
    assert all("access_token" in answer for answer in answers), [a for a in answers if "access_token" not in a][:2]
    replacements = {answer["access_token"] for answer in answers}
    assert len(replacements) == 1 and bad not in replacements, answers[:2]
    assert world.calls(api) == calls + 1
    # A late report of the old token costs nothing, in this container or a fresh one.
    assert invoke(module, {**request, "invalid_token": bad})["access_token"] in replacements
    assert invoke(container(), {**request, "invalid_token": bad})["access_token"] in replacements
    # And the memory never hands the reported token out again.
    assert invoke(module, request)["access_token"] in replacements
    assert world.calls(api) == calls + 1


def test_min_validity_beyond_the_stored_tokens_life_forces_a_refresh(world: World) -> None:
    world.push_ticket()
    tokens = graph().tokens
    first = graph().component_tokens.token()
    # The same token, as if issued an hour and a half ago: 30 minutes left.
    left = int(time.time()) + 1800
    assert tokens.save_component_token(AccessToken(APPID, first.access_token, first.issued_at + 1, left))
    age_stored_token(component_key(APPID), 5400)  # (one issued in the last 30 minutes would serve: S2)
    module = container()
    assert invoke(module, {"kind": "component"}) == {
        "kind": "component",
        "appid": APPID,
        "access_token": first.access_token,
        "expires_at": left,
    }
    assert invoke(module, {"kind": "component", "min_validity": 1799 - 5})["access_token"] == first.access_token
    assert world.calls("api_component_token") == 1
    longer = invoke(module, {"kind": "component", "min_validity": 3600})
    assert longer["access_token"] != first.access_token and longer["expires_at"] > left + 3600
    assert world.calls("api_component_token") == 2


# -- refusals --------------------------------------------------------------------------------------------


def test_an_unknown_authorizer_is_not_authorized(world: World) -> None:
    world.push_ticket()
    assert invoke(container(), {"kind": "authorizer", "appid": UNKNOWN})["error"]["code"] == "not_authorized"
    status, headers, body = post_tokens(world, {"kind": "authorizer", "appid": UNKNOWN})
    assert status == 404 and body["error"]["code"] == "not_authorized"
    assert headers["cache-control"] == "no-store"
    assert world.calls("api_authorizer_token") == 0


def test_a_revoked_authorizer_is_not_authorized(world: World) -> None:
    authorize(world)
    status, _, body = post_tokens(world, {"kind": "authorizer", "appid": ACCOUNT})
    assert status == 200 and body["appid"] == ACCOUNT
    revoked = world.control("POST", "revoke", {"appid": ACCOUNT})
    assert revoked["delivery"]["ok"]
    # WeChat now rejects the token; its holder reports it and learns the account is gone.
    report = {"kind": "authorizer", "appid": ACCOUNT, "invalid_token": body["access_token"]}
    status, _, refused = post_tokens(world, report)
    assert status == 404 and refused["error"]["code"] == "not_authorized"
    assert body["access_token"] not in json.dumps(refused)
    # Any container asking afresh is refused too.
    assert invoke(container(), {"kind": "authorizer", "appid": ACCOUNT})["error"]["code"] == "not_authorized"
    status, _, again = post_tokens(world, {"kind": "authorizer", "appid": ACCOUNT})
    assert status == 404 and again == refused


def test_no_ticket_is_ticket_missing_with_503(quiet_world: World) -> None:
    status, headers, body = post_tokens(quiet_world, {"kind": "component"})
    assert status == 503 and headers["cache-control"] == "no-store"
    assert body["error"]["code"] == "ticket_missing"
    assert invoke(container(), {"kind": "component"})["error"]["code"] == "ticket_missing"
    assert quiet_world.calls("api_component_token") == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed JSON"),
        (b"", "empty body"),
        (json.dumps({"kind": "authorizer", "appid": "wxNOTANAPPID0000"}).encode(), "bad appid"),
        (json.dumps({"kind": "component", "min_validity": 7200}).encode(), "min_validity over an hour"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested 100,000 deep (L2)"),
    ],
)
def test_bad_requests_over_http_are_400(world: World, body: bytes, reason: str) -> None:
    status, _, answer = post_tokens(world, body)
    assert status == 400, reason
    assert answer["error"]["code"] == "bad_request"
    assert world.calls("api_component_token") == 0


# -- the caller policy (HTTP route only) ------------------------------------------------------------------


def test_a_caller_outside_the_policy_learns_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    authorize(world)
    monkeypatch.setenv("CALLER_POLICY", json.dumps({"arn:aws:iam::123456789012:role/orders": "*"}))
    status, _, unknown = post_tokens(world, {"kind": "authorizer", "appid": UNKNOWN})
    assert status == 404 and unknown == {"error": {"code": "not_authorized", "message": NOT_AUTHORIZED_MESSAGE}}
    for request in ({"kind": "component"}, {"kind": "authorizer", "appid": ACCOUNT}):
        status, _, body = post_tokens(world, request)
        assert status == 404 and body == unknown  # the same answer as an account we do not know
    # A direct invoke is gated by IAM's invoke permission, not by this policy.
    assert invoke(container(), {"kind": "component"})["appid"] == APPID


def test_a_caller_listed_for_one_appid_gets_that_one_only(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    authorize(world)
    assert CALLER.startswith("arn:aws:iam::")
    monkeypatch.setenv("CALLER_POLICY", json.dumps({CALLER: [ACCOUNT]}))
    status, _, body = post_tokens(world, {"kind": "authorizer", "appid": ACCOUNT})
    assert status == 200 and body["appid"] == ACCOUNT
    for request in ({"kind": "component"}, {"kind": "authorizer", "appid": UNKNOWN}):
        status, _, refused = post_tokens(world, request)
        assert status == 404 and refused["error"]["code"] == "not_authorized"
    monkeypatch.setenv("CALLER_POLICY", json.dumps({CALLER: [ACCOUNT, "component"]}))
    status, _, body = post_tokens(world, {"kind": "component"})
    assert status == 200 and body["appid"] == APPID


def test_star_is_every_authorizer_but_never_the_component_token(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """H1: the component token opens every merchant, so only an entry naming "component" gets it."""
    authorize(world)
    monkeypatch.setenv("CALLER_POLICY", json.dumps({CALLER: "*"}))
    status, _, body = post_tokens(world, {"kind": "authorizer", "appid": ACCOUNT})
    assert status == 200 and body["appid"] == ACCOUNT
    status, _, refused = post_tokens(world, {"kind": "component"})
    assert status == 404 and refused["error"]["code"] == "not_authorized"
    monkeypatch.setenv("CALLER_POLICY", json.dumps({CALLER: ["*", "component"]}))
    status, _, body = post_tokens(world, {"kind": "component"})
    assert status == 200 and body["appid"] == APPID
    # A direct Invoke is gated by IAM's lambda:InvokeFunction alone, and gets everything.
    monkeypatch.setenv("CALLER_POLICY", "{}")
    assert invoke(container(), {"kind": "component"})["appid"] == APPID


def test_a_caller_limited_by_kind_gets_that_kind_only(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page server that signs wx.config gets the jsapi ticket, never the account's access token."""
    authorize(world)
    monkeypatch.setenv("CALLER_POLICY", json.dumps({CALLER: [f"{ACCOUNT}:jsapi_ticket"]}))
    status, _, body = post_tokens(world, {"kind": "jsapi_ticket", "appid": ACCOUNT})
    assert status == 200 and body["ticket"], body
    for request in (
        {"kind": "authorizer", "appid": ACCOUNT},
        {"kind": "card_ticket", "appid": ACCOUNT},
        {"kind": "component"},
    ):
        status, _, refused = post_tokens(world, request)
        assert status == 404 and refused["error"]["code"] == "not_authorized", request


def test_web_login_over_post_tokens_for_a_caller_allowed_only_that(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """H1: a page server gets the visitor, never the component token nor the account's token."""
    authorize(world)
    monkeypatch.setenv("CALLER_POLICY", json.dumps({CALLER: [f"{ACCOUNT}:web_login"]}))
    visit = {"appid": ACCOUNT, "scope": "snsapi_userinfo", "user": "alice"}
    code = world.control("POST", "oauth-code", visit)["code"]
    request = {"kind": "web_login", "appid": ACCOUNT, "code": code}
    status, headers, body = post_tokens(world, request)
    assert status == 200, body
    assert headers["cache-control"] == "no-store"
    assert body == {
        "kind": "web_login",
        "appid": ACCOUNT,
        "openid": world.sandbox.world.web.openid(ACCOUNT, "alice"),
        "scope": "snsapi_userinfo",
        "unionid": None,
        "is_snapshotuser": False,
        "nickname": "爱丽丝 Alice",
        "avatar": f"{world.sandbox.url}/sandbox/users/alice.svg",
    }
    status, _, again = post_tokens(world, request)  # a code serves once
    assert status == 400 and again["error"]["code"] == "bad_request" and again["error"]["errcode"] == 40163
    assert "invalid, expired, used, or another account's" in again["error"]["message"]
    for other in ({"kind": "authorizer", "appid": ACCOUNT}, {"kind": "component"}):
        status, _, refused = post_tokens(world, other)
        assert status == 404 and refused["error"]["code"] == "not_authorized", other
    status, _, refused = post_tokens(world, {"kind": "web_login", "appid": UNKNOWN, "code": code})
    assert status == 404 and refused["error"]["code"] == "not_authorized"
    assert world.calls("sns_component_access_token") == 2 and world.calls("sns_userinfo") == 1


def test_a_malformed_policy_fails_closed_with_500_internal(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """L10: never 503, which the contract keeps for ticket_missing (wait for the next push)."""
    world.push_ticket()
    monkeypatch.setenv("CALLER_POLICY", json.dumps({CALLER: "everything"}))
    status, _, body = post_tokens(world, {"kind": "component"})
    assert status == 500 and body["error"]["code"] == "internal", body
    assert "caller policy" in body["error"]["message"]
    assert world.calls("api_component_token") == 0


def _audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.__dict__ for r in caplog.records if r.__dict__.get("audit") == "vend"]


def test_a_direct_invoke_cannot_pass_for_an_http_request(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """L3: an Invoke payload shaped like API Gateway's event, naming another role, was taken for
    `POST /tokens` and audited as that role. Only an event that carries this stack's door (the
    HTTP API's stage variable, which API Gateway adds and an invoker does not know) is HTTP."""
    from infra.local.events import LOCAL_TOKENS_DOOR, http_api_event

    world.push_ticket()
    someone_else = {**LOCAL_IAM, "userArn": "arn:aws:iam::123456789012:role/someone-else"}
    body = '{"kind":"component"}'
    with caplog.at_level("INFO", logger="wxcomponent"):
        for doors in (None, {"tokens_door": "a-guess"}, {"tokens_door": LOCAL_TOKENS_DOOR + "0"}):
            forged = http_api_event("POST", "/tokens", body=body, iam=someone_else, stage_variables=doors)
            answer = invoke(container(), forged)
            # Taken for what it is, an Invoke payload: not a vend request, and nobody's name in the audit.
            assert "statusCode" not in answer and answer["error"]["code"] == "bad_request", answer
    lines = _audit_lines(caplog)
    assert [(line["caller"], line["door"]) for line in lines] == [(None, "invoke")] * 3
    caplog.clear()
    with caplog.at_level("INFO", logger="wxcomponent"):
        genuine = invoke(container(), http_api_event("POST", "/tokens", body=body, iam=someone_else))
    assert genuine["statusCode"] == 200, genuine
    [line] = _audit_lines(caplog)
    assert (line["caller"], line["door"]) == (someone_else["userArn"], "http")
    # And over the local gateway, which adds the door as API Gateway adds the stage's variables.
    assert post_tokens(world, {"kind": "component"})[0] == 200


def test_a_route_without_an_iam_identity_is_refused(world: World) -> None:
    """Were the route ever deployed without AWS_IAM, nobody would get a token through it."""
    from infra.local.events import http_api_event

    world.push_ticket()
    event = http_api_event("POST", "/tokens", headers={"content-type": "application/json"}, body='{"kind":"component"}')
    answer = invoke(container(), event)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"]["code"] == "not_authorized"
    signed = http_api_event(
        "POST", "/tokens", headers={"content-type": "application/json"}, body='{"kind":"component"}', iam=LOCAL_IAM
    )
    assert invoke(container(), signed)["statusCode"] == 200
