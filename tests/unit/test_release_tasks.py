"""The deferred half of the QUERY_AUTH_CODE check on fakes: exchanged once, answered once, and it
raises (so Lambda retries) only while nothing has been sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_token_services import MERCHANT, World
from wxcomponent.domain.release import QUERY_AUTH_CODE_TASK
from wxcomponent.domain.wechat import SystemBusy, TokenRejected, UpstreamError, UpstreamUnavailable

TEST_OA = "wx570bc396a51b8ff8"
OPENID = "oRelease_0123456789abcdefghi"


def task(code: str, **override: Any) -> dict[str, Any]:
    return {"task": QUERY_AUTH_CODE_TASK, "authorizer_appid": TEST_OA, "openid": OPENID, "auth_code": code, **override}


def test_the_code_is_exchanged_and_code_from_api_sent_to_the_user() -> None:
    world = World()
    code = world.wechat.new_code(TEST_OA)
    assert world.wx.release_tasks.run(task(code)) == {"sent": True, "authorizer_appid": TEST_OA}
    [(token, message)] = world.wechat.sent
    assert message == {"touser": OPENID, "msgtype": "text", "text": {"content": f"{code}_from_api"}}
    stored = world.stores.authorizers.get_authorizer_token(TEST_OA)
    assert stored is not None and token == stored.access_token  # the new authorizer's own token
    assert world.stores.authorizers.get_grant(TEST_OA) is not None  # the test account is an authorizer now
    assert world.events() == ["authorized", "profile"]


def test_a_retried_task_never_exchanges_the_code_twice() -> None:
    world = World()
    code = world.wechat.new_code(TEST_OA)
    world.wx.release_tasks.run(task(code))
    world.wx.release_tasks.run(task(code))  # Lambda's retry of an invocation that looked lost
    assert world.wechat.calls["api_query_auth"] == 1


def test_a_rejected_token_on_send_is_reported_once_and_sent_again() -> None:
    world = World()
    code = world.wechat.new_code(TEST_OA)
    world.wechat.fail("custom_send", TokenRejected("custom_send: errcode 40001", errcode=40001))
    assert world.wx.release_tasks.run(task(code))["sent"] is True
    # The token is seconds old, too young to have been superseded: it is sent again, not refreshed.
    assert world.wechat.calls["custom_send"] == 2 and world.wechat.calls["api_authorizer_token"] == 0


@pytest.mark.parametrize("error", [UpstreamUnavailable("api_query_auth: HTTP 502"), SystemBusy("-1", errcode=-1)])
def test_a_transient_failure_before_anything_was_sent_raises_so_lambda_retries(error: UpstreamError) -> None:
    world = World()
    code = world.wechat.new_code(TEST_OA)
    world.wechat.fail("api_query_auth", error)
    with pytest.raises(type(error)):
        world.wx.release_tasks.run(task(code))
    assert world.wx.release_tasks.run(task(code))["sent"] is True  # the retry: the claim was given back


def test_a_failure_once_the_message_may_be_out_never_raises() -> None:
    world = World()
    code = world.wechat.new_code(TEST_OA)
    world.wechat.fail("custom_send", UpstreamUnavailable("custom_send: ReadTimeoutError"))
    assert world.wx.release_tasks.run(task(code)) == {"sent": False, "error": "upstream_error"}


def test_a_code_wechat_refuses_is_final() -> None:
    world = World()
    assert world.wx.release_tasks.run(task("queryauthcode@@@expired")) == {"sent": False, "error": "upstream_error"}
    assert world.wechat.sent == []


@pytest.mark.parametrize(
    "bad",
    [
        {"task": "something.else"},
        task("q", authorizer_appid="wx0123456789abcdef"),  # not a release test account
        task("q", openid="o user"),
        task("code with spaces"),
        task("q", auth_code=None),
    ],
)
def test_a_malformed_task_is_refused_without_a_call(bad: dict[str, Any]) -> None:
    world = World()
    assert world.wx.release_tasks.run(bad) == {"sent": False, "error": "bad_request"}
    assert sum(world.wechat.calls.values()) == 0


# -- L4 (issue 19): confined to WeChat's test accounts --------------------------------------------------


def test_a_merchants_used_code_sent_through_a_forged_task_sends_nothing() -> None:
    """The review's reproduction: an invoker with lambda:InvokeFunction names a test account but
    hands in a real merchant's code, exchanged earlier by the merchant's own authorization."""
    world = World()
    code = world.wechat.new_code(MERCHANT)
    world.wx.authorizations.complete_pushed(code, "authorized")  # the merchant's push exchanged it
    assert world.wx.release_tasks.run(task(code)) == {"sent": False, "error": "bad_request"}
    assert world.wechat.sent == [] and world.wechat.calls["api_query_auth"] == 1


def test_a_merchants_fresh_code_sent_through_a_forged_task_sends_nothing() -> None:
    world = World()
    code = world.wechat.new_code(MERCHANT)
    assert world.wx.release_tasks.run(task(code)) == {"sent": False, "error": "bad_request"}
    assert world.wechat.sent == []
    grant = world.stores.authorizers.get_grant(MERCHANT)  # exchanged, as its push would have: kept, not used
    assert grant is not None and grant.active


def test_the_authorized_push_racing_the_check_exchanges_first_and_the_check_still_answers_once() -> None:
    """WeChat pushes `authorized` with the same code (PreAuthCode empty) as it sends the text."""
    world = World()
    code = world.wechat.new_code(TEST_OA)
    world.wx.authorizations.complete_pushed(code, "authorized", pre_auth_code="")
    assert world.wx.release_tasks.run(task(code)) == {"sent": True, "authorizer_appid": TEST_OA}
    assert [message["text"] for _, message in world.wechat.sent] == [{"content": f"{code}_from_api"}]
    assert world.wechat.calls["api_query_auth"] == 1


def test_a_test_accounts_code_exchanged_longer_ago_than_its_life_sends_nothing() -> None:
    world = World()
    code = world.wechat.new_code(TEST_OA)
    world.wx.authorizations.complete_pushed(code, "authorized")
    world.now += 601
    assert world.wx.release_tasks.run(task(code)) == {"sent": False, "error": "upstream_error"}
    assert world.wechat.sent == []
