"""M2 (issue 19): refreshes that reports force, beyond the scheduled one, are capped per owner and
kind, two per token lifetime, remembered in the table so that every container agrees. On fakes,
through the composition root and the vending contract, with a clock the test moves.

The bound, per owner and kind, in any 24 hours (docs/SECURITY.md, quota): reports force at most
2 refreshes in any 7200 s, so at most 2 x 12 = 24; every other refresh happens only when the stored
value is short of a vend's `min_validity` (300 s here), at least 7140 - 300 = 6840 s after the
refresh before it, so at most 86400 // 6840 + 1 = 13. In all, at most 37, where a caller that
reports every value it is handed cost 287 before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fakes import MemoryPublisher
from tests.unit.test_token_services import COMPONENT, MERCHANT, NOW, World
from wxcomponent.bootstrap import Container
from wxcomponent.domain.verify_tickets import VerifyTicket
from wxcomponent.domain.wechat import QuotaExceeded, TokenRejected
from wxcomponent.settings import ComponentSettings, Settings

DAY = 86400
LIFETIME = 7200  # WeChat's; stored as 7140
PER_LIFETIME = 2  # forced refreshes a report may cause per owner and kind, in any LIFETIME seconds
FORCED_PER_DAY = PER_LIFETIME * DAY // LIFETIME  # 24
OTHERS_PER_DAY = DAY // (LIFETIME - 60 - 300) + 1  # 13: refreshes a plain vend asks for
BOUND = FORCED_PER_DAY + OTHERS_PER_DAY  # 37
WECHAT_API = {
    "component": "api_component_token",
    "authorizer": "api_authorizer_token",
    "jsapi_ticket": "getticket",
    "card_ticket": "getticket",
}


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """The metrics the core adds, by name (and `name:dimension` for single metrics)."""
    seen: dict[str, int] = {}
    from wxcomponent.observability import metrics
    from wxcomponent.services import component_token

    def add_metric(*, name: str, unit: Any, value: float, **_: Any) -> None:
        seen[name] = seen.get(name, 0) + int(value)

    class Single:
        def __init__(self, *, name: str, unit: Any, value: float, **_: Any) -> None:
            self.name, self.value = name, value

        def __enter__(self) -> Single:
            return self

        def __exit__(self, *_: object) -> None:
            return None

        def add_dimension(self, *, name: str, value: str) -> None:
            key = f"{self.name}:{value}"
            seen[key] = seen.get(key, 0) + int(self.value)

    monkeypatch.setattr(metrics, "add_metric", add_metric)
    monkeypatch.setattr(component_token, "single_metric", Single)
    monkeypatch.setattr(component_token, "is_metrics_disabled", lambda: False)
    yield seen


def payload(kind: str, **more: Any) -> dict[str, Any]:
    return {"kind": kind, **({} if kind == "component" else {"appid": MERCHANT}), **more}


def value_of(body: dict[str, Any]) -> str:
    return str(body["ticket"] if "ticket" in body else body["access_token"])


def vend(wx: Container, request: dict[str, Any]) -> dict[str, Any]:
    answer = wx.vendor.answer(request)
    assert answer.status == 200, answer.body
    return answer.body


def new_verify_ticket(world: World) -> None:
    """WeChat pushes one every 10 minutes; a day needs them (each lives 12 h)."""
    now = int(world.now)
    world.stores.verify_tickets.save_ticket(VerifyTicket.received(COMPONENT, f"ticket@@@{now}", now, now))


def report_in_a_loop(world: World, kind: str, every: int, containers: list[Container] | None = None) -> list[str]:
    """The review's caller: vends, reports the value it got, waits `every` seconds, for 24 h
    (taking turns across `containers`). Returns the `refresh_refused` of each report's answer."""
    wx = containers or [world.wx]
    reasons: list[str] = []
    start, turn = world.now, 0
    while world.now < start + DAY:
        new_verify_ticket(world)
        container = wx[turn % len(wx)]
        got = value_of(vend(container, payload(kind)))
        answer = vend(container, payload(kind, invalid_token=got))
        reasons.append(str(answer.get("refresh_refused", "")))
        if answer.get("refresh_refused"):
            assert value_of(answer) == got  # the current token, with the reason
        world.now += every
        turn += 1
    return reasons


@pytest.mark.parametrize("kind", list(WECHAT_API))
def test_a_caller_reporting_every_value_it_gets_costs_at_most_the_bound_a_day(
    kind: str, counted: dict[str, int]
) -> None:
    world = World()
    world.authorize()
    reasons = report_in_a_loop(world, kind, 301)
    calls = world.wechat.calls[WECHAT_API[kind]]
    assert calls <= BOUND, f"{calls} {WECHAT_API[kind]} calls in a day (287 before the budget)"
    assert counted.get(f"ForcedRefresh:{kind}", 0) == FORCED_PER_DAY  # the budget is spent, not more
    assert reasons.count("budget") == counted["ForcedRefreshRefused"] > 200
    assert "too_young" in reasons  # a report of the value just refreshed: answered as it is


def test_a_client_reporting_a_persistent_40001_once_a_minute_costs_at_most_the_bound_a_day() -> None:
    """TokenClient.call reports on every 40001 (an API that refuses this token for good, say)."""
    world = World()
    world.authorize()
    reasons = report_in_a_loop(world, "authorizer", 60)
    assert world.wechat.calls["api_authorizer_token"] <= BOUND
    assert reasons.count("budget") > 1000


