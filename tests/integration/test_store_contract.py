"""One contract, two implementations: every store port's conditional behaviour, run against the
in-memory fake the unit tests use and against the DynamoDB adapter over HTTP to the emulator. A fake
that drifts from the table fails here, not in production."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fakes import MemoryStores
from wxcomponent.adapters.dynamodb import Table, Tables
from wxcomponent.domain.grants import AUTHORIZED, NEEDS_REAUTHORIZATION, REVOKED, Grant, Profile
from wxcomponent.domain.js_tickets import JsTicket
from wxcomponent.domain.tokens import AccessToken, ForcedRefreshes
from wxcomponent.domain.verify_tickets import PushRecord, VerifyTicket
from wxcomponent.domain.wechat import RefreshFailure
from wxcomponent.keys import authorizer_key, js_ticket_lease, refresh_shard
from wxcomponent.ports import ClaimLost, JsTicketState, RefreshState, Stores

COMPONENT = "wx0123456789abcdef"
A, B = "wx1111111111111111", "wx2222222222222222"
NOW = 1_767_225_600


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    if request.param == "memory":
        yield MemoryStores()
        return
    table = request.getfixturevalue("table")
    yield Tables.on(Table(table))


def grant(appid: str = A, refresh_token: str = "refresh@@@1", authorized_at: int = NOW) -> Grant:
    return Grant(appid, COMPONENT, refresh_token, (1, 15), AUTHORIZED, authorized_at, authorized_at)


# -- tickets ---------------------------------------------------------------------------------------


def test_tickets_newer_wins_and_a_retry_changes_nothing(stores: Stores) -> None:
    tickets = stores.verify_tickets
    assert tickets.get_ticket(COMPONENT) is None
    assert tickets.save_ticket(VerifyTicket.received(COMPONENT, "ticket@@@b", NOW, NOW))
    assert not tickets.save_ticket(VerifyTicket.received(COMPONENT, "ticket@@@b", NOW, NOW + 5))  # WeChat's retry
    assert not tickets.save_ticket(VerifyTicket.received(COMPONENT, "ticket@@@a", NOW - 600, NOW + 6))  # late, older
    assert tickets.save_ticket(VerifyTicket.received(COMPONENT, "ticket@@@c", NOW, NOW + 7))  # same second, another
    stored = tickets.get_ticket(COMPONENT)
    assert stored is not None and stored.ticket == "ticket@@@c"


def test_push_records_are_written_once(stores: Stores) -> None:
    record = PushRecord(COMPONENT, "unauthorized", NOW, A, NOW)
    assert stores.verify_tickets.record_push(record)
    assert not stores.verify_tickets.record_push(record)
    assert stores.verify_tickets.record_push(PushRecord(COMPONENT, "unauthorized", NOW, B, NOW))


def test_a_ticket_restart_is_claimed_once_per_window(stores: Stores) -> None:
    tickets = stores.verify_tickets
    assert tickets.claim_ticket_restart(COMPONENT, NOW, 3600)
    assert not tickets.claim_ticket_restart(COMPONENT, NOW + 3599, 3600)
    assert tickets.claim_ticket_restart(COMPONENT, NOW + 3600, 3600)


# -- tokens ------------------------------------------------------------------------------------------


def test_a_token_issued_later_is_never_replaced_by_an_older_one(stores: Stores) -> None:
    authorizers, tokens = stores.authorizers, stores.tokens
    newer = AccessToken(A, "token-new", NOW, NOW + 7200)
    assert not authorizers.save_authorizer_token(newer)  # no grant: no item to hold it
    assert authorizers.save_grant(grant(), refresh_due=NOW + 6000)
    assert authorizers.save_authorizer_token(newer)
    assert not authorizers.save_authorizer_token(AccessToken(A, "token-old", NOW - 10, NOW + 7190))
    assert authorizers.get_authorizer_token(A) == newer
    assert authorizers.save_authorizer_token(AccessToken(A, "token-same-second", NOW, NOW + 7200))
    authorizers.delete_authorizer_token(A)
    authorizers.delete_authorizer_token(A)  # deleting what is gone is fine
    authorizers.delete_authorizer_token(B)  # and where there is no item at all
    assert authorizers.get_authorizer_token(A) is None and authorizers.get_grant(A) == grant()  # the grant stays
    assert authorizers.get_grant(B) is None  # no item made for B
    component = AccessToken(COMPONENT, "component-token", NOW, NOW + 7200)
    assert tokens.save_component_token(component) and tokens.get_component_token(COMPONENT) == component
    assert authorizers.get_authorizer_token(COMPONENT) is None  # the two kinds never mix


# -- grants --------------------------------------------------------------------------------------------


def test_a_grant_is_replaced_only_by_a_later_authorization(stores: Stores) -> None:
    grants = stores.authorizers
    assert grants.save_grant(grant(authorized_at=NOW), refresh_due=NOW + 6000)
    assert not grants.save_grant(grant(refresh_token="refresh@@@older", authorized_at=NOW - 1), refresh_due=NOW)
    assert grants.save_grant(grant(refresh_token="refresh@@@again", authorized_at=NOW + 5), refresh_due=NOW)
    stored = grants.get_grant(A)
    assert stored is not None and stored.refresh_token == "refresh@@@again" and stored.func_info == (1, 15)
    with pytest.raises(ValueError, match="authorized grant"):
        grants.save_grant(Grant(B, COMPONENT, "", (), REVOKED, NOW, NOW), refresh_due=NOW)


def test_the_refresh_token_changes_only_by_compare_and_set_to_a_non_empty_value(stores: Stores) -> None:
    grants = stores.authorizers
    grants.save_grant(grant(), refresh_due=NOW)
    assert not grants.update_refresh_token(A, "refresh@@@1", "", NOW)
    assert not grants.update_refresh_token(A, "refresh@@@not-ours", "refresh@@@2", NOW)
    assert not grants.update_refresh_token(A, "refresh@@@1", "refresh@@@1", NOW)
    assert grants.update_refresh_token(A, "refresh@@@1", "refresh@@@2", NOW + 1)
    assert not grants.update_refresh_token(A, "refresh@@@1", "refresh@@@3", NOW + 2)  # a slower refresh
    stored = grants.get_grant(A)
    assert stored is not None and stored.refresh_token == "refresh@@@2" and stored.updated_at == NOW + 1
    assert not grants.update_refresh_token(B, "x", "y", NOW)  # no grant


def test_revocation_keeps_a_later_authorization_and_leaves_the_due_index(stores: Stores) -> None:
    grants = stores.authorizers
    grants.save_grant(grant(authorized_at=NOW), refresh_due=NOW - 1)
    assert not grants.revoke_grant(A, NOW - 1)  # a revocation older than the authorization
    assert grants.revoke_grant(A, NOW + 10)
    assert not grants.revoke_grant(A, NOW + 10)  # WeChat's retry of the push changes nothing
    stored = grants.get_grant(A)
    assert stored is not None and stored.status == REVOKED and stored.refresh_token == ""
    assert A not in _due(stores, NOW + 100)
    assert not grants.set_refresh_due(A, NOW)  # revoked grants are never due
    assert not grants.revoke_grant(B, NOW)  # no grant to revoke


def test_a_revocation_wechat_confirms_keeps_the_refresh_token(stores: Stores) -> None:
    grants = stores.authorizers
    grants.save_grant(grant(), refresh_due=NOW - 1)
    assert not grants.revoke_unlisted(A, "refresh@@@other", NOW)
    assert grants.revoke_unlisted(A, "refresh@@@1", NOW + 1)
    stored = grants.get_grant(A)
    assert stored is not None and stored.status == REVOKED and stored.refresh_token == "refresh@@@1"
    assert A not in _due(stores, NOW + 100)
    assert not grants.revoke_unlisted(A, "refresh@@@1", NOW + 2)  # once
    assert grants.save_grant(grant(refresh_token="refresh@@@new", authorized_at=NOW + 3), refresh_due=NOW)


def test_needs_reauthorization_keeps_the_refresh_token_and_leaves_the_due_index(stores: Stores) -> None:
    grants = stores.authorizers
    grants.save_grant(grant(), refresh_due=NOW - 1)
    assert not grants.mark_needs_reauthorization(A, "refresh@@@other", NOW)
    assert grants.mark_needs_reauthorization(A, "refresh@@@1", NOW + 1)
    stored = grants.get_grant(A)
    assert stored is not None and stored.status == NEEDS_REAUTHORIZATION and stored.refresh_token == "refresh@@@1"
    assert A not in _due(stores, NOW + 100)
    assert not grants.mark_needs_reauthorization(A, "refresh@@@1", NOW + 2)  # not authorized any more


def test_only_due_authorized_grants_are_read_from_the_index(stores: Stores) -> None:
    grants = stores.authorizers
    appids = [f"wx{index:016x}" for index in range(1, 13)]
    for index, appid in enumerate(appids):
        grants.save_grant(grant(appid), refresh_due=NOW + (index - 6) * 60)  # half due by NOW
    assert not grants.set_refresh_due("wx" + "f" * 16, NOW)  # no grant
    assert grants.set_refresh_due(appids[-1], NOW - 1)  # moved into the due window
    due, read = [], 0
    for shard in grants.refresh_shards():
        found, items = grants.due_authorizers(shard, NOW)
        due += found
        read += items
    assert sorted(due) == sorted([*appids[:7], appids[-1]]) and read == len(due)
    assert sorted(grants.refresh_shards()) == [str(shard) for shard in range(8)]


def _due(stores: Stores, now: int) -> list[str]:
    return [
        appid
        for shard in stores.authorizers.refresh_shards()
        for appid in stores.authorizers.due_authorizers(shard, now)[0]
    ]


# -- profiles, code claims, leases --------------------------------------------------------------------------


def test_a_profile_is_kept_whole(stores: Stores) -> None:
    profile = Profile(A, "星河咖啡", "http://img", "gh_1", "alias", "星河咖啡有限公司", 2, 0, "http://qr", False, NOW)
    profile = Profile(**{**profile.__dict__, "extra": {"account_status": 1, "MiniProgramInfo": {"network": {}}}})
    stores.profiles.save_profile(profile)
    assert stores.profiles.get_profile(A) == profile
    assert stores.profiles.get_profile(B) is None


def test_a_code_is_exchanged_by_one_holder_and_given_back_only_by_it(stores: Stores) -> None:
    claims = stores.code_claims
    assert claims.claim_code("h1", "first", NOW, 30)
    assert not claims.claim_code("h1", "second", NOW + 29, 30)  # held
    claims.abandon_code("h1", "second")  # not its claim: nothing happens
    assert not claims.claim_code("h1", "second", NOW + 1, 30)
    claims.abandon_code("h1", "first")
    assert claims.claim_code("h1", "second", NOW + 2, 30)  # given back
    assert claims.code_exchanged_for("h1", NOW + 2) is None  # pending
    with pytest.raises(ClaimLost):
        claims.finish_code("h1", "first", A)
    claims.finish_code("h1", "second", A)
    assert getattr(claims.code_exchanged_for("h1", NOW + 3), "authorizer_appid", None) == A
    assert not claims.claim_code("h1", "third", NOW + 1000, 30)  # done is done, however late
    claims.abandon_code("h1", "second")  # a finished claim is never given back
    assert getattr(claims.code_exchanged_for("h1", NOW + 1000), "authorizer_appid", None) == A


def test_the_holder_claiming_its_own_code_again_succeeds_until_it_is_finished(stores: Stores) -> None:
    """What botocore's resend of a claim whose answer was lost looks like to the table."""
    claims = stores.code_claims
    assert claims.claim_code("h3", "first", NOW, 30)
    assert claims.claim_code("h3", "first", NOW + 0.1, 30)
    assert not claims.claim_code("h3", "second", NOW + 1, 30)
    claims.finish_code("h3", "first", A)
    assert not claims.claim_code("h3", "first", NOW + 2, 30)  # done is done, even for its holder


