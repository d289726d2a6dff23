"""The WeChat adapter over real HTTP to a tiny loopback server: real timeouts, real 5xx, real JSON."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3

from wxcomponent.adapters.wechat_http import WeChatHttpApi
from wxcomponent.domain.wechat import PreAuthCode, TokenRejected, UpstreamUnavailable

COMPONENT_TOKEN = "CTOKEN-integration-value"
APPID = "wx_component_appid"
HANG = "hang"  # a scripted answer: hold the request until the test ends
Scripted = tuple[int, bytes] | str


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeWeChat:
    """Answers requests from `script` in order (the last entry repeats) and records what it saw."""

    url: str = ""
    script: list[Scripted] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def next_answer(self, seen: Seen) -> Scripted:
        with self.arrived:
            self.seen.append(seen)
            self.arrived.notify_all()
            return self.script[min(len(self.seen), len(self.script)) - 1]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.seen) >= count, timeout)


def handler_for(wechat: FakeWeChat) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            parts = urlsplit(self.path)
            answer = wechat.next_answer(Seen(parts.path, parse_qs(parts.query), body))
            if answer == HANG:
                wechat.release.wait(timeout=10)  # longer than any client read timeout here
                answer = (200, b'{"errcode": 0}')
            assert isinstance(answer, tuple)
            status, data = answer
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up waiting
                pass

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # clients that hung up
        pass


@pytest.fixture
def wechat() -> Iterator[FakeWeChat]:
    fake = FakeWeChat()
    server = QuietServer(("127.0.0.1", 0), handler_for(fake))
    host, port = server.server_address[:2]
    fake.url = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-wechat", daemon=True)
    thread.start()
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def client(wechat: FakeWeChat, **kwargs: Any) -> tuple[WeChatHttpApi, list[float]]:
    sleeps: list[float] = []
    pool = urllib3.PoolManager(retries=False, maxsize=2)  # not the shared pool: each test its own
    api = WeChatHttpApi(wechat.url, http=pool, sleep=sleeps.append, **kwargs)
    return api, sleeps


def test_a_json_answer_is_parsed(wechat: FakeWeChat) -> None:
    wechat.script = [(200, json.dumps({"pre_auth_code": "preauthcode@@@x", "expires_in": 600}).encode())]
    api, sleeps = client(wechat)
    assert api.create_preauthcode(COMPONENT_TOKEN, APPID) == PreAuthCode("preauthcode@@@x", 600)
    [seen] = wechat.seen
    assert seen.path == "/cgi-bin/component/api_create_preauthcode"
    assert seen.query == {"component_access_token": [COMPONENT_TOKEN]}
    assert seen.body == {"component_appid": APPID}
    assert sleeps == []


def test_a_500_then_a_200_succeeds(wechat: FakeWeChat) -> None:
    wechat.script = [(500, b"<html>oops</html>"), (200, b'{"pre_auth_code": "preauthcode@@@y", "expires_in": 600}')]
    api, sleeps = client(wechat)
    assert api.create_preauthcode(COMPONENT_TOKEN, APPID).pre_auth_code == "preauthcode@@@y"
    assert len(wechat.seen) == 2
    assert len(sleeps) == 1


def test_a_token_error_is_not_retried(wechat: FakeWeChat) -> None:
    wechat.script = [(200, b'{"errcode": 40001, "errmsg": "invalid credential"}')]
    api, _ = client(wechat)
    with pytest.raises(TokenRejected):
        api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert len(wechat.seen) == 1


def test_a_read_timeout_on_every_attempt_is_unavailable(wechat: FakeWeChat) -> None:
    wechat.script = [HANG]
    api, sleeps = client(wechat, timeout=urllib3.Timeout(connect=1, read=0.3), max_attempts=3)
    with pytest.raises(UpstreamUnavailable) as raised:
        api.create_preauthcode(COMPONENT_TOKEN, APPID)
    assert "ReadTimeoutError" in raised.value.message
    assert COMPONENT_TOKEN not in raised.value.message
    assert raised.value.errcode is None
    assert wechat.wait_for_requests(3)
    assert len(wechat.seen) == 3
    assert len(sleeps) == 2


def test_a_refused_connection_is_unavailable() -> None:
    with bound_but_not_listening() as url:
        sleeps: list[float] = []
        api = WeChatHttpApi(url, http=urllib3.PoolManager(retries=False), sleep=sleeps.append, max_attempts=2)
        with pytest.raises(UpstreamUnavailable, match="NewConnectionError"):
            api.create_preauthcode(COMPONENT_TOKEN, APPID)
        assert len(sleeps) == 1


@contextmanager
def bound_but_not_listening() -> Iterator[str]:
    """A loopback port nobody listens on: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
