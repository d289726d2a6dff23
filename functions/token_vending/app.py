"""token_vending: a valid component or authorizer token for the vendor's services.

Two entry points, one handler: a direct Lambda Invoke, whose event is the request itself and whose
answer is the contract's body (the invoke itself always succeeds), and `POST /tokens` on the HTTP
API with `AWS_IAM` auth, answered with the contract's HTTP status. The caller policy applies to the
HTTP route, where API Gateway tells us who is calling; an Invoke is gated by IAM alone. The module's
object graph comes from the composition root (`wxcomponent.bootstrap`), settings checked first.

The HTTP route's resolver (Powertools' event handler) and the caller policy are imported with the
first HTTP event: an Invoke, the usual door, never pays for them at cold start (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from wxcomponent.bootstrap import container
from wxcomponent.domain.errors import ConfigurationError, NotAuthorized
from wxcomponent.observability import logger, metrics
from wxcomponent.services.vending import VendAnswer, VendRequest, refusal

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
    from aws_lambda_powertools.utilities.typing import LambdaContext

# ruff: noqa: PLC0415 - the HTTP route's imports are lazy on purpose (cold start of an Invoke)

NO_STORE = {"Cache-Control": "no-store"}


@functools.cache
def http_app() -> APIGatewayHttpResolver:
    """`POST /tokens`, built on the first HTTP event this container sees."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from wxcomponent.web.http import raw_body

    app = APIGatewayHttpResolver()

    @app.post("/tokens")
    def tokens() -> Response[str]:
        event = app.current_event
        caller = event.request_context.authorizer.iam.user_arn or None
        body = raw_body(event.body, bool(event.is_base64_encoded))
        return _response(container().vendor.answer(body, caller, check=_check))

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
    def handle_error(error: Exception) -> Response[str]:
        return _response(refusal(error, app.current_event.request_context.authorizer.iam.user_arn or None))

    return app


def _check(caller: str | None, request: VendRequest) -> None:
    """No IAM identity means the route lost its `AWS_IAM` auth: refuse rather than vend to anyone."""
    from wxcomponent.services import caller_policy

    if caller is None:
        raise NotAuthorized("POST /tokens reached us without an IAM identity")
    wx = container()
    caller_policy.check(caller, request, wx.settings.caller_policy, wx.settings.secret)


def _response(answer: VendAnswer) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response, content_types

    return Response(answer.status, content_types.APPLICATION_JSON, json.dumps(answer.body), NO_STORE)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload: object = event  # an Invoke may send any JSON value: only a dict can be an HTTP event
    if isinstance(payload, dict) and payload.get("version") == "2.0" and "requestContext" in payload:
        return http_app().resolve(event, context)
    try:
        vendor = container().vendor
    except ConfigurationError as exc:
        return refusal(exc, None, payload).body
    return vendor.answer(payload).body
