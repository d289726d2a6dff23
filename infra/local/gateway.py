"""A local HTTP API: serves every HttpApi route declared in template.yaml by building payload-v2
events for the handlers and turning their answers back into HTTP.

Routes with `AWS_IAM` auth (`POST /tokens`) check the request's SigV4 signature as API Gateway does,
against make dev's documented credentials (`infra/local/sigv4.py`: access key `local`, secret
`local`, region `us-east-1`), and answer a signed request as the local developer (`LOCAL_IAM`).

It also serves Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`, the path boto3
uses), so `boto3.client("lambda", endpoint_url="http://127.0.0.1:3000").invoke(...)` reaches a
function by its template logical id (`TokenVendingFunction`) or its folder (`token_vending`). An
asynchronous invocation (`InvocationType: Event`) is answered 202 at once and run afterwards, with
Lambda's two retries when it raises, as Lambda's own queue does. Its signature is not checked: our
own functions invoke each other through it with whatever credentials their process has.

Each function runs one event at a time (as one Lambda container does), whether the event comes from
a route or an Invoke, so module-level state in a handler behaves as in AWS. Handlers and the core
are re-imported when their files change.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit

from infra.local import invocations, sigv4
from infra.local.events import http_api_event
from infra.local.template import ROOT, Route, http_routes, load_template, resources_of_type

CORE = ROOT / "layers" / "core"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
ASYNC_RETRY_DELAYS = (1.0, 2.0)  # Lambda retries a failed asynchronous invocation twice (after 1 and 2 minutes)
INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")
LOCAL_IAM = {
    "accessKey": "ASIALOCAL",
    "accountId": "123456789012",
    "callerId": "AIDALOCAL",
    "principalOrgId": None,
    "userArn": "arn:aws:iam::123456789012:user/local-developer",
    "userId": "AIDALOCAL",
}


@dataclass
class _Target:
    route: Route
    pattern: re.Pattern[str]
    lock: threading.Lock


class FakeLambdaContext:
    """What handlers read from the Lambda context."""

    def __init__(self, function_name: str, timeout_seconds: float = 30.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def run_handler(handler: Callable[[Any, Any], Any], event: Any, context: FakeLambdaContext) -> Any:
    """One invocation of a handler. Its log lines name its function even while another function
    runs beside it in this one process (`infra/local/invocations.py` says why they would not)."""
    with invocations.running(context):
        return handler(event, context)


class HandlerLoader:
    """Imports `functions/<name>/app.py` handlers; re-imports everything when a source file changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modules: dict[str, ModuleType] = {}
        self._stamp = self._source_stamp()
        if str(CORE) not in sys.path:
            sys.path.insert(0, str(CORE))

    def handler(self, route: Route) -> Any:
        with self._lock:
            stamp = self._source_stamp()
            if stamp != self._stamp:
                self._forget_all()
                self._stamp = stamp
            module_file, _, function = route.handler.rpartition(".")
            key = f"{route.code_uri}:{module_file}"
            if key not in self._modules:
                self._modules[key] = self._import(ROOT / route.code_uri / f"{module_file}.py", key)
            return getattr(self._modules[key], function)

    @staticmethod
    def _import(path: Path, key: str) -> ModuleType:
        name = "local_fn_" + re.sub(r"\W", "_", key)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def _forget_all(self) -> None:
        for name in [n for n in sys.modules if n == "wxcomponent" or n.startswith(("wxcomponent.", "local_fn_"))]:
            del sys.modules[name]
        self._modules.clear()

    @staticmethod
    def _source_stamp() -> float:
        files = [*(ROOT / "functions").rglob("*.py"), *(CORE / "wxcomponent").rglob("*.py")]
        return max((f.stat().st_mtime for f in files), default=0.0)


class _Server(ThreadingHTTPServer):
    # The stdlib's listen backlog of 5 resets connections under a burst of callers; API Gateway
    # queues them instead, so the local gateway does too.
    request_queue_size = 512
    daemon_threads = True


