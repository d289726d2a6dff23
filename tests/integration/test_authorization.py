"""Merchant authorization end to end over HTTP: our pages and handlers, the sandbox, the emulator."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import boto3
import pytest

from infra.local.emulator import Emulator
from infra.sandbox.state import PRE_AUTH_CODE_TTL
from tests.integration.conftest import World
from tests.support.browser import Browser
from tests.support.graph import graph
from tests.support.pushes import APPID
from wxcomponent.adapters.wechat_http import WeChatHttpApi
from wxcomponent.bootstrap import Container
from wxcomponent.domain.grants import AUTHORIZED, REVOKED
from wxcomponent.domain.wechat import AuthorizationCodeRejected, SystemBusy
from wxcomponent.keys import authorizer_key
from wxcomponent.services.authorization import AuthorizationService
from wxcomponent.settings import Settings

ACCOUNT = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account


def items_of(emulator: Emulator, table: str, appid: str) -> dict[str, dict[str, Any]]:
    client = boto3.client("dynamodb", endpoint_url=emulator.url)
    answer = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": authorizer_key(appid)}},
        ConsistentRead=True,
    )
    return {item["sk"]["S"]: item for item in answer["Items"]}


def authorizations(**api_options: Any) -> AuthorizationService:
    """The root's graph, with WeChat's client built with the options a test names."""
    settings = Settings.from_environment()
    return Container(settings, wechat=WeChatHttpApi(settings.api_base, **api_options)).authorizations


def get(world: World, path: str, **headers: str) -> Any:
    return world.http.request("GET", f"{world.gateway.url}{path}", headers=headers, redirect=False)


# -- the start page ------------------------------------------------------------------------------


def test_the_start_page_links_to_the_pc_page_with_a_fresh_pre_auth_code(world: World) -> None:
    world.push_ticket()
    page = get(world, "/wechat/authorize?auth_type=1")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store"
    html = page.data.decode()
    assert 'referrerpolicy="origin"' in html
    href = html.split('id="authorize" class="button" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    link = urlsplit(href)
    assert f"{link.scheme}://{link.netloc}" == world.sandbox.url
    assert link.path == "/cgi-bin/componentloginpage"
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert query["component_appid"] == APPID
    assert query["pre_auth_code"].startswith("preauthcode@@@")
    # The way back carries this browser's state, the same as the HttpOnly cookie the page sets.
    back = urlsplit(query["redirect_uri"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == f"{world.gateway.url}/wechat/authorize/callback"
    state = parse_qs(back.query)["state"][0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", state)
    # L6: `__Host-` (Secure, Path=/, no Domain): a sibling subdomain cannot toss in a state it knows.
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith(f"__Host-wxcomponent_state={state};")
    attributes = {part.strip().split("=", 1)[0]: part.strip() for part in cookie.split(";")[1:]}
    assert attributes["Path"] == "Path=/" and "Domain" not in attributes
    assert {"HttpOnly", "Secure"} <= set(attributes) and attributes["SameSite"] == "SameSite=Lax"
    # The state is worth what its pre-auth code is: the sandbox's expires_in (WeChat's page says 1800 s).
    assert attributes["Max-Age"] == f"Max-Age={PRE_AUTH_CODE_TTL}"
    assert query["auth_type"] == "1"
    assert world.calls("api_create_preauthcode") == 1


def test_phones_and_wechat_get_the_mobile_page(world: World) -> None:
    world.push_ticket()
    agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) MicroMessenger/8.0.50"
    html = get(world, f"/wechat/authorize?biz_appid={ACCOUNT}", **{"User-Agent": agent}).data.decode()
    href = html.split('id="authorize" class="button" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert href.startswith(f"{world.sandbox.url}/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1&")
    assert f"biz_appid={ACCOUNT}" in href and href.endswith("#wechat_redirect")


@pytest.mark.parametrize(
    "query",
    ["auth_type=7", "auth_type=abc", "biz_appid=<script>alert(1)</script>", "category_id_list=1;drop"],
)
def test_bad_start_parameters_are_a_400_page_that_echoes_nothing(world: World, query: str) -> None:
    world.push_ticket()
    page = get(world, f"/wechat/authorize?{quote(query, safe='=')}")
    assert page.status == 400
    html = page.data.decode()
    assert "<script>" not in html and 'id="start-again"' in html
    assert world.calls("api_create_preauthcode") == 0


def test_without_a_ticket_the_start_page_says_not_ready_and_offers_the_same_request_again(
    quiet_world: World,
) -> None:
    page = get(quiet_world, "/wechat/authorize?auth_type=2&state=user-42")
    assert page.status == 503
    html = page.data.decode()
    assert (
        'data-failure="not_ready"' in html and "暂时无法授权" in html and "Authorization is not available yet" in html
    )
    retry = f"{quiet_world.gateway.url}/wechat/authorize?auth_type=2&amp;state=user-42"
    assert f'id="start-again" class="button" href="{retry}"' in html
    assert "ticket" not in html  # the reason is the log's


# -- the exchange --------------------------------------------------------------------------------


def test_push_then_callback_store_one_grant_and_call_query_auth_once(
    world: World, emulator: Emulator, table: str
) -> None:
    world.push_ticket()
    browser = Browser(world)
    browser.start()
    code = world.sandbox.world.merchants.confirm(ACCOUNT, None).code  # the admin confirmed on WeChat's page
    delivery = world.sandbox.pusher.push_authorized(ACCOUNT, code.value, code.expires_at, browser.pre_auth_code)
    assert delivery["ok"] and world.gateway.wait_for_async()  # the push first, its exchange done
    items = items_of(emulator, table, ACCOUNT)
    assert set(items) == {"GRANT", "PROFILE"}  # the token is in the authorizer's item, with its grant
    grant = items["GRANT"]
    assert grant["status"]["S"] == AUTHORIZED and grant["refresh_token"]["S"] and grant["access_token"]["S"]
    assert "ttl" not in grant  # losing it means the merchant must authorize again: the token's expiry is
    assert int(grant["token_expires_at"]["N"]) > time.time()  # an attribute, not the item's TTL
    page = browser.callback(code.value)
    assert page.status == 200
    # The push exchanged it first, with the PreAuthCode of this browser's link (its state was
    # recorded with it), so this browser sees its account.
    assert items["PROFILE"]["nick_name"]["S"] in page.data.decode()
    replayed = Browser(world).callback(code.value)  # the same link elsewhere: no state
    assert replayed.status == 400 and items["PROFILE"]["nick_name"]["S"] not in replayed.data.decode()
    again = browser.callback(code.value)  # the same browser again: the state was one-use
    assert again.status == 400
    assert items_of(emulator, table, ACCOUNT)["GRANT"] == grant
    assert world.calls("api_query_auth") == 1


def test_callback_and_push_racing_for_one_code_exchange_it_once(quiet_world: World) -> None:
    quiet_world.push_ticket_to_table()
    code = quiet_world.control("POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    start = threading.Barrier(4)

    def complete(index: int) -> str | None:
        start.wait(timeout=30)
        if index % 2:  # pushes don't wait
            authorizations().complete_pushed(code, "authorized")
            return None
        return authorizations().complete(code).authorizer_appid  # callbacks do

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(complete, range(4)))
    assert [r for i, r in enumerate(results) if i % 2 == 0] == [ACCOUNT, ACCOUNT]
    assert quiet_world.calls("api_query_auth") == 1
    grant = graph().authorizers.get_grant(ACCOUNT)
    assert grant is not None and grant.active


def test_a_revoke_marks_the_grant_and_removes_the_tokens(world: World, emulator: Emulator, table: str) -> None:
    world.push_ticket()
    world.control("POST", "authorize", {"appid": ACCOUNT})
    revoked = world.control("POST", "revoke", {"appid": ACCOUNT})
    assert revoked["delivery"]["ok"]
    items = items_of(emulator, table, ACCOUNT)
    assert "access_token" not in items["GRANT"]
    assert items["GRANT"]["status"]["S"] == REVOKED
    assert "refresh_token" not in items["GRANT"]


def test_an_expired_code_is_a_clear_page_with_a_way_back(
    quiet_world: World, emulator: Emulator, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    quiet_world.push_ticket_to_table()
    code = quiet_world.control("POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    browser = Browser(quiet_world)
    browser.start()
    quiet_world.control("POST", "clock", {"advance": 3601})
    with caplog.at_level("INFO", logger="wxcomponent"):
        page = browser.callback(code)
    assert page.status == 400
    html = page.data.decode()
    assert 'data-failure="link_expired"' in html and "授权链接已失效" in html and "has expired" in html
    assert f'href="{quiet_world.gateway.url}/wechat/authorize"' in html
    assert "Traceback" not in html and "61010" not in html and "api_query_auth" not in html
    assert items_of(emulator, table, ACCOUNT) == {}
    [logged] = [r.__dict__ for r in caplog.records if r.__dict__.get("failure") == "link_expired"]
    assert logged["errcode"] == 61010 and "api_query_auth" in logged["reason"]  # the reason: in the log
    assert code not in caplog.text and code.split("@@@")[1] not in str(logged)  # the code: nowhere


def test_a_refused_code_is_a_typed_error_and_leaves_the_grant_alone(quiet_world: World) -> None:
    quiet_world.push_ticket_to_table()
    code = quiet_world.control("POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    assert authorizations().complete(code) is not None
    quiet_world.fault("api_query_auth", "errcode", 61010, count=1)
    with pytest.raises(AuthorizationCodeRejected):
        authorizations().complete(code + "x")  # WeChat says expired: typed error, nothing changes
    grant = graph().authorizers.get_grant(ACCOUNT)
    assert grant is not None and grant.active


def test_wechat_failing_during_reauthorization_never_loses_the_grant(quiet_world: World) -> None:
    quiet_world.push_ticket_to_table()
    first = quiet_world.control("POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    authorizations().complete(first)
    before = graph().authorizers.get_grant(ACCOUNT)
    second = quiet_world.control("POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    quiet_world.fault("api_query_auth", "errcode", -1, count=None)
    with pytest.raises(SystemBusy):
        authorizations(sleep=lambda _: None).complete(second)
    assert graph().authorizers.get_grant(ACCOUNT) == before
    quiet_world.control("DELETE", "faults")
    assert authorizations().complete(second) is not None  # the claim was given back: a retry works
    after = graph().authorizers.get_grant(ACCOUNT)
    assert after is not None and before is not None and after.refresh_token != before.refresh_token


def test_a_missing_auth_code_is_a_400_page(world: World) -> None:
    page = get(world, "/wechat/authorize/callback")  # not even a state: not started here
    assert page.status == 400 and 'id="start-again"' in page.data.decode()
    assert 'data-failure="not_this_browser"' in page.data.decode()
    world.push_ticket()
    browser = Browser(world)
    browser.start({"state": "user-42"})
    page = browser.get(f"/wechat/authorize/callback?{urlencode(browser.callback_query)}")  # this browser's, no code
    html = page.data.decode()
    assert page.status == 400 and 'data-failure="link_incomplete"' in html and "授权未完成" in html
    assert "auth_code" not in html  # our words, not the developer's
    assert f'href="{world.gateway.url}/wechat/authorize?state=user-42"' in html  # the vendor's state kept


def test_a_bad_setting_is_refused_before_the_single_use_code_is_spent(
    quiet_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresh margin used to be read after api_query_auth had consumed the code, outside the
    block that gives the claim back: a malformed value lost the merchant's authorization. Settings
    are checked at the door now, so nothing reaches WeChat, and the code still works afterwards."""
    quiet_world.push_ticket_to_table()
    code = quiet_world.control("POST", "authorize", {"appid": ACCOUNT})["auth_code"]
    monkeypatch.setenv("REFRESH_MARGIN_SECONDS", "twenty minutes")
    refused = get(quiet_world, f"/wechat/authorize/callback?auth_code={quote(code)}")
    assert refused.status == 503  # not configured: unavailable until an operator fixes it
    assert quiet_world.calls("api_query_auth") == 0
    monkeypatch.setenv("REFRESH_MARGIN_SECONDS", "1200")
    browser = Browser(quiet_world)
    browser.start()
    page = browser.callback(code)
    assert page.status == 200 and graph().authorizers.get_grant(ACCOUNT) is not None