def test_an_expired_pending_claim_may_be_taken_over(stores: Stores) -> None:
    claims = stores.code_claims
    assert claims.claim_code("h2", "crashed", NOW, 30)
    assert claims.claim_code("h2", "next", NOW + 31, 30)
    with pytest.raises(ClaimLost):
        claims.finish_code("h2", "crashed", A)


def test_a_lease_has_one_holder_until_it_expires_and_only_the_holder_releases_it(stores: Stores) -> None:
    leases = stores.leases
    assert leases.acquire_lease("AUTHORIZER#wx1", "one", NOW, 30)
    assert not leases.acquire_lease("AUTHORIZER#wx1", "two", NOW + 29.9, 30)
    leases.release_lease("AUTHORIZER#wx1", "two")  # not the holder
    assert not leases.acquire_lease("AUTHORIZER#wx1", "two", NOW + 1, 30)
    assert leases.acquire_lease("AUTHORIZER#wx1", "two", NOW + 30.5, 30)  # expired
    leases.release_lease("AUTHORIZER#wx1", "two")
    assert leases.acquire_lease("AUTHORIZER#wx1", "three", NOW + 31, 30)


def test_the_holder_taking_its_own_lease_again_succeeds_and_no_one_else_does(stores: Stores) -> None:
    """What botocore's resend of a claim whose answer was lost looks like to the table."""
    leases = stores.leases
    assert leases.acquire_lease("AUTHORIZER#wx1", "one", NOW, 30)
    assert leases.acquire_lease("AUTHORIZER#wx1", "one", NOW + 0.1, 30)
    assert not leases.acquire_lease("AUTHORIZER#wx1", "two", NOW + 1, 30)
    assert leases.acquire_lease("COMPONENT#wx1", "other", NOW, 30)  # leases are per name


