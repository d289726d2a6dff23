"""The component access token: read while valid, refreshed once per expiry (docs/protocol.md §3).

WeChat issues a new token on every call and the previous one dies about 5 minutes later, so
refreshing too often breaks callers holding the old one: we refresh only when the stored token is
short of the asked margin, under a single-flight lease, and when WeChat rejects a token we refresh
only if that token is still the stored one (compare-and-refresh).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from wxcomponent.domain.errors import TicketMissing, WxComponentError
from wxcomponent.domain.tokens import AccessToken, too_young_to_refresh
from wxcomponent.domain.wechat import RefreshFailure, TicketRejected, TokenRejected
from wxcomponent.observability import MetricUnit, logger, metrics, single_metric
from wxcomponent.ports import LeaseStore, RefreshFailures, TicketStore, TokenStore, WeChatApi
from wxcomponent.services.single_flight import SingleFlight
from wxcomponent.settings import ComponentSettings

T = TypeVar("T")
DEFAULT_MIN_VALIDITY = 300


class ComponentTokenService:
    def __init__(
        self,
        tickets: TicketStore,
        tokens: TokenStore,
        leases: LeaseStore,
        failures: RefreshFailures,
        api: WeChatApi,
        *,
        component: Callable[[], ComponentSettings],
        clock: Callable[[], float] = time.time,
        single_flight: SingleFlight | None = None,
    ) -> None:
        self._tickets = tickets
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
            return stored if stored is not None and stored.valid_for(min_validity, self._clock()) else None

        return self._flight.run(_lease(appid), current, self._refresh)

    def replace_rejected(self, rejected: str, min_validity: float = 0) -> AccessToken:
        """Compare-and-refresh: a newer stored token is returned as is; the rejected one is
        refreshed once, however many callers report it."""
        appid = self._component().component_appid

        def current() -> AccessToken | None:
            stored = self._tokens.get_component_token(appid)
            if stored is None:
                return None
            if stored.access_token == rejected:
                return stored if too_young(stored, self._clock()) else None
            return stored if stored.valid_for(min_validity, self._clock()) else None

        return self._flight.run(_lease(appid), current, self._refresh)

    def call(self, request: Callable[[str], T]) -> T:
        """Calls WeChat with the stored token; on 40001/40014/42001 refreshes (compare-and-refresh)
        and retries once. The token is read at most once per `RECENT_FOR` seconds."""
        token = self._recent_token()
        try:
            return request(token.access_token)
        except TokenRejected:
            logger.warning("component token rejected; compare-and-refresh")
            self._recent = None
            replaced = self.replace_rejected(token.access_token)
            self._recent = (replaced, self._clock())
            return request(replaced.access_token)

    def _recent_token(self) -> AccessToken:
        recent, now = self._recent, self._clock()
        if recent is not None and now - recent[1] < RECENT_FOR and recent[0].valid_for(DEFAULT_MIN_VALIDITY, now):
            return recent[0]
        token = self.token()
        self._recent = (token, now)
        return token

    def _refresh(self) -> AccessToken:
        component = self._component()
        now = self._clock()
        name = _lease(component.component_appid)
        remembered = self._failures.recent_failure(name, now)
        return unless_refused(self._failures, name, remembered, now, lambda: self._refresh_now(component, now))

    def _refresh_now(self, component: ComponentSettings, now: float) -> AccessToken:
        ticket = self._tickets.get_ticket(component.component_appid)
        if ticket is None or not ticket.is_valid(now):
            raise TicketMissing("no valid component_verify_ticket yet")
        try:
            issued = self._api.component_token(component.component_appid, component.component_appsecret, ticket.ticket)
        except TicketRejected as exc:
            raise TicketMissing("WeChat refused the stored ticket", errcode=exc.errcode) from exc
        token = AccessToken.issued(component.component_appid, issued.access_token, issued.expires_in, int(now))
        self._tokens.save_component_token(token)
        logger.info("component token refreshed", extra={"expires_at": token.expires_at})
        metrics.add_metric(name="ComponentTokenRefreshed", unit=MetricUnit.Count, value=1)
        return token


RECENT_FOR = 60.0  # seconds `call` reuses the token it read (well inside WeChat's grace for a superseded one)


def too_young(token: AccessToken, now: float) -> bool:
    """A reported token too young to have been superseded: the stored one is the answer, no call."""
    if too_young_to_refresh(token, now):
        logger.warning("rejected token too young to refresh; answered with the stored one")
        metrics.add_metric(name="RefreshRefusedTooYoung", unit=MetricUnit.Count, value=1)
        return True
    return False


def unless_refused[R](
    failures: RefreshFailures,
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


def remember_refusal(failures: RefreshFailures, name: str, error: WxComponentError, now: float) -> None:
    """Keeps a refresh WeChat refused for its retry-after, and counts it by errcode (the alarms on
    61004, a missing IP whitelist entry, and 45009, the daily quota, watch this metric)."""
    failure = RefreshFailure.of(error, now)
    if failure is None:
        return
    failures.remember_failure(name, failure)
    errcode = "none" if failure.errcode is None else str(failure.errcode)
    with single_metric(name="RefreshRefusedByWeChat", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="errcode", value=errcode)


def _lease(component_appid: str) -> str:
    return f"COMPONENT#{component_appid}"
