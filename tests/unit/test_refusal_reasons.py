"""Refusals that say what to do next (issue 21), to callers allowed to ask for that appid: one
`not_authorized` used to cover five causes. A grant's state says which one it is, and the vendor
tells the component's own appid sent as an authorizer; a refusal of the caller policy stays the one
vague answer, so a caller the policy does not allow learns nothing about the appid."""

from __future__ import annotations

from typing import Any

import pytest

from wxcomponent.domain.errors import (
    AuthorizationRevoked,
    ComponentAppidAsAuthorizer,
    NeedsReauthorization,
    NoApiPermission,
    NotAuthorized,
    UnknownAuthorizer,
)
from wxcomponent.domain.grants import (
    AUTHORIZED,
    NEEDS_REAUTHORIZATION,
    NO_API_PERMISSION,
    REVOKED,
    Grant,
    require_active,
)
from wxcomponent.domain.tokens import AccessToken
from wxcomponent.services.vending import NOT_AUTHORIZED_MESSAGE, TokenVendor, VendRequest, error_body
from wxcomponent.settings import ComponentSettings

COMPONENT = "wx5a0d8c0ffee5a4d1"
ACCOUNT = "wx570bc396a51b8ff8"
START_PAGE = "/wechat/authorize"


def grant(status: str) -> Grant:
    return Grant(ACCOUNT, COMPONENT, "refresh@@@1" if status == AUTHORIZED else "", (1,), status, 1, 2)


@pytest.mark.parametrize(
    ("status", "refusal", "reason", "next_step"),
    [
        (None, UnknownAuthorizer, "unknown", START_PAGE),
        (REVOKED, AuthorizationRevoked, "revoked", START_PAGE),
        (NEEDS_REAUTHORIZATION, NeedsReauthorization, "needs_reauthorization", START_PAGE),
        (NO_API_PERMISSION, NoApiPermission, "no_api_permission", "API permission"),
    ],
)
def test_a_grant_that_gives_no_token_says_why_and_what_to_do(
    status: str | None, refusal: type[NotAuthorized], reason: str, next_step: str
) -> None:
    with pytest.raises(refusal) as raised:
        require_active(None if status is None else grant(status))
    error = raised.value
    assert isinstance(error, NotAuthorized) and error.code == "not_authorized" and error.reason == reason
    assert next_step in error.message
    assert error_body(error) == {"error": {"code": "not_authorized", "reason": reason, "message": error.message}}


def test_an_active_grant_is_returned() -> None:
    active = grant(AUTHORIZED)
    assert require_active(active) is active


def test_a_refusal_without_a_reason_reads_the_same_as_ever() -> None:
    # The caller policy's refusal, and any other not_authorized that names no reason.
    body = error_body(NotAuthorized("the caller policy does not allow this caller this kind for this appid"))
    assert body == {"error": {"code": "not_authorized", "message": NOT_AUTHORIZED_MESSAGE}}


# -- the component's own appid, sent as an authorizer -------------------------------------------------


class Component:
    def token(self, min_validity: float = 300) -> AccessToken:
        return AccessToken(COMPONENT, "component-token", 1, 2**40)

    def replace_rejected(self, rejected: str, min_validity: float = 0) -> AccessToken:
        return self.token()


class NoGrants:
    """An authorizer-token service whose table holds no grant at all."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def token(self, authorizer_appid: str, min_validity: float = 300) -> AccessToken:
        self.asked.append(authorizer_appid)
        require_active(None)
        raise AssertionError("unreachable")

    def replace_rejected(self, authorizer_appid: str, rejected: str, min_validity: float = 0) -> AccessToken:
        return self.token(authorizer_appid)


def settings() -> ComponentSettings:
    return ComponentSettings(component_appid=COMPONENT, component_appsecret="s", token="t", encoding_aes_key="k" * 43)


def vendor(**options: Any) -> tuple[TokenVendor, NoGrants]:
    grants = NoGrants()
    return TokenVendor(Component(), grants, **options), grants


def test_the_components_appid_asked_as_an_authorizer_is_told_to_ask_for_kind_component() -> None:
    tokens, grants = vendor(component=settings)
    answer = tokens.answer({"kind": "authorizer", "appid": COMPONENT})
    assert answer.status == 404
    error = answer.body["error"]
    assert (error["code"], error["reason"]) == ("not_authorized", "component_appid")
    assert '"kind": "component"' in error["message"] and COMPONENT in error["message"]
    assert grants.asked == [COMPONENT]  # the table was read as for any appid: no cost before a refusal
    # Any other appid we hold no grant for is unknown, whatever the vendor knows of the component.
    other = tokens.answer({"kind": "authorizer", "appid": ACCOUNT}).body["error"]
    assert other["reason"] == "unknown" and START_PAGE in other["message"]


def test_the_component_check_costs_nothing_on_success_and_reads_settings_only_to_refuse() -> None:
    reads: list[str] = []

    def counted() -> ComponentSettings:
        reads.append("component")
        return settings()

    tokens, _ = vendor(component=counted)
    assert tokens.answer({"kind": "component"}).body["appid"] == COMPONENT
    assert reads == []
    assert tokens.answer({"kind": "authorizer", "appid": ACCOUNT}).body["error"]["reason"] == "unknown"
    assert reads == ["component"]


def test_a_caller_the_policy_refuses_learns_nothing_whatever_the_appid() -> None:
    tokens, grants = vendor(component=settings)

    def policy(caller: str | None, request: VendRequest) -> None:
        raise NotAuthorized("the caller policy does not allow this caller this kind for this appid")

    vague = {"error": {"code": "not_authorized", "message": NOT_AUTHORIZED_MESSAGE}}
    for appid in (COMPONENT, ACCOUNT):
        answer = tokens.answer({"kind": "authorizer", "appid": appid}, "arn:aws:iam::1:role/x", check=policy)
        assert (answer.status, answer.body) == (404, vague)
    assert grants.asked == []  # refused before any read


def test_the_refusal_is_a_not_authorized_with_its_reason() -> None:
    refusal = ComponentAppidAsAuthorizer(f'{COMPONENT} is the component: ask with {{"kind": "component"}}')
    assert isinstance(refusal, NotAuthorized) and refusal.reason == "component_appid"
    assert {UnknownAuthorizer.reason, AuthorizationRevoked.reason, NeedsReauthorization.reason} == {
        "unknown",
        "revoked",
        "needs_reauthorization",
    }
