"""Every DynamoDB request the handlers really make is one their function's IAM policy in
template.yaml allows (review L5). moto never checks IAM, so a request outside a function's actions
or partition-key prefixes (dynamodb:LeadingKeys) would pass every other local test and meet
AccessDenied on AWS. Here each request is read as it leaves boto3, attributed to the function whose
invocation made it, and judged against that function's statements as written in the template.

The flows are the ones that reach the table: a ticket, the start page, both orders of push and
callback, re-authorization, a message and the release checks, every vend kind with refreshes and a
remembered refusal, the refresher's sweep, and a revocation."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from infra.local.gateway import FakeLambdaContext, Gateway
from infra.local.template import load_template, resources_of_type
from tests.conftest import World
from tests.integration.conftest import load_function
from tests.support.browser import Browser
from tests.support.graph import age_js_ticket, age_stored_token, graph
from wxcomponent import bootstrap
from wxcomponent.bootstrap import Container
from wxcomponent.keys import authorizer_key
from wxcomponent.settings import Settings

TABLE = {"Fn::GetAtt": ["Table", "Arn"]}
INDEX = {"Fn::Sub": "${Table.Arn}/index/RefreshDue"}
# DynamoDB's transaction parts and the IAM action each needs (TransactWriteItems has none of its own)
TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


@dataclass(frozen=True)
class Request:
    """One IAM authorization DynamoDB makes: an action, on a resource, for these partition keys."""

    function: str
    action: str
    resource: str  # "table" or "index"
    partition_keys: tuple[str, ...]


def requests_of(function: str, operation: str, params: dict[str, Any]) -> list[Request]:
    """The authorizations one API call needs, as DynamoDB evaluates them."""

    def pk(item: dict[str, Any]) -> str:
        value: str = item["pk"]["S"]
        return value

    if operation == "TransactWriteItems":
        return [
            Request(function, TRANSACT_ACTIONS[kind], "table", (pk(body.get("Key") or body["Item"]),))
            for part in params["TransactItems"]
            for kind, body in part.items()
        ]
    if operation == "BatchGetItem":
        keys = [key for table in params["RequestItems"].values() for key in table["Keys"]]
        return [Request(function, "dynamodb:BatchGetItem", "table", tuple(pk(key) for key in keys))]
    if operation == "Query" and params.get("IndexName"):
        return [Request(function, "dynamodb:Query", "index", ())]
    if "Key" in params or "Item" in params:
        return [Request(function, f"dynamodb:{operation}", "table", (pk(params.get("Key") or params["Item"]),))]
    return [Request(function, f"dynamodb:{operation}", "table", ())]  # Scan, Query on the table: never granted


def _string_like(pattern: str, value: str) -> bool:
    """IAM's StringLike: `*` any run of characters, `?` one character, everything else literal."""
    expression = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(expression, value, flags=re.DOTALL) is not None