def test_the_budget_is_kept_in_the_table_so_every_container_agrees() -> None:
    world = World()
    world.authorize()
    component = ComponentSettings(COMPONENT, "secret", "token", "A" * 43)
    settings = Settings(table_name="unused", event_bus_name="unused", refresh_margin=1200)
    others = [
        Container(
            settings,
            stores=world.stores,
            wechat=world.wechat,
            publisher=MemoryPublisher(),
            component=lambda: component,
            clock=lambda: world.now,
        )
        for _ in range(2)
    ]
    report_in_a_loop(world, "authorizer", 301, [world.wx, *others])
    assert world.wechat.calls["api_authorizer_token"] <= BOUND


def test_beyond_the_budget_the_report_gets_the_stored_token_and_the_reason() -> None:
    world = World()
    world.authorize()
    first = vend(world.wx, payload("authorizer"))
    tokens = [first["access_token"]]
    for _ in range(PER_LIFETIME):
        world.now += 301
        answer = vend(world.wx, payload("authorizer", invalid_token=tokens[-1]))
        assert "refresh_refused" not in answer and answer["access_token"] != tokens[-1]
        tokens.append(answer["access_token"])
    world.now += 301
    refused = vend(world.wx, payload("authorizer", invalid_token=tokens[-1]))
    assert refused["refresh_refused"] == "budget" and refused["access_token"] == tokens[-1]
    assert set(refused) == {"kind", "appid", "access_token", "expires_at", "refresh_refused"}
    assert "refresh_refused" not in vend(world.wx, payload("authorizer"))  # a plain vend: no reason
    # Two forced refreshes ago plus a lifetime, the budget allows one again.
    world.now = NOW + 301 + LIFETIME
    again = vend(world.wx, payload("authorizer", invalid_token=tokens[-1], min_validity=0))
    assert "refresh_refused" not in again and again["access_token"] != tokens[-1]
    assert world.wechat.calls["api_authorizer_token"] == 3


def test_a_report_of_a_token_due_anyway_spends_no_budget() -> None:
    world = World()
    world.authorize()
    token = vend(world.wx, payload("authorizer"))["access_token"]
    for _ in range(PER_LIFETIME):  # the budget is spent
        world.now += 301
        token = vend(world.wx, payload("authorizer", invalid_token=token))["access_token"]
    stored = world.stores.authorizers.get_authorizer_token(MERCHANT)
    assert stored is not None
    world.now = stored.expires_at - 200  # short of the vend's 300 s: a plain vend would refresh it
    answer = vend(world.wx, payload("authorizer", invalid_token=token))
    assert "refresh_refused" not in answer and answer["access_token"] != token


def test_a_remembered_refusal_spends_no_budget() -> None:
    world = World()
    world.authorize()
    token = vend(world.wx, payload("authorizer"))["access_token"]
    world.now += 301
    world.wechat.fail("api_authorizer_token", QuotaExceeded("errcode 45009", errcode=45009))
    for _ in range(5):  # the first report spends one forced refresh; WeChat refuses it
        answer = world.wx.vendor.answer(payload("authorizer", invalid_token=token))
        assert answer.status == 502 and answer.body["error"]["errcode"] == 45009
    world.now += 3600  # the refusal is forgotten; one forced refresh is left
    replaced = vend(world.wx, payload("authorizer", invalid_token=token))["access_token"]
    assert replaced != token
    world.now += 301
    assert vend(world.wx, payload("authorizer", invalid_token=replaced))["refresh_refused"] == "budget"
    assert world.wechat.calls["api_authorizer_token"] == 2


def test_the_component_tokens_own_calls_on_a_persistent_40001_cost_at_most_the_bound_a_day() -> None:
    """`ComponentTokenService.call`, on an API that keeps answering 40001, once a minute."""
    world = World()

    def refused(token: str) -> None:
        raise TokenRejected("api_x: errcode 40001: invalid credential", errcode=40001)

    start = world.now
    while world.now < start + DAY:
        new_verify_ticket(world)
        with pytest.raises(TokenRejected):
            world.wx.component_tokens.call(refused)
        world.now += 60
    assert world.wechat.calls["api_component_token"] <= BOUND


def test_the_getticket_40001_path_spends_the_authorizer_tokens_budget() -> None:
    """getticket refusing the stored authorizer token refreshes it, within the same budget as a
    report of it; beyond, getticket is not asked again with that token until it can be replaced."""
    world = World()
    world.authorize()

    def rejected() -> None:  # WeChat no longer takes ours (and we have no ticket to serve)
        world.wechat.authorizer_tokens[MERCHANT] = "minted-elsewhere"
        world.stores.tokens.js_tickets.clear()

    for round_ in range(PER_LIFETIME):
        world.now += 301
        rejected()
        assert vend(world.wx, payload("jsapi_ticket"))["ticket"]
        assert world.wechat.calls["api_authorizer_token"] == round_ + 1
    world.now += 301
    rejected()
    for _ in range(10):
        answer = world.wx.vendor.answer(payload("jsapi_ticket"))
        assert answer.status == 502 and answer.body["error"]["errcode"] == 40001
    assert world.wechat.calls["api_authorizer_token"] == PER_LIFETIME
    assert world.wechat.calls["getticket"] == 2 * PER_LIFETIME + 1  # each refused once, the last remembered


def test_no_metric_is_printed_while_metrics_are_switched_off(capsys: pytest.CaptureFixture[str]) -> None:
    """Powertools' single metrics print at once, switched off or not: the operator CLI's `--json`
    (which reports through the vending function, in process locally) read them as its output."""
    world = World()
    world.authorize()
    token = vend(world.wx, payload("authorizer"))["access_token"]
    world.wechat.fail("api_authorizer_token", QuotaExceeded("errcode 45009", errcode=45009))
    world.now += 301
    capsys.readouterr()
    assert world.wx.vendor.answer(payload("authorizer", invalid_token=token)).status == 502  # forced, refused
    assert '"_aws"' not in capsys.readouterr().out