# -- message receipts ---------------------------------------------------------------------------------------


def test_a_message_is_claimed_once_answered_once_and_forgotten_after_its_keep(stores: Stores) -> None:
    receipts = stores.receipts
    assert receipts.claim(A, "k1", NOW, 10, 600)
    assert not receipts.claim(A, "k1", NOW + 5, 10, 600)  # a retry while the first is at work
    assert receipts.answer_of(A, "k1", NOW + 5) is None
    receipts.record_answer(A, "k1", "<xml>reply</xml>")
    assert receipts.answer_of(A, "k1", NOW + 6) == "<xml>reply</xml>"
    assert not receipts.claim(A, "k1", NOW + 500, 10, 600)  # answered: never again within keep
    assert receipts.claim(B, "k1", NOW, 10, 600)  # per authorizer
    assert receipts.answer_of(A, "k1", NOW + 601) is None  # TTL deletes late: reads check the time
    assert receipts.claim(A, "k1", NOW + 601, 10, 600)


def test_a_pending_message_claim_whose_invocation_died_is_taken_over(stores: Stores) -> None:
    receipts = stores.receipts
    assert receipts.claim(A, "k2", NOW, 10, 600)
    assert receipts.claim(A, "k2", NOW + 11, 10, 600)


def test_a_refresh_failure_is_remembered_until_its_retry_after(stores: Stores) -> None:
    failures = stores.failures
    quota = RefreshFailure("QuotaExceeded", 45009, "api_component_token: errcode 45009: quota", NOW + 3600)
    assert failures.recent_failure("COMPONENT#wx1", NOW) is None
    failures.remember_failure("COMPONENT#wx1", quota)
    assert failures.recent_failure("COMPONENT#wx1", NOW + 10) == quota
    assert failures.recent_failure("COMPONENT#wx1", NOW + 3600) is None  # TTL deletes late: reads check
    assert failures.recent_failure("COMPONENT#wx2", NOW) is None  # per lease name


