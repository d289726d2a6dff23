"""Moving a live platform here (services/migration.py) on in-memory fakes: the old system's file, the
plan read from WeChat's list and our grants, and each step applied through the stores' conditions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support.fake_wechat import FakeWeChat
from tests.support.fakes import MemoryPublisher, MemoryStores
from wxcomponent.bootstrap import Container
from wxcomponent.domain.errors import BadRequest
from wxcomponent.domain.grants import AUTHORIZED, NEEDS_REAUTHORIZATION, NO_API_PERMISSION, REVOKED, Grant
from wxcomponent.domain.verify_tickets import VerifyTicket
from wxcomponent.domain.wechat import AccountRevokedAuthorization, AuthorizerListItem, AuthorizerListPage, SystemBusy
from wxcomponent.services.migration import (
    CONFLICT,
    HELD,
    IMPORT,
    NO_TOKEN,
    NOT_LISTED,
    REVOKED_HERE,
    SOURCE_FILE,
    SOURCE_LIST,
    Step,
    read_old_tokens,
)
from wxcomponent.settings import ComponentSettings, Settings

COMPONENT = "wx0123456789abcdef"
NOW = 1_767_225_600.0
A, B, C, D = (f"wx{n:016x}" for n in (0xA, 0xB, 0xC, 0xD))
AUTH_TIME = 1_700_000_000  # when each account authorized the component, as WeChat lists it


class ListingWeChat(FakeWeChat):
    """The fake, with each listed account's `auth_time`."""

    def __init__(self) -> None:
        super().__init__()
        self.auth_times: dict[str, int] = {}

    def get_authorizer_list(
        self, component_token: str, component_appid: str, offset: int, count: int
    ) -> AuthorizerListPage:
        page = super().get_authorizer_list(component_token, component_appid, offset, count)
        items = [replace(i, auth_time=self.auth_times.get(i.authorizer_appid, AUTH_TIME)) for i in page.items]
        return AuthorizerListPage(page.total_count, items)


class World:
    def __init__(self) -> None:
        self.now = NOW
        self.stores = MemoryStores()
        self.wechat = ListingWeChat()
        self.publisher = MemoryPublisher()
        component = ComponentSettings(COMPONENT, "secret", "token", "A" * 43)
        self.wx = Container(
            Settings(table_name="unused", event_bus_name="unused"),
            stores=self.stores,
            wechat=self.wechat,
            publisher=self.publisher,
            component=lambda: component,
            clock=lambda: self.now,
        )
        self.stores.verify_tickets.save_ticket(VerifyTicket.received(COMPONENT, "ticket@@@1", int(NOW), int(NOW)))

    def list_account(self, appid: str, refresh_token: str) -> None:
        """WeChat lists the account (its refresh token "" when it shows none) and accepts the token."""
        self.wechat.listed[appid] = refresh_token
        if refresh_token:
            self.wechat.refresh_tokens[appid] = refresh_token

    def hold(self, appid: str, refresh_token: str, status: str = AUTHORIZED, at: int = AUTH_TIME) -> None:
        grant = Grant(appid, COMPONENT, refresh_token, (1,), status, at, at)
        if status == AUTHORIZED:
            self.stores.authorizers.save_grant(grant, refresh_due=at + 6000)
        else:
            self.stores.authorizers.grants[appid] = grant


