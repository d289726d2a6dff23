"""The registry of vendable kinds (`services/vending.py`, `VENDABLE_KINDS`): a new kind is one entry
plus its service. Parsing, the caller policy, memory, the answer's shape and the audit all read the
entry; nothing else in vending names a kind."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wxcomponent.domain.js_tickets import JS_TICKET_KINDS
from wxcomponent.services import caller_policy, vending
from wxcomponent.services.vending import Services, TokenVendor, VendableKind, Vended, VendRequest

ACCOUNT = "wx570bc396a51b8ff8"
CALLER = "arn:aws:iam::123456789012:role/pages"
NOW = 1_767_225_600


class NoService:
    """The existing kinds' services: a test of a new kind never reaches them."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"asked {name}")


def test_the_registry_holds_the_contracts_kinds_with_their_answer_fields() -> None:
    fields = {name: kind.field for name, kind in vending.VENDABLE_KINDS.items()}
    assert fields == {
        "component": "access_token",
        "authorizer": "access_token",
        **dict.fromkeys(JS_TICKET_KINDS, "ticket"),
        "web_login": None,
    }
    assert [name for name, kind in vending.VENDABLE_KINDS.items() if kind.remembered] == ["component"]
    assert vending.authorizer_kinds() == ("authorizer", *JS_TICKET_KINDS, "web_login")


def test_a_new_kind_is_one_entry_plus_its_service(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    asked: list[VendRequest] = []

    def ask(services: Services, request: VendRequest) -> Vended:  # the new kind's service
        asked.append(request)
        return Vended(request.appid, f"value-{len(asked)}", expires_at=NOW + 7200, issued_at=NOW)

    monkeypatch.setitem(vending.VENDABLE_KINDS, "test_ticket", VendableKind("test_ticket", True, "ticket", ask))
    vendor = TokenVendor(NoService(), NoService(), clock=lambda: NOW)

    def check(caller: str | None, request: VendRequest) -> None:
        policy = json.dumps({CALLER: [f"{ACCOUNT}:test_ticket"]})
        caller_policy.check(caller, request, policy, lambda: {})

    answer = vendor.answer({"kind": "test_ticket", "appid": ACCOUNT, "min_validity": 60}, CALLER, check=check)
    assert (answer.status, answer.body) == (
        200,
        {"kind": "test_ticket", "appid": ACCOUNT, "ticket": "value-1", "expires_at": NOW + 7200},
    )
    assert asked == [VendRequest("test_ticket", ACCOUNT, 60)]
    # Named by the registry in the refusals too, and never answered from memory unless it says so.
    assert vendor.answer({"kind": "test_ticket"}).body["error"]["message"].startswith("appid must be")
    assert vendor.answer({"kind": "test_ticket", "appid": ACCOUNT}).body["ticket"] == "value-2"
    assert '"test_ticket"' in vendor.answer({"kind": "nothing"}).body["error"]["message"]
    audited = [r.__dict__ for r in caplog.records if r.__dict__.get("audit") == "vend"]
    assert [(a["caller"], a["kind"], a["appid"], a["outcome"]) for a in audited[:2]] == [
        (CALLER, "test_ticket", ACCOUNT, "ok"),
        (None, "test_ticket", None, "bad_request"),
    ]
