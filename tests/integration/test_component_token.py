"""The component token against the sandbox and the emulator: one upstream call per refresh."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import urllib3

from tests.integration.conftest import World
from tests.support.graph import graph
from tests.support.pushes import APPID
from tests.support.workers import run_in_processes, vend_component_tokens
from wxcomponent.adapters.wechat_http import WeChatHttpApi
from wxcomponent.bootstrap import Container
from wxcomponent.domain.errors import VerifyTicketMissing
from wxcomponent.domain.tokens import MIN_REFRESH_AGE, MIN_VALIDITY_REFRESH_AGE
from wxcomponent.domain.wechat import QuotaExceeded
from wxcomponent.services.component_token import ComponentTokenService
from wxcomponent.settings import Settings


def service(*, later: float = 0, **api_options: Any) -> ComponentTokenService:
    """The root's graph, with WeChat's client built with the options a test names; `later` moves
    its clock on (a report of a token younger than MIN_REFRESH_AGE is never refreshed)."""
    settings = Settings.from_environment()
    wechat = WeChatHttpApi(settings.api_base, **api_options)
    return Container(settings, wechat=wechat, clock=lambda: time.time() + later).component_tokens


def test_no_ticket_is_ticket_missing_and_costs_no_call(quiet_world: World) -> None:
    with pytest.raises(VerifyTicketMissing):
        service().token()
    assert quiet_world.calls("api_component_token") == 0


def test_thirty_concurrent_refreshes_from_three_processes_cost_one_call(world: World) -> None:
    world.push_ticket()
    results = run_in_processes(vend_component_tokens, 3, 10, 300)
    tokens = {token for batch in results for token in batch}
    assert sum(len(batch) for batch in results) == 30
    assert len(tokens) == 1
    assert world.calls("api_component_token") == 1
    stored = graph().tokens.get_component_token(APPID)
    assert stored is not None and stored.access_token in tokens


def test_a_stored_token_is_reused_until_the_asked_margin_is_short(world: World) -> None:
    world.push_ticket()
    tokens = service()
    first = tokens.token(300)
    assert tokens.token(300) == first
    life = first.expires_at - first.issued_at
    # Asking more than it has left refreshes it, once it is 30 minutes old; a younger one is the
    # freshest WeChat gives (issue 19, S2), and asking again would only spend the quota.
    assert tokens.token(life + 60) == first
    assert world.calls("api_component_token") == 1
    longer = service(later=MIN_VALIDITY_REFRESH_AGE).token(life - MIN_VALIDITY_REFRESH_AGE + 60)
    assert longer.access_token != first.access_token
    assert world.calls("api_component_token") == 2


def test_twenty_reports_of_the_same_rejected_token_cost_one_refresh(world: World) -> None:
    world.push_ticket()
    rejected = service().token().access_token
    tokens = service(later=MIN_REFRESH_AGE + 1)  # the stored token is old enough to be refreshed
    start = threading.Barrier(20)

    def report() -> str:
        start.wait(timeout=30)
        return tokens.replace_rejected(rejected).access_token

    with ThreadPoolExecutor(20) as pool:
        replacements = set(pool.map(lambda _: report(), range(20)))
    assert len(replacements) == 1 and rejected not in replacements
    assert world.calls("api_component_token") == 2
    # A late report of the old token costs nothing: the newer stored one is returned.
    assert tokens.replace_rejected(rejected).access_token in replacements
    assert world.calls("api_component_token") == 2


def test_a_40001_from_wechat_refreshes_once_and_retries_once(world: World) -> None:
    world.push_ticket()
    service().token()
    tokens = service(later=MIN_REFRESH_AGE + 1)
    api = graph().wechat
    world.fault("api_create_preauthcode", "errcode", 40001, count=1)
    code = tokens.call(lambda token: api.create_preauthcode(token, APPID))
    assert code.pre_auth_code.startswith("preauthcode@@@")
    assert world.calls("api_component_token") == 2
    assert world.calls("api_create_preauthcode") == 2


def test_system_busy_is_retried_and_succeeds(world: World) -> None:
    world.push_ticket()
    world.fault("api_component_token", "errcode", -1, count=2)
    assert service(sleep=lambda _: None).token().access_token
    assert world.calls("api_component_token") == 3


def test_a_timeout_is_retried_and_succeeds(world: World) -> None:
    world.push_ticket()
    world.fault("api_component_token", "timeout", 3, count=1)
    fast = service(timeout=urllib3.Timeout(connect=1, read=0.5), sleep=lambda _: None)
    assert fast.token().access_token
    assert world.calls("api_component_token") == 2


def test_quota_reached_is_a_typed_error_without_retries(world: World) -> None:
    world.push_ticket()
    world.fault("api_component_token", "errcode", 45009, count=None)
    with pytest.raises(QuotaExceeded) as raised:
        service().token()
    assert raised.value.errcode == 45009
    assert world.calls("api_component_token") == 1
    assert graph().tokens.get_component_token(APPID) is None


def test_reports_force_two_refreshes_per_lifetime_and_then_get_the_stored_token(world: World) -> None:
    """Issue 19, M2, over the wires: the budget is in the table, so every container (each
    `service()` is one) agrees; the third report is answered with the stored token and why."""
    world.push_ticket()
    token = service().token()
    for turn in (1, 2):
        replaced = service(later=turn * (MIN_REFRESH_AGE + 1)).replace_rejected(token.access_token)
        assert replaced.access_token != token.access_token and replaced.refresh_refused is None
        token = replaced
    refused = service(later=3 * (MIN_REFRESH_AGE + 1)).replace_rejected(token.access_token)
    assert refused.access_token == token.access_token
    assert refused.refresh_refused is not None and refused.refresh_refused.reason == "budget"
    assert world.calls("api_component_token") == 3
    forced = graph().stores.failures.forced_refreshes(f"COMPONENT#{APPID}")
    assert forced is not None and len(forced.at) == 2
