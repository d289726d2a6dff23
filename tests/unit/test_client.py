"""TokenClient against a fake Lambda client and a fake WeChat: caching, report_invalid, errors, and
`call`'s one retry after WeChat rejects a token."""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import urllib3

import wxcomponent.client
import wxcomponent_client
from infra.local.template import load_template
from tests.support.clock import FakeClock
from wxcomponent_client import Token, TokenClient, TokenError, WeChatError

ACCOUNT = "wx570bc396a51b8ff8"
COMPONENT = "wx5a0d8c0ffee5a4d1"
NOW = 1_767_225_600.0


class FakeLambda:
    """Answers like token_vending: one current token per key, replaced when reported."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.requests: list[dict[str, Any]] = []
        self.current: dict[tuple[str, str], tuple[str, int]] = {}
        self.issued = 0
        self.answer: Any = None  # a canned body instead
        self.queued: list[Any] = []  # canned bodies for the next requests, before `answer`
        self.function_error = False
        self.keep_reported = False  # answers a report with the token it has (too young to refresh, say)
        self.lock = threading.Lock()

    def invoke(self, *, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        request = json.loads(Payload)
        with self.lock:
            self.requests.append({"function": FunctionName, **request})
            if self.queued:
                body = self.queued.pop(0)
            else:
                body = self.answer if self.answer is not None else self._vend(request)
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())}
        if self.function_error:
            response["FunctionError"] = "Unhandled"
        return response

    def _vend(self, request: dict[str, Any]) -> dict[str, Any]:
        key = (request["kind"], request.get("appid", ""))
        now = int(self.clock())
        token = self.current.get(key)
        reported = token is not None and token[0] == request.get("invalid_token") and not self.keep_reported
        if token is None or reported or now + request["min_validity"] >= token[1]:
            self.issued += 1
            token = (f"token-{self.issued}", now + 7140)
            self.current[key] = token
        field = "ticket" if key[0].endswith("_ticket") else "access_token"
        return {"kind": key[0], "appid": key[1] or COMPONENT, field: token[0], "expires_at": token[1]}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def fake(clock: FakeClock) -> FakeLambda:
    return FakeLambda(clock)


@pytest.fixture
def client(fake: FakeLambda, clock: FakeClock) -> TokenClient:
    return TokenClient("my-stack-TokenVending", lambda_client=fake, clock=clock)


def test_tokens_are_asked_with_the_safety_margin_and_cached(client: TokenClient, fake: FakeLambda) -> None:
    component = client.get_component_token()
    assert client.get_component_token() == component
    authorizer = client.get_authorizer_token(ACCOUNT)
    assert client.get_authorizer_token(ACCOUNT) == authorizer != component
    assert fake.requests == [
        {"function": "my-stack-TokenVending", "kind": "component", "min_validity": 120},
        {"function": "my-stack-TokenVending", "kind": "authorizer", "appid": ACCOUNT, "min_validity": 120},
    ]


def test_the_cache_holds_until_the_safety_margin(fake: FakeLambda, clock: FakeClock) -> None:
    client = TokenClient("my-stack-TokenVending", lambda_client=fake, clock=clock, max_age=7200)
    first = client.get_authorizer_token(ACCOUNT)
    clock.now = NOW + 7140 - 120 - 1  # 121 s left: still good
    assert client.get_authorizer_token(ACCOUNT) == first
    assert len(fake.requests) == 1
    clock.now = NOW + 7140 - 120  # 120 s left: ask again (the vendor refreshes it)
    second = client.get_authorizer_token(ACCOUNT)
    assert second != first and len(fake.requests) == 2


def test_a_held_token_or_ticket_is_asked_again_after_max_age(
    client: TokenClient, fake: FakeLambda, clock: FakeClock
) -> None:
    """Issue 19, S6: a process kept a revoked account's ticket (and signed wx.config with it) until
    2 minutes before its expiry, up to 2 hours; now the token center is asked again within 5 minutes,
    and it refuses a revoked account."""
    client.get_authorizer_token(ACCOUNT)
    client.get_ticket(ACCOUNT)
    clock.now = NOW + 299
    client.get_authorizer_token(ACCOUNT)
    client.get_ticket(ACCOUNT)
    assert len(fake.requests) == 2  # held
    clock.now = NOW + 300
    client.get_authorizer_token(ACCOUNT)
    client.get_ticket(ACCOUNT)
    assert len(fake.requests) == 4  # asked again: a revocation would answer not_authorized here
    with pytest.raises(ValueError, match="max_age"):
        TokenClient("f", lambda_client=fake, max_age=7201)


def test_report_invalid_asks_for_a_replacement_once(client: TokenClient, fake: FakeLambda) -> None:
    bad = client.get_authorizer_token(ACCOUNT)
    good = client.report_invalid(bad)
    assert good != bad
    assert fake.requests[-1] == {
        "function": "my-stack-TokenVending",
        "kind": "authorizer",
        "appid": ACCOUNT,
        "min_validity": 120,
        "invalid_token": bad,
    }
    assert client.get_authorizer_token(ACCOUNT) == good
    # A second report of the same old token (another thread held it too) costs nothing.
    assert client.report_invalid(bad) == good
    assert len(fake.requests) == 2


def test_report_invalid_of_a_token_this_client_never_gave_is_a_value_error(client: TokenClient) -> None:
    client.get_component_token()
    with pytest.raises(ValueError, match="never handed out"):
        client.report_invalid("some-other-token")


def test_report_invalid_keeps_the_kind_of_the_token(client: TokenClient, fake: FakeLambda) -> None:
    component = client.get_component_token()
    client.get_authorizer_token(ACCOUNT)
    client.report_invalid(component)
    assert fake.requests[-1]["kind"] == "component" and "appid" not in fake.requests[-1]


def test_concurrent_reports_from_threads_agree(client: TokenClient, fake: FakeLambda) -> None:
    bad = client.get_component_token()
    start = threading.Barrier(8)

    def report(_: int) -> str:
        start.wait(timeout=10)
        return client.report_invalid(bad)

    with ThreadPoolExecutor(8) as pool:
        replacements = set(pool.map(report, range(8)))
    assert bad not in replacements
    assert fake.issued == 2  # the (fake) vendor's compare-and-refresh issued one replacement
    assert client.get_component_token() in replacements


@pytest.mark.parametrize(
    ("body", "code", "errcode"),
    [
        ({"error": {"code": "not_authorized", "message": "unknown"}}, "not_authorized", None),
        ({"error": {"code": "upstream_error", "message": "quota", "errcode": 45009}}, "upstream_error", 45009),
        ({"error": {"code": "ticket_missing", "message": "wait"}}, "ticket_missing", None),
        ({"error": "not an object"}, "internal", None),
        ({"kind": "component"}, "internal", None),
        (["not", "an", "object"], "internal", None),
    ],
)
def test_an_error_body_is_a_token_error(
    client: TokenClient, fake: FakeLambda, body: Any, code: str, errcode: int | None
) -> None:
    fake.answer = body
    with pytest.raises(TokenError) as raised:
        client.get_authorizer_token(ACCOUNT)
    assert (raised.value.code, raised.value.errcode) == (code, errcode)
    fake.answer = None  # nothing was cached: the next call asks again
    assert client.get_authorizer_token(ACCOUNT) == "token-1"


BUSY = {"error": {"code": "internal", "message": "the table is briefly unavailable; retry", "retryable": True}}


def test_an_answer_marked_retryable_is_asked_again_once_after_a_pause(fake: FakeLambda, clock: FakeClock) -> None:
    pauses: list[float] = []
    client = TokenClient("my-stack-TokenVending", lambda_client=fake, clock=clock, sleep=pauses.append)
    fake.queued = [BUSY]
    assert client.get_authorizer_token(ACCOUNT) == "token-1"
    assert len(fake.requests) == 2 and pauses == [0.2]
    fake.queued = [BUSY, BUSY]
    with pytest.raises(TokenError) as raised:
        client.get_component_token()
    assert raised.value.code == "internal" and raised.value.retryable
    assert len(fake.requests) == 4 and pauses == [0.2, 0.2]  # one retry, not a loop


def test_an_answer_not_marked_retryable_is_not_asked_again(fake: FakeLambda, clock: FakeClock) -> None:
    pauses: list[float] = []
    client = TokenClient("my-stack-TokenVending", lambda_client=fake, clock=clock, sleep=pauses.append)
    fake.queued = [{"error": {"code": "internal", "message": "unexpected error"}}]
    with pytest.raises(TokenError) as raised:
        client.get_component_token()
    assert not raised.value.retryable and len(fake.requests) == 1 and pauses == []


def test_a_crashed_function_is_an_internal_token_error(client: TokenClient, fake: FakeLambda) -> None:
    fake.answer = {"errorMessage": "boom", "errorType": "RuntimeError"}
    fake.function_error = True
    with pytest.raises(TokenError) as raised:
        client.get_component_token()
    assert raised.value.code == "internal" and "RuntimeError" in raised.value.message


def test_the_lambda_client_is_created_lazily_with_bounded_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    made: list[tuple[str, Any]] = []
    fake = FakeLambda(FakeClock(NOW))

    def client_factory(service: str, config: Any = None, **_: Any) -> FakeLambda:
        made.append((service, config))
        return fake

    monkeypatch.setattr(boto3, "client", client_factory)
    tokens = TokenClient(clock=FakeClock(NOW))
    assert made == []
    tokens.get_component_token()
    tokens.get_component_token()
    assert [service for service, _ in made] == ["lambda"]
    config = made[0][1]
    # Suspected (issue 10): a read timeout shorter than the function's own (29 s) makes botocore
    # invoke again while the first invocation still runs. The client now waits past the function's
    # timeout, so a retry never overlaps the invocation it replaces.
    function_timeout = load_template()["Resources"]["TokenVendingFunction"]["Properties"]["Timeout"]
    assert config.connect_timeout == 2 and config.read_timeout > function_timeout
    assert config.retries == {"total_max_attempts": 2, "mode": "standard"}
    assert fake.requests[0]["function"] == "token_vending"


def test_safety_margin_is_bounded() -> None:
    with pytest.raises(ValueError):
        TokenClient(safety_margin=3601)
    with pytest.raises(ValueError):
        TokenClient(safety_margin=-1)


def test_the_core_name_is_the_client_package_itself() -> None:
    # One copy of the code: `wxcomponent.client` re-exports the installable package's objects.
    assert wxcomponent.client.TokenClient is wxcomponent_client.TokenClient
    assert wxcomponent.client.verify_authorized_redirect is wxcomponent_client.verify_authorized_redirect


def test_get_token_carries_the_expiry_and_the_appid_and_never_shows_the_token(
    client: TokenClient, fake: FakeLambda
) -> None:
    token = client.get_token(ACCOUNT)
    assert token == Token("token-1", int(NOW) + 7140, ACCOUNT)
    assert client.get_token().appid == COMPONENT
    assert "token-1" not in repr(token)


# -- call: WeChat's APIs with the vended token ---------------------------------------------------------

API = "http://wechat.test"


class FakeResponse:
    def __init__(self, status: int, data: bytes) -> None:
        self.status = status
        self.data = data


class FakeWeChat:
    """Answers queued bodies (dicts as JSON, or a ready FakeResponse, or an exception to raise)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.queued: list[Any] = []

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.requests.append({"method": method, "url": url, **kwargs})
        answer = self.queued.pop(0) if self.queued else {"errcode": 0, "errmsg": "ok"}
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, FakeResponse):
            return answer
        return FakeResponse(200, json.dumps(answer).encode())


