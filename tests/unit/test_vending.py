"""Token vending without AWS or WeChat: validation, the warm-container memory, error bodies, audit."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.clock import FakeClock
from wxcomponent.domain.errors import (
    BadRequest,
    ConfigurationError,
    NotAuthorized,
    VerifyTicketMissing,
    WxComponentError,
)
from wxcomponent.domain.tokens import AccessToken
from wxcomponent.domain.wechat import QuotaExceeded, SystemBusy, UpstreamUnavailable
from wxcomponent.observability import logger
from wxcomponent.services.single_flight import RefreshContended
from wxcomponent.services.vending import NOT_AUTHORIZED_MESSAGE, TokenVendor, VendRequest, error_body

COMPONENT = "wx5a0d8c0ffee5a4d1"
ACCOUNT = "wx570bc396a51b8ff8"
OTHER = "wx0123456789abcdef"
NOW = 1_767_225_600.0
SECRET = "refresh-token-never-shown"


class Issuer:
    """Plays the store + WeChat behind a token service: a token per owner, replaced on demand."""

    def __init__(self, clock: FakeClock, lifetime: int = 7140) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.current: dict[str, AccessToken] = {}
        self.issued = 0
        self.calls: list[tuple[Any, ...]] = []
        self.fail: Exception | None = None
        self.after_read: Any = None  # called once a lookup has read the current token (races)

    def get(self, owner: str, min_validity: float, rejected: str | None = None) -> AccessToken:
        if self.fail is not None:
            raise self.fail
        token = self.current.get(owner)
        stale = token is None or token.access_token == rejected or not token.valid_for(min_validity, self.clock())
        if stale:
            self.issued += 1
            now = int(self.clock())
            token = AccessToken(owner, f"token-{owner}-{self.issued}", now, now + self.lifetime)
            self.current[owner] = token
        if self.after_read is not None:
            hook, self.after_read = self.after_read, None
            hook()
        assert token is not None
        return token


class FakeComponentTokens:
    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer

    def token(self, min_validity: float = 300) -> AccessToken:
        self.issuer.calls.append(("component.token", min_validity))
        return self.issuer.get(COMPONENT, min_validity)

    def replace_rejected(self, rejected: str, min_validity: float = 0) -> AccessToken:
        self.issuer.calls.append(("component.replace_rejected", rejected, min_validity))
        return self.issuer.get(COMPONENT, min_validity, rejected)


class FakeAuthorizerTokens:
    def __init__(self, issuer: Issuer, known: set[str]) -> None:
        self.issuer = issuer
        self.known = known

    def token(self, authorizer_appid: str, min_validity: float = 300) -> AccessToken:
        self.issuer.calls.append(("authorizer.token", authorizer_appid, min_validity))
        if authorizer_appid not in self.known:
            raise NotAuthorized(f"{authorizer_appid} is not authorized")
        return self.issuer.get(authorizer_appid, min_validity)

    def replace_rejected(self, authorizer_appid: str, rejected: str, min_validity: float = 0) -> AccessToken:
        self.issuer.calls.append(("authorizer.replace_rejected", authorizer_appid, rejected, min_validity))
        if authorizer_appid not in self.known:
            raise NotAuthorized(f"{authorizer_appid} is not authorized")
        return self.issuer.get(authorizer_appid, min_validity, rejected)


class Harness:
    def __init__(self, **options: Any) -> None:  # memory_safety, memory_ttl
        self.clock = FakeClock(NOW)
        self.issuer = Issuer(self.clock)
        self.authorizers = FakeAuthorizerTokens(self.issuer, {ACCOUNT})
        self.vendor = TokenVendor(FakeComponentTokens(self.issuer), self.authorizers, clock=self.clock, **options)

    def vend(self, caller: str | None = "arn:aws:iam::123456789012:role/orders", **payload: Any) -> dict[str, Any]:
        answer = self.vendor.answer(payload, caller)
        return answer.body | {"_status": answer.status}


@pytest.fixture
def h() -> Harness:
    return Harness()


# -- validation ---------------------------------------------------------------------------------

BAD_PAYLOADS: list[tuple[str, object]] = [
    ("not an object: list", [{"kind": "component"}]),
    ("not an object: string", '{"kind": "component"}'),
    ("not an object: null", None),
    ("not an object: number", 1),
    ("no kind", {}),
    ("unknown kind", {"kind": "preauthcode"}),
    ("kind not a string", {"kind": ["component"]}),
    ("kind in capitals", {"kind": "Component"}),
    ("authorizer without appid", {"kind": "authorizer"}),
    ("appid null", {"kind": "authorizer", "appid": None}),
    ("appid a number", {"kind": "authorizer", "appid": 123}),
    ("appid too short", {"kind": "authorizer", "appid": "wx0123456789abcde"}),
    ("appid too long", {"kind": "authorizer", "appid": "wx0123456789abcdef0"}),
    ("appid upper-case hex", {"kind": "authorizer", "appid": "wx0123456789ABCDEF"}),
    ("appid not hex", {"kind": "authorizer", "appid": "wx0123456789abcdeg"}),
    ("appid wrong prefix", {"kind": "authorizer", "appid": "gh_3c884a361561aaaa"}),
    ("appid with a newline", {"kind": "authorizer", "appid": "wx0123456789abcdef\n"}),
    ("min_validity negative", {"kind": "component", "min_validity": -1}),
    ("min_validity over an hour", {"kind": "component", "min_validity": 3601}),
    ("min_validity a float", {"kind": "component", "min_validity": 300.0}),
    ("min_validity a fraction", {"kind": "component", "min_validity": 1.5}),
    ("min_validity a bool", {"kind": "component", "min_validity": True}),
    ("min_validity a string", {"kind": "component", "min_validity": "300"}),
    ("invalid_token empty", {"kind": "component", "invalid_token": ""}),
    ("invalid_token too long", {"kind": "component", "invalid_token": "x" * 513}),
    ("invalid_token a number", {"kind": "component", "invalid_token": 40001}),
    ("invalid_token a list", {"kind": "authorizer", "appid": ACCOUNT, "invalid_token": ["t"]}),
    ("body not JSON", b"{kind: component}"),
    ("body not UTF-8", b'{"kind": "\xff"}'),
    ("body empty", b""),
    ("body a JSON string", b'"component"'),
]


@pytest.mark.parametrize(("name", "payload"), BAD_PAYLOADS, ids=[name for name, _ in BAD_PAYLOADS])
def test_every_bad_payload_is_bad_request_and_reaches_no_service(h: Harness, name: str, payload: object) -> None:
    answer = h.vendor.answer(payload, "arn:aws:iam::123456789012:role/orders")
    assert answer.status == 400, name
    assert answer.body["error"]["code"] == "bad_request"
    assert set(answer.body) == {"error"} and "errcode" not in answer.body["error"]
    assert h.issuer.calls == []


@pytest.mark.parametrize(("name", "payload"), BAD_PAYLOADS[:27], ids=[name for name, _ in BAD_PAYLOADS[:27]])
def test_parse_raises_bad_request(name: str, payload: object) -> None:
    with pytest.raises(BadRequest):
        VendRequest.parse(payload)


def test_deeply_nested_json_is_a_bad_request_not_a_crash(h: Harness) -> None:
    """L2: json.loads gives up on deep nesting with RecursionError, which is no ValueError."""
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"kind":' + b"[" * 100_000 + b"]" * 100_000 + b"}"):
        answer = h.vendor.answer(body, "arn:aws:iam::123456789012:role/orders")
        assert answer.status == 400 and answer.body["error"]["code"] == "bad_request"
        assert answer.body["error"]["message"] == "the body is not JSON"
    nested: list[Any] = []
    for _ in range(500):  # as deep as a direct Invoke's payload can come, already decoded
        nested = [nested]
    answer = h.vendor.answer({"kind": nested, "appid": nested, "invalid_token": nested})
    assert answer.status == 400 and answer.body["error"]["code"] == "bad_request"
    assert h.issuer.calls == []


def test_parse_defaults_bounds_and_ignored_keys() -> None:
    assert VendRequest.parse({"kind": "component"}) == VendRequest("component", "", 300, None)
    # An appid sent with kind=component is ignored (the stack serves one component); unknown keys too.
    assert VendRequest.parse({"kind": "component", "appid": 7, "trace": "x"}) == VendRequest("component")
    assert VendRequest.parse({"kind": "authorizer", "appid": ACCOUNT, "min_validity": 0}).min_validity == 0
    assert VendRequest.parse({"kind": "component", "min_validity": 3600}).min_validity == 3600
    explicit_nulls = VendRequest.parse({"kind": "component", "min_validity": None, "invalid_token": None})
    assert explicit_nulls == VendRequest("component")
    longest = VendRequest.parse({"kind": "component", "invalid_token": "t" * 512})
    assert longest.invalid_token == "t" * 512
    assert "t" * 512 not in repr(longest)
    assert VendRequest.from_json(b'{"kind":"authorizer","appid":"%s"}' % ACCOUNT.encode()).appid == ACCOUNT


# -- vending and the memory -----------------------------------------------------------------------


def test_success_body_is_the_contract(h: Harness) -> None:
    body = h.vend(kind="component")
    assert body == {
        "kind": "component",
        "appid": COMPONENT,
        "access_token": f"token-{COMPONENT}-1",
        "expires_at": int(NOW) + 7140,
        "_status": 200,
    }
    body = h.vend(kind="authorizer", appid=ACCOUNT)
    assert body["kind"] == "authorizer" and body["appid"] == ACCOUNT and isinstance(body["expires_at"], int)


def test_a_second_component_vend_is_answered_from_memory_and_authorizer_vends_never_are(h: Harness) -> None:
    first = h.vend(kind="component")
    h.clock.now += 30
    assert h.vend(kind="component") == first
    assert len(h.issuer.calls) == 1
    # Authorizer tokens are never served from memory: a revocation must stop them at once, and
    # the service reads grant and token in one request anyway (issue 10).
    h.vend(kind="authorizer", appid=ACCOUNT)
    h.vend(kind="authorizer", appid=ACCOUNT)
    assert len(h.issuer.calls) == 3


def test_memory_answers_only_with_min_validity_plus_the_safety_margin() -> None:
    h = Harness(memory_ttl=10_000)  # the margin alone decides here
    expires = h.vend(kind="component")["expires_at"]
    h.vend(kind="component", min_validity=3600)
    h.clock.now = expires - 3600 - 60 - 0.5  # just inside min_validity + 60 s: memory
    h.vend(kind="component", min_validity=3600)
    assert len(h.issuer.calls) == 1
    h.clock.now = expires - 3600 - 60  # at the margin: ask the service
    h.vend(kind="component", min_validity=3600)
    assert h.issuer.calls[-1] == ("component.token", 3600)
    h.vend(kind="component", min_validity=300)  # a smaller ask is still served from memory
    assert len(h.issuer.calls) == 2


def test_memory_ages_out_after_its_ttl(h: Harness) -> None:
    h.vend(kind="component")
    h.clock.now += 59
    h.vend(kind="component")
    assert len(h.issuer.calls) == 1
    h.clock.now += 1  # 60 s after it was remembered: ask the service again (the store may know better)
    h.vend(kind="component")
    assert len(h.issuer.calls) == 2


def test_an_invalid_token_bypasses_memory_and_its_replacement_is_remembered(h: Harness) -> None:
    old = h.vend(kind="component")["access_token"]
    replaced = h.vend(kind="component", invalid_token=old)
    assert replaced["access_token"] != old
    assert h.issuer.calls[-1] == ("component.replace_rejected", old, 300)
    again = h.vend(kind="component")
    assert again["access_token"] == replaced["access_token"]
    assert len(h.issuer.calls) == 2  # the replacement came from memory


def test_any_invalid_token_drops_the_entry_even_one_we_never_gave(h: Harness) -> None:
    current = h.vend(kind="component")["access_token"]
    answer = h.vend(kind="component", invalid_token="someone-elses-old-token")
    assert answer["access_token"] == current  # compare-and-refresh: the stored one is not the rejected one
    assert h.issuer.calls[-1][0] == "component.replace_rejected"
    assert h.issuer.issued == 1


def test_a_lookup_racing_a_report_never_puts_the_rejected_token_back(h: Harness) -> None:
    old = h.vend(kind="component")["access_token"]
    h.vendor.forget()  # the next plain vend asks the service
    replaced: dict[str, Any] = {}

    def report_meanwhile() -> None:  # the lookup has read `old`; another thread reports it now
        replaced.update(h.vend(kind="component", invalid_token=old))

    h.issuer.after_read = report_meanwhile
    assert h.vend(kind="component")["access_token"] == old  # what the slower lookup had read
    assert replaced["access_token"] != old
    # Same second, same issued_at: only the report's generation keeps `old` out of memory.
    assert h.issuer.current[COMPONENT].issued_at == int(NOW)
    for _ in range(3):
        assert h.vend(kind="component")["access_token"] == replaced["access_token"]
    assert len(h.issuer.calls) == 3


def test_a_refused_report_leaves_nothing_in_memory(h: Harness) -> None:
    token = h.vend(kind="authorizer", appid=ACCOUNT)["access_token"]
    h.authorizers.known.clear()  # the merchant revoked us; WeChat rejects the token
    refused = h.vend(kind="authorizer", appid=ACCOUNT, invalid_token=token)
    assert refused["error"]["code"] == "not_authorized"
    assert h.vend(kind="authorizer", appid=ACCOUNT)["error"]["code"] == "not_authorized"  # not from memory


def test_vendor_is_thread_safe_and_memory_serves_concurrent_callers(h: Harness) -> None:
    h.vend(kind="component")
    start = threading.Barrier(16)

    def one(_: int) -> str:
        start.wait(timeout=10)
        return str(h.vend(kind="component")["access_token"])

    with ThreadPoolExecutor(16) as pool:
        tokens = set(pool.map(one, range(16)))
    assert len(tokens) == 1 and len(h.issuer.calls) == 1


def test_a_refusal_is_not_remembered(h: Harness) -> None:
    assert h.vend(kind="authorizer", appid=OTHER)["error"]["code"] == "not_authorized"
    assert h.vend(kind="authorizer", appid=OTHER)["error"]["code"] == "not_authorized"
    assert len(h.issuer.calls) == 2


def test_a_check_runs_before_the_services_and_can_refuse(h: Harness) -> None:
    seen: list[tuple[str | None, VendRequest]] = []

    def deny(caller: str | None, request: VendRequest) -> None:
        seen.append((caller, request))
        raise NotAuthorized("not for you")

    answer = h.vendor.answer({"kind": "authorizer", "appid": ACCOUNT}, "arn:x", check=deny)
    assert answer.status == 404 and answer.body["error"]["code"] == "not_authorized"
    assert seen == [("arn:x", VendRequest("authorizer", ACCOUNT))]
    assert h.issuer.calls == []


# -- error bodies ---------------------------------------------------------------------------------

ERRORS: list[tuple[Exception, int, dict[str, Any]]] = [
    (BadRequest("kind must be given"), 400, {"code": "bad_request", "message": "kind must be given"}),
    (NotAuthorized("wx… revoked", errcode=61003), 404, {"code": "not_authorized", "errcode": 61003}),
    (NotAuthorized("the caller policy does not allow this"), 404, {"code": "not_authorized"}),
    (VerifyTicketMissing("no valid component_verify_ticket yet"), 503, {"code": "ticket_missing"}),
    (
        VerifyTicketMissing("WeChat refused the stored ticket", errcode=61006),
        503,
        {"code": "ticket_missing", "errcode": 61006},
    ),
    (
        QuotaExceeded("45009 reach max api daily quota limit", errcode=45009),
        502,
        {"code": "upstream_error", "errcode": 45009},
    ),
    (SystemBusy("-1 system error", errcode=-1), 502, {"code": "upstream_error", "errcode": -1}),
    (UpstreamUnavailable("timed out"), 502, {"code": "upstream_error", "message": "timed out"}),
    (RefreshContended("refresh of COMPONENT#wx… is taking too long elsewhere"), 502, {"code": "upstream_error"}),
    (ConfigurationError("TABLE_NAME is not set"), 503, {"code": "internal", "message": "TABLE_NAME is not set"}),
    (WxComponentError("something of ours"), 500, {"code": "internal"}),
    (RuntimeError(f"boom with {SECRET}"), 500, {"code": "internal", "message": "unexpected error"}),
    (KeyError("access_token"), 500, {"code": "internal", "message": "unexpected error"}),
]


@pytest.mark.parametrize(("error", "status", "expected"), ERRORS, ids=[type(e).__name__ for e, _, _ in ERRORS])
def test_error_bodies(h: Harness, error: Exception, status: int, expected: dict[str, Any]) -> None:
    h.issuer.fail = error
    answer = h.vendor.answer({"kind": "component"})
    assert answer.status == status
    assert set(answer.body) == {"error"}
    detail = answer.body["error"]
    assert {k: detail[k] for k in expected} == expected
    assert set(detail) <= {"code", "message", "errcode"} and isinstance(detail["message"], str)
    assert ("errcode" in detail) == (getattr(error, "errcode", None) is not None)
    assert SECRET not in json.dumps(answer.body)
    assert error_body(error) == answer.body


def test_every_not_authorized_reads_the_same_whatever_the_reason() -> None:
    bodies = [error_body(NotAuthorized(reason)) for reason in ("unknown", "revoked", "caller policy")]
    assert bodies == [{"error": {"code": "not_authorized", "message": NOT_AUTHORIZED_MESSAGE}}] * 3


# -- audit ----------------------------------------------------------------------------------------


def _audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.__dict__ for r in caplog.records if r.__dict__.get("audit") == "vend"]


def test_every_vend_is_audited_once_without_the_token(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caller = "arn:aws:sts::123456789012:assumed-role/orders/i-0abc"
    with caplog.at_level("INFO", logger="wxcomponent"):
        token = h.vend(caller, kind="authorizer", appid=ACCOUNT)["access_token"]
        h.vend(caller, kind="authorizer", appid=ACCOUNT)
        h.vend(caller, kind="authorizer", appid=ACCOUNT, invalid_token=token)
        h.vend(caller, kind="authorizer", appid=OTHER)
        h.vend(caller, kind="authorizer", appid="WX-not-an-appid")
        h.vendor.answer(b"not json", caller)
        h.vendor.answer({"kind": "component"})
    lines = _audit_lines(caplog)
    summary = [(r["caller"], r["kind"], r["appid"], r["outcome"], r["from_memory"]) for r in lines]
    assert summary == [
        (caller, "authorizer", ACCOUNT, "ok", False),
        (caller, "authorizer", ACCOUNT, "ok", False),  # authorizer tokens: never from memory
        (caller, "authorizer", ACCOUNT, "ok", False),
        (caller, "authorizer", OTHER, "not_authorized", False),
        (caller, "authorizer", None, "bad_request", False),
        (caller, None, None, "bad_request", False),
        (None, "component", COMPONENT, "ok", False),
    ]
    rendered = "\n".join(logger.registered_formatter.format(r) for r in caplog.records) + caplog.text
    assert '"audit":"vend"' in rendered
    assert h.issuer.issued == 3 and "token-" not in rendered  # every token is token-<owner>-<n>


def test_a_failed_vend_is_audited_once_with_its_code(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    h.issuer.fail = VerifyTicketMissing("no valid component_verify_ticket yet")
    with caplog.at_level("INFO", logger="wxcomponent"):
        h.vendor.answer({"kind": "component"}, "arn:caller")
    assert [(r["kind"], r["appid"], r["outcome"]) for r in _audit_lines(caplog)] == [
        ("component", None, "ticket_missing")
    ]