def test_an_authorizers_grant_token_refusal_and_budget_are_one_item_read_at_once(stores: Stores) -> None:
    authorizers = stores.authorizers
    assert authorizers.read_for_refresh(A) == RefreshState(None, None, None)
    refused = RefreshFailure("QuotaExceeded", 45009, "api_authorizer_token: 45009", NOW + 3600)
    authorizers.remember_failure(A, refused)  # no grant: nothing to remember it in
    assert not authorizers.record_forced_refresh(A, None, ForcedRefreshes((NOW,)))
    assert authorizers.read_for_refresh(A) == RefreshState(None, None, None)
    authorizers.save_grant(grant(), refresh_due=NOW)
    token = AccessToken(A, "token-a", NOW, NOW + 7140)
    authorizers.save_authorizer_token(token)
    authorizers.remember_failure(A, refused)
    assert authorizers.record_forced_refresh(A, None, ForcedRefreshes((NOW,)))
    state = authorizers.read_for_refresh(A)
    assert (state.grant, state.token, state.failure) == (authorizers.get_grant(A), token, refused)
    assert state.forced is not None and state.forced.at == (NOW,)
    # the budget is compare-and-set: spent from what was read, once
    assert not authorizers.record_forced_refresh(A, None, ForcedRefreshes((NOW, NOW + 1)))
    assert authorizers.record_forced_refresh(A, state.forced, ForcedRefreshes((NOW, NOW + 1)))
    assert not authorizers.record_forced_refresh(A, state.forced, ForcedRefreshes((NOW, NOW + 2)))
    authorizers.save_grant(grant(refresh_token="refresh@@@9", authorized_at=NOW + 1), refresh_due=NOW)
    again = authorizers.read_for_refresh(A)  # a new authorization keeps the item's token, refusal and budget
    assert again.token == token and again.failure == refused and again.forced is not None
    authorizers.revoke_grant(A, NOW + 2)
    state = authorizers.read_for_refresh(A)
    assert state.grant is not None and state.grant.status == REVOKED and state.token == token
    assert authorizers.read_for_refresh(B) == RefreshState(None, None, None)


