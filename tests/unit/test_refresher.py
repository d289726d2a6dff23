"""The sweep's bookkeeping with fakes: time left over, failures by errcode, already-fresh grants."""

from __future__ import annotations

from typing import Any

from wxcomponent.domain.errors import NotAuthorized
from wxcomponent.domain.tickets import Ticket
from wxcomponent.domain.tokens import AccessToken
from wxcomponent.services.refresher import TIME_RESERVE_MS, Refresher
from wxcomponent.settings import ComponentSettings

NOW = 1_767_225_600
APPID = "wx5a0d8c0ffee5a4d1"


class Store:
    def __init__(self, due: dict[str, list[str]], ticket_age: int = 60) -> None:
        self.due = due
        self.ticket = Ticket(APPID, "ticket@@@x", NOW - ticket_age, NOW - ticket_age, NOW + 3600)
        self.restarts = 0
        self.due_set: dict[str, int] = {}

    def get_ticket(self, component_appid: str) -> Ticket | None:
        return self.ticket

    def due_authorizers(self, shard: str, now: int) -> tuple[list[str], int]:
        appids = self.due.get(shard, [])
        return appids, len(appids)

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

    def token(self, authorizer_appid: str, min_validity: float = 300) -> AccessToken:
        self.asked.append(authorizer_appid)
        if authorizer_appid in self.failing:
            raise NotAuthorized("gone", errcode=self.failing[authorizer_appid])
        issued = NOW - 600 if authorizer_appid in self.fresh else NOW
        return AccessToken(authorizer_appid, "t", issued, issued + 7140)


class Api:
    def __init__(self) -> None:
        self.start_push_ticket_calls = 0

    def start_push_ticket(self, component_appid: str, component_secret: str) -> None:
        self.start_push_ticket_calls += 1


def refresher(store: Store, authorizers: AuthorizerTokens, api: Api | None = None) -> Refresher:
    settings = ComponentSettings(APPID, "secret", "token", "A" * 43)
    return Refresher(
        store,  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        api or Api(),  # type: ignore[arg-type]
        ComponentTokens(),  # type: ignore[arg-type]
        authorizers,  # type: ignore[arg-type]
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
    store, api = Store({}, ticket_age=31 * 60), Api()
    first = refresher(store, AuthorizerTokens(set(), {}), api).sweep(lambda: 60_000)
    second = refresher(store, AuthorizerTokens(set(), {}), api).sweep(lambda: 60_000)
    assert (first.ticket_restart_requested, second.ticket_restart_requested) == (True, False)
    assert api.start_push_ticket_calls == 1
    assert first.ticket_age == 31 * 60


def test_a_fresh_ticket_is_left_alone() -> None:
    store, api = Store({}, ticket_age=29 * 60), Api()
    report: Any = refresher(store, AuthorizerTokens(set(), {}), api).sweep(lambda: 60_000)
    assert report.ticket_restart_requested is False and store.restarts == 0