class Gateway:
    """The routes of template.yaml on a ThreadingHTTPServer."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 3000,
        routes: list[Route] | None = None,
        extra_functions: dict[str, str] | None = None,
        extra_routes: list[Route] | None = None,
    ) -> None:
        """`extra_functions` maps a name to a folder holding `app.py`: functions that are not ours
        (a vendor's reply function, say) but that Invoke should reach locally. `extra_routes` are
        served beside the template's (a vendor's page, say: make dev's demo)."""
        template = load_template()
        self.routes = [*(routes if routes is not None else http_routes(template)), *(extra_routes or [])]
        self._functions = _invocable_functions(template)
        for name, folder in (extra_functions or {}).items():
            self._functions[name] = Route("INVOKE", "", name, folder, "app.lambda_handler")
        self._locks: dict[str, threading.Lock] = {}  # one per function (logical id), routes and Invoke alike
        self._locks_guard = threading.Lock()
        self._async: list[threading.Thread] = []
        self._targets = [_Target(r, _path_pattern(r.path), self._lock(r.function)) for r in self.routes]
        self._loader = HandlerLoader()
        gateway = self

        class RequestHandler(_RequestHandler):
            owner = gateway

        self._server = _Server((host, port), RequestHandler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> Gateway:
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def join(self, timeout: float | None = None) -> None:
        """Returns once the gateway stops serving: after `stop()`, or when its server thread died."""
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def match(self, method: str, path: str) -> tuple[_Target, dict[str, str]] | None:
        for target in self._targets:
            if target.route.method not in (method, "ANY"):
                continue
            found = target.pattern.fullmatch(path)
            if found:
                return target, found.groupdict()
        return None

    def invoke(self, target: _Target, event: dict[str, Any]) -> Any:
        handler = self._loader.handler(target.route)
        with target.lock:  # one event at a time per function, like one container
            return run_handler(handler, event, FakeLambdaContext(target.route.function))

    def function(self, name: str) -> Route | None:
        """A function by logical id, folder name or (partial) ARN, as Lambda's Invoke names it; a
        folder under functions/ that the template does not declare yet is found too."""
        # An ARN or partial ARN names the function after ":function:"; a qualifier may follow.
        name = name.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]
        if name in self._functions:
            return self._functions[name]
        if re.fullmatch(r"\w+", name) and (ROOT / "functions" / name / "app.py").is_file():
            return Route("INVOKE", "", name, f"functions/{name}", "app.lambda_handler")
        return None

    def invoke_function(self, function: Route, event: Any) -> Any:
        """Lambda's Invoke: the event is the payload itself. Same loader and lock as the routes."""
        handler = self._loader.handler(function)
        with self._lock(function.function):
            return run_handler(handler, event, FakeLambdaContext(function.function))

    def invoke_later(self, function: Route, event: Any) -> None:
        """Lambda's asynchronous Invoke: runs after the caller has its 202, retried twice on error."""

        def run() -> None:
            for delay in (0.0, *ASYNC_RETRY_DELAYS):
                time.sleep(delay)  # Lambda's own back-off between tries, shortened
                try:
                    self.invoke_function(function, event)
                    return
                except Exception as exc:  # noqa: BLE001 - a failed try is logged; Lambda tries again
                    sys.stderr.write(f"gateway: {function.function} (asynchronous) raised {type(exc).__name__}\n")

        thread = threading.Thread(target=run, name=f"async-{function.function}", daemon=True)
        with self._locks_guard:
            self._async = [t for t in self._async if t.is_alive()] + [thread]
        thread.start()

    def wait_for_async(self, timeout: float = 30.0) -> bool:
        """Joins every asynchronous invocation, including those that invocations started meanwhile
        (tests); False if one still runs at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            with self._locks_guard:
                running = [thread for thread in self._async if thread.is_alive()]
            if not running:
                return True
            for thread in running:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return not any(thread.is_alive() for thread in running)

    def _lock(self, function: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(function, threading.Lock())


class _RequestHandler(BaseHTTPRequestHandler):
    owner: Gateway
    protocol_version = "HTTP/1.1"
    server_version = "wxcomponent-local-gateway"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # Query strings carry authorization codes and signatures: the log shows the path only.
        line = format % args
        sys.stderr.write("gateway: " + re.sub(r"\?\S*", "", line, count=1) + "\n")

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(413, {"content-type": "application/json"}, b'{"message":"Request Entity Too Large"}')
            return
        body = self.rfile.read(length) if length else b""
        invocation = INVOKE_PATH.fullmatch(split.path)
        if invocation is not None and self.command == "POST":
            self._invoke(unquote(invocation["name"]), body)
            return
        found = self.owner.match(self.command, split.path)
        if found is None:
            self._answer(404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
            return
        target, path_parameters = found
        if target.route.auth == "AWS_IAM":
            # API Gateway's SigV4 check, against make dev's documented credentials (infra/local/sigv4.py).
            raw_path, _, raw_query = self.path.partition("?")
            request = sigv4.Request(self.command, raw_path, raw_query, list(self.headers.items()), body)
            refused = sigv4.check(request)
            if refused is not None:
                payload = json.dumps({"message": refused.message}).encode("utf-8")
                self._answer(403, {"content-type": "application/json", "x-amzn-ErrorType": refused.kind}, payload)
                return
        event = http_api_event(
            self.command,
            split.path,
            route_key=f"{target.route.method} {target.route.path}",
            path_parameters=path_parameters or None,
            query=split.query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            iam=LOCAL_IAM if target.route.auth == "AWS_IAM" else None,
            domain=self.headers.get("Host", "127.0.0.1:3000"),
        )
        try:
            result = self.owner.invoke(target, event)
        except Exception as exc:  # noqa: BLE001 - a crashed handler is API Gateway's 500
            sys.stderr.write(f"gateway: {target.route.function} raised {type(exc).__name__}\n")
            self._answer(500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
            return
        status, headers, payload, cookies = _http_response(result)
        self._answer(status, headers, payload, cookies)

    def _invoke(self, name: str, body: bytes) -> None:
        """Lambda's Invoke API, as boto3 reads it: errors named by `x-amzn-ErrorType`, a crashed
        handler a 200 with `X-Amz-Function-Error: Unhandled`."""
        function = self.owner.function(name)
        if function is None:
            self._lambda_error(404, "ResourceNotFoundException", "Function not found")
            return
        try:
            event = json.loads(body) if body.strip() else {}
        except (ValueError, RecursionError):  # nested too deep to parse is JSON Lambda cannot take either
            self._lambda_error(400, "InvalidRequestContentException", "Could not parse request body into json")
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "DryRun":
            self._answer(204, {}, b"")
            return
        if invocation_type == "Event":
            self.owner.invoke_later(function, event)
            self._answer(202, {"content-type": "application/json"}, b"")
            return
        headers = {"content-type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        try:
            result = self.owner.invoke_function(function, event)
            payload = json.dumps(result).encode("utf-8")
        except Exception as exc:  # noqa: BLE001 - a crashed handler is Lambda's Unhandled function error
            sys.stderr.write(f"gateway: {function.function} raised {type(exc).__name__}\n")
            headers["X-Amz-Function-Error"] = "Unhandled"
            payload = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__}).encode("utf-8")
        self._answer(200, headers, payload)

    def _lambda_error(self, status: int, error_type: str, message: str) -> None:
        payload = json.dumps({"Type": "User", "Message": message}).encode("utf-8")
        self._answer(status, {"content-type": "application/json", "x-amzn-ErrorType": error_type}, payload)

    def _answer(self, status: int, headers: dict[str, str], payload: bytes, cookies: list[str] | None = None) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        for cookie in cookies or []:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(payload)))
        try:
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The caller stopped waiting (a client read timeout): API Gateway and Lambda just drop it.
            self.close_connection = True


def _http_response(result: Any) -> tuple[int, dict[str, str], bytes, list[str]]:
    """A payload-v2 answer as API Gateway turns it into HTTP (including the bare-body shorthand)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"content-type": "application/json"}, json.dumps(result).encode("utf-8"), []
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ",".join(str(v) for v in values)
    raw = result.get("body") or ""
    payload = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    return int(result["statusCode"]), headers, payload, [str(c) for c in result.get("cookies") or []]


def _invocable_functions(template: dict[str, Any]) -> dict[str, Route]:
    """Every function of the template, under its logical id and under its folder's name."""
    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    functions: dict[str, Route] = {}
    for name, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        properties = resource["Properties"]
        environment = {**global_env, **properties.get("Environment", {}).get("Variables", {})}
        route = Route("INVOKE", "", name, properties["CodeUri"], properties["Handler"], environment)
        functions[name] = route
        functions.setdefault(Path(properties["CodeUri"]).name, route)
    return functions


def _path_pattern(path: str) -> re.Pattern[str]:
    """`/wechat/accounts/{appid}/messages` → a regex with named groups; `{proxy+}` spans slashes."""
    parts = re.split(r"(\{[^}]+\})", path)
    regex = ""
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            regex += f"(?P<{name[:-1]}>.+)" if name.endswith("+") else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(regex)
