"""Every conditional write whose answer is lost (the table applied it, the connection dropped,
botocore sent it again) still reports what it did. The resend meets its own success; if that read
as "condition failed", a revocation would neither delete the token nor publish its event, a message
would be taken for WeChat's retry and never published, a ticket restart would be skipped (issue 11).
And the write stays exclusive: a second writer (WeChat's own retry) is still refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import boto3
import pytest

from infra.local.emulator import Emulator
from tests.support.fault_proxy import FaultProxy
from wxcomponent.adapters.dynamodb import Table, Tables
from wxcomponent.adapters.dynamodb.table import CLIENT_CONFIG
from wxcomponent.domain.grants import AUTHORIZED, Grant
from wxcomponent.domain.js_tickets import JsTicket
from wxcomponent.domain.tokens import AccessToken, ForcedRefreshes
from wxcomponent.domain.verify_tickets import PushRecord, VerifyTicket
from wxcomponent.keys import js_ticket_lease
from wxcomponent.ports import Stores

COMPONENT = "wx0123456789abcdef"
A = "wx1111111111111111"
NOW = 1_767_225_600


def grant(refresh_token: str = "refresh@@@1") -> Grant:
    return Grant(A, COMPONENT, refresh_token, (1, 15), AUTHORIZED, NOW, NOW)


@dataclass(frozen=True)
class Write:
    """`setup` runs without faults; `write` runs with its answer lost and must return True; `again`
    is another writer's identical attempt, which must still be refused."""

    setup: Callable[[Stores], object]
    write: Callable[[Stores], bool]
    again: Callable[[Stores], bool] | None


def nothing(_: Stores) -> None:
    return None


def js_ticket(value: str, issued_at: int, vended_at: int | None = NOW) -> JsTicket:
    return JsTicket(A, "jsapi_ticket", value, issued_at, issued_at + 7140, vended_at)


def stored_js_ticket(vended_at: int) -> Callable[[Stores], object]:
    def setup(s: Stores) -> object:
        s.authorizers.save_grant(grant(), NOW + 6000)
        s.js_tickets.acquire_ticket_lease(A, "jsapi_ticket", None, "h", NOW, 60)
        return s.js_tickets.store_ticket(js_ticket("jsticket-1", NOW, vended_at), "h", NOW + 5940, vended=True)

    return setup


def forced_refresh() -> Write:
    """Spending the second of a budget (issue 19, M2), by compare-and-set on what was read."""
    name, seen = js_ticket_lease(A, "jsapi_ticket"), list[ForcedRefreshes | None]()

    def setup(s: Stores) -> object:
        seen.clear()
        assert s.failures.record_forced_refresh(name, None, ForcedRefreshes((NOW - 10,)))
        seen.append(s.failures.forced_refreshes(name))
        return seen

    return Write(
        setup,
        lambda s: s.failures.record_forced_refresh(name, seen[0], ForcedRefreshes((NOW - 10, NOW))),
        lambda s: s.failures.record_forced_refresh(name, seen[0], ForcedRefreshes((NOW - 10, NOW + 1))),
    )


def authorizer_forced_refresh() -> Write:
    """The same, on the authorizer's item: its budget is compare-and-set on its own version."""
    seen = list[ForcedRefreshes | None]()

    def setup(s: Stores) -> object:
        seen.clear()
        assert s.authorizers.save_grant(grant(), NOW + 6000)
        assert s.authorizers.record_forced_refresh(A, None, ForcedRefreshes((NOW - 10,)))
        seen.append(s.authorizers.read_for_refresh(A).forced)
        return seen

    return Write(
        setup,
        lambda s: s.authorizers.record_forced_refresh(A, seen[0], ForcedRefreshes((NOW - 10, NOW))),
        lambda s: s.authorizers.record_forced_refresh(A, seen[0], ForcedRefreshes((NOW - 10, NOW + 1))),
    )


