"""Requests per operation, counted at the emulator (a counting proxy in front of it: DynamoDB, and
EventBridge's PutEvents, which goes to the same moto server) and
at the sandbox: deterministic, unlike time, so they are a regression guard (issue 13). Each
operation runs through the real handlers behind the local gateway; a budget that grows fails here.
`make bench` prints the same counts into docs/BENCHMARKS.md (bench/requests.py)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import pytest

from infra.local.emulator import Emulator
from infra.local.gateway import FakeLambdaContext
from tests.conftest import World
from tests.integration.conftest import load_function
from tests.support.fault_proxy import FaultProxy
from tests.support.graph import age_js_ticket, age_stored_token, graph
from tests.support.pushes import account_message_xml, signed_message, signed_push, ticket_xml
from wxcomponent import bootstrap
from wxcomponent.keys import authorizer_key

WECHAT_APIS = ("api_component_token", "api_authorizer_token", "api_query_auth", "api_get_authorizer_info")


class Meter:
    def __init__(self, world: World, proxy: FaultProxy) -> None:
        self.world, self.proxy = world, proxy

    def __call__(self, operation: Callable[[], object]) -> tuple[Counter[str], Counter[str]]:
        """(DynamoDB requests by operation, WeChat calls by API) that `operation` cost."""
        before = self.world.control("GET", "calls")["counters"]
        self.proxy.operations.clear()
        operation()
        assert self.world.gateway.wait_for_async(timeout=60)  # what it started asynchronously, too
        after = self.world.control("GET", "calls")["counters"]
        wechat = Counter({api: after.get(api, 0) - before.get(api, 0) for api in after})
        return Counter(self.proxy.operations), +wechat


@pytest.fixture
def meter(world: World, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Meter]:
    with FaultProxy(emulator.url, 0.0, seed=1) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        bootstrap.forget()  # every handler's graph makes its clients through the proxy
        yield Meter(world, proxy)
    bootstrap.forget()


def accounts(world: World) -> list[str]:
    # The sandbox's Official Accounts that WeChat gives tokens (one authorizes without API permission).
    return [
        a["appid"]
        for a in world.control("GET", "state")["accounts"]
        if a["kind"] == "official_account" and a["api_permission"]
    ]


def vend(payload: dict[str, str]) -> dict[str, object]:
    answer: dict[str, object] = load_function("token_vending").lambda_handler(payload, FakeLambdaContext("tv"))
    assert "error" not in answer, answer
    return answer


def test_vends_cost_one_request_from_the_table_and_none_from_memory(world: World, meter: Meter) -> None:
    world.push_ticket()
    appid = accounts(world)[0]
    world.control("POST", "authorize", {"appid": appid})
    ddb, wechat = meter(lambda: vend({"kind": "authorizer", "appid": appid}))
    assert (ddb, wechat) == (Counter(GetItem=1), Counter())  # the authorizer's one item
    vend({"kind": "component"})
    ddb, wechat = meter(lambda: vend({"kind": "component"}))
    assert (ddb, wechat) == (Counter(), Counter())  # a warm container answers from memory


def test_a_ticket_vend_costs_one_request_and_a_ticket_fetch_three_and_one_getticket(world: World, meter: Meter) -> None:
    world.push_ticket()
    appid = accounts(world)[0]
    world.control("POST", "authorize", {"appid": appid})
    ddb, wechat = meter(lambda: vend({"kind": "jsapi_ticket", "appid": appid}))
    assert wechat == Counter(getticket=1)  # with the authorizer token the authorization stored
    # the read (grant, token, ticket, refusal); the lease, checking the ticket read; the outcome,
    # checking the grant and giving the lease back
    assert ddb == Counter(BatchGetItem=1, TransactWriteItems=2), ddb
    ddb, wechat = meter(lambda: vend({"kind": "jsapi_ticket", "appid": appid}))
    assert (ddb, wechat) == (Counter(BatchGetItem=1), Counter())  # marked vended by the fetch: no write


def test_an_authorizer_refresh_costs_two_requests_after_the_vends_read_and_one_wechat_call(
    world: World, meter: Meter
) -> None:
    world.push_ticket()
    appid = accounts(world)[0]
    world.control("POST", "authorize", {"appid": appid})
    vend({"kind": "component"})  # the component token is stored and fresh
    graph().authorizers.delete_authorizer_token(appid)
    ddb, wechat = meter(lambda: vend({"kind": "authorizer", "appid": appid}))
    assert wechat == Counter(api_authorizer_token=1)
    # the vend's read of the item; the lease, with the item returned; the outcome, on condition of
    # holding the lease, giving it back: no transaction
    assert ddb == Counter(GetItem=1, UpdateItem=2), ddb


def test_a_forced_refresh_costs_one_write_more_and_a_report_past_the_budget_one_read(
    world: World, meter: Meter
) -> None:
    """Issue 19, M2: a caller looping on invalid_token costs no WeChat call once the budget is spent."""
    world.push_ticket()
    appid = accounts(world)[0]
    world.control("POST", "authorize", {"appid": appid})
    vend({"kind": "component"})  # the component token is stored and fresh
    answers = [vend({"kind": "authorizer", "appid": appid})]

    def report() -> None:
        answers.append(vend({"kind": "authorizer", "appid": appid, "invalid_token": str(answers[-1]["access_token"])}))

    for _ in range(2):
        age_stored_token(authorizer_key(appid))  # old enough to have been superseded
        ddb, wechat = meter(report)
        assert wechat == Counter(api_authorizer_token=1) and "refresh_refused" not in answers[-1]
        # the read (the item: grant, token, refusal, budget); the lease; the budget, spent by
        # compare-and-set; the outcome, giving the lease back
        assert ddb == Counter(GetItem=1, UpdateItem=3), ddb
    age_stored_token(authorizer_key(appid))
    ddb, wechat = meter(report)
    assert answers[-1]["refresh_refused"] == "budget" and answers[-1]["access_token"] == answers[-2]["access_token"]
    assert (ddb, wechat) == (Counter(GetItem=1), Counter())


def test_a_sweep_costs_two_requests_per_refreshed_authorizer(world: World, meter: Meter) -> None:
    world.push_ticket()
    due = accounts(world)
    for appid in due:
        world.control("POST", "authorize", {"appid": appid})
    setup = graph()
    now = int(time.time())
    for appid in due:
        setup.authorizers.set_refresh_due(appid, now - 1)
        setup.authorizers.delete_authorizer_token(appid)
    sweep = load_function("token_refresher").lambda_handler
    ddb, wechat = meter(lambda: sweep({"source": "aws.events"}, FakeLambdaContext("token_refresher", 120)))
    assert wechat == Counter(api_authorizer_token=len(due))  # exactly one call per refresh
    per_sweep = Counter(
        Query=8, GetItem=2, PutItem=1
    )  # 8 index shards; the ticket and the component token, once; the run's record
    per_authorizer = Counter(UpdateItem=2)  # the lease, with the item returned; the outcome
    expected = per_sweep + Counter({op: n * len(due) for op, n in per_authorizer.items()})
    assert ddb == expected, ddb


def test_a_sweep_renews_a_hot_ticket_for_three_requests_and_drops_a_cold_one_for_two(
    world: World, meter: Meter
) -> None:
    world.push_ticket()
    appid = accounts(world)[0]
    world.control("POST", "authorize", {"appid": appid})
    vend({"kind": "component"})
    for kind in ("jsapi_ticket", "card_ticket"):
        vend({"kind": kind, "appid": appid})
    age_js_ticket(appid, "jsapi_ticket", left=600)
    age_js_ticket(appid, "card_ticket", left=600, vended_ago=25 * 3600)
    sweep = load_function("token_refresher").lambda_handler
    ddb, wechat = meter(lambda: sweep({"source": "aws.events"}, FakeLambdaContext("token_refresher", 120)))
    assert wechat == Counter(getticket=1)
    per_sweep = Counter(Query=8, GetItem=2, PutItem=1)  # as above: the 8 shards find tickets too
    hot = Counter(BatchGetItem=1, TransactWriteItems=2)  # the read, the lease, the outcome
    cold = Counter(BatchGetItem=1, UpdateItem=1)  # the read, out of the index
    assert ddb == per_sweep + hot + cold, ddb


def test_a_ticket_push_and_an_account_message_cost_what_they_must(world: World, meter: Meter) -> None:
    world.push_ticket()
    appid = accounts(world)[0]
    account = next(a for a in world.control("GET", "state")["accounts"] if a["appid"] == appid)
    world.control("POST", "authorize", {"appid": appid})
    push = signed_push(ticket_xml("ticket@@@budget", int(time.time())))

    def post_ticket() -> None:
        url = f"{world.gateway.url}/wechat/component/events?{urlencode(push.query)}"
        assert world.http.request("POST", url, body=push.body).data == b"success"

    ddb, wechat = meter(post_ticket)
    assert (ddb, wechat) == (Counter(PutItem=1), Counter())  # the ticket (only authorization events keep a record)
    gh = account["user_name"]
    message = signed_message(
        account_message_xml(gh, "oBudget", [("MsgType", "text"), ("Content", "hi"), ("MsgId", "424242")]), gh
    )

    def post_message() -> None:
        url = f"{world.gateway.url}/wechat/accounts/{appid}/messages?{urlencode(message.query)}"
        assert world.http.request("POST", url, body=message.body).data == b"success"

    ddb, wechat = meter(post_message)
    # the grant (is it ours?), the receipt's claim, the answer recorded; and the bus (EventBridge)
    assert (ddb, wechat) == (Counter(GetItem=1, PutItem=1, UpdateItem=1, PutEvents=1), Counter()), ddb
