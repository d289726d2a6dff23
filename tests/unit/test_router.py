"""The HTTP API router of the entry points (wxcomponent.web.router): events in as API Gateway builds
them (infra.local.events, the builder the local gateway uses), answers out in its response format."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from infra.local.events import http_api_event
from wxcomponent.domain.errors import BadRequest
from wxcomponent.web.router import APPLICATION_JSON, TEXT_PLAIN, HttpEvent, Response, Router


class Context:
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"


def router() -> tuple[Router, list[Exception]]:
    app, errors = Router(), []

    @app.post("/wechat/accounts/<appid>/messages")
    def messages(appid: str) -> Response:
        event = app.current_event
        return Response(200, TEXT_PLAIN, f"{appid} {event.body.decode()} {event.query.get('nonce')}")

    @app.get("/wechat/authorize")
    def start() -> Response:
        cookie = Cookie(name="s", value="v", path="/wechat/authorize", secure=True, same_site=SameSite.LAX_MODE)
        return Response(200, "text/html", "<p>", {"Cache-Control": "no-store"}, cookies=[cookie])

    @app.get("/boom")
    def boom() -> Response:
        raise BadRequest("no")

    @app.exception_handler
    def handle(error: Exception) -> Response:
        errors.append(error)
        return Response(400, TEXT_PLAIN, type(error).__name__)

    return app, errors


def test_a_route_gets_its_path_segment_body_and_query() -> None:
    app, _ = router()
    event = http_api_event(
        "POST", "/wechat/accounts/wx0123456789abcdef/messages", query={"nonce": "42"}, body=b"<xml/>"
    )
    answer = app.resolve(event, Context())
    assert answer == {
        "statusCode": 200,
        "body": "wx0123456789abcdef <xml/> 42",
        "isBase64Encoded": False,
        "headers": {"Content-Type": TEXT_PLAIN},
        "cookies": [],
    }
    assert app.lambda_context.invoked_function_arn == Context.invoked_function_arn


def test_headers_and_cookies_are_answered_as_http_apis_want_them() -> None:
    app, _ = router()
    answer = app.resolve(http_api_event("GET", "/wechat/authorize"), Context())
    assert answer["headers"] == {"Content-Type": "text/html", "Cache-Control": "no-store"}
    assert answer["cookies"] == ["s=v; Path=/wechat/authorize; Secure; SameSite=Lax"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/wechat/accounts/wx0123456789abcdef/messages"),  # the method is part of the route
        ("POST", "/wechat/accounts/wx0123456789abcdef/messages/more"),  # a segment is one segment
        ("POST", "/wechat/accounts//messages"),
        ("GET", "/wechat/authorize/"),
        ("GET", "/nowhere"),
    ],
)
def test_anything_else_is_a_404_as_powertools_answered_it(method: str, path: str) -> None:
    app, errors = router()
    answer = app.resolve(http_api_event(method, path), Context())
    assert (answer["statusCode"], answer["body"]) == (404, '{"statusCode":404,"message":"Not found"}')
    assert answer["headers"] == {"Content-Type": APPLICATION_JSON} and errors == []


def test_whatever_a_view_raises_goes_to_the_one_error_handler() -> None:
    app, errors = router()
    answer = app.resolve(http_api_event("GET", "/boom"), Context())
    assert (answer["statusCode"], answer["body"]) == (400, "BadRequest")
    assert [type(e) for e in errors] == [BadRequest]


def test_without_an_error_handler_the_error_goes_up() -> None:
    app = Router()

    @app.get("/boom")
    def boom() -> Response:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        app.resolve(http_api_event("GET", "/boom"), Context())


def test_the_event_reads_what_api_gateway_sends() -> None:
    binary = bytes(range(256))
    event = http_api_event(
        "POST",
        "/tokens",
        headers={"User-Agent": "ua", "Cookie": "a=1; b=2"},
        body=binary,
        iam={"userArn": "arn:aws:iam::123456789012:role/orders"},
        domain="wx.example.com",
    )
    assert event["isBase64Encoded"]
    seen = HttpEvent(event)
    assert seen.body == binary
    assert seen.headers["user-agent"] == "ua" and seen.cookies == ["a=1", "b=2"]
    assert (seen.method, seen.path, seen.route_key) == ("POST", "/tokens", "POST /tokens")
    assert seen.domain_name == "wx.example.com"
    assert seen.iam_user_arn == "arn:aws:iam::123456789012:role/orders"
    bare: dict[str, Any] = http_api_event("GET", "/wechat/authorize")
    assert HttpEvent(bare).iam_user_arn is None and HttpEvent(bare).query == {} and HttpEvent(bare).body == b""


def test_a_body_that_is_not_the_base64_it_claims_is_a_bad_request() -> None:
    event = http_api_event("POST", "/tokens", body=b"\xff")
    event["body"] = base64.b64encode(b"ok").decode()[:-1] + "!"
    with pytest.raises(BadRequest):
        _ = HttpEvent(event).body
