"""The scheduled sweep: keep the component token and every due authorizer token fresh, independent
of traffic, and keep the verify ticket coming (docs/protocol.md §2-3).

Due authorizers are read from a sparse, sharded index keyed by when each is due (never a Scan);
each refresh runs under its own single-flight lease, so a sweep and a vending call racing for the
same token still cost WeChat one call. What the function's remaining time does not allow is left
for the next run, and counted.

The same read of the index finds the JS-SDK tickets that are due: one vended in the last day is
renewed before it expires; any other leaves the index and expires unrenewed, so nobody pays a
getticket for a ticket no page uses.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from wxcomponent.domain.errors import ConfigurationError, StorageUnavailable, WxComponentError
from wxcomponent.domain.wechat import UpstreamError, rid_of
from wxcomponent.observability import MetricUnit, logger, metrics, single_metric
from wxcomponent.ports import Authorizers, VerifyTicketStore, WeChatApi
from wxcomponent.services.authorizer_token import AuthorizerTokenService
from wxcomponent.services.component_token import ComponentTokenService
from wxcomponent.services.js_tickets import JsTicketService
from wxcomponent.settings import REFRESH_MARGIN, ComponentSettings

TICKET_STALE_AFTER = 30 * 60  # WeChat pushes every 10 minutes
TICKET_RESTART_EVERY = 3600  # at most one api_start_push_ticket an hour
TIME_RESERVE_MS = 10_000  # stop starting refreshes when less than this is left


@dataclass
class SweepReport:
    due: int = 0
    refreshed: int = 0
    already_fresh: int = 0  # due by the index, but a vend had renewed it first
    failed: Counter[str] = field(default_factory=Counter)  # by errcode, or by error code when none
    left_over: int = 0
    index_items_read: int = 0
    verify_ticket_age: float | None = None
    ticket_restart_requested: bool = False
    component_token_ok: bool = False
    component_token_life_left: float | None = None  # seconds, after the sweep's refresh
    js_tickets_due: int = 0  # JS-SDK tickets the index gave as due
    js_tickets_renewed: int = 0  # vended in the last day: fetched again before they expire
    tickets_left_cold: int = 0  # not vended for a day (or their authorizer is gone): out of the index


class Refresher:
    def __init__(
        self,
        verify_tickets: VerifyTicketStore,
        grants: Authorizers,
        api: WeChatApi,
        component_tokens: ComponentTokenService,
        authorizer_tokens: AuthorizerTokenService,
        *,
        js_tickets: JsTicketService | None = None,
        shards: list[str] | None = None,
        component: Callable[[], ComponentSettings],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        parallelism: int = 8,
        jitter: float = 0.2,
        refresh_margin: int = REFRESH_MARGIN[2],
        rng: random.Random | None = None,
    ) -> None:
        self._verify_tickets = verify_tickets
        self._grants = grants
        self._api = api
        self._component_tokens = component_tokens
        self._authorizer_tokens = authorizer_tokens
        self._js_tickets = js_tickets
        self._shards = shards if shards is not None else grants.refresh_shards()
        self._component = component
        self._clock = clock
        self._sleep = sleep
        self._parallelism = max(1, parallelism)
        self._jitter = jitter
        self._margin = refresh_margin
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy

    def sweep(self, remaining_ms: Callable[[], int]) -> SweepReport:
        report = SweepReport()
        try:
            self._component()
        except ConfigurationError as exc:  # a fresh deploy's placeholders: nothing to refresh yet
            report.failed["not_configured"] += 1
            logger.warning("refresh sweep skipped: the component is not configured", extra={"reason": exc.message})
            self._emit(report)
            return report
        self._ticket_health(report)
        self._component_token(report)
        self._authorizers(report, remaining_ms)
        self._emit(report)
        return report

    # -- the ticket ------------------------------------------------------------------------------

    def _ticket_health(self, report: SweepReport) -> None:
        """A stale ticket still works until its 12 hours are up; ask WeChat to resume pushing."""
        component = self._component()
        now = int(self._clock())
        ticket = self._verify_tickets.get_ticket(component.component_appid)
        report.verify_ticket_age = None if ticket is None else float(now - ticket.received_at)
        if ticket is not None and now - ticket.received_at <= TICKET_STALE_AFTER:
            return
        if not self._verify_tickets.claim_ticket_restart(component.component_appid, now, TICKET_RESTART_EVERY):
            return
        try:
            self._api.start_push_ticket(component.component_appid, component.component_appsecret)
            report.ticket_restart_requested = True
            logger.warning(
                "verify ticket stale; asked WeChat to push again", extra={"verify_ticket_age": report.verify_ticket_age}
            )
        except UpstreamError as exc:
            report.failed[_failure_key(exc)] += 1
            logger.error("api_start_push_ticket failed", extra={"errcode": exc.errcode, "rid": exc.rid})

    # -- the component token -----------------------------------------------------------------------

    def _component_token(self, report: SweepReport) -> None:
        try:
            token = self._component_tokens.token(min_validity=self._margin)
            report.component_token_ok = True
            report.component_token_life_left = float(token.expires_at - int(self._clock()))
        except Exception as exc:  # noqa: BLE001 - the authorizers are still swept
            report.failed[_failure_key(exc)] += 1
            logger.error(
                "component token not refreshed",
                extra={"error": _error_name(exc), "errcode": _errcode(exc), "rid": rid_of(exc)},
            )

    # -- the authorizers and their JS-SDK tickets ----------------------------------------------------

    def _authorizers(self, report: SweepReport, remaining_ms: Callable[[], int]) -> None:
        now = int(self._clock())
        due, js_tickets = self._read_due(report, now)
        if not due and not js_tickets:
            return
        lock = threading.Lock()

        def refresh(appid: str) -> None:
            if self._time_left(report, lock, remaining_ms):
                self._sleep(self._rng.uniform(0, self._jitter))  # spread the calls WeChat sees
                self._refresh_authorizer(appid, now, report, lock)

        def renew(ticket: tuple[str, str]) -> None:
            if self._time_left(report, lock, remaining_ms):
                self._renew_js_ticket(*ticket, report, lock)

        with ThreadPoolExecutor(self._parallelism, thread_name_prefix="refresh") as pool:
            list(pool.map(refresh, due))
            list(pool.map(renew, js_tickets))  # after the tokens: a renewal finds its token fresh

    def _read_due(self, report: SweepReport, now: int) -> tuple[list[str], list[tuple[str, str]]]:
        """Every shard of the index, once: the due grants and the due JS-SDK tickets."""
        due: list[str] = []
        js_tickets: list[tuple[str, str]] = []
        for shard in self._shards:
            try:
                found = self._grants.due_refreshes(shard, now)
            except Exception as exc:  # noqa: BLE001 - one shard's read failing costs that shard only
                report.failed[_failure_key(exc)] += 1
                logger.warning("refresh shard not read", extra={"shard": shard, "error": type(exc).__name__})
                continue
            due.extend(found.authorizers)
            js_tickets.extend(found.js_tickets)
            report.index_items_read += found.read
        if self._js_tickets is None:
            js_tickets = []
        report.due, report.js_tickets_due = len(due), len(js_tickets)
        return due, js_tickets

    def _time_left(self, report: SweepReport, lock: threading.Lock, remaining_ms: Callable[[], int]) -> bool:
        if remaining_ms() >= TIME_RESERVE_MS:
            return True
        with lock:
            report.left_over += 1
        return False

    def _refresh_authorizer(self, appid: str, now: int, report: SweepReport, lock: threading.Lock) -> None:
        try:
            token = self._authorizer_tokens.refresh_due(appid, min_validity=self._margin)
            if token.issued_at < now:  # due by the index but still good (a vend renewed it): move it
                self._grants.set_refresh_due(appid, token.expires_at - self._margin)
        except Exception as exc:  # noqa: BLE001 - one grant's failure, WeChat's or the table's, costs that grant only
            with lock:
                report.failed[_failure_key(exc)] += 1
            logger.warning(
                "authorizer not refreshed",
                extra={
                    "authorizer_appid": appid,
                    "error": _error_name(exc),
                    "errcode": _errcode(exc),
                    "rid": rid_of(exc),
                },
            )
            return
        with lock:
            if token.issued_at >= now:
                report.refreshed += 1
            else:
                report.already_fresh += 1

    def _renew_js_ticket(self, appid: str, kind: str, report: SweepReport, lock: threading.Lock) -> None:
        assert self._js_tickets is not None  # _read_due gives no ticket otherwise
        try:
            outcome = self._js_tickets.renew(appid, kind)
        except Exception as exc:  # noqa: BLE001 - one ticket's failure costs that ticket only
            with lock:
                report.failed[_failure_key(exc)] += 1
            logger.warning(
                "js-sdk ticket not renewed",
                extra={
                    "authorizer_appid": appid,
                    "kind": kind,
                    "error": _error_name(exc),
                    "errcode": _errcode(exc),
                    "rid": rid_of(exc),
                },
            )
            return
        with lock:
            if outcome == "renewed":
                report.js_tickets_renewed += 1
            elif outcome == "cold":
                report.tickets_left_cold += 1

    def _emit(self, report: SweepReport) -> None:
        metrics.add_metric(name="AuthorizersDue", unit=MetricUnit.Count, value=report.due)
        metrics.add_metric(name="AuthorizersRefreshed", unit=MetricUnit.Count, value=report.refreshed)
        metrics.add_metric(name="AuthorizersLeftOver", unit=MetricUnit.Count, value=report.left_over)
        metrics.add_metric(name="JsTicketsRenewed", unit=MetricUnit.Count, value=report.js_tickets_renewed)
        metrics.add_metric(name="JsTicketsLeftCold", unit=MetricUnit.Count, value=report.tickets_left_cold)
        metrics.add_metric(name="RefreshFailures", unit=MetricUnit.Count, value=sum(report.failed.values()))
        for key, count in report.failed.items():  # failed, by WeChat's errcode (or our error code)
            if is_metrics_disabled():  # a single metric prints at once, switched off or not
                break
            with single_metric(name="RefreshFailed", unit=MetricUnit.Count, value=count) as metric:
                metric.add_dimension(name="errcode", value=key)
        if report.verify_ticket_age is not None:
            metrics.add_metric(name="TicketAge", unit=MetricUnit.Seconds, value=report.verify_ticket_age)
        if report.component_token_life_left is not None:
            metrics.add_metric(
                name="ComponentTokenLifeLeft", unit=MetricUnit.Seconds, value=report.component_token_life_left
            )
        logger.info(
            "refresh sweep done",
            extra={
                "due": report.due,
                "refreshed": report.refreshed,
                "failed": dict(report.failed),
                "left_over": report.left_over,
                "js_tickets_due": report.js_tickets_due,
                "js_tickets_renewed": report.js_tickets_renewed,
                "tickets_left_cold": report.tickets_left_cold,
                "index_items_read": report.index_items_read,
                "verify_ticket_age": report.verify_ticket_age,
            },
        )


def _failure_key(error: Exception) -> str:
    """WeChat's errcode, our error code, or `storage` for the table (any error of botocore's)."""
    if isinstance(error, StorageUnavailable):
        return "storage"
    if isinstance(error, WxComponentError):
        return str(error.errcode) if error.errcode is not None else error.code
    return "storage" if type(error).__module__.startswith("botocore") else "unexpected"


def _error_name(error: Exception) -> str:
    return error.code if isinstance(error, WxComponentError) else type(error).__name__


def _errcode(error: Exception) -> int | None:
    return error.errcode if isinstance(error, WxComponentError) else None