class Policies:
    """The template's inline table statements of each function, and IAM's verdict on a request."""

    def __init__(self) -> None:
        template = load_template()
        self.statements: dict[str, list[dict[str, Any]]] = {}
        for name, resource in resources_of_type(template, "AWS::Serverless::Function").items():
            statements = [s for policy in resource["Properties"].get("Policies", []) for s in policy["Statement"]]
            self.statements[name] = statements

    def allows(self, request: Request) -> bool:
        wanted = TABLE if request.resource == "table" else INDEX
        return any(
            statement["Effect"] == "Allow"
            and request.action in _list(statement["Action"])
            and wanted in _list(statement["Resource"])
            and self._conditions_hold(statement.get("Condition", {}), request)
            for statement in self.statements[request.function]
        )

    @staticmethod
    def _conditions_hold(conditions: dict[str, Any], request: Request) -> bool:
        for operator, keys in conditions.items():
            for name, patterns in keys.items():
                # The only condition our table statements use; anything else must be taught here.
                assert (operator, name) == ("ForAllValues:StringLike", "dynamodb:LeadingKeys"), (operator, name)
                if not all(any(_string_like(p, key) for p in _list(patterns)) for key in request.partition_keys):
                    return False
        return True


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Ledger:
    """Every DynamoDB request of the process, by the function whose invocation made it. The gateway
    runs each invocation in one thread; the refresher's fan-out threads are attributed through
    `running`, used only while nothing else runs."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.unattributed: list[tuple[str, str]] = []  # (thread, operation): the test's own setup
        self._local = threading.local()
        self._running: str | None = None
        self._lock = threading.Lock()

    def function(self) -> str | None:
        """The function this thread runs for (None: the test's own setup)."""
        function: str | None = getattr(self._local, "function", None) or self._running
        return function

    def hook(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        function = self.function()
        with self._lock:
            if function is None:
                self.unattributed.append((threading.current_thread().name, model.name))
            else:
                self.requests.extend(requests_of(function, model.name, params))

    @contextmanager
    def invocation(self, function: str) -> Iterator[None]:
        outer = getattr(self._local, "function", None)
        self._local.function = function
        try:
            yield
        finally:
            self._local.function = outer

    @contextmanager
    def running(self, function: str) -> Iterator[None]:
        """`function` runs in this thread and threads it starts (the refresher's fan-out)."""
        self._running = function
        try:
            with self.invocation(function):
                yield
        finally:
            self._running = None


class ContainersPerFunction:
    """In place of `bootstrap._container_for`: a graph per function, as each Lambda function has
    its own containers, so no function's memory (a component token read once) hides another's
    request. The gateway runs every function in this one process."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._graphs: dict[tuple[Settings, str | None], Container] = {}
        self._lock = threading.Lock()

    def __call__(self, settings: Settings) -> Container:
        with self._lock:
            return self._graphs.setdefault((settings, self._ledger.function()), Container(settings))

    def cache_clear(self) -> None:
        with self._lock:
            self._graphs.clear()


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    ledger = Ledger()
    monkeypatch.setattr(bootstrap, "_container_for", ContainersPerFunction(ledger))
    events = boto3._get_default_session().events  # clients copy the session's hooks when made
    events.register("before-parameter-build.dynamodb", ledger.hook, unique_id="iam-ledger")
    invoke, invoke_function = Gateway.invoke, Gateway.invoke_function

    def attributed_invoke(gateway: Gateway, target: Any, event: dict[str, Any]) -> Any:
        with ledger.invocation(target.route.function):
            return invoke(gateway, target, event)

    def attributed_invoke_function(gateway: Gateway, function: Any, event: Any) -> Any:
        with ledger.invocation(function.function):
            return invoke_function(gateway, function, event)

    monkeypatch.setattr(Gateway, "invoke", attributed_invoke)
    monkeypatch.setattr(Gateway, "invoke_function", attributed_invoke_function)
    bootstrap.forget()  # every handler's graph makes its table client anew, with the hook
    try:
        yield ledger
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="iam-ledger")
        bootstrap.forget()


def assert_allowed(ledger: Ledger, functions: set[str]) -> None:
    policies = Policies()
    denied = sorted({r for r in ledger.requests if not policies.allows(r)}, key=repr)
    assert not denied, "IAM would refuse these requests on AWS:\n" + "\n".join(map(repr, denied))
    assert {r.function for r in ledger.requests} >= functions  # each flow reached the table
    main = threading.main_thread().name
    assert {thread for thread, _ in ledger.unattributed} <= {main}, ledger.unattributed  # only our setup


def vend(world: World, payload: dict[str, Any]) -> dict[str, Any]:
    """Lambda's Invoke of token_vending, through the gateway (so attributed to it)."""
    route = world.gateway.function("TokenVendingFunction")
    assert route is not None
    answer: dict[str, Any] = world.gateway.invoke_function(route, payload)
    return answer


def token_of(answer: dict[str, Any]) -> str:
    assert "error" not in answer, answer
    value: str = answer.get("access_token") or answer["ticket"]
    return value


def sweep(ledger: Ledger) -> None:
    handler = load_function("token_refresher").lambda_handler
    with ledger.running("TokenRefresherFunction"):
        handler({"source": "aws.events"}, FakeLambdaContext("token_refresher", 120))


ACCOUNT = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account


def test_the_evaluator_refuses_what_the_template_does_not_grant() -> None:
    """The judge itself: a prefix, an action or a resource outside a statement is refused."""
    policies = Policies()
    assert policies.allows(Request("TokenVendingFunction", "dynamodb:GetItem", "table", ("AUTHORIZER#wx1",)))
    assert not policies.allows(Request("TokenVendingFunction", "dynamodb:PutItem", "table", ("AUTHCODE#ab",)))
    assert not policies.allows(
        Request("TokenVendingFunction", "dynamodb:BatchGetItem", "table", ("AUTHORIZER#wx1", "AUTHSTATE#x"))
    )
    assert not policies.allows(Request("AuthorizationFunction", "dynamodb:BatchGetItem", "table", ("COMPONENT#wx",)))
    assert not policies.allows(Request("ComponentEventsFunction", "dynamodb:Scan", "table", ()))
    assert not policies.allows(Request("TokenVendingFunction", "dynamodb:Query", "index", ()))
    assert policies.allows(Request("TokenRefresherFunction", "dynamodb:Query", "index", ()))
    assert not _string_like("AUTHCODE#*", "AUTHSTATE#x") and _string_like("AUTHORIZER#*", "AUTHORIZER#wx#JSAPI_TICKET")


def test_pushes_pages_messages_vends_sweeps_and_revocation_stay_within_their_policies(
    world: World, ledger: Ledger
) -> None:
    world.push_ticket()  # component_events stores it
    browser = Browser(world)
    browser.start()  # the start page: a component token, a pre-auth code, its state
    code = browser.authorize_at_wechat(ACCOUNT)  # WeChat pushes `authorized`: exchanged by a task
    assert world.gateway.wait_for_async(timeout=60)
    assert browser.callback(code).status == 200  # the callback finds it exchanged

    delivery = world.control("POST", "send-message", {"appid": ACCOUNT, "content": "hello"})
    assert delivery["ok"], delivery
    checks = world.control("POST", "release-checks", {"appid": ACCOUNT, "wait": 20})
    assert all(check["passed"] for check in checks["checks"]), checks

    tokens = {
        kind: token_of(vend(world, {"kind": kind} | ({} if kind == "component" else {"appid": ACCOUNT})))
        for kind in ("component", "authorizer", "jsapi_ticket", "card_ticket")
    }
    age_stored_token(authorizer_key(ACCOUNT))  # old enough that a report refreshes it (and counts)
    token_of(vend(world, {"kind": "authorizer", "appid": ACCOUNT, "invalid_token": tokens["authorizer"]}))
    age_js_ticket(ACCOUNT, "jsapi_ticket", left=60)  # due: fetched again under its lease
    token_of(vend(world, {"kind": "jsapi_ticket", "appid": ACCOUNT}))

    graph().authorizers.set_refresh_due(ACCOUNT, int(time.time()) - 1)
    graph().authorizers.delete_authorizer_token(ACCOUNT)
    sweep(ledger)  # the refresher renews it

    world.fault("api_authorizer_token", "errcode", 61004, count=None)
    graph().authorizers.delete_authorizer_token(ACCOUNT)
    refused = vend(world, {"kind": "authorizer", "appid": ACCOUNT})  # WeChat's refusal, remembered
    assert refused["error"]["errcode"] == 61004, refused
    world.control("DELETE", "faults")

    # `updateauthorized` with another permission set, exchanged again; then `unauthorized`
    world.control("POST", "update-authorization", {"appid": ACCOUNT, "func_info": [1, 2, 3]})
    world.control("POST", "revoke", {"appid": ACCOUNT})  # `unauthorized`: the grant revoked, tokens gone
    assert_allowed(
        ledger,
        {
            "ComponentEventsFunction",
            "AuthorizationFunction",
            "AccountMessagesFunction",
            "TokenVendingFunction",
            "TokenRefresherFunction",
        },
    )


def test_a_callback_that_exchanges_the_code_itself_stays_within_its_policy(quiet_world: World, ledger: Ledger) -> None:
    """WeChat's push lost: the authorization pages exchange the code and store the grant and its
    token themselves."""
    quiet_world.push_ticket_to_table()
    browser = Browser(quiet_world)
    browser.start()
    code = browser.authorize_at_wechat(ACCOUNT)
    assert browser.callback(code).status == 200
    assert quiet_world.gateway.wait_for_async(timeout=60)
    assert graph().authorizers.get_grant(ACCOUNT) is not None
    assert_allowed(ledger, {"AuthorizationFunction"})
    exchanged = {(r.action, r.partition_keys[0].split("#")[0]) for r in ledger.requests if r.partition_keys}
    assert {("dynamodb:PutItem", "AUTHCODE"), ("dynamodb:PutItem", "AUTHORIZER")} <= exchanged