def test_the_refresh_lease_has_one_holder_and_comes_with_the_item(stores: Stores) -> None:
    authorizers = stores.authorizers
    assert authorizers.acquire_refresh_lease(A, "h1", NOW, 100) is None  # no grant
    authorizers.save_grant(grant(), refresh_due=NOW)
    old = AccessToken(A, "token-old", NOW, NOW + 7140)
    authorizers.save_authorizer_token(old)
    taken = authorizers.acquire_refresh_lease(A, "h1", NOW, 100)
    assert taken is not None and taken.grant == grant() and taken.token == old  # the item, in the same request
    assert authorizers.acquire_refresh_lease(A, "h1", NOW + 0.1, 100) is not None  # its holder again (a resend)
    assert authorizers.acquire_refresh_lease(A, "h2", NOW + 1, 100) is None  # held by h1
    authorizers.release_refresh_lease(A, "h2")  # not the holder: nothing
    assert authorizers.acquire_refresh_lease(A, "h2", NOW + 2, 100) is None
    authorizers.release_refresh_lease(A, "h1")
    assert authorizers.acquire_refresh_lease(A, "h2", NOW + 2, 100) is not None
    assert authorizers.acquire_refresh_lease(A, "h3", NOW + 200, 100) is not None  # h2's lease expired
    authorizers.revoke_grant(A, NOW + 300)
    assert authorizers.acquire_refresh_lease(A, "h4", NOW + 400, 100) is None  # not authorized
    assert authorizers.read_for_refresh(A).token == old  # taking a lease never touched the rest


