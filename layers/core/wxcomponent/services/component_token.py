"""The component access token: read while valid, refreshed once per expiry (docs/protocol.md §3).

WeChat issues a new token on every call and the previous one dies about 5 minutes later, so
refreshing too often breaks callers holding the old one: we refresh only when the stored token is
short of the asked margin, under a single-flight lease, and when WeChat rejects a token we refresh
only if that token is still the stored one (compare-and-refresh), old enough to have been
superseded, and within its forced-refresh budget (the rules shared by every token and ticket are
at the end of this module).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, Self, TypeVar

from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from wxcomponent.domain.errors import VerifyTicketMissing, WxComponentError
from wxcomponent.domain.tokens import (
    BUDGET,
    MIN_REFRESH_AGE,
    TOO_YOUNG,
    AccessToken,
    ForcedRefreshes,
    forced_refresh_allowed_at,
    spend_forced_refresh,
)
from wxcomponent.domain.wechat import RefreshFailure, TokenRejected, VerifyTicketRejected
from wxcomponent.keys import component_lease
from wxcomponent.observability import MetricUnit, logger, metrics, single_metric
from wxcomponent.ports import LeaseStore, RefreshFailures, Refusals, TokenStore, VerifyTicketStore, WeChatApi
from wxcomponent.services.single_flight import SingleFlight
from wxcomponent.settings import ComponentSettings

T = TypeVar("T")
DEFAULT_MIN_VALIDITY = 300
COMPONENT = "component"  # the kind, as metrics and logs name it


class ComponentTokenService:
    def __init__(
        self,
        verify_tickets: VerifyTicketStore,
        tokens: TokenStore,
        leases: LeaseStore,
        failures: RefreshFailures,
        api: WeChatApi,
        *,
        component: Callable[[], ComponentSettings],
        clock: Callable[[], float] = time.time,
        single_flight: SingleFlight | None = None,
    ) -> None:
        self._verify_tickets = verify_tickets
        self._tokens = tokens
        self._failures = failures
        self._api = api
        self._component = component
        self._clock = clock
        self._flight = single_flight or SingleFlight(leases, clock=clock)
        # The token `call` last used, and when it was read: a sweep's hundred WeChat calls read the
        # table once, not a hundred times. Briefly (WeChat honours a superseded token for minutes).
        self._recent: tuple[AccessToken, float] | None = None

    def token(self, min_validity: float = DEFAULT_MIN_VALIDITY) -> AccessToken:
        """A token valid for at least `min_validity` seconds (or the freshest WeChat gives)."""
        appid = self._component().component_appid

        def current() -> AccessToken | None:
            stored = self._tokens.get_component_token(appid)
            return stored if stored is not None and stored.good_for(min_validity, self._clock()) else None

        return self._flight.run(component_lease(appid), current, self._refresh)

    def replace_rejected(self, rejected: str, min_validity: float = 0) -> AccessToken:
        """Compare-and-refresh: a newer stored token is returned as is; the rejected one is
        refreshed once, however many callers report it, unless the report may not refresh it
        (`refused_report`): then it is returned, marked with why."""
        appid = self._component().component_appid
        name = component_lease(appid)
        forcing: list[tuple[AccessToken, ForcedRefreshes | None]] = []  # the last look's forced refresh

        def current() -> AccessToken | None:
            forcing.clear()
            stored = self._tokens.get_component_token(appid)
            now = self._clock()
            if stored is None:
                return None
            if stored.access_token != rejected:
                return stored if stored.good_for(min_validity, now) else None
            read: list[ForcedRefreshes | None] = []

            def budget() -> ForcedRefreshes | None:  # read only when the refresh would be forced
                read.append(self._failures.forced_refreshes(name))
                return read[-1]

            answer = refused_report(stored, min_validity, now, budget, kind=COMPONENT, owner=appid)
            if answer is None and read:
                forcing.append((stored, read[-1]))
            return answer

        return self._flight.run(name, current, lambda: self._refresh(forcing[-1] if forcing else None))

    def call(self, request: Callable[[str], T]) -> T:
        """Calls WeChat with the stored token; on 40001/40014/42001 refreshes (compare-and-refresh)
        and retries once, unless the token could not be replaced (asking again with it would meet
        the same refusal). The token is read at most once per `RECENT_FOR` seconds."""
        token = self._recent_token()
        try:
            return request(token.access_token)
        except TokenRejected:
            logger.warning("component token rejected; compare-and-refresh")
            self._recent = None
            replaced = self.replace_rejected(token.access_token)
            self._recent = (replaced, self._clock())
            if replaced.access_token == token.access_token:
                raise
            return request(replaced.access_token)

    def _recent_token(self) -> AccessToken:
        recent, now = self._recent, self._clock()
        if recent is not None and now - recent[1] < RECENT_FOR and recent[0].valid_for(DEFAULT_MIN_VALIDITY, now):
            return recent[0]
        token = self.token()
        self._recent = (token, now)
        return token

    def _refresh(self, forcing: tuple[AccessToken, ForcedRefreshes | None] | None = None) -> AccessToken:
        """Under the lease. `forcing`: the stored token a report forces a refresh of, and its budget."""
        component = self._component()
        now = self._clock()
        name = component_lease(component.component_appid)
        remembered = self._failures.recent_failure(name, now)

        def attempt() -> AccessToken:
            if forcing is not None:
                stored, seen = forcing
                refused = spend_forced(self._failures, name, seen, stored, now, kind=COMPONENT, owner=stored.owner)
                if refused is not None:
                    return refused
            return self._refresh_now(component, now)

        return unless_refused(self._failures, name, remembered, now, attempt)

    def _refresh_now(self, component: ComponentSettings, now: float) -> AccessToken:
        ticket = self._verify_tickets.get_ticket(component.component_appid)
        if ticket is None or not ticket.is_valid(now):
            raise VerifyTicketMissing("no valid component_verify_ticket yet")
        try:
            issued = self._api.component_token(component.component_appid, component.component_appsecret, ticket.ticket)
        except VerifyTicketRejected as exc:
            raise VerifyTicketMissing("WeChat refused the stored ticket", errcode=exc.errcode) from exc
        token = AccessToken.issued(component.component_appid, issued.access_token, issued.expires_in, int(now))
        self._tokens.save_component_token(token)
        logger.info("component token refreshed", extra={"expires_at": token.expires_at})
        metrics.add_metric(name="ComponentTokenRefreshed", unit=MetricUnit.Count, value=1)
        return token


RECENT_FOR = 60.0  # seconds `call` reuses the token it read (well inside WeChat's grace for a superseded one)


# -- the rules every token and ticket obeys (docs/SECURITY.md, quota) ---------------------------------


class Reported(Protocol):
    """A stored token or ticket, as a report of it is judged (`AccessToken`, `JsTicket`)."""

    @property
    def issued_at(self) -> int: ...

    def too_young_to_refresh(self, now: float) -> bool: ...

    def good_for(self, min_validity: float, now: float) -> bool: ...

    def refused(self, reason: str, until: float) -> Self: ...


def refused_report[V: Reported](
    stored: V,
    min_validity: float,
    now: float,
    budget: Callable[[], ForcedRefreshes | None],
    *,
    kind: str,
    owner: str,
) -> V | None:
    """The answer to a report of `stored` (the stored value is the one reported) when the report may
    not refresh it: `stored` itself, marked with why. Too young to have been superseded; or it would
    serve a vend still (so the refresh is forced, by the report alone) and its `budget` is spent.
    None: refresh it (`budget` is read only for a forced refresh)."""
    if stored.too_young_to_refresh(now):
        logger.warning("reported value too young to refresh; answered with the stored one", extra={"kind": kind})
        metrics.add_metric(name="RefreshRefusedTooYoung", unit=MetricUnit.Count, value=1)
        return stored.refused(TOO_YOUNG, stored.issued_at + MIN_REFRESH_AGE)
    if stored.good_for(min_validity, now):
        seen = budget()
        if spend_forced_refresh(seen, int(now)) is None:
            return budget_refused(stored, seen, now, kind=kind, owner=owner)
    return None


def is_forced(stored: Reported | None, matches: bool, min_validity: float, now: float) -> bool:
    """A refresh of `stored` is forced when it is the reported value (`matches`) and would serve a
    vend still: the report alone asks for it, so it spends the budget."""
    return stored is not None and matches and stored.good_for(min_validity, now)


def spend_forced[V: Reported](
    failures: Refusals, name: str, seen: ForcedRefreshes | None, stored: V, now: float, *, kind: str, owner: str
) -> V | None:
    """Under the lease, before a forced refresh: spends one of `name`'s budget, as read in `seen`
    (compare-and-set: two containers never both spend the last). None: refresh; or, when none is
    left (or another container spent it meanwhile), `stored` marked `BUDGET`."""
    spent = spend_forced_refresh(seen, int(now))
    if spent is None or not failures.record_forced_refresh(name, seen, spent):
        return budget_refused(stored, seen, now, kind=kind, owner=owner)
    logger.info("refresh forced by a report", extra={"kind": kind, "appid": owner})
    if not is_metrics_disabled():  # a single metric prints at once, switched off or not
        with single_metric(name="ForcedRefresh", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="kind", value=kind)
    return None


def budget_refused[V: Reported](stored: V, seen: ForcedRefreshes | None, now: float, *, kind: str, owner: str) -> V:
    logger.warning("forced-refresh budget spent; answered with the stored one", extra={"kind": kind, "appid": owner})
    metrics.add_metric(name="ForcedRefreshRefused", unit=MetricUnit.Count, value=1)
    return stored.refused(BUDGET, forced_refresh_allowed_at(seen, now))


def unless_refused[R](
    failures: Refusals,
    name: str,
    remembered: RefreshFailure | None,
    now: float,
    refresh: Callable[[], R],
    *,
    never_remembered: tuple[type[WxComponentError], ...] = (),
) -> R:
    """The refresh of `name`, unless WeChat refused it lately: every caller then gets WeChat's last
    answer until its retry-after, without a call. A refusal of this refresh is remembered (but not
    one of `never_remembered`, which says nothing about this refresh)."""
    if remembered is not None and remembered.until > now:
        metrics.add_metric(name="RefreshFailureRemembered", unit=MetricUnit.Count, value=1)
        raise remembered.error()
    try:
        return refresh()
    except never_remembered:
        raise
    except WxComponentError as exc:
        remember_refusal(failures, name, exc, now)
        raise


def remember_refusal(
    failures: Refusals, name: str, error: WxComponentError, now: float, *, until: float | None = None
) -> None:
    """Keeps a refresh WeChat refused for its retry-after (or `until`), and counts it by errcode (the
    alarms on 61004, a missing IP whitelist entry, and 45009, the daily quota, watch this metric)."""
    failure = RefreshFailure.of(error, now)
    if failure is None:
        return
    if until is not None:
        failure = RefreshFailure(failure.kind, failure.errcode, failure.message, until)
    failures.remember_failure(name, failure)
    errcode = "none" if failure.errcode is None else str(failure.errcode)
    if not is_metrics_disabled():  # a single metric prints at once, switched off or not
        with single_metric(name="RefreshRefusedByWeChat", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="errcode", value=errcode)