@pytest.fixture
def wechat() -> FakeWeChat:
    return FakeWeChat()


@pytest.fixture
def caller(fake: FakeLambda, clock: FakeClock, wechat: FakeWeChat) -> TokenClient:
    return TokenClient("my-stack-TokenVending", lambda_client=fake, clock=clock, api_base=API + "/", http=wechat)


def test_call_posts_json_with_the_authorizers_token_in_the_query(caller: TokenClient, wechat: FakeWeChat) -> None:
    wechat.queued = [{"errcode": 0, "errmsg": "ok", "msgid": 7}]
    answer = caller.call(ACCOUNT, "post", "/cgi-bin/message/custom/send", touser="o1", text={"content": "你好"})
    assert answer == {"errcode": 0, "errmsg": "ok", "msgid": 7}
    (sent,) = wechat.requests
    assert sent["method"] == "POST"
    assert sent["url"] == f"{API}/cgi-bin/message/custom/send?access_token=token-1"
    assert sent["body"] == '{"touser": "o1", "text": {"content": "你好"}}'.encode()  # UTF-8, not \\u escapes
    assert sent["headers"]["Content-Type"].startswith("application/json")
    assert sent["retries"] is False and isinstance(sent["timeout"], urllib3.Timeout)
    assert sent["timeout"].connect_timeout and sent["timeout"].read_timeout


