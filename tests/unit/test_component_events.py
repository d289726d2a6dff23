"""The authorization-event URL's core: what is stored, and that every bad input changes nothing."""

from __future__ import annotations

import base64

import pytest

from tests.support.fakes import MemoryVerifyTickets
from tests.support.pushes import (
    AES_KEY,
    APPID,
    OTHER_AES_KEY,
    TOKEN,
    Push,
    event_xml,
    signed_push,
    signed_raw,
    ticket_xml,
)
from wxcomponent.domain.errors import (
    AppIdMismatch,
    BadRequest,
    DecryptError,
    InvalidSignature,
    MalformedMessage,
    PayloadTooLarge,
    StaleTimestamp,
)
from wxcomponent.services.component_events import MAX_BODY_BYTES, ComponentEventService, SignedPush
from wxcomponent.settings import ComponentSettings

NOW = 1_767_225_600


def settings(previous: str = "") -> ComponentSettings:
    return ComponentSettings(APPID, "secret", TOKEN, AES_KEY, previous)


@pytest.fixture
def store() -> MemoryVerifyTickets:
    return MemoryVerifyTickets()


def service(store: MemoryVerifyTickets, *, now: float = NOW, previous: str = "") -> ComponentEventService:
    return ComponentEventService(store, component=lambda: settings(previous), clock=lambda: now)


def as_signed(push: Push, **override: str | None) -> SignedPush:
    """The push as the handler hands it over; an override of None leaves that parameter out."""
    query = {k: v for k, v in {**push.query, **override}.items() if v is not None}
    return SignedPush.from_query(push.body, query)


def test_a_ticket_is_stored_with_12_hours_of_life(store: MemoryVerifyTickets) -> None:
    answer = service(store).handle(as_signed(signed_push(ticket_xml("ticket@@@one", NOW - 2), timestamp=NOW)))
    assert answer == "success"
    ticket = store.tickets[APPID]
    assert (ticket.ticket, ticket.create_time, ticket.received_at) == ("ticket@@@one", NOW - 2, NOW)
    assert ticket.expires_at == NOW + 12 * 3600
    assert ticket.is_valid(NOW + 12 * 3600 - 1) and not ticket.is_valid(NOW + 12 * 3600)


def test_an_older_push_never_replaces_a_newer_ticket(store: MemoryVerifyTickets) -> None:
    svc = service(store)
    svc.handle(as_signed(signed_push(ticket_xml("ticket@@@new", NOW), timestamp=NOW)))
    assert svc.handle(as_signed(signed_push(ticket_xml("ticket@@@old", NOW - 600), timestamp=NOW))) == "success"
    assert store.tickets[APPID].ticket == "ticket@@@new"
    svc.handle(as_signed(signed_push(ticket_xml("ticket@@@newer", NOW + 1), timestamp=NOW)))
    assert store.tickets[APPID].ticket == "ticket@@@newer"


def test_a_different_ticket_of_the_same_second_replaces_by_arrival(store: MemoryVerifyTickets) -> None:
    service(store).handle(as_signed(signed_push(ticket_xml("ticket@@@a", NOW), timestamp=NOW)))
    service(store).handle(as_signed(signed_push(ticket_xml("ticket@@@b", NOW), timestamp=NOW)))
    assert store.tickets[APPID].ticket == "ticket@@@b"


def test_a_retried_identical_push_is_answered_again_and_changes_nothing(store: MemoryVerifyTickets) -> None:
    push = as_signed(signed_push(ticket_xml("ticket@@@one", NOW), timestamp=NOW))
    assert service(store).handle(push) == "success"
    first = store.tickets[APPID]
    assert service(store, now=NOW + 4).handle(push) == "success"
    assert store.tickets[APPID] == first and store.writes == 1


def test_the_previous_aes_key_still_opens_pushes(store: MemoryVerifyTickets) -> None:
    push = signed_push(ticket_xml("ticket@@@old-key", NOW), timestamp=NOW, aes_key=OTHER_AES_KEY)
    with pytest.raises(DecryptError):
        service(store).handle(as_signed(push))
    assert service(store, previous=OTHER_AES_KEY).handle(as_signed(push)) == "success"
    assert store.tickets[APPID].ticket == "ticket@@@old-key"


@pytest.mark.parametrize("info_type", ["authorized", "updateauthorized", "unauthorized", "notify_third_fasteregister"])
def test_other_pushes_are_recorded_once_and_answered_success(store: MemoryVerifyTickets, info_type: str) -> None:
    inner = event_xml(info_type, NOW, "wx1111111111111111")
    if info_type in ("authorized", "updateauthorized"):
        inner = inner.replace(
            "</xml>",
            "<AuthorizationCode><![CDATA[queryauthcode@@@x]]></AuthorizationCode>"
            f"<AuthorizationCodeExpiredTime>{NOW + 3600}</AuthorizationCodeExpiredTime></xml>",
        )
    push = as_signed(signed_push(inner, timestamp=NOW))
    assert service(store).handle(push) == "success"
    assert service(store).handle(push) == "success"
    [record] = store.records.values()
    assert (record.info_type, record.authorizer_appid) == (info_type, "wx1111111111111111")


