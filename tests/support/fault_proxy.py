"""An HTTP proxy in front of the DynamoDB emulator that injects, for a seeded share of requests,
the faults DynamoDB really shows: throttling, 500s, latency, and connections dropped before the
request reaches the table or after the table applied it (the answer lost). Loopback only.
With a share of 0 it only counts: requests by operation, for the request budgets (issue 13)."""

from __future__ import annotations

import http.client
import random
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

FAULTS = ("throttle", "error", "latency", "drop_before", "drop_after")
THROTTLE = (
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    b'"message":"injected by the fault proxy"}'
)
ERROR = b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected"}'
HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


class FaultProxy:
    def __init__(self, upstream: str, share: float, seed: int) -> None:
        self.upstream = urlsplit(upstream)
        self.share = share
        self.enabled = False
        self.injected: Counter[str] = Counter()
        self.forwarded = 0
        self.operations: Counter[str] = Counter()  # requests by DynamoDB operation (X-Amz-Target)
        self.forced: list[str] = []  # faults for the next requests, in order, whatever the share
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                proxy._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _fault(self) -> str | None:
        with self._lock:
            if self.forced:
                fault = self.forced.pop(0)
                self.injected[fault] += 1
                return fault
            if not self.enabled or self._rng.random() >= self.share:
                return None
            fault = self._rng.choice(FAULTS)
            self.injected[fault] += 1
            return fault

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length", "0")))
        with self._lock:
            self.operations[request.headers.get("X-Amz-Target", "?").rsplit(".", 1)[-1]] += 1
        fault = self._fault()
        if fault == "drop_before":
            request.close_connection = True  # nothing reached the table, nothing answered
            return
        if fault in ("throttle", "error"):
            self._answer(request, 400 if fault == "throttle" else 500, THROTTLE if fault == "throttle" else ERROR)
            return
        if fault == "latency":
            threading.Event().wait(0.2)  # a slow answer, well inside the client's 3 s read timeout
        status, answer, headers = self._forward(request, body)
        if fault == "drop_after":
            request.close_connection = True  # the table applied it; the caller never hears so
            return
        self._answer(request, status, answer, headers)

    def _forward(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        connection = http.client.HTTPConnection(self.upstream.hostname or "127.0.0.1", self.upstream.port, timeout=10)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
            connection.request("POST", request.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
            with self._lock:
                self.forwarded += 1
            return response.status, answer, kept
        finally:
            connection.close()

    @staticmethod
    def _answer(
        request: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        request.send_response(status)
        for key, value in (headers or {"Content-Type": "application/x-amz-json-1.0"}).items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