def test_a_refresh_is_stored_all_or_nothing(stores: Stores) -> None:
    records = stores.authorizers
    stores.authorizers.save_grant(grant(refresh_token="refresh@@@1"), refresh_due=NOW)
    new = AccessToken(A, "token-new", NOW + 10, NOW + 7210)
    assert records.acquire_refresh_lease(A, "h1", NOW, 100)
    # the refresh token it used is no longer the grant's (a re-authorization landed): nothing written
    assert not records.store_refresh(A, "refresh@@@0", "refresh@@@2", new, NOW + 6000, "h1")
    assert stores.authorizers.get_authorizer_token(A) is None
    assert records.acquire_refresh_lease(A, "h2", NOW + 1, 100) is None  # and the lease is still h1's
    # another holder: nothing written
    assert not records.store_refresh(A, "refresh@@@1", "refresh@@@2", new, NOW + 6000, "h9")
    assert stores.authorizers.get_grant(A).refresh_token == "refresh@@@1"  # type: ignore[union-attr]
    # ours: the rotated refresh token, the due time, the token, and the lease given back, at once
    assert records.store_refresh(A, "refresh@@@1", "refresh@@@2", new, NOW + 6000, "h1")
    assert stores.authorizers.get_grant(A).refresh_token == "refresh@@@2"  # type: ignore[union-attr]
    assert stores.authorizers.get_authorizer_token(A) == new
    assert stores.authorizers.due_authorizers(refresh_shard(A), NOW + 6000)[0] == [A]
    assert stores.authorizers.due_authorizers(refresh_shard(A), NOW + 5999)[0] == []
    assert not records.store_refresh(A, "refresh@@@2", None, new, NOW + 6000, "h1")  # the lease is given back
    assert records.acquire_refresh_lease(A, "h2", NOW + 11, 100)  # given back
    # a later token already stored wins: nothing written
    older = AccessToken(A, "token-older", NOW + 5, NOW + 7205)
    assert not records.store_refresh(A, "refresh@@@2", None, older, NOW + 7000, "h2")
    assert stores.authorizers.get_authorizer_token(A) == new
    # not rotated: the refresh token stays, the rest is written
    newest = AccessToken(A, "token-newest", NOW + 20, NOW + 7220)
    assert records.store_refresh(A, "refresh@@@2", "refresh@@@2", newest, NOW + 7020, "h2")
    assert stores.authorizers.get_grant(A).refresh_token == "refresh@@@2"  # type: ignore[union-attr]
    assert stores.authorizers.get_authorizer_token(A) == newest
    # a revoked grant takes nothing
    assert records.acquire_refresh_lease(A, "h3", NOW + 21, 100)
    stores.authorizers.revoke_grant(A, NOW + 30)
    assert not records.store_refresh(A, "refresh@@@2", None, AccessToken(A, "t", NOW + 40, NOW + 7240), NOW, "h3")


# -- JS-SDK tickets ----------------------------------------------------------------------------------------

JS = "jsapi_ticket"


def js_ticket(value: str = "ticket-1", issued_at: int = NOW, vended_at: int | None = NOW) -> JsTicket:
    return JsTicket(A, JS, value, issued_at, issued_at + 7140, vended_at)


def _store_js_ticket(stores: Stores, ticket: JsTicket, *, vended: bool = True) -> bool:
    """A fetch's two writes: the lease (taken on whatever is stored), then the outcome."""
    seen = stores.js_tickets.read_for_ticket(ticket.owner, ticket.kind).ticket
    assert stores.js_tickets.acquire_ticket_lease(ticket.owner, ticket.kind, seen, "fetcher", ticket.issued_at, 100)
    return stores.js_tickets.store_ticket(ticket, "fetcher", ticket.expires_at - 1200, vended=vended)


def test_a_tickets_grant_token_ticket_and_refusal_are_read_together(stores: Stores) -> None:
    assert stores.js_tickets.read_for_ticket(A, JS) == JsTicketState(None, None, None, None)
    stores.authorizers.save_grant(grant(), refresh_due=NOW)
    token = AccessToken(A, "token-a", NOW, NOW + 7140)
    stores.authorizers.save_authorizer_token(token)
    assert _store_js_ticket(stores, js_ticket())
    refused = RefreshFailure("QuotaExceeded", 45009, "getticket: 45009", NOW + 3600)
    stores.failures.remember_failure(js_ticket_lease(A, JS), refused)
    state = stores.js_tickets.read_for_ticket(A, JS)
    assert state == JsTicketState(stores.authorizers.get_grant(A), token, js_ticket(), refused)
    assert stores.js_tickets.read_for_ticket(A, "card_ticket") == JsTicketState(state.grant, token, None, None)
    assert stores.authorizers.read_for_refresh(A).failure is None  # the token's refusals are its own


