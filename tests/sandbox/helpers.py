"""Helpers and fixtures for the sandbox's tests: a push receiver playing our system, a client, a sandbox."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from infra.sandbox import Sandbox, SandboxConfig
from infra.sandbox.envelope import parse_xml_fields, xml_document
from wxcomponent.domain.crypto import MessageCrypto

START_DOMAIN = "https://vendor.example"
WAIT = 5.0
RETRY_INTERVAL = 0.5  # WeChat's is 5 s: shorter here, still a late retry rather than a resend


@dataclass
class Received:
    path: str
    query: dict[str, str]
    body: bytes
    envelope: dict[str, str] = field(default_factory=dict)
    plaintext: bytes = b""
    fields: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    at: float = field(default_factory=time.monotonic)  # when it arrived


Answer = tuple[int, bytes]


class Receiver:
    """Our system's two push URLs, played by a tiny server that verifies, decrypts and records."""

    def __init__(self, crypto: MessageCrypto) -> None:
        self.crypto = crypto
        self.received: list[Received] = []
        self.changed = threading.Condition()
        self.scripted: deque[Answer] = deque()  # answers used first, in order
        self.on_message: Callable[[Received], Answer] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = receiver.handle(Received(parts.path, query, body))
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def handle(self, item: Received) -> Answer:
        try:
            item.envelope = parse_xml_fields(item.body)
            q = item.query
            self.crypto.verify_signature(q.get("signature"), q["timestamp"], q["nonce"])
            self.crypto.verify_msg_signature(
                q.get("msg_signature"), q["timestamp"], q["nonce"], item.envelope["Encrypt"]
            )
            item.plaintext = self.crypto.decrypt(item.envelope["Encrypt"]).message
            item.fields = parse_xml_fields(item.plaintext)
        except Exception as exc:
            item.error = f"{type(exc).__name__}: {exc}"
        with self.changed:
            self.received.append(item)
            self.changed.notify_all()
            scripted = self.scripted.popleft() if self.scripted else None
        if scripted is not None:
            return scripted
        if "/wechat/accounts/" in item.path and self.on_message is not None:
            return self.on_message(item)
        return 200, b"success"

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = WAIT, count: int = 1) -> Received:
        """The `count`-th received push matching `predicate` (waits on a condition, never sleeps)."""
        found: list[Received] = []

        def ready() -> bool:
            found[:] = [r for r in self.received if predicate(r)]
            return len(found) >= count

        with self.changed:
            if not self.changed.wait_for(ready, timeout=timeout):
                raise AssertionError(f"no push matching after {timeout} s; got {self.received!r}")
        return found[count - 1]

    def wait_info(self, info_type: str, count: int = 1) -> Received:
        return self.wait_for(lambda r: r.fields.get("InfoType") == info_type, count=count)

    def passive_reply(
        self, fields: list[tuple[str, str | int]], timestamp: str = "1700000000", nonce: str = "42"
    ) -> bytes:
        encrypt = self.crypto.encrypt(xml_document(fields).encode("utf-8"))
        signature = self.crypto.msg_signature(timestamp, nonce, encrypt)
        return xml_document(
            [("Encrypt", encrypt), ("MsgSignature", signature), ("TimeStamp", timestamp), ("Nonce", nonce)]
        ).encode("utf-8")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Client:
    """A plain http.client client (never follows redirects)."""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = WAIT,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def post(self, path: str, body: Any = None, timeout: float = WAIT, **query: str) -> Any:
        """POSTs JSON; returns the JSON answer (asserting HTTP 200)."""
        status, _, data = self.post_raw(path, body, timeout=timeout, **query)
        assert status == 200, (status, data)
        return json.loads(data)

    def post_raw(
        self, path: str, body: Any = None, timeout: float = WAIT, **query: str
    ) -> tuple[int, dict[str, str], bytes]:
        if query:
            path += "?" + urllib.parse.urlencode(query)
        payload = json.dumps(body if body is not None else {}).encode()
        return self.request("POST", path, payload, {"Content-Type": "application/json"}, timeout=timeout)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, headers=headers)

    def get_json(self, path: str) -> Any:
        status, _, data = self.get(path)
        assert status == 200, (status, data)
        return json.loads(data)


def make_config(receiver: Receiver, **overrides: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "port": 0,
        "ticket_interval": 0,
        "component_events_url": receiver.url + "/wechat/component/events",
        "account_messages_url": receiver.url + "/wechat/accounts/{appid}/messages",
        "start_domain": START_DOMAIN,
        "push_timeout": 2.0,
        "push_retry_interval": RETRY_INTERVAL,
    }
    values.update(overrides)
    return SandboxConfig(**values)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    config = SandboxConfig(port=0)
    crypto = MessageCrypto(config.component_token, [config.component_aes_key], config.component_appid)
    r = Receiver(crypto)
    yield r
    r.close()


@pytest.fixture
def sandbox(receiver: Receiver) -> Iterator[Sandbox]:
    with Sandbox(make_config(receiver)) as sb:
        yield sb


@pytest.fixture
def client(sandbox: Sandbox) -> Client:
    return Client(sandbox.url)


class Wx:
    """A caller of the sandbox's WeChat API with the component's credentials."""

    def __init__(self, sandbox: Sandbox, client: Client, receiver: Receiver) -> None:
        self.sandbox, self.client, self.receiver = sandbox, client, receiver
        self.appid = sandbox.config.component_appid
        self._token: str | None = None

    def ticket(self) -> str:
        return self.receiver.wait_info("component_verify_ticket").fields["ComponentVerifyTicket"]

    def new_component_token(self) -> str:
        answer = self.client.post(
            "/cgi-bin/component/api_component_token",
            {
                "component_appid": self.appid,
                "component_appsecret": self.sandbox.config.component_appsecret,
                "component_verify_ticket": self.ticket(),
            },
        )
        self._token = str(answer["component_access_token"])
        return self._token

    @property
    def token(self) -> str:
        return self._token or self.new_component_token()

    def call(self, api: str, body: dict[str, Any] | None = None) -> Any:
        payload = {"component_appid": self.appid, **(body or {})}
        return self.client.post(f"/cgi-bin/component/{api}", payload, component_access_token=self.token)

    def authorize(self, appid: str) -> str:
        return str(self.client.post("/sandbox/authorize", {"appid": appid})["auth_code"])

    def accounts(self) -> list[dict[str, Any]]:
        accounts: list[dict[str, Any]] = self.client.get_json("/sandbox/state")["accounts"]
        return accounts


@pytest.fixture
def wx(sandbox: Sandbox, client: Client, receiver: Receiver) -> Wx:
    return Wx(sandbox, client, receiver)
