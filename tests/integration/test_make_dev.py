"""`make dev` as a newcomer runs it: one process brings up everything and prints what runs where."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO

import boto3
import pytest
import urllib3

from infra.local.template import ROOT

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Stack:
    def __init__(self, process: subprocess.Popen[str], ports: dict[str, int]) -> None:
        self.process = process
        self.ports = ports
        self.lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if text in line:
                return line


@pytest.fixture
def stack() -> Iterator[Stack]:
    ports = {"GATEWAY_PORT": free_port(), "SANDBOX_PORT": free_port(), "EMULATOR_PORT": free_port()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}}
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "--ticket-interval", "3600", "--refresh-interval", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    try:
        running = Stack(process, ports)
        running.wait_for("Ctrl-C stops everything.")
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_make_dev_serves_refuses_stores_and_refreshes(stack: Stack) -> None:
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
    stack.wait_for('"refresh sweep done"')  # the schedule runs the refresher
    page = http.request("GET", f"{gateway}/wechat/authorize")
    assert page.status == 200 and b'referrerpolicy="origin"' in page.data


def test_make_dev_passes_the_release_checks_replies_and_shows_bus_events(stack: Stack) -> None:
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
    stack.wait_for(f'"authorizer_appid":"{appid}","updated"')  # the push's exchange, in its own invocation
    delivery = control("send-message", {"appid": appid, "content": "你好"})
    reply = delivery["reply"]
    assert reply["encrypted"] and reply["fields"]["Content"] == "收到：你好"  # type: ignore[index]  # noqa: RUF001
    line = stack.wait_for(f"bus: message for {appid}")
    assert "MsgType=text" in line and "你好" not in line  # the console never shows what a user wrote