def test_a_get_carries_its_arguments_in_the_query(caller: TokenClient, wechat: FakeWeChat) -> None:
    caller.call(ACCOUNT, "GET", "/cgi-bin/user/get?lang=zh_CN", next_openid="o 1", verbose=True)
    (sent,) = wechat.requests
    assert sent["url"] == f"{API}/cgi-bin/user/get?lang=zh_CN&access_token=token-1&next_openid=o+1&verbose=true"
    assert sent["body"] is None


@pytest.mark.parametrize("errcode", [40001, 42001, 40014])
def test_a_rejected_token_is_reported_and_the_call_made_once_more(
    caller: TokenClient, fake: FakeLambda, wechat: FakeWeChat, errcode: int
) -> None:
    wechat.queued = [{"errcode": errcode, "errmsg": "invalid credential"}, {"errcode": 0, "errmsg": "ok"}]
    assert caller.call(ACCOUNT, "POST", "/cgi-bin/message/custom/send", touser="o1")["errcode"] == 0
    assert [request["url"].rsplit("=", 1)[1] for request in wechat.requests] == ["token-1", "token-2"]
    assert fake.requests[-1]["invalid_token"] == "token-1"


def test_a_second_rejection_is_raised_not_retried_again(
    caller: TokenClient, fake: FakeLambda, wechat: FakeWeChat
) -> None:
    wechat.queued = [{"errcode": 40001, "errmsg": "a"}, {"errcode": 42001, "errmsg": "b"}, {"errcode": 0}]
    with pytest.raises(WeChatError) as raised:
        caller.call(ACCOUNT, "POST", "/cgi-bin/message/custom/send")
    assert raised.value.errcode == 42001 and raised.value.errmsg == "b"
    assert len(wechat.requests) == 2 and len(fake.requests) == 2  # one vend, one report


