"""The public push and message URLs never answer 500 for what a request can send, and an unexpected
500 says why in the log (issue 19, L1): the handlers as API Gateway invokes them, payload 2.0 events
with the decoded path API Gateway hands over."""

from __future__ import annotations

import logging

import pytest

from infra.local.events import http_api_event
from infra.local.gateway import FakeLambdaContext
from tests.integration.conftest import load_function
from wxcomponent import bootstrap

# What Powertools' router cannot match as `<appid>`: API Gateway decodes %E2%82%AC and the like.
UNROUTABLE = ["€", "😀", '"', "`", "\\", "\x00", "·", "wx€0123456789abcd"]


@pytest.mark.usefixtures("table", "component_env")
@pytest.mark.parametrize("appid", UNROUTABLE, ids=[f"U+{ord(a[0]):04X}" for a in UNROUTABLE])
def test_an_unroutable_message_path_is_a_404_not_a_500(appid: str, caplog: pytest.LogCaptureFixture) -> None:
    path = f"/wechat/accounts/{appid}/messages"
    event = http_api_event("POST", path, route_key="POST /wechat/accounts/{appid}/messages", body="<xml/>")
    with caplog.at_level(logging.INFO, logger="wxcomponent"):
        answer = load_function("account_messages").lambda_handler(event, FakeLambdaContext("account_messages"))
    assert answer["statusCode"] == 404, answer
    assert answer["body"].startswith("not_found")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.usefixtures("table", "component_env")
def test_an_unexpected_500_logs_its_exception(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_function("account_messages")

    def broken(*_: object) -> None:
        raise RuntimeError("a bug, for the log")

    monkeypatch.setattr(bootstrap.container().account_messages, "handle", broken)
    event = http_api_event("POST", "/wechat/accounts/wx570bc396a51b8ff8/messages", body="<xml/>")
    with caplog.at_level(logging.INFO, logger="wxcomponent"):
        answer = module.lambda_handler(event, FakeLambdaContext("account_messages"))
    assert answer["statusCode"] == 500 and "a bug" not in answer["body"]
    [logged] = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert logged.exc_info is not None and "a bug, for the log" in str(logged.exc_info[1])