def test_the_ticket_lease_is_taken_only_while_the_ticket_read_is_still_stored(stores: Stores) -> None:
    records, name = stores.js_tickets, js_ticket_lease(A, JS)
    stores.authorizers.save_grant(grant(), refresh_due=NOW)
    assert not records.acquire_ticket_lease(A, JS, js_ticket("gone"), "h1", NOW, 100)
    assert records.acquire_ticket_lease(A, JS, None, "h1", NOW, 100)
    assert not records.acquire_ticket_lease(A, JS, None, "h2", NOW + 1, 100)  # held by h1
    assert records.acquire_ticket_lease(A, "card_ticket", None, "h2", NOW + 1, 100)  # each kind its own
    assert records.store_ticket(js_ticket(), "h1", NOW + 6000, vended=True)  # gives the lease back
    assert not records.acquire_ticket_lease(A, JS, None, "h3", NOW + 2, 100)  # a ticket appeared since
    assert records.acquire_ticket_lease(A, JS, js_ticket(), "h3", NOW + 2, 100)
    assert not stores.leases.acquire_lease(name, "h4", NOW + 3, 100)  # the same lease the LeaseStore sees
    assert records.acquire_ticket_lease(A, JS, js_ticket(), "h4", NOW + 200, 100)  # h3's expired


def test_a_fetched_ticket_is_stored_all_or_nothing(stores: Stores) -> None:
    records = stores.js_tickets
    assert not _store_js_ticket(stores, js_ticket())  # no grant: nothing written
    assert records.read_for_ticket(A, JS).ticket is None
    stores.leases.release_lease(js_ticket_lease(A, JS), "fetcher")
    stores.authorizers.save_grant(grant(), refresh_due=NOW)
    assert _store_js_ticket(stores, js_ticket("ticket-1", NOW, vended_at=NOW))
    # another holder: nothing written
    assert records.acquire_ticket_lease(A, JS, js_ticket(), "h1", NOW + 10, 100)
    assert not records.store_ticket(js_ticket("ticket-2", NOW + 10), "h9", NOW + 6000, vended=True)
    # a renewal (not a vend) keeps the stored vend mark
    assert records.store_ticket(js_ticket("ticket-2", NOW + 10, vended_at=None), "h1", NOW + 6010, vended=False)
    assert records.read_for_ticket(A, JS).ticket == js_ticket("ticket-2", NOW + 10, vended_at=NOW)
    # a ticket issued later already stored: nothing written
    assert records.acquire_ticket_lease(A, JS, js_ticket("ticket-2", NOW + 10), "h2", NOW + 20, 100)
    assert not records.store_ticket(js_ticket("ticket-0", NOW + 5), "h2", NOW + 6000, vended=True)
    # revoked meanwhile: nothing written, so a revoked authorizer's ticket never comes back
    stores.authorizers.revoke_grant(A, NOW + 30)
    assert not records.store_ticket(js_ticket("ticket-3", NOW + 30), "h2", NOW + 6000, vended=True)
    assert records.read_for_ticket(A, JS).ticket == js_ticket("ticket-2", NOW + 10, vended_at=NOW)
    with pytest.raises(ValueError, match="vend mark"):
        records.store_ticket(js_ticket(vended_at=None), "h2", NOW, vended=True)


def test_a_vend_is_marked_at_most_once_an_hour(stores: Stores) -> None:
    records = stores.js_tickets
    assert not records.mark_vended(A, JS, NOW, NOW + 6000)  # no ticket
    stores.authorizers.save_grant(grant(), refresh_due=NOW)
    assert _store_js_ticket(stores, js_ticket(vended_at=NOW))
    assert not records.mark_vended(A, JS, NOW + 3599, NOW + 6000)
    assert records.mark_vended(A, JS, NOW + 3600, NOW + 6000)
    assert not records.mark_vended(A, JS, NOW + 3601, NOW + 6000)
    ticket = records.read_for_ticket(A, JS).ticket
    assert ticket is not None and ticket.vended_at == NOW + 3600


