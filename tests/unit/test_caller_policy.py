"""The caller policy: parsing, principal matching (assumed roles), where it is read from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from wxcomponent import settings
from wxcomponent.domain.errors import ConfigurationError, NotAuthorized
from wxcomponent.services import caller_policy
from wxcomponent.services.caller_policy import CallerPolicy, CallerPolicyError, configured_policy
from wxcomponent.services.vending import TokenVendor, VendRequest
from wxcomponent.settings import Settings

ORDERS = "arn:aws:iam::123456789012:role/orders"
ADMIN = "arn:aws:iam::123456789012:role/admin"
USER = "arn:aws:iam::123456789012:user/local-developer"
A = "wx570bc396a51b8ff8"
B = "wx0123456789abcdef"
C = "wxfedcba9876543210"
SOME_ROLE = "arn:aws:iam::123456789012:role/platform-admin"

POLICY = {ORDERS: [A, "component"], ADMIN: "*", USER: [B], "arn:aws-cn:iam::210987654321:role/team/billing": [C]}


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CALLER_POLICY", raising=False)
    monkeypatch.delenv("COMPONENT_SECRET_ID", raising=False)
    settings.reset_caches()
    yield
    settings.reset_caches()


def component() -> VendRequest:
    return VendRequest("component")


def authorizer(appid: str) -> VendRequest:
    return VendRequest("authorizer", appid)


@pytest.mark.parametrize(
    ("caller", "kind", "appid", "allowed"),
    [
        (ORDERS, "authorizer", A, True),
        (ORDERS, "component", "", True),
        (ORDERS, "authorizer", B, False),
        (ADMIN, "authorizer", C, True),
        # H1: the component token opens every merchant; "*" means every authorizer, not it.
        (ADMIN, "component", "", False),
        (USER, "authorizer", B, True),
        (USER, "authorizer", A, False),
        (USER, "component", "", False),
        # An assumed-role session matches its role's entry; the session name does not matter.
        ("arn:aws:sts::123456789012:assumed-role/orders/i-0abc123", "authorizer", A, True),
        ("arn:aws:sts::123456789012:assumed-role/orders/botocore-session-1", "component", "", True),
        ("arn:aws:sts::123456789012:assumed-role/orders/i-0abc123", "authorizer", B, False),
        ("arn:aws:sts::123456789012:assumed-role/admin/anyone", "authorizer", B, True),
        # Same role name in another account, another role, a role-like user name: no.
        ("arn:aws:sts::999999999999:assumed-role/orders/i-0abc123", "authorizer", A, False),
        ("arn:aws:sts::123456789012:assumed-role/orders-v2/i-0abc123", "authorizer", A, False),
        ("arn:aws:iam::123456789012:user/orders", "authorizer", A, False),
        ("arn:aws:sts::123456789012:federated-user/orders", "authorizer", A, False),
        # A role with a path: sessions name it without the path (China partition too).
        ("arn:aws-cn:sts::210987654321:assumed-role/billing/s1", "authorizer", C, True),
        ("arn:aws:sts::210987654321:assumed-role/billing/s1", "authorizer", C, False),
        # No identity at all.
        (None, "component", "", False),
        ("", "authorizer", A, False),
    ],
)
def test_matching(caller: str | None, kind: str, appid: str, allowed: bool) -> None:
    policy = CallerPolicy.parse(POLICY)
    assert policy.allows(caller, kind, appid) is allowed
    request = VendRequest(kind, appid)
    if allowed:
        policy.check(caller, request)
    else:
        with pytest.raises(NotAuthorized) as refused:
            policy.check(caller, request)
        assert refused.value.code == "not_authorized" and refused.value.errcode is None


def test_star_inside_a_list_allows_every_authorizer_and_paths_merge() -> None:
    policy = CallerPolicy.parse(
        {
            ORDERS: [A, "*"],
            "arn:aws:iam::123456789012:role/x/shared": [A],
            "arn:aws:iam::123456789012:role/y/shared": [B],
        }
    )
    assert policy.allows(ORDERS, "authorizer", C) and not policy.allows(ORDERS, "component")
    session = "arn:aws:sts::123456789012:assumed-role/shared/s"
    assert policy.allows(session, "authorizer", A) and policy.allows(session, "authorizer", B)
    assert not policy.allows(session, "component")


def test_the_component_token_goes_only_to_callers_that_name_it() -> None:
    """H1: the component token lists every merchant's refresh token and mints any authorizer's
    token, so only an entry that says "component" gets it; "*" and appids never do."""
    policy = CallerPolicy.parse({ORDERS: ["*"], ADMIN: "*", USER: [A, "component"], SOME_ROLE: ["*", "component"]})
    assert not policy.allows(ORDERS, "component") and not policy.allows(ADMIN, "component")
    assert policy.allows(USER, "component") and policy.allows(SOME_ROLE, "component")
    assert policy.allows(SOME_ROLE, "authorizer", C) and not policy.allows(USER, "authorizer", C)
    with pytest.raises(NotAuthorized):
        policy.check(ADMIN, component())


ALL_KINDS = ("authorizer", "jsapi_ticket", "card_ticket", "web_login")


@pytest.mark.parametrize(
    ("entry", "allowed"),
    [
        # An appid alone: every kind for that account (as before: "appids" keep their meaning).
        ([A], {(A, kind) for kind in ALL_KINDS}),
        ("*", {(appid, kind) for appid in (A, B) for kind in ALL_KINDS}),
        # A page server that only signs wx.config and logs visitors in: no access token.
        ([f"{A}:jsapi_ticket", f"{A}:web_login"], {(A, "jsapi_ticket"), (A, "web_login")}),
        # One kind for every account.
        (["*:web_login"], {(A, "web_login"), (B, "web_login")}),
        ([f"{A}:card_ticket", f"{B}:authorizer"], {(A, "card_ticket"), (B, "authorizer")}),
        ([f"{A}:authorizer", A], {(A, kind) for kind in ALL_KINDS}),
    ],
    ids=["appid", "star", "page-server", "one-kind-everywhere", "mixed", "appid-wins"],
)
def test_an_entry_may_limit_a_caller_by_kind_as_well_as_by_appid(entry: Any, allowed: set[tuple[str, str]]) -> None:
    policy = CallerPolicy.parse({ORDERS: entry})
    granted = {(appid, kind) for appid in (A, B) for kind in ALL_KINDS if policy.allows(ORDERS, kind, appid)}
    assert granted == allowed
    assert not policy.allows(ORDERS, "component")
    session = "arn:aws:sts::123456789012:assumed-role/orders/i-0abc123"
    assert {(a, k) for a in (A, B) for k in ALL_KINDS if policy.allows(session, k, a)} == allowed


def test_kind_limited_entries_of_one_role_merge_across_paths() -> None:
    policy = CallerPolicy.parse(
        {
            "arn:aws:iam::123456789012:role/x/pages": [f"{A}:jsapi_ticket"],
            "arn:aws:iam::123456789012:role/y/pages": [f"{A}:web_login", "component"],
        }
    )
    session = "arn:aws:sts::123456789012:assumed-role/pages/s"
    assert policy.allows(session, "jsapi_ticket", A) and policy.allows(session, "web_login", A)
    assert policy.allows(session, "component") and not policy.allows(session, "authorizer", A)


def test_an_empty_policy_allows_nobody_and_no_policy_allows_everybody() -> None:
    assert not CallerPolicy.parse({}).allows(ADMIN, "component")
    everyone = CallerPolicy.allow_all()
    assert everyone.allows(None, "component") and everyone.allows(USER, "authorizer", A)
    everyone.check(None, authorizer(A))


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        [ORDERS],
        '"*"',
        {ORDERS: "component"},  # a bare string other than "*"
        {ORDERS: [A, 7]},
        {ORDERS: {"appids": [A]}},
        {ORDERS: ["WX570BC396A51B8FF8"]},
        {ORDERS: ["wx570bc396a51b8ff"]},
        {ORDERS: None},
        {"orders": [A]},  # not an ARN
        {"arn:aws:iam::1234:role/orders": [A]},  # not a 12-digit account
        {"arn:aws:s3:::bucket": [A]},
        {ORDERS: [f"{A}:access_token"]},  # not a kind
        {ORDERS: [f"{A}:component"]},  # the component token belongs to no authorizer
        {ORDERS: ["*:component"]},
        {ORDERS: ["component:web_login"]},
        {ORDERS: [f"{A}:"]},
        {ORDERS: [":jsapi_ticket"]},
        {ORDERS: [f"{A}:jsapi_ticket:x"]},
        {ORDERS: [f"{A}:JSAPI_TICKET"]},
    ],
)
def test_malformed_policies_are_refused(raw: Any) -> None:
    with pytest.raises(CallerPolicyError, match="caller policy"):
        CallerPolicy.parse(raw)


def test_the_setting_wins_and_is_json() -> None:
    no_secret = FakeSecret()
    assert not configured_policy("", no_secret).configured  # nothing anywhere: allow-all
    setting = json.dumps({USER: [B]})
    policy = configured_policy(setting, no_secret)
    assert policy.configured and policy.allows(USER, "authorizer", B) and not policy.allows(USER, "authorizer", A)
    caller_policy.check(USER, authorizer(B), setting, no_secret)
    with pytest.raises(NotAuthorized):
        caller_policy.check(USER, authorizer(A), setting, no_secret)
    with pytest.raises(CallerPolicyError):
        caller_policy.check(USER, authorizer(B), "{broken", no_secret)


def test_the_setting_is_what_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLER_POLICY", json.dumps({USER: [B]}))
    configured = Settings.from_environment({"TABLE_NAME": "t-1", "EVENT_BUS_NAME": "b", "CALLER_POLICY": "{}"})
    assert configured.caller_policy == "{}"


class FakeSecret:
    """Stands in for `Settings.secret` (the unit ring has no sockets)."""

    def __init__(self, value: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.value = value or {}
        self.error = error
        self.reads = 0

    def __call__(self) -> dict[str, Any]:
        self.reads += 1
        if self.error is not None:
            raise self.error
        return self.value


@pytest.mark.parametrize(
    "in_secret",
    [{USER: [B]}, json.dumps({USER: [B]})],
    ids=["object", "json-string"],
)
def test_the_secret_is_read_when_the_setting_is_empty(in_secret: Any) -> None:
    secret = FakeSecret({"component_appid": "wx5a0d8c0ffee5a4d1", "caller_policy": in_secret})
    policy = configured_policy("", secret)
    assert policy.allows(USER, "authorizer", B) and not policy.allows(ADMIN, "authorizer", B)
    assert secret.reads == 1
    assert configured_policy(json.dumps({ADMIN: "*"}), secret).allows(ADMIN, "authorizer", B)  # the setting wins
    assert secret.reads == 1


def test_a_secret_without_a_policy_allows_everybody() -> None:
    assert not configured_policy("", FakeSecret({"component_appid": "wx5a0d8c0ffee5a4d1"})).configured


def test_no_secret_configured_allows_everybody_without_a_read() -> None:
    settings = Settings(table_name="t-1", event_bus_name="b")  # no COMPONENT_SECRET_ID
    assert settings.secret() == {}
    assert not configured_policy("", settings.secret).configured


@pytest.mark.parametrize(
    "secret",
    [
        FakeSecret(error=ConfigurationError("the component secret could not be read")),
        FakeSecret({"caller_policy": [USER]}),
        FakeSecret({"caller_policy": "not json"}),
    ],
    ids=["unreadable", "malformed-policy", "policy-not-json"],
)
def test_an_unreadable_secret_or_a_bad_policy_fails_closed(secret: FakeSecret) -> None:
    with pytest.raises(CallerPolicyError):
        caller_policy.check(ADMIN, component(), "", secret)


@pytest.mark.parametrize(
    "configured",
    ['{"arn:aws:iam::123456789012:role/admin": "everything"}', "{broken", '["not", "an", "object"]'],
)
def test_a_malformed_policy_is_answered_500_internal_never_503(configured: str) -> None:
    """L10: the contract keeps 503 for ticket_missing; a caller switching on the status would wait for
    the next ticket push when an operator must fix the policy."""
    vendor = TokenVendor(NoTokens(), NoTokens())  # the check refuses first

    def check(caller: str | None, request: VendRequest) -> None:
        caller_policy.check(caller, request, configured, FakeSecret())

    answer = vendor.answer({"kind": "authorizer", "appid": B}, ADMIN, check=check)
    assert answer.status == 500 and answer.body["error"]["code"] == "internal"
    assert "caller policy" in answer.body["error"]["message"]


def test_an_unreadable_secret_while_reading_the_policy_is_500_internal() -> None:
    vendor = TokenVendor(NoTokens(), NoTokens())
    unreadable = FakeSecret(error=ConfigurationError("the component secret could not be read"))

    def check(caller: str | None, request: VendRequest) -> None:
        caller_policy.check(caller, request, "", unreadable)

    answer = vendor.answer({"kind": "component"}, ADMIN, check=check)
    assert answer.status == 500 and answer.body["error"]["code"] == "internal"


class NoTokens:
    """A token service that must never be reached: the policy refuses before any vend."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the token service was asked ({name}) though the policy refused")