def test_a_token_wechat_keeps_refusing_is_reported_once_however_often_it_is_called(
    caller: TokenClient, fake: FakeLambda, wechat: FakeWeChat
) -> None:
    """M2: a structural 40001 (the wrong token type, an API refused for this account) must not cost a
    forced refresh per call. The token center answered the report with the same token: it is never
    reported again, and never tried again either (WeChat would refuse it the same way)."""
    fake.keep_reported = True
    wechat.queued = [{"errcode": 40001, "errmsg": "invalid credential"}] * 20
    for _ in range(5):
        with pytest.raises(WeChatError) as raised:
            caller.call(ACCOUNT, "POST", "/cgi-bin/message/custom/send", touser="o1")
        assert raised.value.errcode == 40001
    assert [r["invalid_token"] for r in fake.requests if "invalid_token" in r] == ["token-1"]
    assert len(wechat.requests) == 5 and len(fake.requests) == 2  # one vend, one report


def test_each_token_value_is_reported_at_most_once_even_when_replaced(
    caller: TokenClient, fake: FakeLambda, wechat: FakeWeChat
) -> None:
    wechat.queued = [{"errcode": 42001, "errmsg": "expired"}] * 20
    for _ in range(4):
        with pytest.raises(WeChatError):
            caller.call(ACCOUNT, "POST", "/cgi-bin/message/custom/send")
        fake.keep_reported = True  # the replacement is young: the center keeps it from now on
    assert [r["invalid_token"] for r in fake.requests if "invalid_token" in r] == ["token-1", "token-2"]
    sent_with = [r["url"].rsplit("=", 1)[1] for r in wechat.requests]
    assert sent_with == ["token-1", "token-2", "token-2", "token-2", "token-2"]  # token-2 reported once only


