"""An authorized account's JS-SDK tickets (docs/protocol.md §7): read while valid, fetched with the
authorizer's token once per expiry for every container, under the same single-flight lease and
remembered refusals as the tokens.

A fetch is three requests when the authorizer's token is good (the read, the lease taken only while
the ticket read is still stored, the outcome with the lease given back) and one getticket. When
WeChat rejects the authorizer's token (40001/40014/42001), the token is compare-and-refreshed once
and getticket asked once more; when the token cannot be replaced now (too young, or its
forced-refresh budget spent), getticket is not asked again with it until it can be: the refusal is
remembered till then. A reported ticket (`invalid_token`) obeys the rules every token obeys
(`component_token.refused_report`): refetched only if it is still the stored one, old enough to
have been superseded, and within its own forced-refresh budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from wxcomponent.domain.errors import StorageUnavailable
from wxcomponent.domain.grants import require_active
from wxcomponent.domain.js_tickets import WECHAT_TYPE, JsTicket
from wxcomponent.domain.tokens import AccessToken
from wxcomponent.domain.wechat import TokenRejected
from wxcomponent.keys import js_ticket_lease
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.ports import (
    AuthorizerTokens,
    JsTicketRecords,
    JsTicketState,
    LeaseStore,
    RefreshFailures,
    WeChatApi,
)
from wxcomponent.services.component_token import (
    is_forced,
    refused_report,
    remember_refusal,
    spend_forced,
    unless_refused,
)
from wxcomponent.services.single_flight import Lease, SingleFlight
from wxcomponent.settings import REFRESH_MARGIN

TOKEN_MIN_VALIDITY = 60  # the authorizer token a fetch uses must outlive the call
Renewal = Literal["renewed", "fresh", "cold"]
Report = tuple[str, float]  # a reported ticket, and the reporter's min_validity


class JsTicketService:
    def __init__(
        self,
        records: JsTicketRecords,
        leases: LeaseStore,
        failures: RefreshFailures,
        api: WeChatApi,
        authorizer_tokens: AuthorizerTokens,
        *,
        clock: Callable[[], float] = time.time,
        single_flight: SingleFlight | None = None,
        refresh_margin: int = REFRESH_MARGIN[2],
    ) -> None:
        self._records = records
        self._failures = failures
        self._api = api
        self._authorizer_tokens = authorizer_tokens
        self._clock = clock
        self._flight = single_flight or SingleFlight(leases, clock=clock)
        self._margin = refresh_margin

    def ticket(self, authorizer_appid: str, kind: str, min_validity: float = 300) -> JsTicket:
        """A ticket valid for at least `min_validity` seconds (or the freshest WeChat gives), for a
        vend: one request when the stored one serves (and a second, at most once an hour, to mark
        it vended)."""

        def answer(state: JsTicketState) -> JsTicket | None:
            stored = state.ticket
            return stored if stored is not None and stored.good_for(min_validity, self._clock()) else None

        return self._obtain(authorizer_appid, kind, answer, None)

    def replace_rejected(self, authorizer_appid: str, kind: str, rejected: str, min_validity: float = 0) -> JsTicket:
        """Compare-and-refresh: refetches only if `rejected` is still the stored ticket, and the
        report may refetch it (`refused_report`: else it is returned, marked with why)."""

        def answer(state: JsTicketState) -> JsTicket | None:
            stored, now = state.ticket, self._clock()
            if stored is None:
                return None
            if stored.ticket != rejected:
                return stored if stored.good_for(min_validity, now) else None
            return refused_report(stored, min_validity, now, lambda: state.forced, kind=kind, owner=authorizer_appid)

        return self._obtain(authorizer_appid, kind, answer, (rejected, min_validity))

    def renew(self, authorizer_appid: str, kind: str) -> Renewal:
        """The refresher's turn, when the ticket is due: a ticket vended in the last day is
        refetched before it expires ("renewed", or "fresh" when a vend already did); any other
        leaves the refresh-due index and expires unrenewed ("cold"): no page uses it."""
        state = self._records.read_for_ticket(authorizer_appid, kind)
        now = self._clock()
        stored = state.ticket
        if state.grant is None or not state.grant.active or stored is None or not stored.hot(now):
            if stored is not None:
                self._records.drop_from_renewal(authorizer_appid, kind, stored.issued_at, int(now))
            return "cold"
        if stored.valid_for(self._margin, now):
            # Renewed by someone since the index was read: its store set its own due time.
            return "fresh"
        renewed = self._flight.run_guarded(
            js_ticket_lease(authorizer_appid, kind),
            state,
            self._acquire(authorizer_appid, kind),
            self._reread(authorizer_appid, kind, self._renewed),
            lambda seen, lease: self._fetch(seen, kind, lease, None, vended=False),
        )
        return "renewed" if renewed.issued_at >= int(now) else "fresh"

    def _renewed(self, state: JsTicketState) -> JsTicket | None:
        """The stored ticket, when someone renewed it (it is good for the refresh margin again)."""
        stored = state.ticket
        return stored if stored is not None and stored.valid_for(self._margin, self._clock()) else None

    # -- under the lease -------------------------------------------------------------------------

    def _obtain(
        self,
        authorizer_appid: str,
        kind: str,
        answer: Callable[[JsTicketState], JsTicket | None],
        report: Report | None,
    ) -> JsTicket:
        state = self._read(authorizer_appid, kind)
        found = answer(state)
        if found is not None:
            self._mark_vended(found)
            return found
        return self._flight.run_guarded(
            js_ticket_lease(authorizer_appid, kind),
            state,
            self._acquire(authorizer_appid, kind),
            self._reread(authorizer_appid, kind, answer),
            lambda seen, lease: self._fetch(seen, kind, lease, report, vended=True),
        )

    def _acquire(self, authorizer_appid: str, kind: str) -> Callable[[JsTicketState, str], bool]:
        def acquire(seen: JsTicketState, holder: str) -> bool:
            return self._records.acquire_ticket_lease(
                authorizer_appid, kind, seen.ticket, holder, self._clock(), self._flight.lease_ttl
            )

        return acquire

    def _reread(
        self, authorizer_appid: str, kind: str, answer: Callable[[JsTicketState], JsTicket | None]
    ) -> Callable[[], tuple[JsTicket | None, JsTicketState]]:
        def reread() -> tuple[JsTicket | None, JsTicketState]:
            fresh = self._read(authorizer_appid, kind)
            return answer(fresh), fresh

        return reread

    def _fetch(self, state: JsTicketState, kind: str, lease: Lease, report: Report | None, *, vended: bool) -> JsTicket:
        assert state.grant is not None  # _read refuses anything else
        appid, stored, now = state.grant.authorizer_appid, state.ticket, self._clock()

        def attempt() -> JsTicket:
            if (
                report is not None
                and stored is not None
                and is_forced(stored, stored.ticket == report[0], report[1], now)
            ):
                refused = spend_forced(self._failures, lease.name, state.forced, stored, now, kind=kind, owner=appid)
                if refused is not None:
                    return refused
            return self._fetch_now(state, kind, lease, vended=vended)

        # A TokenRejected is the token's own: remembered by `_fetch_now` only until it can be replaced.
        return unless_refused(
            self._failures, lease.name, state.failure, now, attempt, never_remembered=(TokenRejected,)
        )

    def _fetch_now(self, state: JsTicketState, kind: str, lease: Lease, *, vended: bool) -> JsTicket:
        assert state.grant is not None
        appid = state.grant.authorizer_appid
        token = self._token(appid, state.token)
        try:
            issued = self._api.get_ticket(token.access_token, WECHAT_TYPE[kind])
        except TokenRejected as exc:
            # Superseded or expired early: one compare-and-refresh, and one more getticket.
            logger.warning(
                "authorizer token rejected by getticket; compare-and-refresh", extra={"authorizer_appid": appid}
            )
            replaced = self._authorizer_tokens.replace_rejected(appid, token.access_token, TOKEN_MIN_VALIDITY)
            if replaced.access_token == token.access_token:
                self._remember_rejected_token(lease.name, exc, replaced)
                raise
            issued = self._api.get_ticket(replaced.access_token, WECHAT_TYPE[kind])
        now = int(self._clock())
        previous = state.ticket
        kept = previous.vended_at if previous is not None else None
        ticket = JsTicket.issued(appid, kind, issued.ticket, issued.expires_in, now, now if vended else kept)
        due = ticket.expires_at - self._margin
        if previous is not None and previous.ticket == issued.ticket:
            # WeChat has been seen answering the same ticket within its life with expires_in 7200
            # again (docs/protocol.md, observed): its life runs from when we first had it, never
            # from now. Asked again only once it has run out.
            ticket = replace(
                ticket,
                issued_at=previous.issued_at,
                expires_at=min(ticket.expires_at, previous.expires_at),
                fetched_at=now,  # asked again only once it has run out, whatever a vend's min_validity
            )
            due = ticket.expires_at
            logger.info("getticket answered the ticket it gave before", extra={"authorizer_appid": appid, "kind": kind})
        if self._records.store_ticket(ticket, lease.holder, due, vended=vended):
            lease.released = True
        else:  # revoked meanwhile, or a later ticket is stored: this one is WeChat's all the same
            logger.info("ticket not stored: the grant or the ticket changed", extra={"authorizer_appid": appid})
        logger.info("js-sdk ticket fetched", extra={"authorizer_appid": appid, "kind": kind, "vended": vended})
        metrics.add_metric(name="JsTicketFetched", unit=MetricUnit.Count, value=1)
        return ticket

    def _remember_rejected_token(self, name: str, error: TokenRejected, token: AccessToken) -> None:
        """getticket refused a token that cannot be replaced now (too young to have been superseded,
        or its forced-refresh budget spent): asking again with it would meet the same refusal, so
        every vend gets this one without a call until it can be replaced, or is due anyway."""
        refused, now = token.refresh_refused, self._clock()
        until = min(token.expires_at - self._margin, refused.until if refused is not None else now)
        if until > now:
            remember_refusal(self._failures, name, error, now, until=until)

    def _token(self, authorizer_appid: str, stored: AccessToken | None) -> AccessToken:
        """The token read with the ticket when it is good (no request), else the token service's."""
        if stored is not None and stored.valid_for(TOKEN_MIN_VALIDITY, self._clock()):
            return stored
        return self._authorizer_tokens.token(authorizer_appid, TOKEN_MIN_VALIDITY)

    def _mark_vended(self, ticket: JsTicket) -> None:
        """At most once an hour per ticket; a mark the table cannot take now is left for the next
        vend (it decides only whether the refresher renews the ticket)."""
        now = int(self._clock())
        if not ticket.needs_vended_mark(now):
            return
        try:
            self._records.mark_vended(ticket.owner, ticket.kind, now, ticket.expires_at - self._margin)
        except StorageUnavailable:
            logger.warning("ticket's vend mark not written", extra={"authorizer_appid": ticket.owner})

    def _read(self, authorizer_appid: str, kind: str) -> JsTicketState:
        """The state of an authorizer whose grant is active (one request); NotAuthorized otherwise."""
        state = self._records.read_for_ticket(authorizer_appid, kind)
        require_active(state.grant)
        return state
