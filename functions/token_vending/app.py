"""token_vending: a valid component or authorizer token for the vendor's services.

Two entry points, one handler: a direct Lambda Invoke, whose event is the request itself and whose
answer is the contract's body (the invoke itself always succeeds), and `POST /tokens` on the HTTP
API with `AWS_IAM` auth, answered with the contract's HTTP status. The caller policy applies to the
HTTP route, where API Gateway tells us who is calling; an Invoke is gated by IAM alone. The module's
object graph comes from the composition root (`wxcomponent.bootstrap`), settings checked first.

An invoker can send anything, an event shaped like API Gateway's naming any caller included (L3).
So an event is `POST /tokens` only when it carries the stage variable `tokens_door` equal to this
stack's `TOKENS_DOOR` (template.yaml gives both the stack's id): API Gateway adds it, an invoker has
to have read it from the stack. Anything else is a direct Invoke, its payload the request, audited
with no caller and `door: invoke`.

The HTTP route's resolver (Powertools' event handler) and the caller policy are imported with the
first HTTP event: an Invoke, the usual door, never pays for them at cold start (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import functools
import hmac
import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from wxcomponent.bootstrap import container
from wxcomponent.domain.errors import ConfigurationError, NotAuthorized
from wxcomponent.observability import logger, metrics
from wxcomponent.services.vending import HTTP, INVOKE, VendAnswer, VendRequest, refusal

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
        return _response(container().vendor.answer(body, caller, check=_check, door=HTTP))

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
    def handle_error(error: Exception) -> Response[str]:
        caller = app.current_event.request_context.authorizer.iam.user_arn or None
        return _response(refusal(error, caller, door=HTTP))

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
    try:
        wx = container()
    except ConfigurationError as exc:  # settings broken: nothing is trusted, nothing vended
        answer = refusal(exc, None, payload)
        return _http_answer(answer) if _http_shaped(payload) else answer.body
    if _http_shaped(payload) and _through_our_door(event, wx.settings.tokens_door):
        return http_app().resolve(event, context)
    return wx.vendor.answer(payload, door=INVOKE).body


def _http_shaped(payload: object) -> bool:
    return isinstance(payload, dict) and payload.get("version") == "2.0" and "requestContext" in payload


def _through_our_door(event: dict[str, Any], door: str) -> bool:
    """The event carries this stack's door: API Gateway's stage added it (an invoker cannot have
    it without reading the stack). No door configured: nothing is trusted as HTTP."""
    variables = event.get("stageVariables")
    given = variables.get("tokens_door") if isinstance(variables, dict) else None
    return bool(door) and isinstance(given, str) and hmac.compare_digest(given.encode(), door.encode())


def _http_answer(answer: VendAnswer) -> dict[str, Any]:
    """An answer API Gateway can relay, built without the resolver (the settings are broken)."""
    headers = {"Content-Type": "application/json", **NO_STORE}
    return {"statusCode": answer.status, "headers": headers, "body": json.dumps(answer.body)}