def test_a_ticket_is_reported_once_however_often_a_page_finds_it_rejected(
    client: TokenClient, fake: FakeLambda
) -> None:
    fake.keep_reported = True
    ticket = client.get_ticket(ACCOUNT).ticket
    assert {client.report_invalid(ticket) for _ in range(5)} == {ticket}
    assert [r.get("invalid_token") for r in fake.requests] == [None, ticket]


def test_a_report_the_token_center_failed_to_answer_may_be_made_again(client: TokenClient, fake: FakeLambda) -> None:
    bad = client.get_authorizer_token(ACCOUNT)
    fake.queued = [{"error": {"code": "upstream_error", "message": "busy", "errcode": -1}}]
    with pytest.raises(TokenError):
        client.report_invalid(bad)
    assert client.report_invalid(bad) != bad
    assert [r.get("invalid_token") for r in fake.requests] == [None, bad, bad]


def test_any_other_errcode_is_a_wechat_error_without_a_report(
    caller: TokenClient, fake: FakeLambda, wechat: FakeWeChat
) -> None:
    wechat.queued = [{"errcode": 45015, "errmsg": "response out of time limit"}]
    with pytest.raises(WeChatError) as raised:
        caller.call(ACCOUNT, "POST", "/cgi-bin/message/custom/send")
    assert raised.value.errcode == 45015 and raised.value.answer["errmsg"] == "response out of time limit"
    assert len(wechat.requests) == 1 and all("invalid_token" not in request for request in fake.requests)


def test_call_component_uses_the_component_token_parameter(caller: TokenClient, wechat: FakeWeChat) -> None:
    wechat.queued = [{"errcode": 40001, "errmsg": "x"}, {"total_count": 0, "list": []}]
    answer = caller.call_component("POST", "/cgi-bin/component/api_get_authorizer_list", offset=0, count=500)
    assert answer == {"total_count": 0, "list": []}
    assert [request["url"].split("?")[1] for request in wechat.requests] == [
        "component_access_token=token-1",
        "component_access_token=token-2",
    ]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (FakeResponse(502, b"<html>bad gateway</html>"), "HTTP 502"),
        (FakeResponse(200, b"<html>not json</html>"), "not JSON"),
        (FakeResponse(200, b"[1, 2]"), "not a JSON object"),
        (urllib3.exceptions.ProtocolError("aborted: /cgi-bin/x?access_token=token-1"), "no answer"),
    ],
)
def test_no_answer_is_a_wechat_error_that_shows_no_token(
    caller: TokenClient, wechat: FakeWeChat, answer: Any, message: str
) -> None:
    wechat.queued = [answer]
    with pytest.raises(WeChatError) as raised:
        caller.call(ACCOUNT, "POST", "/cgi-bin/message/custom/send")
    assert raised.value.errcode is None and message in str(raised.value)
    # urllib3's own error names the URL, token and all: it is neither the message nor the cause.
    assert "token-1" not in str(raised.value) and raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__


def test_call_refuses_what_is_not_a_wechat_api_call(caller: TokenClient, wechat: FakeWeChat) -> None:
    with pytest.raises(ValueError, match="GET or POST"):
        caller.call(ACCOUNT, "PUT", "/cgi-bin/x")
    with pytest.raises(ValueError, match="start with '/'"):
        caller.call(ACCOUNT, "POST", "cgi-bin/x")
    with pytest.raises(ValueError, match="http"):
        TokenClient(api_base="ftp://example.com")
    assert wechat.requests == []
