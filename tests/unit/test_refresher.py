"""The sweep's bookkeeping with fakes: time left over, failures by errcode, already-fresh grants,
JS-SDK tickets renewed or left cold."""

from __future__ import annotations

from typing import Any

from wxcomponent.domain.errors import NotAuthorized
from wxcomponent.domain.tokens import AccessToken
from wxcomponent.domain.verify_tickets import VerifyTicket
from wxcomponent.ports import DueRefreshes
from wxcomponent.services.refresher import TIME_RESERVE_MS, Refresher
from wxcomponent.settings import ComponentSettings

NOW = 1_767_225_600
APPID = "wx5a0d8c0ffee5a4d1"


class Store:
    def __init__(
        self,
        due: dict[str, list[str]],
        verify_ticket_age: int = 60,
        tickets: dict[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        self.due = due
        self.tickets = tickets or {}
        self.ticket = VerifyTicket(APPID, "ticket@@@x", NOW - verify_ticket_age, NOW - verify_ticket_age, NOW + 3600)
        self.restarts = 0
        self.due_set: dict[str, int] = {}

    def get_ticket(self, component_appid: str) -> VerifyTicket | None:
        return self.ticket

    def due_refreshes(self, shard: str, now: int) -> DueRefreshes:
        appids, tickets = self.due.get(shard, []), self.tickets.get(shard, [])
        return DueRefreshes(appids, tickets, len(appids) + len(tickets))

    def claim_ticket_restart(self, component_appid: str, now: int, every: int) -> bool:
        self.restarts += 1
        return self.restarts == 1

    def set_refresh_due(self, authorizer_appid: str, due: int) -> bool:
        self.due_set[authorizer_appid] = due
        return True


class ComponentTokens:
    def token(self, min_validity: float = 300) -> AccessToken:
        return AccessToken(APPID, "component", NOW, NOW + 7140)


class AuthorizerTokens:
    def __init__(self, fresh: set[str], failing: dict[str, int]) -> None:
        self.fresh, self.failing = fresh, failing
        self.asked: list[str] = []

    def refresh_due(self, authorizer_appid: str, min_validity: float = 300) -> AccessToken:
        self.asked.append(authorizer_appid)
        if authorizer_appid in self.failing:
            raise NotAuthorized("gone", errcode=self.failing[authorizer_appid])
        issued = NOW - 600 if authorizer_appid in self.fresh else NOW
        return AccessToken(authorizer_appid, "t", issued, issued + 7140)


class JsTickets:
    """Renewal outcomes by authorizer appid; an appid in `failing` raises its errcode."""

    def __init__(self, outcomes: dict[str, str], failing: dict[str, int]) -> None:
        self.outcomes, self.failing = outcomes, failing
        self.asked: list[tuple[str, str]] = []

    def renew(self, authorizer_appid: str, kind: str) -> str:
        self.asked.append((authorizer_appid, kind))
        if authorizer_appid in self.failing:
            raise NotAuthorized("gone", errcode=self.failing[authorizer_appid])
        return self.outcomes[authorizer_appid]


class Api:
    def __init__(self) -> None:
        self.start_push_ticket_calls = 0

    def start_push_ticket(self, component_appid: str, component_secret: str) -> None:
        self.start_push_ticket_calls += 1


def refresher(
    store: Store, authorizers: AuthorizerTokens, api: Api | None = None, js_tickets: JsTickets | None = None
) -> Refresher:
    settings = ComponentSettings(APPID, "secret", "token", "A" * 43)
    return Refresher(
        store,  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        api or Api(),  # type: ignore[arg-type]
        ComponentTokens(),  # type: ignore[arg-type]
        authorizers,  # type: ignore[arg-type]
        js_tickets=js_tickets,  # type: ignore[arg-type]
        shards=["0", "1"],
        component=lambda: settings,
        clock=lambda: NOW,
        sleep=lambda _: None,
        parallelism=2,
        refresh_margin=1200,
    )


def test_counts_refreshed_already_fresh_and_failures_by_errcode() -> None:
    store = Store({"0": ["wxa", "wxb"], "1": ["wxc", "wxd"]})
    authorizers = AuthorizerTokens(fresh={"wxb"}, failing={"wxc": 61023, "wxd": 61003})
    report = refresher(store, authorizers).sweep(lambda: 60_000)
    assert (report.due, report.refreshed, report.already_fresh, report.left_over) == (4, 1, 1, 0)
    assert dict(report.failed) == {"61023": 1, "61003": 1}
    assert report.index_items_read == 4
    # Only the one a vend had renewed is moved here: a refresh writes its own due time with the token.
    assert store.due_set == {"wxb": NOW - 600 + 7140 - 1200}


def test_what_the_remaining_time_does_not_allow_is_left_for_the_next_run() -> None:
    store = Store({"0": ["wxa", "wxb", "wxc"]})
    authorizers = AuthorizerTokens(fresh=set(), failing={})
    report = refresher(store, authorizers).sweep(lambda: TIME_RESERVE_MS - 1)
    assert (report.due, report.refreshed, report.left_over) == (3, 0, 3)
    assert authorizers.asked == []


def test_a_stale_ticket_restarts_pushing_at_most_once() -> None:
    store, api = Store({}, verify_ticket_age=31 * 60), Api()
    first = refresher(store, AuthorizerTokens(set(), {}), api).sweep(lambda: 60_000)
    second = refresher(store, AuthorizerTokens(set(), {}), api).sweep(lambda: 60_000)
    assert (first.ticket_restart_requested, second.ticket_restart_requested) == (True, False)
    assert api.start_push_ticket_calls == 1
    assert first.verify_ticket_age == 31 * 60


def test_a_fresh_ticket_is_left_alone() -> None:
    store, api = Store({}, verify_ticket_age=29 * 60), Api()
    report: Any = refresher(store, AuthorizerTokens(set(), {}), api).sweep(lambda: 60_000)
    assert report.ticket_restart_requested is False and store.restarts == 0


def test_due_tickets_are_renewed_or_left_cold_and_counted() -> None:
    tickets = {
        "0": [("wxa", "jsapi_ticket"), ("wxb", "card_ticket")],
        "1": [("wxc", "jsapi_ticket"), ("wxd", "jsapi_ticket")],
    }
    store = Store({"0": ["wxa"]}, tickets=tickets)
    js = JsTickets({"wxa": "renewed", "wxb": "cold", "wxc": "fresh"}, failing={"wxd": 45009})
    report = refresher(store, AuthorizerTokens(set(), {}), js_tickets=js).sweep(lambda: 60_000)
    assert (report.due, report.js_tickets_due, report.js_tickets_renewed, report.tickets_left_cold) == (1, 4, 1, 1)
    assert dict(report.failed) == {"45009": 1} and report.index_items_read == 5
    assert sorted(js.asked) == sorted(key for keys in tickets.values() for key in keys)


def test_tickets_wait_for_the_next_run_when_time_is_short() -> None:
    js = JsTickets({"wxa": "renewed"}, failing={})
    report = refresher(Store({}, tickets={"0": [("wxa", "jsapi_ticket")]}), AuthorizerTokens(set(), {}), js_tickets=js)
    swept = report.sweep(lambda: TIME_RESERVE_MS - 1)
    assert (swept.js_tickets_due, swept.js_tickets_renewed, swept.left_over) == (1, 0, 1) and js.asked == []


def test_without_a_ticket_service_due_tickets_are_not_touched() -> None:
    report = refresher(Store({}, tickets={"0": [("wxa", "jsapi_ticket")]}), AuthorizerTokens(set(), {})).sweep(
        lambda: 60_000
    )
    assert (report.js_tickets_due, report.left_over, dict(report.failed)) == (0, 0, {})
