"""`make dev` as a newcomer runs it: `python -m infra.local` in a process of its own, on free
loopback ports and with a state file of the test's, its console (stdout and stderr) read line by line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlencode

import boto3
import urllib3

from infra.local.template import ROOT

START_TIMEOUT = 120.0  # two cores shared by several test runs: a start has taken 2 s alone, far more when busy


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_ports() -> dict[str, int]:
    """Three distinct free ports: all three probes stay bound until each has its port (one at a time,
    the kernel may hand the same ephemeral port out twice)."""
    names = ("GATEWAY_PORT", "SANDBOX_PORT", "EMULATOR_PORT")
    probes = [socket.socket() for _ in names]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return {name: int(probe.getsockname()[1]) for name, probe in zip(names, probes, strict=True)}
    finally:
        for probe in probes:
            probe.close()


def dev_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "infra.local", *args]


class MakeDev:
    """One `make dev`: `with MakeDev(state) as dev:` returns once it says it runs."""

    def __init__(
        self,
        state: Path,
        ports: dict[str, int] | None = None,
        *,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = ("--ticket-interval", "3600", "--refresh-interval", "3600"),
    ) -> None:
        self.ports = ports or free_ports()
        self.state = state
        self.env = {
            **os.environ,
            **{k: str(v) for k, v in self.ports.items()},
            "WXCOMPONENT_DEV_STATE": str(state),
            **(env or {}),
        }
        self.args = args
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._next = 0
        self._ended = False
        self.process: subprocess.Popen[str] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, ready: str | None = "Ctrl-C stops everything.") -> MakeDev:
        self.process = subprocess.Popen(
            dev_command(*self.args),
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        if ready is not None:
            self.wait_for(ready, timeout=START_TIMEOUT)
        return self

    def __enter__(self) -> MakeDev:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (what Ctrl-C does too), then its exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.exit_code(timeout)

    def exit_code(self, timeout: float = 60) -> int:
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        with self._seen:  # every line it wrote has been read
            self._seen.wait_for(lambda: self._ended, timeout=timeout)
        return code

    # -- its console -----------------------------------------------------------------------------

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._ended = True
            self._seen.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The next line holding `text` (lines before it are passed over, as a reader would)."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                for index in range(self._next, len(self.lines)):
                    if text in self.lines[index]:
                        self._next = index + 1
                        return self.lines[index]
                self._next = len(self.lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._ended:
                    raise AssertionError(f"no line with {text!r}; it wrote:\n" + "\n".join(self.lines[-40:]))
                self._seen.wait(remaining)

    @property
    def output(self) -> str:
        with self._seen:
            return "\n".join(self.lines)

    # -- its parts -------------------------------------------------------------------------------

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['GATEWAY_PORT']}"

    @property
    def sandbox(self) -> str:
        return f"http://127.0.0.1:{self.ports['SANDBOX_PORT']}"

    @property
    def emulator(self) -> str:
        return f"http://127.0.0.1:{self.ports['EMULATOR_PORT']}"

    def emulator_pid(self) -> int:
        line = next(line for line in self.lines if line.startswith("  moto server"))
        return int(line.rsplit("(pid ", 1)[1].rstrip(")"))

    def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """The sandbox's control API: POST with a body, GET without."""
        method = "GET" if body is None else "POST"
        answer = _http().request(
            method, f"{self.sandbox}/sandbox/{path}", body=None if body is None else json.dumps(body).encode()
        )
        assert answer.status == 200, answer.data
        result: dict[str, Any] = json.loads(answer.data)
        return result

    def wechat(self, api: str, body: dict[str, Any], **query: str) -> dict[str, Any]:
        """One of the sandbox's WeChat API paths, called as our core calls it."""
        url = f"{self.sandbox}/cgi-bin/component/{api}" + (f"?{urlencode(query)}" if query else "")
        answer = _http().request("POST", url, body=json.dumps(body).encode())
        result: dict[str, Any] = json.loads(answer.data)
        return result

    def vend(self, request: dict[str, Any]) -> dict[str, Any]:
        """Lambda Invoke of token_vending through the gateway, as a vendor's service would."""
        client = boto3.client(
            "lambda",
            endpoint_url=self.gateway,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        answer = client.invoke(FunctionName="token_vending", Payload=json.dumps(request).encode())
        result: dict[str, Any] = json.loads(answer["Payload"].read())
        return result

    def table(self) -> list[dict[str, Any]]:
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=self.emulator,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        items: list[dict[str, Any]] = dynamodb.scan(TableName="wxcomponent-local", ConsistentRead=True)["Items"]
        return items


def _http() -> urllib3.PoolManager:
    return urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=60), retries=False)


def run_reset(state: Path) -> subprocess.CompletedProcess[str]:
    """`make dev-reset` on this state file."""
    return subprocess.run(
        dev_command("--reset"),
        cwd=ROOT,
        env={**os.environ, "WXCOMPONENT_DEV_STATE": str(state)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def until(condition: Any, timeout: float, what: str) -> Any:
    """Polls `condition` until it returns something truthy; AssertionError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.1)  # a poll interval, not a synchronisation: the condition decides
