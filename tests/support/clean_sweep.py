"""The closing check of the reliability proofs: after whatever went wrong, one clean sweep (its
clock `later` seconds ahead, past any lease left behind) refreshes every account, and every grant
then holds the refresh token WeChat lists now. Nothing lost, nothing rolled back."""

from __future__ import annotations

import time

from tests.conftest import World
from wxcomponent.bootstrap import Container
from wxcomponent.settings import Settings


def assert_clean_sweep_holds_wechats_refresh_tokens(world: World, accounts: list[str], later: float) -> None:
    clean = Container(Settings.from_environment(), clock=lambda: time.time() + later)
    for appid in accounts:
        clean.authorizers.delete_authorizer_token(appid)
        clean.authorizers.set_refresh_due(appid, int(time.time() + later) - 1)
    report = clean.refresher.sweep(lambda: 60_000)
    assert report.refreshed == len(accounts) and dict(report.failed) == {}, report
    listed = {
        item["authorizer_appid"]: item["refresh_token"]
        for item in world.sandbox.world.merchants.authorizer_list(0, 500)["list"]
    }
    for appid in accounts:
        grant = clean.authorizers.get_grant(appid)
        assert grant is not None and grant.active
        assert grant.refresh_token == listed[appid], appid