def test_only_cold_tickets_leave_renewal_and_a_vend_brings_them_back(stores: Stores) -> None:
    records = stores.js_tickets
    stores.authorizers.save_grant(grant(), refresh_due=NOW + 6000)  # the grant is not due
    assert _store_js_ticket(stores, js_ticket(vended_at=NOW))  # due at NOW + 7140 - 1200
    due = NOW + 5940
    assert _due_tickets(stores, due - 1) == []
    assert _due_tickets(stores, due) == [(A, JS)]
    assert _due(stores, due) == []  # a ticket is never taken for its grant
    assert not records.drop_from_renewal(A, JS, NOW, NOW + 86399)  # vended within the day: stays
    assert not records.drop_from_renewal(A, JS, NOW - 1, NOW + 86400)  # another ticket: stays
    assert records.drop_from_renewal(A, JS, NOW, NOW + 86400)
    assert _due_tickets(stores, NOW + 10**6) == []
    assert records.read_for_ticket(A, JS).ticket == js_ticket(vended_at=NOW)  # kept until it expires
    assert records.mark_vended(A, JS, NOW + 90000, NOW + 5940)  # vended again: renewed again
    assert _due_tickets(stores, due) == [(A, JS)]
    stores.authorizers.set_refresh_due(A, NOW)
    both = stores.authorizers.due_refreshes(refresh_shard(A), due)
    assert (both.authorizers, both.js_tickets, both.read) == ([A], [(A, JS)], 2)


def _due_tickets(stores: Stores, now: int) -> list[tuple[str, str]]:
    return [
        key
        for shard in stores.authorizers.refresh_shards()
        for key in stores.authorizers.due_refreshes(shard, now).js_tickets
    ]


def test_an_authorizers_tickets_are_deleted_with_its_token(stores: Stores) -> None:
    stores.authorizers.save_grant(grant(), refresh_due=NOW)
    stores.authorizers.save_authorizer_token(AccessToken(A, "token-a", NOW, NOW + 7140))
    assert _store_js_ticket(stores, js_ticket())
    assert _store_js_ticket(stores, JsTicket(A, "card_ticket", "card-1", NOW, NOW + 7140, NOW))
    stores.authorizers.delete_authorizer_token(A)
    assert stores.js_tickets.read_for_ticket(A, JS).ticket is None
    assert stores.js_tickets.read_for_ticket(A, "card_ticket").ticket is None
    assert _due_tickets(stores, NOW + 10**6) == []
    stores.authorizers.delete_authorizer_token(A)  # deleting what is gone is fine


def _size(value: dict[str, Any]) -> int:
    """An upper bound of an attribute value's size as DynamoDB bills it (a number: 1 byte per two
    significant digits, plus 1; a list or map 3 bytes plus 1 per element)."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner) // 2 + 2
    if kind == "NS":
        return sum(len(number) // 2 + 2 for number in inner)
    if kind == "L":
        return 3 + sum(1 + _size(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _size(element) for name, element in inner.items())
    raise AssertionError(kind)


def test_the_authorizers_item_at_its_largest_is_under_one_write_unit(table: str) -> None:
    """The cost model (bench/cost.py) bills 1 unit per write of the item: it must stay under 1 KB with
    everything in it. WeChat's authorizer tokens are about 140-160 characters today (200 here); its
    documentation reserves 512, and at that length each write would cost 2 units (docs/decisions.md)."""
    stores = Tables.on(Table(table))
    stores.authorizers.save_grant(
        Grant(A, COMPONENT, "refreshtoken@@@" + "r" * 120, tuple(range(1, 41)), AUTHORIZED, NOW, NOW), NOW
    )
    stores.authorizers.save_authorizer_token(AccessToken(A, "t" * 200, NOW, NOW + 7200))
    long_message = "api_authorizer_token: errcode 61023: invalid refresh_token rid: 6475f4a5-0123abcd-1234abcd"
    stores.authorizers.remember_failure(A, RefreshFailure("RefreshTokenRejected", 61023, long_message, NOW + 600))
    stores.authorizers.record_forced_refresh(A, None, ForcedRefreshes((NOW, NOW + 1)))
    assert stores.authorizers.acquire_refresh_lease(A, "f" * 16, NOW, 100) is not None
    item = Table(table).get(authorizer_key(A), "GRANT")
    assert item is not None and "ttl" not in item  # the refresh token's item never expires
    size = sum(len(name.encode()) + _size(value) for name, value in item.items())
    assert size < 1024, size
