"""`make dev` as a newcomer runs it: one process brings up everything and prints what runs where."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import urllib3

from tests.support.make_dev import MakeDev

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[MakeDev]:
    # Its own state file: a test never touches (nor inherits) a developer's .local/dev-state.json.
    dev = MakeDev(tmp_path / "dev-state.json", args=("--ticket-interval", "3600", "--refresh-interval", "1"))
    with dev:
        yield dev
        assert dev.stop() == 0


def test_make_dev_serves_refuses_stores_and_refreshes(stack: MakeDev) -> None:
    gateway = f"http://127.0.0.1:{stack.ports['GATEWAY_PORT']}"
    sandbox = f"http://127.0.0.1:{stack.ports['SANDBOX_PORT']}"
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=30), retries=False)
    unsigned = http.request("POST", f"{gateway}/wechat/component/events", body=b"<xml/>")
    assert unsigned.status == 400
    pushed = json.loads(http.request("POST", f"{sandbox}/sandbox/push-ticket").data)
    assert pushed["delivery"]["ok"] and pushed["delivery"]["attempts"][-1]["body"] == "success"
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=f"http://127.0.0.1:{stack.ports['EMULATOR_PORT']}", region_name="us-east-1"
    )
    items = dynamodb.scan(TableName="wxcomponent-local")["Items"]
    assert any(item["sk"]["S"] == "TICKET" and item["ticket"]["S"] == pushed["ticket"] for item in items)
    stack.wait_for("TokenRefresher INFO refresh sweep done")  # the schedule runs the refresher
    page = http.request("GET", f"{gateway}/wechat/authorize")
    assert page.status == 200 and b'referrerpolicy="origin"' in page.data


def test_make_dev_passes_the_release_checks_replies_and_shows_bus_events(stack: MakeDev) -> None:
    sandbox = f"http://127.0.0.1:{stack.ports['SANDBOX_PORT']}"
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=30), retries=False)

    def control(path: str, body: dict[str, object]) -> dict[str, object]:
        answer = http.request("POST", f"{sandbox}/sandbox/{path}", body=json.dumps(body).encode())
        assert answer.status == 200, answer.data
        result: dict[str, object] = json.loads(answer.data)
        return result

    checks = control("release-checks", {"wait": 20})
    assert checks["passed"], checks
    assert all(check["passed"] for check in checks["checks"])  # type: ignore[attr-defined]
    state = json.loads(http.request("GET", f"{sandbox}/sandbox/state").data)
    appid = next(a["appid"] for a in state["accounts"] if a["kind"] == "official_account")
    assert control("authorize", {"appid": appid})["delivery"]["ok"]  # type: ignore[index]
    stack.wait_for(f"INFO authorization stored authorizer_appid={appid} updated=")  # the exchange, invoked apart
    delivery = control("send-message", {"appid": appid, "content": "你好"})
    reply = delivery["reply"]
    assert reply["encrypted"] and reply["fields"]["Content"] == "收到：你好"  # type: ignore[index]  # noqa: RUF001
    line = stack.wait_for(f"bus: message for {appid}")
    assert "MsgType=text" in line and "你好" not in line  # the console never shows what a user wrote
