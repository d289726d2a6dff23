"""The sandbox's world saved as JSON and restored (what `make dev` keeps across restarts)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.sandbox import SandboxConfig
from infra.sandbox.state import WeChatError, World

NOW = 1_800_000_000.0
USER = "oUserWhoWrote000000000000001"
CLICKER = "oUserWhoClicked0000000000001"


def busy_world() -> World:
    """A world that has done a bit of everything: a ticket, a component token, a pre-auth code, a
    grant with a rotated refresh token, an authorization code, a user who wrote and one who clicked
    a menu, the switches the control page flips (ticket mode, IP whitelist) and a moved clock."""
    world = World(SandboxConfig(port=0, clock=lambda: NOW))
    appid = world.merchants.accounts()[0].appid
    ticket = world.component.new_ticket()
    world.component.issue_token(world.config.component_appid, world.config.component_appsecret, ticket.value)
    world.component.create_pre_auth_code()
    code, _ = world.merchants.authorize(appid)
    world.merchants.query_auth(code.value)
    world.merchants.set_rotation(appid, True)
    refresh = world.merchants.states()[0]["refresh_token"]
    world.merchants.authorizer_token(appid, refresh)  # rotates: the old one overlaps for 5 minutes
    world.merchants.authorize(world.merchants.accounts()[1].appid)  # a code never exchanged
    world.journal.record_user_wrote(appid, USER, NOW)
    world.journal.spend_customer_service(appid, USER, NOW)  # 4 of the 5 left
    world.journal.record_interaction(appid, CLICKER, "event", NOW + 30)
    world.web.set_ticket_mode("same")
    world.set_ip_whitelist(["127.0.0.1"])
    world.clock.advance(60)
    return world


def restored(data: Any) -> World:
    world = World(SandboxConfig(port=0, clock=lambda: NOW))
    world.restore(json.loads(json.dumps(data)))
    return world


def test_a_restored_world_is_the_saved_one_and_goes_on_from_there() -> None:
    world = busy_world()
    copy = restored(world.export())
    assert copy.snapshot() == world.snapshot()
    assert copy.export() == world.export()
    # It draws the values the saved one would have drawn next, not the seed's first ones again.
    drawn = copy.random.string("", 20)
    assert drawn == world.random.string("", 20)
    assert drawn != World(SandboxConfig(port=0)).random.string("", 20)
    # It accepts what the saved one issued.
    appid = world.merchants.accounts()[0].appid
    current = world.merchants.states()[0]["refresh_token"]
    answer = copy.merchants.authorizer_token(appid, current)
    assert answer["authorizer_access_token"] != world.merchants.states()[0]["authorizer_access_token"]
    token = copy.component.live_token(NOW + 60)
    assert token is not None and token == world.component.live_token(NOW + 60)
    copy.component.check_token(token)


def test_the_customer_service_allowances_survive_a_restart() -> None:
    """The token-vending example (docs/token-vending.md) writes to a user who wrote before a
    `make dev` restart (issue 21): the allowance and what was spent of it are the saved world's,
    not a fresh 45015."""
    world = busy_world()
    copy = restored(world.export())
    appid = world.merchants.accounts()[0].appid
    now = copy.clock.now()
    for _ in range(4):
        copy.journal.spend_customer_service(appid, USER, now)
    with pytest.raises(WeChatError) as spent:
        copy.journal.spend_customer_service(appid, USER, now)
    assert spent.value.errcode == 45047  # the fifth was spent before the restart
    # The click opened 3 within a minute of NOW + 30: still open at NOW + 60, closed at NOW + 90.
    copy.journal.spend_customer_service(appid, CLICKER, now)
    with pytest.raises(WeChatError) as closed:
        copy.journal.spend_customer_service(appid, CLICKER, NOW + 91)
    assert closed.value.errcode == 45015
    assert copy.web.ticket_mode == "same"
    assert copy.ip_whitelist == ["127.0.0.1"]


def test_a_world_saved_before_the_allowances_and_switches_restores_with_defaults() -> None:
    data = json.loads(json.dumps(busy_world().export()))
    for name in ("customer_service", "ip_whitelist"):
        data.pop(name, None)
    data["web"].pop("ticket_mode", None)
    world = restored(data)
    appid = world.merchants.accounts()[0].appid
    with pytest.raises(WeChatError) as refused:
        world.journal.spend_customer_service(appid, USER, world.clock.now())
    assert refused.value.errcode == 45015  # nobody wrote, as far as that file knows
    assert world.web.ticket_mode == "new"
    assert world.ip_whitelist is None
    assert world.merchants.is_authorized(appid)  # the rest of the file is restored


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: d["merchants"]["grants"][0].update(appid="wx0000000000000000"), "not one of this sandbox"),
        (lambda d: d["merchants"]["grants"][0].update(auth_time="yesterday"), "auth_time"),
        (lambda d: d["component"]["tickets"][0].pop("expires_at"), "expires_at is missing"),
        (lambda d: d.update(random=[3, ["x"], None]), "random state"),
        (lambda d: d.update(seed=7), "seed"),
        (lambda d: d.update(component_appid="wx1111111111111111"), "component"),
        (lambda d: d.update(merchants=[]), "merchants"),
        (lambda d: d["customer_service"][0].update(kind="dream"), "kind"),
        (lambda d: d["customer_service"][0].update(opened_at="now"), "opened_at"),
        (lambda d: d["web"].update(ticket_mode="always"), "ticket mode"),
        (lambda d: d.update(ip_whitelist=["not an address"]), "not an address"),
    ],
)
def test_a_damaged_or_foreign_world_is_refused_and_leaves_a_fresh_one(damage: Any, reason: str) -> None:
    data = json.loads(json.dumps(busy_world().export()))
    damage(data)
    world = World(SandboxConfig(port=0, clock=lambda: NOW))
    with pytest.raises(ValueError, match=reason):
        world.restore(data)
    assert all(account["status"] == "never" for account in world.merchants.states())
    assert world.component.tickets() == []
    with pytest.raises(WeChatError):
        world.component.check_token(busy_world().component.live_token(NOW))
