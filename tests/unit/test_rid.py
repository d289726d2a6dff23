"""WeChat's rid and the address WeChat saw (issue 22): read from errmsg, carried by every typed
error and by what wraps it or remembers it, returned beside the errcode in a vend's error body."""

from __future__ import annotations

import json

import pytest

from wxcomponent.domain.errors import NotAuthorized, VerifyTicketMissing, WxComponentError
from wxcomponent.domain.wechat import (
    RefreshFailure,
    UpstreamUnavailable,
    VerifyTicketRejected,
    client_ip_in,
    error_for,
    masked,
    rid_in,
    rid_of,
)
from wxcomponent.services.vending import error_body

RID = "617682e0-09059ac5-34a8e2ea"


@pytest.mark.parametrize(
    ("text", "rid"),
    [
        (f"reach max api daily quota limit rid: {RID}", RID),
        (f"invalid component rid:{RID}", RID),
        (f"api_authorizer_token: errcode 45009: quota rid: {RID} (remembered: WeChat is asked again later)", RID),
        ("access clientip is not registered hint: [ZJ6NTA0211e578]", None),  # the old errmsg had a hint only
        ("rid: 617682e0-09059ac5", None),  # not a rid's shape
        ("rid: 617682e0-09059ac5-34a8e2ea0", None),
        ("grid: nothing here", None),
    ],
)
def test_the_rid_is_read_from_the_end_of_wechats_errmsg(text: str, rid: str | None) -> None:
    assert rid_in(text) == rid


@pytest.mark.parametrize(
    ("errmsg", "ip"),
    [
        (f"invalid ip 118.190.42.90 ipv6 ::ffff:118.190.42.90, not in whitelist rid: {RID}", "118.190.42.90"),
        ("invalid ip 123.123.123.123, not in whitelist", "123.123.123.123"),
        ("invalid ip  ipv6 2001:db8::7, not in whitelist", "2001:db8::7"),
        (f"access clientip is not registered requestIP: 203.0.113.9 rid: {RID}", "203.0.113.9"),
        ("access clientip is not registered hint: [OOcsrA0577oxy3] requestIP: 123.57.208.67", "123.57.208.67"),
        ("access clientip is not registered", None),
        ("invalid ip 999.1.1.1, not in whitelist", None),
    ],
)
def test_the_address_wechat_saw_is_read_from_a_whitelist_refusal(errmsg: str, ip: str | None) -> None:
    assert client_ip_in(errmsg) == ip


def test_only_a_whitelist_refusal_names_an_address() -> None:
    assert error_for(61004, "access clientip is not registered requestIP: 203.0.113.9").client_ip == "203.0.113.9"
    assert error_for(40164, "invalid ip 203.0.113.9 ipv6 ::ffff:203.0.113.9, not in whitelist").client_ip == (
        "203.0.113.9"
    )
    assert error_for(40013, "invalid appid requestIP: 203.0.113.9").client_ip is None


def test_the_rid_survives_an_errmsg_cut_short() -> None:
    error = error_for(45009, "x" * 300 + f" rid: {RID}", api="api_component_token")
    assert RID not in error.message and error.rid == RID


def test_a_wrapped_error_carries_the_rid_of_the_error_it_was_raised_from() -> None:
    cause = error_for(61023, f"invalid refresh token rid: {RID}")
    try:
        try:
            raise cause
        except Exception as exc:
            raise NotAuthorized("the authorizer must authorize again", errcode=61023) from exc
    except NotAuthorized as wrapped:
        assert rid_of(wrapped) == RID
    assert rid_of(UpstreamUnavailable("api_component_token: HTTP 502")) is None
    assert rid_of(ValueError("not ours")) is None


@pytest.mark.parametrize(
    "error",
    [
        error_for(45009, f"reach max api daily quota limit rid: {RID}", api="api_component_token"),
        VerifyTicketMissing("WeChat refused the stored ticket", errcode=61006),
    ],
    ids=["quota", "ticket"],
)
def test_a_remembered_refusal_keeps_the_rid_of_the_call_wechat_refused(error: WxComponentError) -> None:
    if isinstance(error, VerifyTicketMissing):
        error.__cause__ = VerifyTicketRejected(f"errcode 61006: component ticket is invalid rid: {RID}", errcode=61006)
    failure = RefreshFailure.of(error, 1000.0)
    assert failure is not None
    again = failure.error()
    assert rid_of(again) == RID and "remembered" in again.message


def test_a_vend_error_body_has_the_rid_beside_the_errcode() -> None:
    body = error_body(error_for(45009, f"reach max api daily quota limit rid: {RID}", api="api_component_token"))
    assert body["error"]["errcode"] == 45009 and body["error"]["rid"] == RID
    assert "rid" not in error_body(UpstreamUnavailable("api_component_token: HTTP 502"))["error"]


def test_what_wechat_saw_is_shown_without_tokens_secrets_tickets_or_codes() -> None:
    query = "component_access_token=CT-1&appid=wx1&code=CODE-2&grant_type=authorization_code"
    assert masked(query) == "component_access_token=<redacted>&appid=wx1&code=<redacted>&grant_type=authorization_code"
    body = json.dumps({"component_appsecret": 'S\\"3', "errcode": 0, "authorizer_refresh_token": "R"})
    assert json.loads(masked(body)) == {
        "component_appsecret": "<redacted>",
        "errcode": 0,
        "authorizer_refresh_token": "<redacted>",
    }
    assert masked("errcode=40001&appsecret=x") == "errcode=40001&appsecret=<redacted>"