def test_the_component_appid_envelope_and_the_account_envelope_both_work(store: MemoryVerifyTickets) -> None:
    envelope = "<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    push = signed_push(ticket_xml("ticket@@@x", NOW), timestamp=NOW, envelope=envelope)
    assert service(store).handle(as_signed(push)) == "success"


GOOD = signed_push(ticket_xml("ticket@@@good", NOW), timestamp=NOW)
DOCTYPE = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "boom">]>'


def _replace_body(body: bytes) -> Push:
    return Push(GOOD.query, body)


BAD_INPUTS: dict[str, tuple[SignedPush, type[BadRequest]]] = {
    "no-signature": (as_signed(GOOD, signature=None), InvalidSignature),
    "wrong-signature": (as_signed(GOOD, signature="0" * 40), InvalidSignature),
    "no-msg-signature": (as_signed(GOOD, msg_signature=None), InvalidSignature),
    "wrong-msg-signature": (as_signed(GOOD, msg_signature="f" * 40), InvalidSignature),
    "wrong-token": (as_signed(signed_push(ticket_xml("t", NOW), timestamp=NOW, token="other")), InvalidSignature),
    "another-appid-ciphertext": (
        as_signed(signed_push(ticket_xml("t", NOW), timestamp=NOW, appid="wx9999999999999999")),
        AppIdMismatch,
    ),
    "another-appid-inside": (
        as_signed(signed_push(ticket_xml("t", NOW, appid="wx9999999999999999"), timestamp=NOW)),
        AppIdMismatch,
    ),
    "replay-old": (as_signed(signed_push(ticket_xml("t", NOW), timestamp=NOW - 301)), StaleTimestamp),
    "replay-future": (as_signed(signed_push(ticket_xml("t", NOW), timestamp=NOW + 301)), StaleTimestamp),
    "no-timestamp": (as_signed(GOOD, timestamp=None), BadRequest),
    "timestamp-not-a-number": (as_signed(GOOD, timestamp="12e9"), BadRequest),
    # '²'.isdigit() is true and int('²') raises: once a 500, now refused by exact pattern.
    "timestamp-unicode-digit": (as_signed(GOOD, timestamp="²"), BadRequest),
    # hmac.compare_digest raises TypeError on a str that is not ASCII: once a 500.
    "non-ascii-signature": (as_signed(GOOD, signature="é" * 40), InvalidSignature),
    "non-ascii-msg-signature": (as_signed(GOOD, msg_signature="签" * 40), InvalidSignature),
    "no-nonce": (as_signed(GOOD, nonce=None), BadRequest),
    "plain-mode": (as_signed(GOOD, encrypt_type="raw"), BadRequest),
    "not-base64": (as_signed(signed_raw("%%%not-base64%%%", timestamp=NOW)), DecryptError),
    "not-whole-block": (as_signed(signed_raw(base64.b64encode(b"x" * 40).decode(), timestamp=NOW)), DecryptError),
    "bad-padding": (as_signed(signed_raw(base64.b64encode(b"x" * 64).decode(), timestamp=NOW)), DecryptError),
    "doctype-envelope": (as_signed(_replace_body(DOCTYPE.encode() + GOOD.body)), MalformedMessage),
    "entity-envelope": (
        as_signed(_replace_body(DOCTYPE.encode() + b"<xml><Encrypt>&e;</Encrypt></xml>")),
        MalformedMessage,
    ),
    "doctype-inside": (as_signed(signed_push(DOCTYPE + ticket_xml("t", NOW), timestamp=NOW)), MalformedMessage),
    "not-xml-inside": (as_signed(signed_push("this is not xml", timestamp=NOW)), MalformedMessage),
    "not-xml": (as_signed(_replace_body(b"success")), MalformedMessage),
    "no-encrypt": (as_signed(_replace_body(b"<xml><AppId>x</AppId></xml>")), MalformedMessage),
    "empty-body": (as_signed(_replace_body(b"")), MalformedMessage),
    "too-large": (as_signed(_replace_body(b"<xml>" + b" " * MAX_BODY_BYTES + b"</xml>")), PayloadTooLarge),
    "no-ticket-inside": (
        as_signed(signed_push(ticket_xml("", NOW), timestamp=NOW)),
        MalformedMessage,
    ),
    "bad-create-time": (
        as_signed(signed_push(ticket_xml("t", NOW).replace(f">{NOW}<", ">soon<"), timestamp=NOW)),
        MalformedMessage,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_refused_and_changes_nothing(store: MemoryVerifyTickets, case: str) -> None:
    push, error = BAD_INPUTS[case]
    with pytest.raises(error):
        service(store).handle(push)
    assert store.writes == 0 and not store.tickets and not store.records
