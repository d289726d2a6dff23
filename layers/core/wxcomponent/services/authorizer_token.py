"""Authorizer access tokens: read while valid, refreshed once per expiry with the grant's refresh
token (docs/protocol.md §3).

Every non-empty refresh token WeChat answers with is persisted (compare-and-set on the old one, so
a slower refresh can never put back an older token). On 61023 the refresh token is recovered from
`api_get_authorizer_list`; failing that the grant is marked `needs_reauthorization`. On 61003 the
merchant has revoked us: the grant is marked revoked, if the list confirms it; if not, the refusal
is remembered (`RevocationNotConfirmed`). A report of the stored token obeys the rules every token
obeys (`component_token.refused_report`): its forced-refresh budget is read with the grant.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from wxcomponent.domain.errors import NotAuthorized
from wxcomponent.domain.grants import Grant, require_active
from wxcomponent.domain.tokens import AccessToken, ForcedRefreshes
from wxcomponent.domain.wechat import (
    AccountRevokedAuthorization,
    AuthorizerListItem,
    AuthorizerToken,
    RefreshFailure,
    RefreshTokenRejected,
    RevocationNotConfirmed,
    UpstreamError,
)
from wxcomponent.keys import authorizer_lease
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.ports import Authorizers, EventPublisher, RefreshState, WeChatApi
from wxcomponent.services.authorizer_list import find_listed
from wxcomponent.services.best_effort import publish_best_effort
from wxcomponent.services.component_token import (
    ComponentTokenService,
    is_forced,
    refused_report,
    spend_forced,
    unless_refused,
)
from wxcomponent.services.single_flight import Lease, SingleFlight
from wxcomponent.settings import REFRESH_MARGIN, ComponentSettings

EVENT_NEEDS_REAUTHORIZATION = "needs_reauthorization"
EVENT_REVOKED = "revoked"
AUTHORIZER = "authorizer"  # the kind, as metrics and logs name it
Report = tuple[str, float]  # a reported token, and the reporter's min_validity


class AuthorizerTokenService:
    def __init__(
        self,
        authorizers: Authorizers,
        api: WeChatApi,
        component_tokens: ComponentTokenService,
        publisher: EventPublisher,
        *,
        component: Callable[[], ComponentSettings],
        clock: Callable[[], float] = time.time,
        single_flight: SingleFlight | None = None,
        refresh_margin: int = REFRESH_MARGIN[2],
    ) -> None:
        self._grants = authorizers
        self._records = authorizers
        self._api = api
        self._component_tokens = component_tokens
        self._publisher = publisher
        self._component = component
        self._clock = clock
        self._flight = single_flight or SingleFlight(clock=clock)
        self._margin = refresh_margin

    def token(self, authorizer_appid: str, min_validity: float = 300) -> AccessToken:
        """A token valid for at least `min_validity` seconds (or the freshest WeChat gives). The
        grant and the token are read in one request: a vend is one round trip, and it always sees
        a revocation."""

        def answer(state: RefreshState) -> AccessToken | None:
            stored = state.token
            return stored if stored is not None and stored.good_for(min_validity, self._clock()) else None

        return self._obtain(authorizer_appid, answer, None)

    def refresh_due(self, authorizer_appid: str, min_validity: float) -> AccessToken:
        """The sweep's refresh of a token the index says is due: no read first, the lease is taken
        with the item returned (two requests in all: the lease, the outcome); a token found good
        enough under the lease (a vend renewed it) is returned as it is."""

        def answer(state: RefreshState) -> AccessToken | None:
            stored = state.token
            return stored if stored is not None and stored.good_for(min_validity, self._clock()) else None

        return self._obtain(authorizer_appid, answer, None, read_first=False)

    def replace_rejected(self, authorizer_appid: str, rejected: str, min_validity: float = 0) -> AccessToken:
        """Compare-and-refresh: refreshes only if `rejected` is still the stored token, and the
        report may refresh it (`refused_report`: else it is returned, marked with why)."""

        def answer(state: RefreshState) -> AccessToken | None:
            stored, now = state.token, self._clock()
            if stored is None:
                return None
            if stored.access_token != rejected:
                return stored if stored.good_for(min_validity, now) else None
            return refused_report(
                stored, min_validity, now, lambda: state.forced, kind=AUTHORIZER, owner=authorizer_appid
            )

        return self._obtain(authorizer_appid, answer, (rejected, min_validity))

    # -- the refresh, under the lease ----------------------------------------------------------------

    def _obtain(
        self,
        authorizer_appid: str,
        answer: Callable[[RefreshState], AccessToken | None],
        report: Report | None,
        *,
        read_first: bool = True,
    ) -> AccessToken:
        """`answer` from the stored item if it gives one; else one refresh across all containers,
        in two requests more: the lease, taken with the item returned (checked by `answer` again:
        someone may have just finished), and the outcome."""
        if read_first:
            found = answer(self._read(authorizer_appid))
            if found is not None:
                return found

        def take(holder: str) -> RefreshState | None:
            return self._records.acquire_refresh_lease(authorizer_appid, holder, self._clock(), self._flight.lease_ttl)

        def checked(state: RefreshState) -> AccessToken | None:
            require_active(state.grant)
            return answer(state)

        return self._flight.run_taking(
            authorizer_lease(authorizer_appid),
            take,
            checked,
            lambda: self._read(authorizer_appid),
            lambda taken, lease: self._refresh(taken, lease, report),
            lambda holder: self._records.release_refresh_lease(authorizer_appid, holder),
        )

    def _refresh(self, state: RefreshState, lease: Lease, report: Report | None) -> AccessToken:
        assert state.grant is not None  # _read refuses anything else
        grant, stored, now = state.grant, state.token, self._clock()

        def attempt() -> AccessToken:
            if (
                report is not None
                and stored is not None
                and is_forced(stored, stored.access_token == report[0], report[1], now)
            ):
                refused = spend_forced(
                    _ItemRefusals(self._records, grant.authorizer_appid),
                    lease.name,
                    state.forced,
                    stored,
                    now,
                    kind=AUTHORIZER,
                    owner=grant.authorizer_appid,
                )
                if refused is not None:
                    return refused
            return self._refresh_now(grant, lease)

        return unless_refused(
            _ItemRefusals(self._records, grant.authorizer_appid), lease.name, state.failure, now, attempt
        )

    def _refresh_now(self, grant: Grant, lease: Lease) -> AccessToken:
        # The grant was read with the token, and the lease was taken only while that token was still
        # stored: a refresh that rotated the refresh token since would have changed both at once.
        authorizer_appid = grant.authorizer_appid
        used = grant.refresh_token
        started = time.monotonic()
        try:
            answer = self._exchange(grant, used)
        except RefreshTokenRejected as exc:
            recovered = self._recover_refresh_token(grant)
            if recovered is None:
                self._needs_reauthorization(grant, exc.errcode)
                raise NotAuthorized("the authorizer must authorize again", errcode=exc.errcode) from exc
            used = recovered
            try:
                answer = self._exchange(grant, recovered)
            except RefreshTokenRejected as again:
                self._needs_reauthorization(grant, again.errcode)
                raise NotAuthorized("the authorizer must authorize again", errcode=again.errcode) from again
        except AccountRevokedAuthorization as exc:
            # One 61003 is not proof: WeChat has answered it for accounts it still lists. Believe
            # the list; and even then keep the refresh token (only the signed push deletes).
            if self._listed(grant.authorizer_appid) is not None:
                logger.warning(
                    "61003 not confirmed by the authorizer list", extra={"authorizer_appid": authorizer_appid}
                )
                metrics.add_metric(name="RevocationNotConfirmed", unit=MetricUnit.Count, value=1)
                raise RevocationNotConfirmed(exc.message, errcode=exc.errcode) from exc
            self._revoked(grant)
            raise NotAuthorized("the authorizer has revoked the authorization", errcode=exc.errcode) from exc
        now = int(self._clock())
        token = AccessToken.issued(authorizer_appid, answer.authorizer_access_token, answer.expires_in, now)
        self._store(authorizer_appid, used, answer.authorizer_refresh_token, token, lease)
        took_ms = round((time.monotonic() - started) * 1000)  # whose refresh was slow, in the log
        logger.info("authorizer token refreshed", extra={"authorizer_appid": authorizer_appid, "took_ms": took_ms})
        metrics.add_metric(name="AuthorizerTokenRefreshed", unit=MetricUnit.Count, value=1)
        return token

    def _store(self, authorizer_appid: str, used: str, rotated: str, token: AccessToken, lease: Lease) -> None:
        """The rotated refresh token, the next due time, the token and the lease, in one request
        that writes all or nothing (so a crash can never keep the token and lose the refresh
        token). If the grant changed meanwhile (re-authorized, revoked), what still applies is
        written one by one, each under its own condition, as before."""
        due = token.expires_at - self._margin
        rotates = bool(rotated) and rotated != used
        if self._records.store_refresh(authorizer_appid, used, rotated or None, token, due, lease.holder):
            lease.released = True
            kept = rotates
        else:
            logger.info("grant changed during the refresh", extra={"authorizer_appid": authorizer_appid})
            kept = rotates and self._grants.update_refresh_token(authorizer_appid, used, rotated, token.issued_at)
            self._grants.save_authorizer_token(token)
            self._grants.set_refresh_due(authorizer_appid, due)
        if kept:
            logger.info("refresh token rotated and kept", extra={"authorizer_appid": authorizer_appid})
            metrics.add_metric(name="RefreshTokenRotated", unit=MetricUnit.Count, value=1)

    def _exchange(self, grant: Grant, refresh_token: str) -> AuthorizerToken:
        component_appid = self._component().component_appid
        return self._component_tokens.call(
            lambda token: self._api.authorizer_token(token, component_appid, grant.authorizer_appid, refresh_token)
        )

    def _recover_refresh_token(self, grant: Grant) -> str | None:
        """61023: WeChat's own list of authorizers carries each one's current refresh token, and so
        does api_get_authorizer_info's `authorization_info` (WeChat staff name both). If one differs
        from ours, ours was superseded; keep it (compare-and-set). The profile is asked only when
        the list has nothing new (an empty listed token: a code never exchanged by us)."""
        item = self._listed(grant.authorizer_appid)
        found = item.refresh_token if item is not None else ""
        source = "list"
        if not found or found == grant.refresh_token:
            found, source = self._from_profile(grant.authorizer_appid), "authorizer_info"
        if not found or found == grant.refresh_token:
            return None
        self._grants.update_refresh_token(grant.authorizer_appid, grant.refresh_token, found, int(self._clock()))
        logger.info("refresh token recovered", extra={"authorizer_appid": grant.authorizer_appid, "source": source})
        metrics.add_metric(name="RefreshTokenRecovered", unit=MetricUnit.Count, value=1)
        return found

    def _from_profile(self, authorizer_appid: str) -> str:
        """api_get_authorizer_info's refresh token, or "" when WeChat gives none (or will not answer)."""
        component_appid = self._component().component_appid
        try:
            profile = self._component_tokens.call(
                lambda token: self._api.get_authorizer_info(token, component_appid, authorizer_appid)
            )
        except UpstreamError as exc:
            logger.warning(
                "authorizer info not read", extra={"authorizer_appid": authorizer_appid, "errcode": exc.errcode}
            )
            return ""
        return profile.authorizer_refresh_token

    def _listed(self, authorizer_appid: str) -> AuthorizerListItem | None:
        """The authorizer as `api_get_authorizer_list` has it, or None when WeChat does not list it."""
        return find_listed(self._component_tokens, self._api, self._component().component_appid, authorizer_appid)

    def _needs_reauthorization(self, grant: Grant, errcode: int | None) -> None:
        if self._grants.mark_needs_reauthorization(grant.authorizer_appid, grant.refresh_token, int(self._clock())):
            self._grants.delete_authorizer_token(grant.authorizer_appid)
            self._publish(EVENT_NEEDS_REAUTHORIZATION, {"authorizer_appid": grant.authorizer_appid, "errcode": errcode})
        logger.warning("authorizer needs reauthorization", extra={"authorizer_appid": grant.authorizer_appid})
        metrics.add_metric(name="NeedsReauthorization", unit=MetricUnit.Count, value=1)

    def _revoked(self, grant: Grant) -> None:
        """61003, confirmed by the list: out of service, nothing deleted (a re-authorization or the
        signed `unauthorized` push decides what happens to the refresh token)."""
        now = int(self._clock())
        if self._grants.revoke_unlisted(grant.authorizer_appid, grant.refresh_token, now):
            self._publish(
                EVENT_REVOKED, {"authorizer_appid": grant.authorizer_appid, "revoked_at": now, "errcode": 61003}
            )

    def _read(self, authorizer_appid: str) -> RefreshState:
        """The item of an authorizer whose grant is active (one request); NotAuthorized otherwise."""
        state = self._records.read_for_refresh(authorizer_appid)
        require_active(state.grant)
        return state

    def _publish(self, detail_type: str, detail: dict[str, object]) -> None:
        publish_best_effort(self._publisher, self._component().component_appid, detail_type, detail)


class _ItemRefusals:
    """`Refusals` for one authorizer: its refusal and forced-refresh budget are in its item."""

    def __init__(self, authorizers: Authorizers, authorizer_appid: str) -> None:
        self._authorizers = authorizers
        self._appid = authorizer_appid

    def remember_failure(self, name: str, failure: RefreshFailure) -> None:
        self._authorizers.remember_failure(self._appid, failure)

    def record_forced_refresh(self, name: str, seen: ForcedRefreshes | None, forced: ForcedRefreshes) -> bool:
        return self._authorizers.record_forced_refresh(self._appid, seen, forced)
