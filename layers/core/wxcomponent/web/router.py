"""The HTTP API's side of an entry point: API Gateway's payload format 2.0 in, its response format
out, routed by method and path.

Ours rather than Powertools' event handler: its package imports every resolver it has (AppSync's
with asyncio, Bedrock's, VPC Lattice's, ...) and every event class, some 45 ms of CPU at each cold
start of each HTTP function, for the five routes we serve (docs/decisions.md, docs/BENCHMARKS.md).
It does what those routes use and nothing more: static paths with `<name>` segments, one error
handler for everything a view raises, and a 404 like Powertools' for anything else.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from wxcomponent.domain.errors import BadRequest

TEXT_PLAIN = "text/plain"
TEXT_HTML = "text/html"
APPLICATION_JSON = "application/json"
_SEGMENT = re.compile(r"<(\w+)>")


class SetCookie(Protocol):
    """A cookie to set; its `str` is the Set-Cookie value (Powertools' `Cookie` is one)."""

    def __str__(self) -> str: ...


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Sequence[SetCookie] = ()

    def payload(self) -> dict[str, Any]:
        """What API Gateway's HTTP API expects back (format 2.0): it writes each cookie as its own
        Set-Cookie header."""
        return {
            "statusCode": self.status,
            "body": self.body,
            "isBase64Encoded": False,
            "headers": {"Content-Type": self.content_type, **self.headers},
            "cookies": [str(cookie) for cookie in self.cookies],
        }


def raw_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The request body as bytes, whatever API Gateway did to it."""
    if not body:
        return b""
    if not is_base64_encoded:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("body is not valid base64") from exc


class HttpEvent:
    """What the entry points read from an HTTP API event (payload format 2.0)."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self._event = event
        self._context: Mapping[str, Any] = event.get("requestContext") or {}

    @property
    def method(self) -> str:
        return str((self._context.get("http") or {}).get("method", "")).upper()

    @property
    def path(self) -> str:
        return str(self._event.get("rawPath") or (self._context.get("http") or {}).get("path") or "")

    @property
    def route_key(self) -> str:
        return str(self._event.get("routeKey") or "")

    @property
    def body(self) -> bytes:
        """Raises `BadRequest` for a body API Gateway says is base64 and is not."""
        return raw_body(self._event.get("body"), bool(self._event.get("isBase64Encoded")))

    @property
    def query(self) -> dict[str, str]:
        return dict(self._event.get("queryStringParameters") or {})

    @property
    def headers(self) -> dict[str, str]:
        """Names in lower case, as HTTP APIs send them."""
        return {name.lower(): value for name, value in (self._event.get("headers") or {}).items()}

    @property
    def cookies(self) -> list[str]:
        return list(self._event.get("cookies") or [])

    @property
    def domain_name(self) -> str:
        return str(self._context.get("domainName") or "")

    @property
    def iam_user_arn(self) -> str | None:
        """The caller's IAM identity when the route has `AWS_IAM` auth; None otherwise."""
        iam = (self._context.get("authorizer") or {}).get("iam") or {}
        arn = iam.get("userArn")
        return str(arn) if arn else None


View = Callable[..., Response]


class Router:
    """Routes one event at a time (a Lambda container serves one request at a time): the view reads
    `current_event` and `lambda_context`."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], View]] = []
        self._on_error: Callable[[Exception], Response] | None = None
        self.current_event = HttpEvent({})
        self.lambda_context: Any = None

    def get(self, path: str) -> Callable[[View], View]:
        return self.route("GET", path)

    def post(self, path: str) -> Callable[[View], View]:
        return self.route("POST", path)

    def route(self, method: str, path: str) -> Callable[[View], View]:
        """`path` as in the template, with `<name>` for a segment handed to the view by name."""
        pattern = re.compile(_SEGMENT.sub(r"(?P<\1>[^/]+)", re.escape(path)))  # re.escape leaves <name> as is

        def register(view: View) -> View:
            self._routes.append((method.upper(), pattern, view))
            return view

        return register

    def exception_handler(self, handler: Callable[[Exception], Response]) -> Callable[[Exception], Response]:
        """The one answer to anything a view raises."""
        self._on_error = handler
        return handler

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        self.current_event = HttpEvent(event)
        self.lambda_context = context
        method, path = self.current_event.method, self.current_event.path
        for route_method, pattern, view in self._routes:
            match = pattern.fullmatch(path)
            if match is None or route_method != method:
                continue
            try:
                return view(**match.groupdict()).payload()
            except Exception as error:
                if self._on_error is None:
                    raise
                return self._on_error(error).payload()
        not_found = json.dumps({"statusCode": 404, "message": "Not found"}, separators=(",", ":"))
        return Response(404, APPLICATION_JSON, not_found).payload()