WRITES = {
    "forced refresh of an authorizer token, on what was read": authorizer_forced_refresh(),
    "forced refresh, the first": Write(
        nothing,
        lambda s: s.failures.record_forced_refresh("COMPONENT#" + COMPONENT, None, ForcedRefreshes((NOW,))),
        lambda s: s.failures.record_forced_refresh("COMPONENT#" + COMPONENT, None, ForcedRefreshes((NOW + 1,))),
    ),
    "forced refresh, on what was read": forced_refresh(),
    "message receipt": Write(
        nothing,
        lambda s: s.receipts.claim(A, "msgid-1", NOW, 60, 600),
        lambda s: s.receipts.claim(A, "msgid-1", NOW + 1, 60, 600),
    ),
    "revocation": Write(
        lambda s: s.authorizers.save_grant(grant(), NOW + 6000),
        lambda s: s.authorizers.revoke_grant(A, NOW + 10),
        lambda s: s.authorizers.revoke_grant(A, NOW + 10),
    ),
    "revocation confirmed by the list": Write(
        lambda s: s.authorizers.save_grant(grant(), NOW + 6000),
        lambda s: s.authorizers.revoke_unlisted(A, "refresh@@@1", NOW + 10),
        lambda s: s.authorizers.revoke_unlisted(A, "refresh@@@1", NOW + 10),
    ),
    "needs reauthorization": Write(
        lambda s: s.authorizers.save_grant(grant(), NOW + 6000),
        lambda s: s.authorizers.mark_needs_reauthorization(A, "refresh@@@1", NOW + 10),
        lambda s: s.authorizers.mark_needs_reauthorization(A, "refresh@@@1", NOW + 10),
    ),
    "refresh token rotation": Write(
        lambda s: s.authorizers.save_grant(grant(), NOW + 6000),
        lambda s: s.authorizers.update_refresh_token(A, "refresh@@@1", "refresh@@@2", NOW + 10),
        lambda s: s.authorizers.update_refresh_token(A, "refresh@@@1", "refresh@@@2", NOW + 10),
    ),
    "grant": Write(nothing, lambda s: s.authorizers.save_grant(grant(), NOW + 6000), None),
    "verify ticket": Write(
        nothing,
        lambda s: s.verify_tickets.save_ticket(VerifyTicket.received(COMPONENT, "ticket@@@1", NOW, NOW)),
        lambda s: s.verify_tickets.save_ticket(VerifyTicket.received(COMPONENT, "ticket@@@1", NOW, NOW + 5)),
    ),
    "push record": Write(
        nothing,
        lambda s: s.verify_tickets.record_push(PushRecord(COMPONENT, "unauthorized", NOW, A, NOW)),
        lambda s: s.verify_tickets.record_push(PushRecord(COMPONENT, "unauthorized", NOW, A, NOW + 5)),
    ),
    "ticket restart": Write(
        nothing,
        lambda s: s.verify_tickets.claim_ticket_restart(COMPONENT, NOW, 3600),
        lambda s: s.verify_tickets.claim_ticket_restart(COMPONENT, NOW + 1, 3600),
    ),
    "authorizer token": Write(
        lambda s: s.authorizers.save_grant(grant(), NOW + 6000),
        lambda s: s.authorizers.save_authorizer_token(AccessToken(A, "token@@@1", NOW, NOW + 7200)),
        None,
    ),
    "code claim": Write(
        nothing,
        lambda s: s.code_claims.claim_code("hash-1", "holder-a", NOW, 60),
        lambda s: s.code_claims.claim_code("hash-1", "holder-b", NOW + 1, 60),
    ),
    "refresh lease (the authorizer's item, returned)": Write(
        lambda s: s.authorizers.save_grant(grant(), NOW + 6000),
        lambda s: s.authorizers.acquire_refresh_lease(A, "holder-a", NOW, 60) is not None,
        lambda s: s.authorizers.acquire_refresh_lease(A, "holder-b", NOW + 1, 60) is not None,
    ),
    "refresh outcome (on condition of holding the lease)": Write(
        lambda s: (
            s.authorizers.save_grant(grant(), NOW + 6000),
            s.authorizers.acquire_refresh_lease(A, "h", NOW, 60),
        ),
        lambda s: s.authorizers.store_refresh(
            A, "refresh@@@1", "refresh@@@2", AccessToken(A, "t@@@1", NOW, NOW + 7200), NOW + 6000, "h"
        ),
        lambda s: s.authorizers.store_refresh(
            A, "refresh@@@1", "refresh@@@3", AccessToken(A, "t@@@2", NOW, NOW + 7200), NOW + 6000, "h"
        ),
    ),
    "js-sdk ticket lease (a transaction)": Write(
        lambda s: s.authorizers.save_grant(grant(), NOW + 6000),
        lambda s: s.js_tickets.acquire_ticket_lease(A, "jsapi_ticket", None, "holder-a", NOW, 60),
        lambda s: s.js_tickets.acquire_ticket_lease(A, "jsapi_ticket", None, "holder-b", NOW + 1, 60),
    ),
    "js-sdk ticket outcome (a transaction)": Write(
        lambda s: (
            s.authorizers.save_grant(grant(), NOW + 6000),
            s.js_tickets.acquire_ticket_lease(A, "jsapi_ticket", None, "h", NOW, 60),
        ),
        lambda s: s.js_tickets.store_ticket(js_ticket("jsticket-1", NOW), "h", NOW + 5940, vended=True),
        lambda s: s.js_tickets.store_ticket(js_ticket("jsticket-0", NOW - 10), "h2", NOW + 5930, vended=True),
    ),
    "js-sdk ticket vend mark": Write(
        stored_js_ticket(NOW - 7200),
        lambda s: s.js_tickets.mark_vended(A, "jsapi_ticket", NOW, NOW + 5940),
        lambda s: s.js_tickets.mark_vended(A, "jsapi_ticket", NOW + 1, NOW + 5940),
    ),
    "js-sdk ticket leaving renewal": Write(
        stored_js_ticket(NOW - 2 * 86400),
        lambda s: s.js_tickets.drop_from_renewal(A, "jsapi_ticket", NOW, NOW),
        None,  # dropping twice is harmless: the condition is what is stored, not who asks
    ),
    "lease": Write(
        nothing,
        lambda s: s.leases.acquire_lease("COMPONENT#" + COMPONENT, "holder-a", NOW, 60),
        lambda s: s.leases.acquire_lease("COMPONENT#" + COMPONENT, "holder-b", NOW + 1, 60),
    ),
}


@pytest.fixture
def proxy(emulator: Emulator) -> Iterator[FaultProxy]:
    with FaultProxy(emulator.url, 0.0, seed=1) as running:
        yield running


@pytest.mark.parametrize("name", list(WRITES))
def test_a_conditional_write_whose_answer_was_lost_reports_its_success(
    name: str, table: str, proxy: FaultProxy
) -> None:
    case = WRITES[name]
    stores = Tables.on(Table(table, boto3.client("dynamodb", endpoint_url=proxy.url, config=CLIENT_CONFIG)))
    case.setup(stores)
    proxy.forced = ["drop_after"]
    assert case.write(stores), f"{name}: the resend took our own write for someone else's"
    assert proxy.injected["drop_after"] == 1 and not proxy.forced  # the fault hit this very write
    if case.again is not None:
        assert not case.again(stores), f"{name}: no longer exclusive"