def actions(world: World, old: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    return {s.authorizer_appid: (s.action, s.source) for s in world.wx.migrations.plan(old).steps}


# -- the old system's file ----------------------------------------------------------------------------


def test_the_file_is_json_or_csv_with_or_without_its_header() -> None:
    expected = {A: "refreshtoken@@@a", B: "refreshtoken@@@b"}
    assert read_old_tokens(f'{{"{A}": "refreshtoken@@@a", "{B}": " refreshtoken@@@b "}}'.encode()) == expected
    csv = f"authorizer_appid,refresh_token\n{A},refreshtoken@@@a\n\n{B}, refreshtoken@@@b\n"
    assert read_old_tokens(csv.encode()) == expected
    assert read_old_tokens(f"\ufeff{A},refreshtoken@@@a\r\n{B},refreshtoken@@@b\r\n".encode()) == expected
    assert read_old_tokens(f"{A},refreshtoken@@@a\n{A},refreshtoken@@@a\n".encode()) == {A: "refreshtoken@@@a"}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[1, 2]", "one object"),
        (b'{"wx1": "x"', "not valid JSON"),
        (f'{{"{A}": 7}}'.encode(), f"entry 1 ({A}): the refresh token"),
        (b'{"wxNOTANAPPID0000": "refreshtoken@@@secret"}', "entry 1: the appid"),
        (f"{A},refreshtoken@@@secret,extra\n".encode(), "line 1: two columns"),
        (f"{A},\n".encode(), f"line 1 ({A}): the refresh token"),
        (f"{A},refresh token@@@secret\n".encode(), f"line 1 ({A}): the refresh token"),
        (f"{A},refreshtoken@@@secret\n{A},refreshtoken@@@other\n".encode(), f"line 2: {A} appears twice"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_bad_file_is_refused_where_it_is_bad_never_echoing_a_token(content: bytes, says: str) -> None:
    with pytest.raises(BadRequest) as refused:
        read_old_tokens(content)
    assert says in str(refused.value)
    assert "secret" not in str(refused.value) and "other" not in str(refused.value)


# -- the plan -----------------------------------------------------------------------------------------


def test_the_plan_names_what_each_account_gets_and_writes_nothing() -> None:
    world = World()
    world.list_account(A, "refreshtoken@@@a")  # WeChat shows its token
    world.list_account(B, "")  # WeChat shows none; the old system's file has one
    world.list_account(C, "")  # nobody has one
    world.list_account(D, "refreshtoken@@@d")
    world.hold(D, "refreshtoken@@@d")  # held here already
    unlisted = "wx00000000000000ee"
    old = {B: "refreshtoken@@@b", unlisted: "refreshtoken@@@gone", A: "refreshtoken@@@stale"}
    grants_before = dict(world.stores.authorizers.grants)
    assert actions(world, old) == {
        A: (IMPORT, SOURCE_LIST),  # WeChat's list wins over the file
        B: (IMPORT, SOURCE_FILE),
        C: (NO_TOKEN, ""),
        D: (HELD, SOURCE_LIST),
        unlisted: (NOT_LISTED, SOURCE_FILE),
    }
    assert world.stores.authorizers.grants == grants_before and world.publisher.events == []
    assert world.wechat.calls["api_get_authorizer_info"] == 0  # a plan costs the list's pages only


def test_a_grant_held_here_with_another_token_is_a_conflict_left_alone_unless_replace_is_asked() -> None:
    world = World()
    world.list_account(A, "refreshtoken@@@listed")
    world.list_account(B, "")
    world.hold(A, "refreshtoken@@@ours")
    world.hold(B, "refreshtoken@@@ours-b")
    plan = world.wx.migrations.plan({B: "refreshtoken@@@file-b"})
    steps = {s.authorizer_appid: s for s in plan.steps}
    assert (steps[A].action, steps[A].source) == (CONFLICT, SOURCE_LIST)
    assert (steps[B].action, steps[B].source) == (CONFLICT, SOURCE_FILE)
    assert world.wx.migrations.apply(steps[A]).result == "skipped"
    assert world.stores.authorizers.grants[A].refresh_token == "refreshtoken@@@ours"
    # Asked: the list's token (WeChat's current one) replaces ours, compare-and-set; a file's never.
    assert world.wx.migrations.apply(steps[A], replace_held=True).result == "replaced"
    assert world.stores.authorizers.grants[A].refresh_token == "refreshtoken@@@listed"
    assert world.stores.authorizers.due[A] == int(NOW)  # its access token was fetched with the other one
    assert world.wx.migrations.apply(steps[B], replace_held=True).result == "skipped"
    assert world.stores.authorizers.grants[B].refresh_token == "refreshtoken@@@ours-b"
    again = next(s for s in world.wx.migrations.plan().steps if s.authorizer_appid == A)
    assert again.action == HELD
    assert world.wx.migrations.apply(steps[A], replace_held=True).result == "changed_meanwhile"


def test_grants_that_give_no_token_are_imported_and_a_revocation_after_the_listed_authorization_is_kept() -> None:
    world = World()
    for appid in (A, B, C, D):
        world.list_account(appid, f"refreshtoken@@@{appid}")
    world.hold(A, "refreshtoken@@@dead", NEEDS_REAUTHORIZATION)
    world.hold(B, "", NO_API_PERMISSION)
    world.hold(C, "", REVOKED, at=AUTH_TIME + 60)  # revoked after WeChat's authorization: the list lags
    world.hold(D, "", REVOKED, at=AUTH_TIME - 60)  # revoked, then authorized again with the old system
    assert actions(world) == {
        A: (IMPORT, SOURCE_LIST),
        B: (IMPORT, SOURCE_LIST),
        C: (REVOKED_HERE, SOURCE_LIST),
        D: (IMPORT, SOURCE_LIST),
    }
    for step in world.wx.migrations.plan().steps:
        world.wx.migrations.apply(step)
    grants = world.stores.authorizers.grants
    assert [grants[appid].status for appid in (A, B, C, D)] == [AUTHORIZED, AUTHORIZED, REVOKED, AUTHORIZED]
    assert grants[D].authorized_at == AUTH_TIME and grants[C].refresh_token == ""


def test_every_page_is_read() -> None:
    world = World()
    appids = [f"wx{n:016x}" for n in range(1, 1202)]
    for appid in appids:
        world.list_account(appid, f"refreshtoken@@@{appid}")
    totals: list[int] = []
    plan = world.wx.migrations.plan(on_total=totals.append)
    assert plan.listed == 1201 and [s.authorizer_appid for s in plan.steps] == appids
    assert plan.count(IMPORT) == 1201 and totals == [1201, 1201, 1201]
    assert world.wechat.calls["api_get_authorizer_list"] == 3


# -- applying it --------------------------------------------------------------------------------------


def test_an_import_stores_the_grant_due_now_with_its_profile_and_announces_it_as_migrated() -> None:
    world = World()
    world.list_account(A, "refreshtoken@@@a")
    world.list_account(B, "")
    world.wechat.refresh_tokens[B] = "refreshtoken@@@b"  # WeChat accepts it, though it lists none
    plan = world.wx.migrations.plan({B: "refreshtoken@@@b"})
    outcomes = [world.wx.migrations.apply(step) for step in plan.steps]
    assert [(o.step.authorizer_appid, o.result, o.nick_name) for o in outcomes] == [
        (A, "imported", "星河咖啡"),
        (B, "imported", "星河咖啡"),
    ]
    grant = world.stores.authorizers.grants[B]
    assert (grant.status, grant.refresh_token, grant.authorized_at) == (AUTHORIZED, "refreshtoken@@@b", AUTH_TIME)
    assert world.stores.authorizers.due == {A: int(NOW), B: int(NOW)}  # the refresher fetches their tokens now
    assert world.stores.authorizers.get_authorizer_token(A) is None  # none fetched by the migration itself
    assert world.stores.profiles.get_profile(A) is not None
    assert [(kind, detail["authorizer_appid"], detail["source"]) for kind, detail in world.publisher.events] == [
        ("migrated", A, SOURCE_LIST),
        ("migrated", B, SOURCE_FILE),
    ]
    assert "refresh" not in str(world.publisher.events[0][1]).replace("refresh_", "")
    assert world.wx.authorizer_tokens.token(B).owner == B  # the file's token is WeChat's: a vend works
    assert world.wechat.calls["api_authorizer_token"] == 1


def test_an_authorization_stored_meanwhile_is_never_overwritten() -> None:
    world = World()
    world.list_account(A, "refreshtoken@@@listed")
    (step,) = world.wx.migrations.plan().steps
    assert world.wx.authorizations.complete(world.wechat.new_code(A)).new  # the merchant, just now
    fresh = world.stores.authorizers.grants[A].refresh_token
    assert fresh != "refreshtoken@@@listed"
    events = len(world.publisher.events)
    assert world.wx.migrations.apply(step).result == "authorized_meanwhile"
    assert world.stores.authorizers.grants[A].refresh_token == fresh and len(world.publisher.events) == events


def test_an_account_revoked_since_it_was_listed_is_not_imported_and_a_missing_profile_does_not_stop_one() -> None:
    world = World()
    world.list_account(A, "refreshtoken@@@a")
    world.list_account(B, "refreshtoken@@@b")
    steps = world.wx.migrations.plan().steps
    world.wechat.fail("api_get_authorizer_info", AccountRevokedAuthorization("errcode 61003", errcode=61003))
    world.wechat.fail("api_get_authorizer_info", SystemBusy("errcode -1", errcode=-1))
    results = [world.wx.migrations.apply(step).result for step in steps]
    assert results == ["revoked_since_listed", "imported"]
    assert A not in world.stores.authorizers.grants and world.stores.profiles.get_profile(B) is None
    assert world.stores.authorizers.grants[B].func_info == ()
    assert world.wx.migrations.apply(Step(C, NO_TOKEN)).result == "skipped"


def test_a_step_hides_its_tokens() -> None:
    step = Step(A, IMPORT, SOURCE_LIST, AUTH_TIME, "refreshtoken@@@secret", "refreshtoken@@@ours")
    assert "secret" not in repr(step) and "ours" not in repr(step)
    assert "secret" not in repr(AuthorizerListItem(A, "refreshtoken@@@secret", AUTH_TIME))
